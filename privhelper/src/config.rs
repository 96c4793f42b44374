//! `helper.yaml`: the helper's own, root-owned configuration.
//!
//! The file is parsed with unknown keys refused (`deny_unknown_fields`): the helper runs as root, so a
//! misspelt key that silently falls back to a default (for example `allow_root_peers`) is worse than a
//! refusal to start. Every error names the file, and the key where one is at fault. The file and the
//! package-manager configuration files it names must be root's alone ([`root_owned`]).

pub mod root_owned;

use lpa_protocol::Backend;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};

/// The whole `helper.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelperConfig {
    /// Where the broker listens when systemd does not pass a socket.
    #[serde(default)]
    pub socket: SocketConfig,
    /// The only uid the broker serves (besides root when [`Self::allow_root_peer`] is set).
    #[serde(default = "default_frontend")]
    pub frontend_user: IdSpec,
    /// The group that owns the socket, so the frontend may connect.
    #[serde(default = "default_frontend")]
    pub frontend_group: IdSpec,
    /// The unprivileged user the broker drops to; never root and never the frontend's user.
    #[serde(default = "default_broker")]
    pub broker_user: IdSpec,
    /// The broker's group.
    #[serde(default = "default_broker")]
    pub broker_group: IdSpec,
    /// Tests only: also serve uid 0.
    #[serde(default)]
    pub allow_root_peer: bool,
    /// Which package manager to drive.
    #[serde(default)]
    pub backend: BackendChoice,
    /// The root the package manager operates on (`/` in production, a sandbox in tests and the demo).
    #[serde(default = "default_root")]
    pub package_root: PathBuf,
    /// How long a change (and a dnf read) waits for the package manager's lock while another process
    /// holds it, before the job fails with `LOCK_TIMEOUT` naming the holder. One setting for every
    /// backend: apt gets it as `DPkg::Lock::Timeout`, apk as `--wait`, and for dnf/yum and pacman, which
    /// fail at once on a busy lock, the broker runs the command again until it has passed.
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout_seconds: u32,
    /// apt-specific settings.
    #[serde(default)]
    pub apt: AptConfig,
    /// dnf- and yum-specific settings.
    #[serde(default)]
    pub dnf: DnfConfig,
    /// pacman-specific settings.
    #[serde(default)]
    pub pacman: PacmanConfig,
    /// apk-specific settings.
    #[serde(default)]
    pub apk: ApkConfig,
    /// How a reboot is requested.
    #[serde(default)]
    pub reboot: RebootConfig,
}

/// `socket:` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketConfig {
    /// Path of the Unix socket; ignored when `LISTEN_FDS` passes a listener.
    #[serde(default = "default_socket_path")]
    pub path: PathBuf,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            path: default_socket_path(),
        }
    }
}

/// `apt:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptConfig {
    /// Exported as `APT_CONFIG` to every apt child, so apt reads it *before* the host's `apt.conf.d`.
    #[serde(default)]
    pub config_file: Option<PathBuf>,
}

/// `dnf:` section (also used by the yum backend).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnfConfig {
    /// Passed as `--config`; with it, dnf reads only that file and its `reposdir` (gotcha D7), never the
    /// host's `/etc/dnf/dnf.conf`. Unset on a real host.
    #[serde(default)]
    pub config_file: Option<PathBuf>,
    /// Passed as `--releasever` when set (a sandbox root has no release package to derive it from).
    #[serde(default)]
    pub releasever: Option<String>,
}

/// `pacman:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacmanConfig {
    /// Passed as `--config` (it names the root, database and cache directories and the repositories).
    /// Unset on a real host, where pacman reads `/etc/pacman.conf`.
    #[serde(default)]
    pub config_file: Option<PathBuf>,
}

/// `apk:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApkConfig {
    /// Passed as `--repositories-file` when set (instead of `<root>/etc/apk/repositories`).
    #[serde(default)]
    pub repositories_file: Option<PathBuf>,
    /// Passed as `--keys-dir` when set (instead of `<root>/etc/apk/keys`).
    #[serde(default)]
    pub keys_dir: Option<PathBuf>,
}

/// `reboot:` section. The command is part of the helper's own root-owned configuration, never of a request,
/// so tests and the demo can point it at a recorder instead of rebooting the host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootConfig {
    /// Absolute path of a `shutdown`-compatible program, run as `<command> -r +MINUTES` (or `-r now`).
    /// At start the helper refuses one that is not owned by root or is group/world-writable.
    #[serde(default = "default_reboot_command")]
    pub command: PathBuf,
}

impl Default for RebootConfig {
    fn default() -> Self {
        RebootConfig {
            command: default_reboot_command(),
        }
    }
}

/// `backend:` — `auto` detects from the package root's os-release and the programs present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Detect from `os-release` of the package root and the programs present.
    #[default]
    Auto,
    /// apt + dpkg.
    Apt,
    /// dnf + rpm.
    Dnf,
    /// yum + rpm (dnf's grammar and parsers with the `yum` program).
    Yum,
    /// pacman.
    Pacman,
    /// apk.
    Apk,
}

/// A user or group given by name or by numeric id (a YAML integer, or a string of digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSpec {
    /// A numeric id, used as is (it need not exist in `/etc/passwd`).
    Id(u32),
    /// A name to look up.
    Name(String),
}

impl fmt::Display for IdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdSpec::Id(id) => write!(f, "{id}"),
            IdSpec::Name(n) => f.write_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for IdSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IdSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user/group name or a numeric id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdSpec, E> {
                u32::try_from(v)
                    .map(IdSpec::Id)
                    .map_err(|_| E::custom(format!("id {v} is out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdSpec, E> {
                u32::try_from(v)
                    .map(IdSpec::Id)
                    .map_err(|_| E::custom(format!("id {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdSpec, E> {
                IdSpec::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl IdSpec {
    /// Digits are an id; anything else must look like a POSIX user name.
    pub fn parse(s: &str) -> Result<IdSpec, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(IdSpec::Id)
                .map_err(|_| format!("id {s} is out of range"));
        }
        let ok = !s.is_empty()
            && s.len() <= 32
            && !s.starts_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(IdSpec::Name(s.to_owned()))
        } else {
            Err(format!("{s:?} is not a valid user or group name"))
        }
    }
}

fn default_socket_path() -> PathBuf {
    PathBuf::from("/run/linux-patch-api/helper.sock")
}
fn default_frontend() -> IdSpec {
    IdSpec::Name("linux-patch-api".into())
}
fn default_broker() -> IdSpec {
    IdSpec::Name("linux-patch-api-helper".into())
}
fn default_root() -> PathBuf {
    PathBuf::from("/")
}
fn default_lock_timeout() -> u32 {
    60
}
fn default_reboot_command() -> PathBuf {
    PathBuf::from("/sbin/shutdown")
}

/// Why `helper.yaml` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a value of the wrong type.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key and position).
        message: String,
    },
    /// The configuration file itself is not root's alone.
    #[error("{0}")]
    NotRootOwned(Box<root_owned::NotRootOwned>),
    /// A well-formed value that the helper refuses.
    #[error("{}: `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key, dotted.
        key: &'static str,
        /// Why.
        message: String,
    },
}

impl HelperConfig {
    /// Reads and validates `path`; it and the package-manager configuration files it names must be root's
    /// alone ([`root_owned`]). Stops at the first problem (the helper refuses to start on it);
    /// `--check-config` uses [`HelperConfig::load_unvetted`] and [`HelperConfig::vet_named_files`] to report
    /// every problem at once.
    pub fn load(path: &Path) -> Result<HelperConfig, ConfigError> {
        root_owned::check(path).map_err(|e| ConfigError::NotRootOwned(Box::new(e)))?;
        let cfg = Self::load_unvetted(path)?;
        match cfg.vet_named_files(path).into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(cfg),
        }
    }

    /// Reads and validates `path` without checking who owns it or the files it names.
    pub fn load_unvetted(path: &Path) -> Result<HelperConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// The package-manager configuration files this configuration names (package managers run hooks from
    /// them, as root) that are not root's alone: one error each, naming the key (`path` is the helper's
    /// configuration file, for messages).
    pub fn vet_named_files(&self, path: &Path) -> Vec<ConfigError> {
        [
            ("apt.config_file", &self.apt.config_file),
            ("dnf.config_file", &self.dnf.config_file),
            ("pacman.config_file", &self.pacman.config_file),
        ]
        .into_iter()
        .filter_map(|(key, file)| {
            let e = root_owned::check(file.as_deref()?).err()?;
            Some(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                message: e.to_string(),
            })
        })
        .collect()
    }

    /// Parses and validates `text`; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<HelperConfig, ConfigError> {
        let cfg: HelperConfig = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        if !self.socket.path.is_absolute() {
            return Err(invalid("socket.path", "must be an absolute path".into()));
        }
        if !self.package_root.is_absolute() {
            return Err(invalid("package_root", "must be an absolute path".into()));
        }
        let paths = [
            ("apt.config_file", &self.apt.config_file),
            ("dnf.config_file", &self.dnf.config_file),
            ("pacman.config_file", &self.pacman.config_file),
            ("apk.repositories_file", &self.apk.repositories_file),
            ("apk.keys_dir", &self.apk.keys_dir),
        ];
        for (key, value) in paths {
            if value.as_ref().is_some_and(|p| !p.is_absolute()) {
                return Err(invalid(key, "must be an absolute path".into()));
            }
        }
        if let Some(v) = &self.dnf.releasever
            && (v.is_empty()
                || v.starts_with('-')
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b)))
        {
            return Err(invalid(
                "dnf.releasever",
                "must be letters, digits, '.' or '_' (e.g. 40 or 9.4)".into(),
            ));
        }
        if !self.reboot.command.is_absolute() {
            return Err(invalid("reboot.command", "must be an absolute path".into()));
        }
        Ok(())
    }
}

impl BackendChoice {
    /// The explicitly chosen backend, or `None` for `auto`.
    pub fn backend(self) -> Option<Backend> {
        match self {
            BackendChoice::Auto => None,
            BackendChoice::Apt => Some(Backend::Apt),
            BackendChoice::Dnf => Some(Backend::Dnf),
            BackendChoice::Yum => Some(Backend::Yum),
            BackendChoice::Pacman => Some(Backend::Pacman),
            BackendChoice::Apk => Some(Backend::Apk),
        }
    }

    /// The spelling in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Apt => "apt",
            BackendChoice::Dnf => "dnf",
            BackendChoice::Yum => "yum",
            BackendChoice::Pacman => "pacman",
            BackendChoice::Apk => "apk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HelperConfig, ConfigError> {
        HelperConfig::parse(Path::new("/etc/x/helper.yaml"), text)
    }

    const FULL: &str = r#"
socket:
  path: /run/linux-patch-api/helper.sock
frontend_user: 61001
frontend_group: "61001"
broker_user: linux-patch-api-helper
broker_group: 61002
allow_root_peer: true
backend: apt
package_root: /tmp/root
lock_timeout_seconds: 5
apt:
  config_file: /tmp/apt.conf
reboot:
  command: /w/reboot-recorder
"#;

    #[test]
    fn full_file_parses_with_numeric_and_named_ids() {
        let cfg = parse(FULL).unwrap();
        assert_eq!(cfg.frontend_user, IdSpec::Id(61001));
        assert_eq!(cfg.frontend_group, IdSpec::Id(61001));
        assert_eq!(
            cfg.broker_user,
            IdSpec::Name("linux-patch-api-helper".into())
        );
        assert_eq!(cfg.broker_group, IdSpec::Id(61002));
        assert!(cfg.allow_root_peer);
        assert_eq!(cfg.backend, BackendChoice::Apt);
        assert_eq!(cfg.apt.config_file, Some(PathBuf::from("/tmp/apt.conf")));
        assert_eq!(cfg.lock_timeout_seconds, 5);
        assert_eq!(cfg.reboot.command, PathBuf::from("/w/reboot-recorder"));
    }

    #[test]
    fn empty_mapping_gives_production_defaults() {
        let cfg = parse("{}").unwrap();
        assert_eq!(cfg.socket.path, default_socket_path());
        assert_eq!(cfg.package_root, PathBuf::from("/"));
        assert_eq!(cfg.backend, BackendChoice::Auto);
        assert!(!cfg.allow_root_peer);
        assert_eq!(cfg.apt.config_file, None);
        assert_eq!(cfg.lock_timeout_seconds, 60);
        assert_eq!(cfg.reboot.command, PathBuf::from("/sbin/shutdown"));
    }

    #[test]
    fn relative_reboot_command_is_refused() {
        let err = parse("reboot: {command: shutdown}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`reboot.command`"), "{err}");
    }

    #[test]
    fn unknown_key_is_refused_naming_file_and_key() {
        let err = parse("allow_root_peers: true\n").unwrap_err().to_string();
        assert!(err.contains("/etc/x/helper.yaml"), "{err}");
        assert!(err.contains("allow_root_peers"), "{err}");
        let err = parse("apt:\n  config: /x\n").unwrap_err().to_string();
        assert!(err.contains("config"), "{err}");
    }

    #[test]
    fn every_backend_has_its_section_and_unknown_backends_are_refused() {
        let cfg = parse(
            "backend: dnf\ndnf:\n  config_file: /w/dnf.conf\n  releasever: \"40\"\n\
             pacman:\n  config_file: /w/pacman.conf\n\
             apk:\n  repositories_file: /w/repositories\n  keys_dir: /w/keys\n",
        )
        .unwrap();
        assert_eq!(cfg.backend.backend(), Some(Backend::Dnf));
        assert_eq!(cfg.dnf.releasever.as_deref(), Some("40"));
        assert_eq!(
            cfg.pacman.config_file,
            Some(PathBuf::from("/w/pacman.conf"))
        );
        assert_eq!(cfg.apk.keys_dir, Some(PathBuf::from("/w/keys")));
        for b in ["yum", "pacman", "apk", "apt", "auto"] {
            assert!(parse(&format!("backend: {b}\n")).is_ok(), "{b}");
        }
        assert!(parse("backend: zypper\n").is_err());
        let err = parse("dnf:\n  config_file: dnf.conf\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`dnf.config_file`"), "{err}");
        let err = parse("dnf:\n  releasever: \"--nogpgcheck\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`dnf.releasever`"), "{err}");
    }

    #[test]
    fn relative_paths_and_bad_ids_are_refused() {
        let err = parse("package_root: tmp/root\n").unwrap_err().to_string();
        assert!(err.contains("`package_root`"), "{err}");
        assert!(parse("socket: {path: x.sock}\n").is_err());
        assert!(parse("frontend_user: -5\n").is_err());
        assert!(parse("frontend_user: 99999999999\n").is_err());
        assert!(parse("frontend_user: \"bad name;\"\n").is_err());
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err = HelperConfig::load(Path::new("/nonexistent/helper.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/helper.yaml"), "{err}");
    }
}
