//! `linux-patch-ctl pki` end to end: a CA made by the real binary, a server and client certificates it issues
//! that the real stack accepts over mTLS, revocation that takes effect once `pki crl` is published and the
//! frontend restarted, unique serials, and keys that are 0600 from the moment they exist.

use lpa_client::{ApiClient, Credentials};
use lpa_pki::CertInfo;
use lpa_testkit::harness::{FRONTEND_ID, Stack};
use lpa_tests::raw;
use lpa_tests::stack;
use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs `linux-patch-ctl pki --dir CA ARGS…` and returns its output.
fn ctl(ca: &Path, args: &[&str]) -> Output {
    // Test code starting the real binary: the disallowed-methods lint guards product code.
    #[allow(clippy::disallowed_methods)]
    std::process::Command::new(lpa_testkit::paths::binary_path("linux-patch-ctl").expect("binary"))
        .arg("pki")
        .arg("--dir")
        .arg(ca)
        .args(args)
        .env_remove("LPA_PKI_DIR")
        .output()
        .expect("linux-patch-ctl runs")
}

/// Like [`ctl`], but the command must succeed; returns stdout.
fn ctl_ok(ca: &Path, args: &[&str]) -> String {
    let out = ctl(ca, args);
    assert!(
        out.status.success(),
        "pki {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

fn serial(cert: &Path) -> String {
    CertInfo::from_pem(&std::fs::read_to_string(cert).expect("read cert"))
        .expect("parse cert")
        .serial
        .to_hex()
}

fn client(stack: &Stack, ca_cert: &Path, out: &Path, name: &str) -> ApiClient {
    ApiClient::new(&Credentials {
        url: stack.base_url(),
        ca_cert: ca_cert.to_path_buf(),
        cert: out.join(format!("{name}.pem")),
        key: out.join(format!("{name}.key")),
    })
    .expect("client")
}

/// `/health` answers 200 for `name`'s certificate.
async fn accepted(stack: &Stack, ca_cert: &Path, out: &Path, name: &str) {
    let resp = client(stack, ca_cert, out, name)
        .health()
        .await
        .unwrap_or_else(|e| panic!("{name} refused: {e}\n{}", stack.logs()));
    assert_eq!(resp.status, 200, "{name}");
}

/// `name`'s certificate gets nothing: no HTTP answer, and not one byte over a raw TLS connection.
async fn refused(stack: &Stack, ca_cert: &Path, out: &Path, name: &str) {
    let result = client(stack, ca_cert, out, name).health().await;
    assert!(
        result.is_err(),
        "{name}: got an HTTP answer: {:?}",
        result.map(|r| r.status)
    );
    let cfg = raw::tls_client(
        ca_cert,
        &out.join(format!("{name}.pem")),
        &out.join(format!("{name}.key")),
    );
    let bytes = raw::health_over_tls(cfg, stack.connect_addr()).await;
    assert!(bytes.is_empty(), "{name}: received {} bytes", bytes.len());
}

/// Puts the CLI's CA, server certificate and CRL where the stack's frontend reads them and restarts it.
fn install_and_restart(stack: &mut Stack, srv: &Path, ca_dir: &Path) {
    let pki = stack.pki();
    let (ca, cert, key, crl) = (
        pki.ca_cert.clone(),
        pki.server.cert.clone(),
        pki.server.key.clone(),
        pki.crl.clone(),
    );
    std::fs::copy(srv.join("ca.pem"), &ca).expect("install ca.pem");
    std::fs::copy(srv.join("server.pem"), &cert).expect("install server.pem");
    std::fs::copy(srv.join("server.key"), &key).expect("install server.key");
    std::os::unix::fs::chown(&key, Some(FRONTEND_ID), Some(FRONTEND_ID)).expect("chown key");
    // `pki crl` writes straight to the path the frontend reads (its default is the agent's crl.pem).
    ctl_ok(ca_dir, &["crl", "--out", crl.to_str().expect("utf-8")]);
    stack.stop_frontend().expect("stop frontend");
    stack
        .start_frontend()
        .expect("frontend restarts with the new certificates");
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_certificates_work_over_mtls_and_revocation_takes_effect_after_pki_crl() {
    let mut stack = stack::plain();
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca_dir = tmp.path().join("ca");
    let srv = tmp.path().join("srv");
    let out = tmp.path().join("clients");
    let s = |p: &PathBuf| p.to_str().expect("utf-8").to_owned();

    let init = ctl_ok(&ca_dir, &["init"]);
    assert!(init.contains("created CA"), "{init}");
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    assert_eq!(mode(&ca_dir), 0o700);

    let issued = ctl_ok(
        &ca_dir,
        &[
            "issue",
            "server",
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--ip",
            "::1",
            "--out",
            &s(&srv),
        ],
    );
    assert!(issued.contains("issued server certificate"), "{issued}");
    for name in ["alice", "bob", "carol"] {
        ctl_ok(&ca_dir, &["issue", "client", name, "--out", &s(&out)]);
        assert_eq!(mode(&out.join(format!("{name}.key"))), 0o600, "{name}.key");
        assert_eq!(mode(&out.join(format!("{name}.pem"))), 0o644, "{name}.pem");
    }
    assert_eq!(mode(&srv.join("server.key")), 0o600);

    // Serials: all different, each one recorded by the CA.
    let serials: Vec<String> = [srv.join("server.pem")]
        .into_iter()
        .chain(["alice", "bob", "carol"].map(|n| out.join(format!("{n}.pem"))))
        .map(|p| serial(&p))
        .collect();
    assert_eq!(
        serials.iter().collect::<HashSet<_>>().len(),
        4,
        "{serials:?}"
    );
    let listed = ctl_ok(&ca_dir, &["list"]);
    for serial in &serials {
        assert!(
            listed.contains(serial.as_str()),
            "{serial} not listed:\n{listed}"
        );
    }

    // Default validity: one year.
    let info =
        CertInfo::from_pem(&std::fs::read_to_string(out.join("alice.pem")).unwrap()).unwrap();
    let days = (info.not_after - time_now()).whole_days();
    assert!((364..=365).contains(&days), "alice valid for {days} days");

    install_and_restart(&mut stack, &srv, &ca_dir);
    let ca_cert = stack.pki().ca_cert.clone();
    for name in ["alice", "bob", "carol"] {
        accepted(&stack, &ca_cert, &out, name).await;
    }
    // Negative control: the harness's own client, signed by the CA the frontend no longer trusts.
    let old = stack::client(&stack).health().await;
    assert!(
        old.is_err(),
        "a client of the replaced CA got {:?}",
        old.map(|r| r.status)
    );

    // Revoke bob by certificate file and carol by serial (colon-separated, uppercase, as openssl prints it).
    let bob = ctl_ok(&ca_dir, &["revoke", &s(&out.join("bob.pem"))]);
    assert!(bob.contains("revoked certificate"), "{bob}");
    let carol_serial = serial(&out.join("carol.pem")).to_uppercase();
    let colon: Vec<String> = carol_serial
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    ctl_ok(&ca_dir, &["revoke", &colon.join(":")]);
    // Revoked but not yet published: the running frontend still accepts bob.
    accepted(&stack, &ca_cert, &out, "bob").await;

    install_and_restart(&mut stack, &srv, &ca_dir);
    refused(&stack, &ca_cert, &out, "bob").await;
    refused(&stack, &ca_cert, &out, "carol").await;
    accepted(&stack, &ca_cert, &out, "alice").await;
    let listed = ctl_ok(&ca_dir, &["list"]);
    assert_eq!(listed.matches("revoked").count(), 2, "{listed}");
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[test]
fn init_refuses_to_overwrite_a_ca_and_issue_refuses_to_overwrite_a_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca_dir = tmp.path().join("ca");
    ctl_ok(&ca_dir, &["init"]);
    let key_before = std::fs::read(ca_dir.join("ca.key")).unwrap();

    let again = ctl(&ca_dir, &["init"]);
    assert!(!again.status.success(), "a second init succeeded");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(
        std::fs::read(ca_dir.join("ca.key")).unwrap(),
        key_before,
        "CA key changed"
    );

    let out = tmp.path().join("clients");
    let out_s = out.to_str().unwrap();
    ctl_ok(&ca_dir, &["issue", "client", "dave", "--out", out_s]);
    let key = std::fs::read(out.join("dave.key")).unwrap();
    let refused = ctl(&ca_dir, &["issue", "client", "dave", "--out", out_s]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(out.join("dave.key")).unwrap(),
        key,
        "key overwritten without --force"
    );
    // With --force the pair is replaced, still 0600.
    ctl_ok(
        &ca_dir,
        &["issue", "client", "dave", "--out", out_s, "--force"],
    );
    assert_ne!(std::fs::read(out.join("dave.key")).unwrap(), key);
    assert_eq!(mode(&out.join("dave.key")), 0o600);
    assert_eq!(std::fs::metadata(out.join("dave.key")).unwrap().uid(), 0);

    // The agent's configuration directory is never a CA's home.
    let refused = ctl(Path::new("/etc/linux_patch_api/ca"), &["init"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to keep the CA"));
    assert!(!Path::new("/etc/linux_patch_api/ca").exists());

    // Revoking a serial this CA never issued is refused (a typo must not pass silently).
    let unknown = ctl(&ca_dir, &["revoke", "0123456789abcdef"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("was not issued by the CA"));
}
