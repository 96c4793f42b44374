//! The README's first command: `linux-patch-ctl demo` runs the whole stack on a sandbox, answers over mTLS,
//! writes `client.env`, touches nothing on the host's package state, and stops both processes on SIGTERM.

use lpa_client::{ApiClient, Credentials, PackageQuery};
use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn host_dpkg_status() -> Vec<u8> {
    std::fs::read("/var/lib/dpkg/status").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_the_stack_on_a_sandbox_and_stops_cleanly() {
    let before = host_dpkg_status();
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    // Test code starting the CLI under test: the disallowed-methods lint guards product code.
    #[allow(clippy::disallowed_methods)]
    let mut demo = std::process::Command::new(
        lpa_testkit::paths::binary_path("linux-patch-ctl").expect("binary"),
    )
    .args(["demo", "--port", &port.to_string(), "--dir"])
    .arg(&demo_dir)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("demo starts");

    let env_file = demo_dir.join("client.env");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !env_file.exists() {
        if let Some(status) = demo.try_wait().expect("wait") {
            let mut err = String::new();
            let _ = demo.stderr.take().expect("stderr").read_to_string(&mut err);
            panic!("demo exited early ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "no client.env after 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let creds = Credentials::from_env_file(&env_file).expect("client.env");
    assert_eq!(creds.url, format!("https://127.0.0.1:{port}"));
    let client = ApiClient::new(&creds).expect("client");
    let updates = client
        .packages(&PackageQuery {
            status: Some("upgradable".into()),
            ..Default::default()
        })
        .await
        .expect("answer");
    assert_eq!(updates.status, 200);
    let names: Vec<_> = updates.data()["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(names.len() >= 2, "at least two updates pending: {names:?}");
    assert!(
        names
            .iter()
            .any(|(_, source)| source.ends_with("-security")),
        "one update comes from the security suite: {names:?}"
    );
    let hello = client.package("hello").await.expect("answer");
    assert_eq!(hello.data()["status"], "available");

    let whitelist = std::fs::read_to_string(demo_dir.join("whitelist.yaml")).expect("whitelist");
    let entries: Vec<_> = whitelist.split('"').skip(1).step_by(2).collect();
    assert_eq!(
        entries,
        ["127.0.0.1", "::1"],
        "only loopback is whitelisted: {whitelist}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(demo.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = demo.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "demo did not stop within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "demo exit status {status}");
    let mut out = String::new();
    let _ = demo.stdout.take().expect("stdout").read_to_string(&mut out);
    assert!(out.contains("curl --cacert"), "prints curl examples: {out}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the frontend still listens after the demo stopped"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(demo_dir.join("run/helper.sock")).is_err(),
        "the helper still serves after the demo stopped"
    );
    assert_eq!(
        host_dpkg_status(),
        before,
        "the host's dpkg database changed"
    );
}
