//! Job history on disk: one JSON file per job under `<state_dir>/jobs/`, written atomically.
//!
//! A write goes to a temporary file in the same directory, is fsynced, renamed over `<job_id>.json`, and the
//! directory is fsynced, so after a crash a job file is either the old or the new version, never a torn
//! one (DESIGN invariant 9). Leftover temporary files (a crash between write and rename) are ignored and
//! removed at start-up. A file that cannot be read or parsed is renamed to `*.corrupt`, reported (log and
//! health check) and otherwise ignored: one bad file never stops the service.

use super::record::JobRecord;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Extension of job files.
const EXTENSION: &str = "json";
/// Prefix of temporary files (never a valid job file name).
const TEMP_PREFIX: &str = ".tmp-";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The record could not be serialized.
    #[error("cannot serialize job {job_id}: {message}")]
    Serialize {
        /// The job.
        job_id: Uuid,
        /// Why.
        message: String,
    },
}

/// What loading the history found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every readable job.
    pub jobs: Vec<JobRecord>,
    /// One line per file set aside as corrupt (or that could not be set aside).
    pub problems: Vec<String>,
}

/// The job directory.
#[derive(Debug, Clone)]
pub struct JobStore {
    dir: PathBuf,
}

impl JobStore {
    /// Opens (creating if needed) `<state_dir>/jobs`.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        let dir = state_dir.join("jobs");
        crate::private_state::create_private_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(JobStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.{EXTENSION}"))
    }

    /// Writes `record` atomically.
    pub fn save(&self, record: &JobRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| StoreError::Serialize {
            job_id: record.job_id,
            message: e.to_string(),
        })?;
        write_atomic(&self.path_of(record.job_id), &bytes)
    }

    /// Removes the file of job `id` (absent is fine).
    pub fn delete(&self, id: Uuid) -> Result<(), StoreError> {
        let path = self.path_of(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Reads every job file, oldest first. Temporary leftovers are removed; unreadable or corrupt files are
    /// renamed to `*.corrupt` and reported in [`Loaded::problems`].
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StoreError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut loaded = Loaded::default();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                // An interrupted write: the rename never happened, so the real file is still the old one.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(stem) = name.strip_suffix(&format!(".{EXTENSION}")) else {
                continue; // *.corrupt and anything else that is not ours
            };
            match read_record(&path, stem) {
                Ok(record) => loaded.jobs.push(record),
                Err(why) => loaded.problems.push(set_aside(&path, &why)),
            }
        }
        loaded.jobs.sort_by_key(|r| (r.created_at, r.job_id));
        Ok(loaded)
    }
}

fn read_record(path: &Path, stem: &str) -> Result<JobRecord, String> {
    let text = fs::read(path).map_err(|e| e.to_string())?;
    let record: JobRecord = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    if record.job_id.to_string() != stem {
        return Err(format!(
            "the file holds job {} under another name",
            record.job_id
        ));
    }
    Ok(record)
}

fn set_aside(path: &Path, why: &str) -> String {
    let mut target = path.as_os_str().to_owned();
    target.push(".corrupt");
    match fs::rename(path, &target) {
        Ok(()) => {
            let line = format!(
                "{}: unreadable job file set aside as {}: {why}",
                path.display(),
                Path::new(&target).display()
            );
            tracing::error!("{line}");
            line
        }
        Err(e) => {
            let line = format!(
                "{}: unreadable job file ({why}) could not be set aside: {e}",
                path.display()
            );
            tracing::error!("{line}");
            line
        }
    }
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename, fsync of the
/// directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{file_name}", Uuid::new_v4()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let result = (|| {
        // Private whatever the umask (`crate::private_state`): records hold identities and command output.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::private_state::FILE_MODE)
            .open(&temp)
            .map_err(io(&temp))?;
        file.write_all(bytes).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        fs::rename(&temp, path).map_err(io(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })
}
