//! The real broker on an apk root, with a [`launcher::Launcher`] that replays recorded apk runs at the far
//! end of its socketpair.
//!
//! Real: the broker's session (Hello, requests, events, responses over a Unix socket with the protocol's
//! framing), `Services`, the change runner (`Changer`: lock, before/after snapshots, tracker, verdict),
//! `backend::open(Backend::Apk)` and the `ApkManager` with its parsers and caches, the launcher client, the
//! command table's argv, and the apk database files the manager reads (written by the test kit's writer
//! in apk's format). Recorded: apk's stdout, stderr and exit code (apk-tools 2.14.9 and 3.0.6 runs), and
//! which packages each run left installed.
#![allow(dead_code)]

pub mod launcher;
pub mod transcript;

use launcher::{Launcher, Step, table};
use lpa_privhelper::backend;
use lpa_privhelper::broker::dispatch::Services;
use lpa_privhelper::broker::launcher_client::LauncherClient;
use lpa_privhelper::broker::session;
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{
    Backend, ClientMessage, Hello, HelperError, JobEvent, Operation, Outcome, ServerMessage,
};
use lpa_testkit::Snapshot;
use lpa_testkit::fixtures::apk::{ApkFixtures, write_installed_db};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What one request produced: its events and its result.
#[derive(Debug)]
pub struct Answer {
    /// Job events, in order.
    pub events: Vec<JobEvent>,
    /// The response.
    pub result: Result<Outcome, HelperError>,
}

/// The broker serving an apk root, a connection to it, and the transcript launcher.
pub struct ApkBroker {
    /// The temporary directory (root, keys).
    pub dir: tempfile::TempDir,
    /// The package root.
    pub root: PathBuf,
    /// The fixture repositories.
    pub fixtures: &'static ApkFixtures,
    client: UnixStream,
    next_id: u64,
    runtime: Option<tokio::runtime::Runtime>,
    launcher: Option<Launcher>,
}

impl ApkBroker {
    /// A fresh apk root pointed at the v1 repository, and the broker on it replaying apk `version`.
    pub fn start(version: &str) -> ApkBroker {
        let fixtures = ApkFixtures::get().expect("apk fixtures");
        let dir = tempfile::Builder::new()
            .prefix("lpa-apk-")
            .tempdir()
            .expect("temporary directory");
        let root = dir.path().join("root");
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).expect("keys directory");
        std::fs::create_dir_all(root.join("var/cache/apk")).expect("cache directory");
        write_installed_db(&root, &[]).expect("empty apk database");
        std::fs::write(
            root.join("etc/os-release"),
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        )
        .expect("os-release");
        let (launcher_end, broker_end) = UnixStream::pair().expect("socketpair");
        let launcher = Launcher::start(
            launcher_end,
            table(&root, &keys),
            transcript::load(version),
            fixtures.dir(),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (client, server) = UnixStream::pair().expect("socketpair");
        runtime.block_on(async {
            let launcher_client = LauncherClient::start(broker_end).expect("launcher client");
            let lock_timeout = Duration::from_secs(60);
            let manager = backend::open(Backend::Apk, &root, launcher_client.clone(), lock_timeout)
                .expect("the apk backend opens");
            let services = Arc::new(Services::new(
                manager,
                root.clone(),
                launcher_client,
                lock_timeout,
            ));
            server.set_nonblocking(true).expect("non-blocking");
            let server = tokio::net::UnixStream::from_std(server).expect("tokio stream");
            tokio::spawn(session::serve(server, services, "apk scenario".into()));
        });
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut broker = ApkBroker {
            dir,
            root,
            fixtures,
            client,
            next_id: 1,
            runtime: Some(runtime),
            launcher: Some(launcher),
        };
        broker.publish(Snapshot::V1);
        match broker.exchange(&ClientMessage::Hello(Hello::current())) {
            ServerMessage::HelloAck(ack) => assert_eq!(ack.backend, Backend::Apk),
            other => panic!("no HelloAck: {other:?}"),
        }
        broker
    }

    /// Points the root's repositories file at `snapshot`'s repository (the vendor published it).
    pub fn publish(&mut self, snapshot: Snapshot) {
        std::fs::write(
            self.root.join("etc/apk/repositories"),
            self.fixtures.repositories_file(snapshot),
        )
        .expect("repositories file");
    }

    fn exchange(&mut self, msg: &ClientMessage) -> ServerMessage {
        let payload = frame::encode(msg, MAX_REQUEST_FRAME).expect("encodable");
        frame::write_frame(&mut self.client, &payload).expect("broker reachable");
        self.read()
    }

    fn read(&mut self) -> ServerMessage {
        let payload = frame::read_frame(&mut self.client, MAX_RESPONSE_FRAME)
            .expect("a frame from the broker")
            .expect("the broker closed the connection");
        frame::decode(&payload, MAX_RESPONSE_FRAME).expect("a valid message")
    }

    /// Sends `operation`, expecting the launcher to be asked for exactly `steps`, collects the answer and
    /// asserts that the launcher saw exactly those commands.
    pub fn request(&mut self, operation: Operation, steps: Vec<Step>) -> Answer {
        let answer = self.request_unchecked(operation, steps);
        let failures = self.launcher().failures();
        assert!(failures.is_empty(), "transcript launcher: {failures:#?}");
        answer
    }

    /// Like [`Self::request`] without the check of the launcher's commands.
    pub fn request_unchecked(&mut self, operation: Operation, steps: Vec<Step>) -> Answer {
        self.launcher().expect(steps);
        let id = self.next_id;
        self.next_id += 1;
        let mut events = Vec::new();
        let mut msg = self.exchange(&ClientMessage::Request { id, operation });
        let result = loop {
            match msg {
                ServerMessage::Event { id: i, event } if i == id => events.push(event),
                ServerMessage::Response { id: i, result } if i == id => break result,
                other => panic!("unexpected message {other:?}"),
            }
            msg = self.read();
        };
        Answer { events, result }
    }

    /// The transcript launcher.
    pub fn launcher(&self) -> &Launcher {
        self.launcher.as_ref().expect("running")
    }

    /// The package root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for ApkBroker {
    fn drop(&mut self) {
        // The broker first: its launcher client ends the process when the launcher's end closes first.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        if let Some(l) = self.launcher.take() {
            l.join();
        }
    }
}
