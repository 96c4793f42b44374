//! `TestPki` writes every certificate the e2e tests need, with private keys readable by the owner only.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use lpa_testkit::pki::{CLIENT_CN, CLIENT2_CN, TestPki};
use x509_parser::pem::parse_x509_pem;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

fn with_cert<T>(
    path: &Path,
    f: impl FnOnce(&x509_parser::certificate::X509Certificate<'_>) -> T,
) -> T {
    let bytes = fs::read(path).unwrap();
    let (_, pem) = parse_x509_pem(&bytes).unwrap();
    let cert = pem.parse_x509().unwrap();
    f(&cert)
}

fn common_name(path: &Path) -> String {
    with_cert(path, |c| {
        c.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    })
}

fn issuer_raw(path: &Path) -> Vec<u8> {
    with_cert(path, |c| c.issuer().as_raw().to_vec())
}

fn subject_raw(path: &Path) -> Vec<u8> {
    with_cert(path, |c| c.subject().as_raw().to_vec())
}

#[test]
fn writes_every_file_with_private_keys_0600_and_the_rest_0644() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let pki = TestPki::generate(&dir).unwrap();
    assert_eq!(mode(&dir), 0o755);
    let names = [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
        "client2.pem",
        "client2.key",
        "foreign-ca.pem",
        "foreign-client.pem",
        "foreign-client.key",
        "expired-client.pem",
        "expired-client.key",
        "revoked-client.pem",
        "revoked-client.key",
        "crl.pem",
    ];
    for name in names {
        let path = dir.join(name);
        let expected = if name.ends_with(".key") { 0o600 } else { 0o644 };
        assert_eq!(mode(&path), expected, "{name}");
    }
    assert_eq!(pki.client.cert, dir.join("client.pem"));
    assert_eq!(pki.revoked_client.key, dir.join("revoked-client.key"));
    assert_eq!(pki.crl, dir.join("crl.pem"));
}

#[test]
fn clients_carry_their_names_and_only_the_foreign_one_has_another_issuer() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(tmp.path()).unwrap();
    assert_eq!(common_name(&pki.client.cert), CLIENT_CN);
    assert_eq!(common_name(&pki.client2.cert), CLIENT2_CN);
    let ca = subject_raw(&pki.ca_cert);
    for ours in [
        &pki.server,
        &pki.client,
        &pki.client2,
        &pki.expired_client,
        &pki.revoked_client,
    ] {
        assert_eq!(issuer_raw(&ours.cert), ca, "{}", ours.cert.display());
    }
    assert_ne!(issuer_raw(&pki.foreign_client.cert), ca);
    assert_eq!(
        issuer_raw(&pki.foreign_client.cert),
        subject_raw(&pki.foreign_ca_cert)
    );
}

#[test]
fn expired_client_ended_yesterday_and_the_others_are_valid_now() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(tmp.path()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expired_at = with_cert(&pki.expired_client.cert, |c| {
        c.validity().not_after.timestamp()
    });
    assert!(
        expired_at < now && expired_at > now - 2 * 86_400,
        "{expired_at} vs {now}"
    );
    for valid in [&pki.client, &pki.server, &pki.revoked_client] {
        assert!(with_cert(&valid.cert, |c| c.validity().is_valid()));
    }
}

#[test]
fn crl_revokes_exactly_the_revoked_client_and_can_be_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(tmp.path()).unwrap();
    let listed = |path: &Path| -> Vec<Vec<u8>> {
        let bytes = fs::read(path).unwrap();
        let (_, pem) = parse_x509_pem(&bytes).unwrap();
        let (_, crl) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
        crl.iter_revoked_certificates()
            .map(|r| r.raw_serial().to_vec())
            .collect()
    };
    assert_eq!(
        listed(&pki.crl),
        vec![pki.revoked_client.serial.as_bytes().to_vec()]
    );
    pki.write_crl(
        &[
            pki.revoked_client.serial.clone(),
            pki.client2.serial.clone(),
        ],
        2,
    )
    .unwrap();
    let now = listed(&pki.crl);
    assert_eq!(now.len(), 2);
    assert!(now.contains(&pki.client2.serial.as_bytes().to_vec()));
}

#[test]
fn server_certificate_covers_localhost_and_both_loopback_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(tmp.path()).unwrap();
    let count = with_cert(&pki.server.cert, |c| {
        c.subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .len()
    });
    assert_eq!(count, 3);
    assert_eq!(common_name(&pki.server.cert), "localhost");
}
