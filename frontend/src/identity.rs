//! The client's identity, read from its certificate *after* rustls has verified the chain.
//!
//! rustls decides whether a certificate is acceptable; this module only describes an accepted one for logs
//! and the audit trail: subject CN, SANs (`DNS:`, `IP:`, `URI:`, `email:`, `DirName:`), serial in colon hex
//! and the SHA-256 fingerprint of the DER. The parser is defence in depth, not a gate.
//!
//! Certificate strings are attacker-influenced (a CA may sign whatever a CSR asked for), so control and
//! bidirectional-formatting characters are escaped before they reach a log line or a JSON audit record.

use crate::conn::ClientIdentity;
use rustls_pki_types::CertificateDer;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// The certificate could not be described.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The DER is not an X.509 certificate x509-parser accepts.
    #[error("client certificate cannot be parsed: {0}")]
    Parse(String),
}

/// Describes the verified end-entity certificate `cert`.
pub fn client_identity(cert: &CertificateDer<'_>) -> Result<ClientIdentity, IdentityError> {
    let der: &[u8] = cert.as_ref();
    let (_, x509) =
        X509Certificate::from_der(der).map_err(|e| IdentityError::Parse(e.to_string()))?;
    let common_name = x509
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(sanitize);
    let sans = x509
        .subject_alternative_name()
        .map_err(|e| IdentityError::Parse(e.to_string()))?
        .map(|ext| ext.value.general_names.iter().map(render_san).collect())
        .unwrap_or_default();
    Ok(ClientIdentity {
        common_name,
        sans,
        serial: x509.raw_serial_as_string(),
        fingerprint_sha256: fingerprint_sha256(der),
    })
}

/// Expiry of a certificate (used for the server certificate in the health check).
pub fn not_after(cert: &CertificateDer<'_>) -> Option<time::OffsetDateTime> {
    let (_, x509) = X509Certificate::from_der(cert.as_ref()).ok()?;
    time::OffsetDateTime::from_unix_timestamp(x509.validity().not_after.timestamp()).ok()
}

/// SHA-256 of `der`, lowercase hex without separators.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(64);
    for byte in digest.as_ref() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn render_san(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{}", sanitize(s)),
        GeneralName::URI(s) => format!("URI:{}", sanitize(s)),
        GeneralName::RFC822Name(s) => format!("email:{}", sanitize(s)),
        GeneralName::IPAddress(bytes) => format!("IP:{}", render_ip(bytes)),
        GeneralName::DirectoryName(dn) => format!("DirName:{}", sanitize(&dn.to_string())),
        GeneralName::RegisteredID(oid) => format!("RID:{oid}"),
        GeneralName::OtherName(oid, _) => format!("othername:{oid}"),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".to_string(),
        GeneralName::Invalid(_, _) => "invalid:<unparsable>".to_string(),
    }
}

fn render_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        IpAddr::V4(Ipv4Addr::from(v4)).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        IpAddr::V6(Ipv6Addr::from(v6)).to_string()
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("<invalid {}>", hex.join(""))
    }
}

/// Escapes control characters and Unicode bidirectional/zero-width formatting characters (`\u{..}` form),
/// so a crafted CN cannot forge log lines or reorder text on an operator's terminal.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let formatting = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if c.is_control() || formatting || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_pki::TestCa;
    use rcgen::SanType;

    #[test]
    fn identity_has_cn_sans_serial_and_fingerprint() {
        let ca = TestCa::new("Test CA");
        let sans = vec![
            SanType::DnsName("ops.example".try_into().unwrap()),
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
            SanType::IpAddress("fd00::7".parse().unwrap()),
            SanType::URI("spiffe://example/ops".try_into().unwrap()),
            SanType::Rfc822Name("ops@example.org".try_into().unwrap()),
        ];
        let leaf = ca.client("operator-1", sans, 0x1234_5678);
        let id = client_identity(&CertificateDer::from(leaf.cert_der.clone())).unwrap();
        assert_eq!(id.common_name.as_deref(), Some("operator-1"));
        assert_eq!(
            id.sans,
            vec![
                "DNS:ops.example",
                "IP:10.1.2.3",
                "IP:fd00::7",
                "URI:spiffe://example/ops",
                "email:ops@example.org"
            ]
        );
        assert_eq!(id.serial, "12:34:56:78");
        assert_eq!(id.fingerprint_sha256.len(), 64);
        assert_eq!(id.fingerprint_sha256, fingerprint_sha256(&leaf.cert_der));
        assert!(
            id.fingerprint_sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            fingerprint_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn control_characters_in_cn_are_escaped() {
        let ca = TestCa::new("Test CA");
        let leaf = ca.client("evil\nFAKE LOG LINE\u{1b}[31m\u{202e}", vec![], 7);
        let id = client_identity(&CertificateDer::from(leaf.cert_der)).unwrap();
        let cn = id.common_name.unwrap();
        assert!(
            !cn.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{cn:?}"
        );
        assert_eq!(cn, "evil\\nFAKE LOG LINE\\u{1b}[31m\\u{202e}");
    }

    #[test]
    fn certificate_without_cn_or_sans_still_has_serial_and_fingerprint() {
        let ca = TestCa::new("Test CA");
        let mut leaf = ca.client("x", vec![], 9);
        // Re-issue without a CN by using a fresh params set.
        leaf.cert_der = {
            let mut params = rcgen::CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            let key = rcgen::KeyPair::generate().unwrap();
            params.self_signed(&key).unwrap().der().to_vec()
        };
        let id = client_identity(&CertificateDer::from(leaf.cert_der)).unwrap();
        assert_eq!(id.common_name, None);
        assert!(id.sans.is_empty());
        assert!(!id.serial.is_empty());
    }

    #[test]
    fn garbage_der_is_an_error() {
        assert!(client_identity(&CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02])).is_err());
    }
}
