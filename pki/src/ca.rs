//! The CA itself: creation, loading, and issuing leaf certificates and CRLs.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams,
};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

use crate::{PkiError, Serial, Validity};

/// Organization written into every subject, so certificates of this service are recognisable in any tool.
const ORGANIZATION: &str = "linux-patch-api";

/// A certificate authority: its certificate and the key that signs leaf certificates and CRLs.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// How the CA's key identifier is computed; CRLs must carry the same identifier as the certificate's SKI.
    key_id: KeyIdMethod,
}

/// A freshly issued leaf certificate with its private key.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM. Write it with mode 0600.
    pub key_pem: String,
    /// The certificate's serial, which a CRL uses to revoke it.
    pub serial: Serial,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even into a test failure.
        f.debug_struct("IssuedCert")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// Creates a new self-signed CA (ECDSA P-256) named `common_name`, valid for `validity`.
    ///
    /// The CA may sign leaf certificates only (path length 0): the service has no intermediate CAs.
    pub fn generate(common_name: &str, validity: Validity) -> Result<Self, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        apply(&mut params, validity)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_id: params.key_identifier_method.clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads an existing CA from its certificate and PKCS#8 key, both PEM.
    ///
    /// Refuses a certificate that is not a CA and a key that does not belong to the certificate, so a mixed-up
    /// file pair fails here rather than producing certificates nobody trusts.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        if !cert.is_ca() {
            return Err(PkiError::NotACa);
        }
        let key = KeyPair::from_pem(key_pem)?;
        if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(PkiError::KeyMismatch);
        }
        let key_id = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    Some(KeyIdMethod::PreSpecified(ski.0.to_vec()))
                }
                _ => None,
            })
            .unwrap_or(KeyIdMethod::Sha256);
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
            key_id,
        })
    }

    /// The CA certificate, PEM: what servers and clients put in their trust store.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PKCS#8 PEM. Write it with mode 0600.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a TLS server certificate for `names` (DNS names and IP addresses; IPs become IP SANs), with EKU
    /// `serverAuth`. The first name is also the subject CN.
    pub fn issue_server(&self, names: &[&str], validity: Validity) -> Result<IssuedCert, PkiError> {
        let Some(first) = names.first() else {
            return Err(PkiError::NoServerNames);
        };
        let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(sans)?;
        self.issue(params, first, ExtendedKeyUsagePurpose::ServerAuth, validity)
    }

    /// Issues a TLS client certificate whose subject CN is `common_name`, with EKU `clientAuth`. The CN is the
    /// operator identity the service records in its audit log.
    pub fn issue_client(
        &self,
        common_name: &str,
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        self.issue(
            CertificateParams::default(),
            common_name,
            ExtendedKeyUsagePurpose::ClientAuth,
            validity,
        )
    }

    /// A CRL signed by this CA that revokes `revoked` (revocation time = `this_update`).
    ///
    /// `crl_number` must grow with every CRL the CA publishes (RFC 5280 §5.2.3); relying parties may ignore a
    /// CRL whose number is not newer than the one they have.
    pub fn crl(
        &self,
        revoked: &[Serial],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        crl_number: u64,
    ) -> Result<String, PkiError> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: rcgen::SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: serial.to_rcgen(),
                    revocation_time: this_update,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: self.key_id.clone(),
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    fn issue(
        &self,
        mut params: CertificateParams,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        params.distinguished_name = subject(common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let serial = apply(&mut params, validity)?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
        })
    }
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Sets the validity window and a fresh random serial; returns the serial.
fn apply(params: &mut CertificateParams, validity: Validity) -> Result<Serial, PkiError> {
    params.not_before = validity.not_before();
    params.not_after = validity.not_after();
    let serial = Serial::random()?;
    params.serial_number = Some(serial.to_rcgen());
    Ok(serial)
}
