//! A repository mirror on loopback HTTP that changes under the client, for the "repository changed between
//! refresh and download" path.
//!
//! [`RotatingMirror`] serves a *stale* generation of a flat apt repository until a client asks it for a file
//! that generation does not have (the download of a package whose index entry points at a file that is gone),
//! and the current generation from then on — what a real mirror looks like while it is being republished. A
//! client that refreshes its index after the 404 and retries succeeds; one that does not, fails.
//!
//! It is a deliberately small HTTP/1.1 server on a std thread (keep-alive and pipelined requests, GET only,
//! no path may leave the generation's directory).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{IoContext, Result};
use crate::fixtures::apt::{AptFixtures, Snapshot, Suite};
use crate::fsutil::dir_0755;
use crate::run::{checked, command_in};

/// The package whose download 404s from the stale generation.
pub const STALE_PACKAGE: &str = "demo-tool";

#[derive(Debug)]
struct Shared {
    stale: PathBuf,
    current: PathBuf,
    switched: AtomicBool,
    log: Mutex<Vec<String>>,
}

/// A running mirror; it stops serving when dropped (its thread ends with the process, it holds no state).
#[derive(Debug)]
pub struct RotatingMirror {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RotatingMirror {
    /// Serves the v2 `main` repository of `fixtures`, starting with a stale generation built in `work` whose
    /// index points [`STALE_PACKAGE`]'s update at a file that no longer exists.
    pub fn start(fixtures: &AptFixtures, work: &Path) -> Result<RotatingMirror> {
        let current = fixtures.repo(Snapshot::V2, Suite::Main);
        let stale = build_stale_generation(&current, &work.join("stale-mirror"))?;
        let listener = TcpListener::bind("127.0.0.1:0").context(|| "bind the mirror".to_owned())?;
        let addr = listener
            .local_addr()
            .context(|| "mirror address".to_owned())?;
        let shared = Arc::new(Shared {
            stale,
            current,
            switched: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
        });
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Ok(RotatingMirror { addr, shared })
    }

    /// The `sources.list` line for this mirror.
    pub fn sources_line(&self) -> String {
        format!("deb [trusted=yes] http://{}/ ./\n", self.addr)
    }

    /// Whether a client hit the missing file and the mirror now serves the current generation.
    pub fn switched(&self) -> bool {
        self.shared.switched.load(Ordering::SeqCst)
    }

    /// Every request so far, as `STATUS PATH`.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

/// Copies the repository, renames the stale package's newest deb, indexes that, then deletes the file: the
/// index now names a file the mirror does not have.
fn build_stale_generation(current: &Path, dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).context(|| format!("remove {}", dir.display()))?;
    }
    dir_0755(dir)?;
    let mut renamed = None;
    for entry in std::fs::read_dir(current).context(|| format!("read {}", current.display()))? {
        let path = entry.context(|| "dir entry".to_owned())?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".deb") {
            continue;
        }
        let target = if name == format!("{STALE_PACKAGE}_1.2_all.deb") {
            let gone = dir.join(format!("{STALE_PACKAGE}_1.2_all.republished.deb"));
            renamed = Some(gone.clone());
            gone
        } else {
            dir.join(name)
        };
        std::fs::copy(&path, &target).context(|| format!("copy {}", path.display()))?;
    }
    let packages = checked(command_in("apt-ftparchive", dir).args(["packages", "."]))?;
    std::fs::write(dir.join("Packages"), &packages.stdout)
        .context(|| "write Packages".to_owned())?;
    let release = checked(command_in("apt-ftparchive", dir).args([
        "-o",
        "APT::FTPArchive::Release::Origin=Demo",
        "-o",
        "APT::FTPArchive::Release::Label=Demo",
        "-o",
        "APT::FTPArchive::Release::Suite=bookworm",
        "-o",
        "APT::FTPArchive::Release::Codename=bookworm",
        // Older than any real generation: apt ignores a Release whose Date goes backwards, so the stale
        // generation must look older than the current one, as it would on a real mirror.
        "-o",
        "APT::FTPArchive::Release::Date=Sat, 01 Jan 2000 00:00:00 UTC",
        "release",
        ".",
    ]))?;
    std::fs::write(dir.join("Release"), &release.stdout).context(|| "write Release".to_owned())?;
    if let Some(gone) = renamed {
        std::fs::remove_file(&gone).context(|| format!("remove {}", gone.display()))?;
    }
    Ok(dir.to_path_buf())
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Skip the headers up to the blank line.
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) if header == "\r\n" || header == "\n" => break,
                Ok(_) => {}
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let (status, body) = if method == "GET" {
            respond(shared, target)
        } else {
            ("405 Method Not Allowed", Vec::new())
        };
        if let Ok(mut log) = shared.log.lock() {
            log.push(format!("{} {target}", &status[..3]));
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

fn respond(shared: &Shared, target: &str) -> (&'static str, Vec<u8>) {
    let relative = Path::new(target.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return ("404 Not Found", Vec::new());
    }
    let generation = if shared.switched.load(Ordering::SeqCst) {
        &shared.current
    } else {
        &shared.stale
    };
    match std::fs::read(generation.join(relative)) {
        Ok(bytes) => ("200 OK", bytes),
        Err(_) => {
            if target.ends_with(".deb") {
                shared.switched.store(true, Ordering::SeqCst);
            }
            ("404 Not Found", Vec::new())
        }
    }
}
