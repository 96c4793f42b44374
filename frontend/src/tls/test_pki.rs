//! A throw-away PKI for this crate's unit tests: a CA, a server certificate, client certificates and a CRL,
//! generated with rcgen per test run (no checked-in keys). Integration tests use the test kit's PKI instead.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// A CA able to issue leaf certificates and CRLs.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

/// A leaf certificate with its key.
pub struct Leaf {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Certificate, DER.
    pub cert_der: Vec<u8>,
    /// PKCS#8 key, PEM.
    pub key_pem: String,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(30);
        let key = KeyPair::generate().unwrap();
        let cert_pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            params,
            key,
            cert_pem,
        }
    }

    /// A server certificate for `localhost` / 127.0.0.1.
    pub fn server(&self) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, 1)
    }

    /// A client certificate with common name `cn`, the given SANs and serial.
    pub fn client(&self, cn: &str, sans: Vec<SanType>, serial: u64) -> Leaf {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, serial)
    }

    fn issue(&self, mut params: CertificateParams, serial: u64) -> Leaf {
        params.serial_number = Some(SerialNumber::from(serial));
        params.use_authority_key_identifier_extension = true;
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(7);
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap();
        Leaf {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A CRL revoking `serials`.
    pub fn crl(&self, serials: &[u64]) -> String {
        let now = OffsetDateTime::now_utc();
        self.crl_between(serials, now - Duration::minutes(5), now + Duration::days(7))
    }

    /// A CRL revoking `serials` with the given `thisUpdate` and `nextUpdate` (a past `nextUpdate` makes it stale).
    pub fn crl_between(
        &self,
        serials: &[u64],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> String {
        let now = OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: now - Duration::minutes(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&Issuer::from_params(&self.params, &self.key))
        .unwrap()
        .pem()
        .unwrap()
    }
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}
