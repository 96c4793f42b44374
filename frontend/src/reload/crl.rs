//! Facts read from the CRL file for reload: which serials it revokes and until when it is current.
//!
//! rustls checks the CRL at each handshake; these facts serve what rustls does not do: closing live
//! connections of newly revoked serials, and reporting a CRL past its `nextUpdate`.

use super::live::normalise;
use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;
use std::collections::HashSet;
use std::path::Path;
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// What the CRL file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlFacts {
    /// Revoked serials (normalised raw bytes), from every CRL in the file.
    pub revoked: HashSet<Vec<u8>>,
    /// The earliest `nextUpdate` of the CRLs in the file, if any states one.
    pub next_update: Option<OffsetDateTime>,
}

/// Reads the CRL file at `path`. Errors name what is wrong (the caller adds the file name).
pub fn read(path: &Path) -> Result<CrlFacts, String> {
    let ders = CertificateRevocationListDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the CRL: {e}"))?;
    let mut facts = CrlFacts::default();
    for der in &ders {
        let (_, crl) = CertificateRevocationList::from_der(der.as_ref())
            .map_err(|e| format!("cannot parse the CRL: {e}"))?;
        for entry in crl.iter_revoked_certificates() {
            facts.revoked.insert(normalise(entry.raw_serial()).to_vec());
        }
        if let Some(next) = crl.next_update() {
            let next = next.to_datetime();
            facts.next_update = Some(facts.next_update.map_or(next, |n| n.min(next)));
        }
    }
    Ok(facts)
}
