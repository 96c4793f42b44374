//! A test-only *transcript launcher*: the launcher's end of the broker⇄launcher socketpair, answered by a
//! thread that replays recorded apk runs instead of spawning apk (which cannot run on these machines).
//!
//! For each `LauncherRequest::Exec` (real framing, `lpa_protocol::frame`) it takes the next expected step
//! of the scenario, builds the command line with the **real** command table
//! (`launcher::table::command_line` on an apk [`Table`]), checks it is exactly the table's global apk
//! options followed by the step's applet, finds the recorded run of that applet, and answers as the real
//! launcher does: for a package-changing entry each recorded stdout line as a `Status` line (apk's status
//! channel is its stdout), then `Finished` with the recorded stdout, stderr and exit code. A step that
//! changed the installed set in the recording first rewrites the root's `lib/apk/db/installed` (with the
//! test kit's writer) and `etc/apk/world` to what apk left behind.
//!
//! Nothing here panics: a mismatch is answered with a launch error and recorded in [`Launcher::failures`],
//! because a launcher that vanished would make the broker exit the whole test process.

use super::transcript::{Recorded, find};
use lpa_privhelper::launcher::table::apk::ApkSettings;
use lpa_privhelper::launcher::table::{
    ExecClass, Programs, StatusChannel, Table, class_of, command_line, status_channel,
};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{ExecOutput, LaunchError, LauncherRequest, LauncherResponse};
use std::collections::VecDeque;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The installed set apk left behind after a recorded step.
#[derive(Debug, Clone)]
pub struct DbState {
    /// `(name, version)` of every installed package (fixture packages of the test kit).
    pub packages: Vec<(&'static str, &'static str)>,
    /// The world file's text.
    pub world: &'static str,
}

/// One command the scenario expects the broker to ask for.
#[derive(Debug, Clone)]
pub struct Step {
    /// The argv after apk's global options, exactly as the table must build it (`add -- demo-hello`).
    pub applet: Vec<String>,
    /// The installed state apk left behind, for steps that changed it.
    pub after: Option<DbState>,
}

impl Step {
    /// A step that leaves the installed set as it was.
    pub fn reads(applet: &str) -> Step {
        Step {
            applet: applet.split(' ').map(str::to_owned).collect(),
            after: None,
        }
    }

    /// A step after which the installed set is `packages` and the world `world`.
    pub fn changes(
        applet: &str,
        packages: &[(&'static str, &'static str)],
        world: &'static str,
    ) -> Step {
        Step {
            after: Some(DbState {
                packages: packages.to_vec(),
                world,
            }),
            ..Step::reads(applet)
        }
    }

    /// The applet as the recorder typed it: without our `--` separator.
    fn recorded_form(&self) -> String {
        self.applet
            .iter()
            .filter(|a| *a != "--")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The state shared between the test and the launcher thread.
#[derive(Default)]
struct Shared {
    expected: VecDeque<Step>,
    failures: Vec<String>,
    ran: Vec<Vec<String>>,
}

/// The running transcript launcher.
pub struct Launcher {
    shared: Arc<Mutex<Shared>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Everything the launcher thread needs.
struct Replayer {
    table: Table,
    session: Vec<Recorded>,
    root: PathBuf,
    fixtures: PathBuf,
    shared: Arc<Mutex<Shared>>,
}

/// The apk command table of the scenario: every program "found" (none is run), the sandbox root, a keys
/// directory as a host would trust its repository key through, the default repositories file of the root.
pub fn table(root: &Path, keys_dir: &Path) -> Table {
    let mut table = Table::new(Programs::discover_with(|_| true));
    table.package_root = root.to_owned();
    table.apk = ApkSettings {
        repositories_file: None,
        keys_dir: Some(keys_dir.to_owned()),
        ..ApkSettings::default()
    };
    table
}

impl Launcher {
    /// Serves `stream` with the runs of `session`, acting on `table`'s package root.
    pub fn start(
        stream: UnixStream,
        table: Table,
        session: Vec<Recorded>,
        fixtures: &Path,
    ) -> Launcher {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let replayer = Replayer {
            root: table.package_root.clone(),
            table,
            session,
            fixtures: fixtures.to_owned(),
            shared: shared.clone(),
        };
        let thread = std::thread::spawn(move || replayer.serve(stream));
        Launcher {
            shared,
            thread: Some(thread),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues the commands the next operation must ask for, in order.
    pub fn expect(&self, steps: impl IntoIterator<Item = Step>) {
        self.lock().expected.extend(steps);
    }

    /// Mismatches so far, and expected commands that were never asked for.
    pub fn failures(&self) -> Vec<String> {
        let shared = self.lock();
        let mut out = shared.failures.clone();
        out.extend(
            shared
                .expected
                .iter()
                .map(|s| format!("never asked for: apk … {}", s.applet.join(" "))),
        );
        out
    }

    /// Every argv the launcher was asked to run (after the program), in order.
    pub fn ran(&self) -> Vec<Vec<String>> {
        self.lock().ran.clone()
    }

    /// Waits for the thread, which ends when the broker's end of the socketpair closes.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Replayer {
    fn serve(self, mut stream: UnixStream) {
        loop {
            let payload = match frame::read_frame(&mut stream, MAX_REQUEST_FRAME) {
                Ok(Some(p)) => p,
                Ok(None) | Err(_) => return,
            };
            let request = match frame::decode::<LauncherRequest>(&payload, MAX_REQUEST_FRAME) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(format!("undecodable launcher request: {e}"));
                    continue;
                }
            };
            let LauncherRequest::Exec { id, invocation } = request else {
                self.fail(format!("unexpected launcher request: {request:?}"));
                continue;
            };
            let (status, result) = match self.answer(&invocation) {
                Ok(answer) => answer,
                Err(message) => {
                    self.fail(format!("{}: {message}", invocation.kind()));
                    (Vec::new(), Err(LaunchError::NotAvailable(message)))
                }
            };
            for line in status {
                if !send(&mut stream, &LauncherResponse::Status { id, line }) {
                    return;
                }
            }
            if !send(&mut stream, &LauncherResponse::Finished { id, result }) {
                return;
            }
        }
    }

    fn fail(&self, message: String) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failures
            .push(message);
    }

    /// The status lines and the result of one invocation, or why it does not match the scenario.
    #[allow(clippy::type_complexity)]
    fn answer(
        &self,
        invocation: &lpa_protocol::launcher::Invocation,
    ) -> Result<(Vec<String>, Result<ExecOutput, LaunchError>), String> {
        let cl = command_line(invocation, &self.table, None).map_err(|e| e.to_string())?;
        let step = {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.ran.push(cl.args.clone());
            shared.expected.pop_front()
        }
        .ok_or_else(|| format!("no command expected, asked for {:?}", cl.args))?;
        if cl.program != Path::new("/sbin/apk") {
            return Err(format!("program {}", cl.program.display()));
        }
        let class = class_of(invocation);
        let mut want = self.global_options(class == ExecClass::Read);
        want.extend(step.applet.iter().cloned());
        if cl.args != want {
            return Err(format!("argv {:?}, the scenario expects {want:?}", cl.args));
        }
        let recorded = find(&self.session, &step.recorded_form())?;
        let fill = |s: &str| {
            s.replace("$ROOT", &self.root.display().to_string())
                .replace("$FIXTURES", &self.fixtures.display().to_string())
        };
        let (stdout, stderr) = (fill(&recorded.stdout), fill(&recorded.stderr));
        let status = match (class, status_channel(invocation)) {
            (ExecClass::Change, Some(StatusChannel::Stdout)) => {
                stdout.lines().map(str::to_owned).collect()
            }
            (ExecClass::Read, None) => Vec::new(),
            other => return Err(format!("class and status channel {other:?}")),
        };
        if let Some(after) = &step.after {
            self.write_state(after)?;
        }
        Ok((
            status,
            Ok(ExecOutput {
                program: cl.program.display().to_string(),
                exit_code: recorded.exit,
                stdout,
                stderr,
                truncated: false,
            }),
        ))
    }

    /// The global options every apk entry of this table starts with.
    fn global_options(&self, read_only: bool) -> Vec<String> {
        let mut out = vec!["--root".to_owned(), self.root.display().to_string()];
        if let Some(dir) = &self.table.apk.keys_dir {
            out.extend(["--keys-dir".to_owned(), dir.display().to_string()]);
        }
        out.extend(["--no-progress", "--no-interactive", "--wait", "60"].map(str::to_owned));
        if read_only {
            out.push("--no-network".to_owned());
        }
        out
    }

    fn write_state(&self, state: &DbState) -> Result<(), String> {
        lpa_testkit::fixtures::apk::write_installed_db(&self.root, &state.packages)
            .map_err(|e| format!("writing the installed database: {e}"))?;
        std::fs::write(self.root.join("etc/apk/world"), state.world)
            .map_err(|e| format!("writing the world file: {e}"))
    }
}

fn send(stream: &mut UnixStream, response: &LauncherResponse) -> bool {
    frame::encode(response, MAX_RESPONSE_FRAME)
        .ok()
        .is_some_and(|payload| frame::write_frame(stream, &payload).is_ok())
}
