//! Where the service is and which files hold the client's trust anchor and identity.

use std::path::{Path, PathBuf};

/// Endpoint and certificate paths, from flags, the environment (`LPA_URL`, `LPA_CACERT`, `LPA_CERT`,
/// `LPA_KEY`) or a `client.env` file written by the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Base URL, e.g. `https://127.0.0.1:12443`.
    pub url: String,
    /// PEM file of the CA that signed the server certificate.
    pub ca_cert: PathBuf,
    /// PEM file of the client certificate.
    pub cert: PathBuf,
    /// PEM file of the client's private key.
    pub key: PathBuf,
}

impl Credentials {
    /// Reads `KEY=VALUE` lines of a `client.env` file (comments and blank lines ignored).
    pub fn from_env_file(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let lookup = |key: &str| {
            text.lines()
                .filter_map(|l| l.trim().split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        };
        let missing = |key: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} has no {key}= line", path.display()),
            )
        };
        Ok(Credentials {
            url: lookup("LPA_URL").ok_or_else(|| missing("LPA_URL"))?,
            ca_cert: lookup("LPA_CACERT")
                .ok_or_else(|| missing("LPA_CACERT"))?
                .into(),
            cert: lookup("LPA_CERT")
                .ok_or_else(|| missing("LPA_CERT"))?
                .into(),
            key: lookup("LPA_KEY").ok_or_else(|| missing("LPA_KEY"))?.into(),
        })
    }

    /// The `client.env` text for these credentials (shell-sourceable).
    pub fn to_env_file(&self) -> String {
        format!(
            "LPA_URL={}\nLPA_CACERT={}\nLPA_CERT={}\nLPA_KEY={}\n",
            self.url,
            self.ca_cert.display(),
            self.cert.display(),
            self.key.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_round_trips() {
        let creds = Credentials {
            url: "https://127.0.0.1:12443".into(),
            ca_cert: "/d/ca.pem".into(),
            cert: "/d/client.pem".into(),
            key: "/d/client.key".into(),
        };
        let dir = std::env::temp_dir().join(format!("lpa-client-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.env");
        std::fs::write(&path, format!("# demo\n{}", creds.to_env_file())).unwrap();
        assert_eq!(Credentials::from_env_file(&path).unwrap(), creds);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
