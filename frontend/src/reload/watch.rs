//! Watches the directories holding the reloadable files and signals the reload task when one changes.
//!
//! Directories, not files: editors, configuration tools, `linux-patch-ctl pki` and certbot replace a file by
//! writing a temporary one and renaming it over the old name, after which an inotify watch on the old
//! inode sees nothing more. A directory watch sees every name that changes; events are filtered by file name
//! (the watched names, plus Kubernetes' `..data` symlink swaps) so that unrelated writes in the same
//! directory (a log file, say) do not cause reloads. Access events (open, close without write) are
//! ignored: the watch also reports the reload's own reads, which would otherwise trigger the next reload.
//! The receiver debounces ([`DEBOUNCE`]), so a burst (write, chmod, rename) causes one reload.

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the reload task waits after a change before reading, folding the rest of a burst into it.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// The running watch; dropping it stops watching.
pub struct DirWatch {
    _watcher: RecommendedWatcher,
    /// The directories being watched (for the start-up log line).
    pub dirs: Vec<PathBuf>,
}

impl std::fmt::Debug for DirWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWatch")
            .field("dirs", &self.dirs)
            .finish()
    }
}

/// Watches the directories of `files`; each settled change to one of them sends `()` on `changed` (a
/// change while one is pending is folded into it).
pub fn watch(files: &[&Path], changed: mpsc::Sender<()>) -> Result<DirWatch, notify::Error> {
    let names: HashSet<OsString> = files
        .iter()
        .filter_map(|f| f.file_name().map(OsString::from))
        .collect();
    let mut dirs: Vec<PathBuf> = files.iter().map(|f| directory_of(f)).collect();
    dirs.sort();
    dirs.dedup();
    let mut watcher =
        notify::recommended_watcher(move |result: notify::Result<Event>| match result {
            Ok(event) => {
                let relevant = !matches!(event.kind, EventKind::Access(_))
                    && event.paths.iter().any(|path| {
                        path.file_name().is_some_and(|name| {
                            names.contains(name) || name.to_string_lossy().starts_with("..")
                        })
                    });
                if relevant {
                    // Full means a reload is already pending, which will read the files after this change.
                    let _ = changed.try_send(());
                }
            }
            Err(e) => tracing::warn!(error = %e, "watching the configuration directories failed"),
        })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(DirWatch {
        _watcher: watcher,
        dirs,
    })
}

/// The directory holding `file` (`.` for a bare file name).
fn directory_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
