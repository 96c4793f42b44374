//! Issuing certificates and CRLs, inspected with an independent X.509 parser.

use std::net::{IpAddr, Ipv6Addr};

use lpa_pki::{Ca, PkiError, Serial, Validity};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::{Pem, parse_x509_pem};

fn pem_of(text: &str) -> Pem {
    parse_x509_pem(text.as_bytes()).expect("PEM").1
}

fn cert_of(pem: &Pem) -> X509Certificate<'_> {
    pem.parse_x509().expect("X.509")
}

fn test_ca() -> Ca {
    Ca::generate("Test CA", Validity::days_from_now(30).unwrap()).unwrap()
}

#[test]
fn ca_certificate_is_a_ca_with_our_subject_and_explicit_validity() {
    let validity = Validity::days_from_now(10).unwrap();
    let ca = Ca::generate("Test CA", validity).unwrap();
    let pem = pem_of(ca.cert_pem());
    let cert = cert_of(&pem);
    assert!(cert.is_ca());
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, "Test CA");
    assert_eq!(
        cert.validity().not_after.timestamp(),
        validity.not_after().unix_timestamp()
    );
}

#[test]
fn every_issued_certificate_gets_a_different_serial_matching_the_certificate() {
    let ca = test_ca();
    let v = Validity::days_from_now(1).unwrap();
    let a = ca.issue_client("a", v).unwrap();
    let b = ca.issue_client("a", v).unwrap();
    let c = ca.issue_server(&["localhost"], v).unwrap();
    assert_ne!(a.serial, b.serial);
    assert_ne!(a.serial, c.serial);
    for issued in [&a, &b, &c] {
        let pem = pem_of(&issued.cert_pem);
        assert_eq!(cert_of(&pem).raw_serial(), issued.serial.as_bytes());
    }
}

#[test]
fn client_certificate_has_client_auth_eku_only_and_the_cn() {
    let ca = test_ca();
    let issued = ca
        .issue_client("test-operator", Validity::days_from_now(1).unwrap())
        .unwrap();
    let pem = pem_of(&issued.cert_pem);
    let cert = cert_of(&pem);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth);
    assert!(!cert.is_ca());
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, "test-operator");
}

#[test]
fn server_certificate_has_server_auth_eku_and_dns_and_ip_sans() {
    let ca = test_ca();
    let issued = ca
        .issue_server(
            &["localhost", "127.0.0.1", "::1"],
            Validity::days_from_now(1).unwrap(),
        )
        .unwrap();
    let pem = pem_of(&issued.cert_pem);
    let cert = cert_of(&pem);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth);
    let names = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in names {
        match name {
            GeneralName::DNSName(d) => dns.push((*d).to_owned()),
            GeneralName::IPAddress(raw) => ips.push(ip_of(raw)),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert_eq!(dns, ["localhost"]);
    assert_eq!(
        ips,
        [
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from(Ipv6Addr::LOCALHOST)
        ]
    );
}

fn ip_of(raw: &[u8]) -> IpAddr {
    match raw.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(raw).unwrap()),
        16 => IpAddr::from(<[u8; 16]>::try_from(raw).unwrap()),
        n => panic!("IP SAN of {n} bytes"),
    }
}

#[test]
fn server_certificate_without_names_is_refused() {
    let err = test_ca().issue_server(&[], Validity::days_from_now(1).unwrap());
    assert!(matches!(err, Err(PkiError::NoServerNames)));
}

#[test]
fn leaf_certificates_chain_to_the_ca_by_name_key_id_and_signature() {
    let ca = test_ca();
    let issued = ca
        .issue_client("x", Validity::days_from_now(1).unwrap())
        .unwrap();
    let ca_pem = pem_of(ca.cert_pem());
    let ca_cert = cert_of(&ca_pem);
    let leaf_pem = pem_of(&issued.cert_pem);
    let leaf = cert_of(&leaf_pem);
    assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
    leaf.verify_signature(Some(ca_cert.public_key())).unwrap();
}

#[test]
fn already_expired_certificate_can_be_issued() {
    let now = OffsetDateTime::now_utc();
    let expired = Validity::new(now - Duration::days(30), now - Duration::days(1)).unwrap();
    let issued = test_ca().issue_client("expired", expired).unwrap();
    let pem = pem_of(&issued.cert_pem);
    assert!(cert_of(&pem).validity().not_after.timestamp() < now.unix_timestamp());
}

#[test]
fn crl_parses_and_lists_exactly_the_revoked_serials() {
    let ca = test_ca();
    let v = Validity::days_from_now(1).unwrap();
    let revoked = ca.issue_client("revoked", v).unwrap();
    let kept = ca.issue_client("kept", v).unwrap();
    let now = OffsetDateTime::now_utc();
    let crl_pem = ca
        .crl(
            std::slice::from_ref(&revoked.serial),
            now,
            now + Duration::days(7),
            42,
        )
        .unwrap();
    let pem = pem_of(&crl_pem);
    assert_eq!(pem.label, "X509 CRL");
    let (_, crl) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    let listed: Vec<&[u8]> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial())
        .collect();
    assert_eq!(listed, vec![revoked.serial.as_bytes()]);
    assert!(!listed.contains(&kept.serial.as_bytes()));
    assert_eq!(crl.crl_number().unwrap().to_string(), "42");
    let ca_pem = pem_of(ca.cert_pem());
    let ca_cert = cert_of(&ca_pem);
    assert_eq!(crl.issuer().as_raw(), ca_cert.subject().as_raw());
    crl.verify_signature(ca_cert.public_key()).unwrap();
}

#[test]
fn ca_loaded_from_pem_issues_certificates_and_crls_that_chain_to_it() {
    let original = test_ca();
    let loaded = Ca::from_pem(original.cert_pem(), &original.key_pem()).unwrap();
    let issued = loaded
        .issue_client("after-reload", Validity::days_from_now(1).unwrap())
        .unwrap();
    let ca_pem = pem_of(original.cert_pem());
    let ca_cert = cert_of(&ca_pem);
    let leaf_pem = pem_of(&issued.cert_pem);
    let leaf = cert_of(&leaf_pem);
    assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
    leaf.verify_signature(Some(ca_cert.public_key())).unwrap();

    let now = OffsetDateTime::now_utc();
    let crl_pem = loaded
        .crl(&[issued.serial], now, now + Duration::days(1), 2)
        .unwrap();
    let crl_der = pem_of(&crl_pem);
    let (_, crl) = x509_parser::parse_x509_crl(&crl_der.contents).unwrap();
    crl.verify_signature(ca_cert.public_key()).unwrap();
    assert_eq!(crl.issuer().as_raw(), ca_cert.subject().as_raw());
}

#[test]
fn loading_a_ca_with_the_wrong_key_is_refused() {
    let a = test_ca();
    let b = test_ca();
    assert!(matches!(
        Ca::from_pem(a.cert_pem(), &b.key_pem()),
        Err(PkiError::KeyMismatch)
    ));
}

#[test]
fn loading_a_leaf_certificate_as_ca_is_refused() {
    let ca = test_ca();
    let leaf = ca
        .issue_client("leaf", Validity::days_from_now(1).unwrap())
        .unwrap();
    assert!(matches!(
        Ca::from_pem(&leaf.cert_pem, &leaf.key_pem),
        Err(PkiError::NotACa)
    ));
    assert!(matches!(
        Ca::from_pem("not a pem", &leaf.key_pem),
        Err(PkiError::BadCertificate(_))
    ));
}

#[test]
fn serial_display_is_plain_lowercase_hex() {
    let s = Serial::from_hex("AB:01").unwrap();
    assert_eq!(s.to_string(), "ab01");
}
