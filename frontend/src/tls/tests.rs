//! Tests of the server configuration, driven through in-memory rustls handshakes.

use super::test_pki::{Leaf, TestCa, write};
use super::*;
use rustls::{ClientConfig, ClientConnection, ServerConnection};
use rustls_pki_types::ServerName;
use tempfile::TempDir;

struct Files {
    _dir: TempDir,
    section: TlsSection,
    ca: TestCa,
}

fn files(crl_revoking: Option<&[u64]>) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = ca.server();
    let section = TlsSection {
        ca_cert: write(dir.path(), "ca.pem", &ca.cert_pem),
        server_cert: write(dir.path(), "server.pem", &server.cert_pem),
        server_key: write(dir.path(), "server.key", &server.key_pem),
        crl_path: crl_revoking.map(|serials| write(dir.path(), "crl.pem", &ca.crl(serials))),
        crl_expired: Default::default(),
    };
    Files {
        _dir: dir,
        section,
        ca,
    }
}

fn client_config(ca: &TestCa, client: Option<&Leaf>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(leaf.cert_der.clone())],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// Runs a handshake in memory; the server's verdict is what matters.
fn handshake(
    server_cfg: Arc<ServerConfig>,
    client_cfg: Arc<ClientConfig>,
) -> Result<ServerConnection, rustls::Error> {
    let mut server = ServerConnection::new(server_cfg)?;
    let mut client = ClientConnection::new(client_cfg, ServerName::try_from("localhost").unwrap())?;
    for _ in 0..10 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        let mut slice = &buf[..];
        while !slice.is_empty() {
            server.read_tls(&mut slice).unwrap();
        }
        server.process_new_packets()?;
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        let mut slice = &buf[..];
        while !slice.is_empty() {
            client.read_tls(&mut slice).unwrap();
        }
        // A client-side failure (e.g. an alert from the server) ends the exchange; report the server's view.
        if client.process_new_packets().is_err() {
            break;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(server);
        }
    }
    Err(rustls::Error::General("handshake did not finish".into()))
}

#[test]
fn valid_client_completes_tls13_handshake_with_http11_alpn() {
    let f = files(None);
    let tls = build_server_config(&f.section).unwrap();
    let client = f.ca.client("operator", vec![], 42);
    let server = handshake(tls.config, client_config(&f.ca, Some(&client))).unwrap();
    assert_eq!(
        server.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));
    let peer = server.peer_certificates().unwrap();
    assert_eq!(peer[0].as_ref(), &client.cert_der[..]);
    assert!(tls.server_cert_not_after.is_some());
}

#[test]
fn client_without_certificate_is_refused() {
    let f = files(None);
    let tls = build_server_config(&f.section).unwrap();
    let err = handshake(tls.config, client_config(&f.ca, None)).unwrap_err();
    assert!(
        matches!(err, rustls::Error::NoCertificatesPresented),
        "{err:?}"
    );
}

#[test]
fn client_from_foreign_ca_is_refused() {
    let f = files(None);
    let tls = build_server_config(&f.section).unwrap();
    let other = TestCa::new("Other CA");
    let client = other.client("intruder", vec![], 5);
    // The client trusts our server, but presents a certificate from another CA.
    let err = handshake(tls.config, client_config(&f.ca, Some(&client))).unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
}

#[test]
fn revoked_client_is_refused_when_crl_configured() {
    let f = files(Some(&[66]));
    let tls = build_server_config(&f.section).unwrap();
    let revoked = f.ca.client("revoked", vec![], 66);
    let err = handshake(tls.config.clone(), client_config(&f.ca, Some(&revoked))).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
        ),
        "{err:?}"
    );
    let good = f.ca.client("good", vec![], 67);
    handshake(tls.config, client_config(&f.ca, Some(&good))).unwrap();
}

#[test]
fn resumption_is_disabled() {
    let f = files(None);
    let tls = build_server_config(&f.section).unwrap();
    assert_eq!(tls.config.send_tls13_tickets, 0);
    assert!(!tls.config.session_storage.can_cache());
}

/// A TLS 1.2 ClientHello (no supported_versions extension) must be answered with a protocol_version alert:
/// the server never negotiates TLS 1.2, whatever features the build has.
#[test]
fn tls12_client_hello_gets_protocol_version_alert() {
    let f = files(None);
    let tls = build_server_config(&f.section).unwrap();
    let mut server = ServerConnection::new(tls.config).unwrap();
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]); // ECDHE-ECDSA/RSA-AES128-GCM-SHA256
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    // Extensions a real TLS 1.2 client sends: signature_algorithms, supported_groups, ec_point_formats.
    // No supported_versions extension: that is what makes this a TLS 1.2 hello.
    let extensions: &[u8] = &[
        0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08,
        0x04, // ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, // x25519, secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // uncompressed points
    ];
    body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
    body.extend_from_slice(extensions);
    let mut hs = vec![0x01, 0x00];
    hs.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&hs);
    server.read_tls(&mut &record[..]).unwrap();
    let err = server.process_new_packets().unwrap_err();
    assert!(matches!(err, rustls::Error::PeerIncompatible(_)), "{err:?}");
    let mut out = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut out).unwrap();
    }
    // Alert record: content type 21, level fatal (2), description protocol_version (70).
    assert_eq!(out.first(), Some(&21), "{out:?}");
    assert_eq!(&out[out.len() - 2..], &[2, 70], "{out:?}");
}

#[test]
fn mismatched_key_is_an_error_naming_both_files() {
    let f = files(None);
    let other = f.ca.server();
    std::fs::write(&f.section.server_key, other.key_pem).unwrap();
    let err = build_server_config(&f.section).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TlsError::ServerCert { .. }), "{text}");
    assert!(
        text.contains("server.pem") && text.contains("server.key"),
        "{text}"
    );
}

#[test]
fn missing_ca_file_is_an_error_naming_it() {
    let mut f = files(None);
    f.section.ca_cert = PathBuf::from("/nonexistent/ca.pem");
    let err = build_server_config(&f.section).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn file_without_certificates_is_an_error_naming_it() {
    let f = files(None);
    std::fs::write(&f.section.server_cert, "not pem\n").unwrap();
    let err = build_server_config(&f.section).unwrap_err();
    assert!(matches!(err, TlsError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("server.pem"), "{err}");
}

#[test]
fn garbage_crl_is_an_error_naming_the_crl_file() {
    let f = files(Some(&[]));
    let crl = f.section.crl_path.clone().unwrap();
    std::fs::write(
        &crl,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let err = build_server_config(&f.section).unwrap_err();
    assert!(err.to_string().contains("crl.pem"), "{err}");
}

#[test]
fn stale_crl_refuses_every_client_by_default_and_only_warns_when_configured() {
    let mut f = files(Some(&[]));
    let now = time::OffsetDateTime::now_utc();
    let stale = f.ca.crl_between(
        &[66],
        now - time::Duration::days(8),
        now - time::Duration::days(1),
    );
    std::fs::write(f.section.crl_path.as_ref().unwrap(), stale).unwrap();
    let good = f.ca.client("good", vec![], 67);
    let refusing = build_server_config(&f.section).unwrap();
    let err = handshake(refusing.config, client_config(&f.ca, Some(&good))).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredRevocationList)
                | rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ExpiredRevocationListContext { .. }
                )
        ),
        "{err:?}"
    );
    f.section.crl_expired = crate::config::CrlExpired::Warn;
    let warning = build_server_config(&f.section).unwrap();
    handshake(warning.config.clone(), client_config(&f.ca, Some(&good))).unwrap();
    let revoked = f.ca.client("revoked", vec![], 66);
    handshake(warning.config, client_config(&f.ca, Some(&revoked))).unwrap_err();
}
