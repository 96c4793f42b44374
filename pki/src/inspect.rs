//! Reading back what a certificate says: the facts `linux-patch-ctl pki` needs to revoke a certificate given
//! as a file, and to list what it issued.

use time::OffsetDateTime;

use crate::{PkiError, Serial};

/// The parts of a certificate the PKI tooling works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Its serial number, the key of a revocation.
    pub serial: Serial,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// The issuer's distinguished name, as text (`O=…, CN=…`).
    pub issuer: String,
    /// End of its validity.
    pub not_after: OffsetDateTime,
}

impl CertInfo {
    /// Parses the first certificate of a PEM text.
    pub fn from_pem(cert_pem: &str) -> Result<Self, PkiError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let serial = Serial::from_be_bytes(cert.raw_serial())?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        Ok(Self {
            serial,
            common_name,
            issuer: cert.issuer().to_string(),
            not_after: cert.validity().not_after.to_datetime(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ca, Validity};

    #[test]
    fn reads_back_the_serial_and_name_of_an_issued_certificate() {
        let validity = Validity::days_from_now(2).unwrap();
        let ca = Ca::generate("inspect CA", validity).unwrap();
        let issued = ca.issue_client("alice", validity).unwrap();
        let info = CertInfo::from_pem(&issued.cert_pem).unwrap();
        assert_eq!(info.serial, issued.serial);
        assert_eq!(info.common_name.as_deref(), Some("alice"));
        assert!(info.issuer.contains("inspect CA"), "{}", info.issuer);
        assert_eq!(
            info.not_after.unix_timestamp(),
            validity.not_after().unix_timestamp()
        );
    }

    #[test]
    fn garbage_is_a_bad_certificate() {
        assert!(matches!(
            CertInfo::from_pem("not a certificate"),
            Err(PkiError::BadCertificate(_))
        ));
    }
}
