//! A complete per-run PKI on disk: the CA, the server, good and bad clients, and a CRL.

use std::path::{Path, PathBuf};

use lpa_pki::{Ca, IssuedCert, Serial, Validity};
use time::{Duration, OffsetDateTime};

use crate::Result;
use crate::fsutil::{dir_0755, write_public, write_with_mode};

/// Subject CN of the main test client.
pub const CLIENT_CN: &str = "test-operator";
/// Subject CN of the second valid client.
pub const CLIENT2_CN: &str = "second-operator";
/// Names in the server certificate.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How long the valid certificates last: long enough for any test run or demo session.
const VALID_DAYS: u32 = 30;

/// A certificate and its key on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The certificate, PEM, mode 0644.
    pub cert: PathBuf,
    /// The private key, PKCS#8 PEM, mode 0600.
    pub key: PathBuf,
    /// The certificate's serial.
    pub serial: Serial,
}

/// The files [`TestPki::generate`] writes, all in one directory:
///
/// | file | what |
/// | --- | --- |
/// | `ca.pem`, `ca.key` | the service CA |
/// | `server.pem`, `server.key` | server certificate for `localhost`, `127.0.0.1`, `::1` |
/// | `client.pem`, `client.key` | valid client, CN [`CLIENT_CN`] |
/// | `client2.pem`, `client2.key` | another valid client, CN [`CLIENT2_CN`] |
/// | `foreign-ca.pem` | an unrelated CA |
/// | `foreign-client.pem`, `.key` | client signed by the unrelated CA (CN [`CLIENT_CN`], so only the issuer is wrong) |
/// | `expired-client.pem`, `.key` | client whose validity ended yesterday |
/// | `revoked-client.pem`, `.key` | client listed in `crl.pem` |
/// | `crl.pem` | CRL of the service CA revoking `revoked-client` |
///
/// Keys are 0600, everything else 0644, the directory 0755.
#[derive(Debug)]
pub struct TestPki {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// `ca.pem`.
    pub ca_cert: PathBuf,
    /// `ca.key`.
    pub ca_key: PathBuf,
    /// `server.pem` / `server.key`.
    pub server: CertFiles,
    /// `client.pem` / `client.key`.
    pub client: CertFiles,
    /// `client2.pem` / `client2.key`.
    pub client2: CertFiles,
    /// `foreign-ca.pem`.
    pub foreign_ca_cert: PathBuf,
    /// `foreign-client.pem` / `.key`.
    pub foreign_client: CertFiles,
    /// `expired-client.pem` / `.key`.
    pub expired_client: CertFiles,
    /// `revoked-client.pem` / `.key`.
    pub revoked_client: CertFiles,
    /// `crl.pem`.
    pub crl: PathBuf,
    ca: Ca,
}

impl TestPki {
    /// Generates every certificate and writes them into `dir` (created if needed).
    pub fn generate(dir: &Path) -> Result<Self> {
        dir_0755(dir)?;
        let valid = Validity::days_from_now(VALID_DAYS)?;
        let now = OffsetDateTime::now_utc();
        let expired = Validity::new(now - Duration::days(30), now - Duration::days(1))?;

        let ca = Ca::generate("linux-patch-api test CA", valid)?;
        let ca_cert = dir.join("ca.pem");
        let ca_key = dir.join("ca.key");
        write_public(&ca_cert, ca.cert_pem())?;
        write_with_mode(&ca_key, ca.key_pem(), 0o600)?;

        let foreign_ca = Ca::generate("unrelated CA", valid)?;
        let foreign_ca_cert = dir.join("foreign-ca.pem");
        write_public(&foreign_ca_cert, foreign_ca.cert_pem())?;

        let server = store(dir, "server", ca.issue_server(&SERVER_NAMES, valid)?)?;
        let client = store(dir, "client", ca.issue_client(CLIENT_CN, valid)?)?;
        let client2 = store(dir, "client2", ca.issue_client(CLIENT2_CN, valid)?)?;
        let foreign_client = store(
            dir,
            "foreign-client",
            foreign_ca.issue_client(CLIENT_CN, valid)?,
        )?;
        let expired_client = store(
            dir,
            "expired-client",
            ca.issue_client("expired-operator", expired)?,
        )?;
        let revoked_client = store(
            dir,
            "revoked-client",
            ca.issue_client("revoked-operator", valid)?,
        )?;

        let pki = Self {
            crl: dir.join("crl.pem"),
            dir: dir.to_path_buf(),
            ca_cert,
            ca_key,
            server,
            client,
            client2,
            foreign_ca_cert,
            foreign_client,
            expired_client,
            revoked_client,
            ca,
        };
        pki.write_crl(std::slice::from_ref(&pki.revoked_client.serial), 1)?;
        Ok(pki)
    }

    /// The service CA, to issue more certificates in a test.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// Issues another client certificate of the service CA and writes `<stem>.pem` / `<stem>.key`.
    pub fn issue_client(
        &self,
        stem: &str,
        common_name: &str,
        validity: Validity,
    ) -> Result<CertFiles> {
        store(
            &self.dir,
            stem,
            self.ca.issue_client(common_name, validity)?,
        )
    }

    /// Rewrites `crl.pem` to revoke exactly `serials`, with CRL number `crl_number` (which must grow: pass 2,
    /// 3, … for successive rewrites, the first CRL is number 1). For CRL reload tests.
    pub fn write_crl(&self, serials: &[Serial], crl_number: u64) -> Result<()> {
        // Backdated by an hour so a verifier with a slightly slow clock does not see a CRL from the future.
        let this_update = OffsetDateTime::now_utc() - Duration::hours(1);
        let pem = self.ca.crl(
            serials,
            this_update,
            this_update + Duration::days(7),
            crl_number,
        )?;
        // Write then rename, so a server watching the file never reads half a CRL.
        let tmp = self.dir.join(".crl.pem.tmp");
        write_public(&tmp, pem)?;
        std::fs::rename(&tmp, &self.crl).map_err(|source| crate::Error::Io {
            context: format!("rename {} to {}", tmp.display(), self.crl.display()),
            source,
        })
    }
}

fn store(dir: &Path, stem: &str, issued: IssuedCert) -> Result<CertFiles> {
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    write_public(&cert, &issued.cert_pem)?;
    write_with_mode(&key, &issued.key_pem, 0o600)?;
    Ok(CertFiles {
        cert,
        key,
        serial: issued.serial,
    })
}
