//! The real helper on a test kit sandbox root with the fixture repositories, for tests that change
//! packages with real apt, and the client side of a package-changing conversation.

use super::{BROKER_UID, FRONTEND_UID, Helper, exchange, mkdir_0755, read_message, spawn_helper};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME};
use lpa_protocol::{ClientMessage, HelperError, JobEvent, Operation, Outcome, ServerMessage};
use lpa_testkit::{AptSandbox, Snapshot};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// How to prepare the sandbox and the helper.
pub struct SandboxOptions {
    /// The snapshot the sandbox starts on.
    pub snapshot: Snapshot,
    /// Installed before the helper starts.
    pub preinstall: &'static [&'static str],
    /// `lock_timeout_seconds`.
    pub lock_timeout_seconds: u32,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            snapshot: Snapshot::V1,
            preinstall: &[],
            lock_timeout_seconds: 60,
        }
    }
}

/// A helper serving a sandbox, with the sandbox and the reboot recorder's log.
pub struct SandboxHelper {
    pub helper: Helper,
    pub sandbox: AptSandbox,
    pub reboot_log: PathBuf,
}

impl SandboxHelper {
    pub fn start(opts: SandboxOptions) -> SandboxHelper {
        assert!(nix::unistd::geteuid().is_root(), "these tests run as root");
        let dir = tempfile::Builder::new()
            .prefix("lpa-change-")
            .tempdir()
            .unwrap();
        mkdir_0755(dir.path());
        let sandbox =
            AptSandbox::create(&dir.path().join("sandbox"), opts.snapshot, opts.preinstall)
                .expect("sandbox");
        let run = dir.path().join("run");
        mkdir_0755(&run);
        let socket = run.join("helper.sock");
        let reboot_log = dir.path().join("reboot-requests.log");
        let recorder = dir.path().join("reboot-recorder");
        std::fs::write(
            &recorder,
            format!("#!/bin/sh\necho \"$@\" >> '{}'\n", reboot_log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("helper.yaml");
        std::fs::write(
            &config,
            format!(
                "socket:\n  path: {}\nfrontend_user: {FRONTEND_UID}\nfrontend_group: {FRONTEND_UID}\n\
                 broker_user: {BROKER_UID}\nbroker_group: {BROKER_UID}\nallow_root_peer: true\n\
                 backend: apt\npackage_root: {}\nlock_timeout_seconds: {}\napt:\n  config_file: {}\n\
                 reboot:\n  command: {}\n",
                socket.display(),
                sandbox.root().display(),
                opts.lock_timeout_seconds,
                sandbox.apt_config_path().display(),
                recorder.display(),
            ),
        )
        .unwrap();
        let log = dir.path().join("helper.log");
        let helper = Helper {
            child: spawn_helper(&config, &log),
            config,
            root: sandbox.root().to_owned(),
            dir,
            socket,
            log,
        };
        helper.wait_ready();
        SandboxHelper {
            helper,
            sandbox,
            reboot_log,
        }
    }

    /// A connection after Hello.
    pub fn conn(&self) -> Conn {
        Conn(self.helper.connect())
    }
}

/// Everything one request produced on its connection.
#[derive(Debug)]
pub struct Answer {
    /// Its events, in order.
    pub events: Vec<JobEvent>,
    /// Whether a `CancelRefused` for it arrived.
    pub cancel_refused: bool,
    /// Its result.
    pub result: Result<Outcome, HelperError>,
}

impl Answer {
    pub fn changed(self) -> lpa_protocol::ChangeReport {
        match self.result {
            Ok(Outcome::Changed(r)) => r,
            other => panic!("not a change report: {other:?}"),
        }
    }

    pub fn failure(self) -> lpa_protocol::ChangeFailure {
        match self.result {
            Err(HelperError::Change(f)) => f,
            other => panic!("not a change failure: {other:?}"),
        }
    }

    pub fn saw_changes_started(&self) -> bool {
        self.events.contains(&JobEvent::ChangesStarted)
    }
}

/// A connection to the broker.
pub struct Conn(pub UnixStream);

impl Conn {
    /// Sends a message without waiting for anything.
    pub fn send(&mut self, msg: &ClientMessage) {
        frame::write_frame(&mut self.0, &frame::encode(msg, MAX_REQUEST_FRAME).unwrap()).unwrap();
    }

    /// Sends a request without waiting.
    pub fn submit(&mut self, id: u64, operation: Operation) {
        self.send(&ClientMessage::Request { id, operation });
    }

    /// The next message.
    pub fn next(&mut self) -> ServerMessage {
        read_message(&mut self.0).expect("the helper closed the connection")
    }

    /// Reads until the response of `id`, collecting its events (messages of other requests are dropped).
    pub fn answer(&mut self, id: u64) -> Answer {
        let mut events = Vec::new();
        let mut cancel_refused = false;
        loop {
            match self.next() {
                ServerMessage::Event { id: got, event } if got == id => events.push(event),
                ServerMessage::CancelRefused { id: got } if got == id => cancel_refused = true,
                ServerMessage::Response { id: got, result } if got == id => {
                    return Answer {
                        events,
                        cancel_refused,
                        result,
                    };
                }
                _ => {}
            }
        }
    }

    /// Submits and waits for the answer.
    pub fn run(&mut self, id: u64, operation: Operation) -> Answer {
        self.submit(id, operation);
        self.answer(id)
    }

    /// A reading request's outcome.
    pub fn read(&mut self, id: u64, operation: Operation) -> Result<Outcome, HelperError> {
        match exchange(&mut self.0, &ClientMessage::Request { id, operation }) {
            Some(ServerMessage::Response { result, .. }) => result,
            other => panic!("{other:?}"),
        }
    }
}
