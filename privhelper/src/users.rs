//! Turning the configured users and groups into ids, and refusing dangerous combinations.
//!
//! The broker parses untrusted bytes, so it must never be root and never share a uid with the frontend: a
//! compromised frontend must not be able to signal, ptrace or read the memory of the broker.

use crate::config::{HelperConfig, IdSpec};
use nix::unistd::{Gid, Group, Uid, User};

/// The resolved identities of the two unprivileged sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identities {
    /// The uid the broker serves.
    pub frontend_uid: Uid,
    /// The group owning the socket.
    pub frontend_gid: Gid,
    /// The uid the broker drops to.
    pub broker_uid: Uid,
    /// The gid the broker drops to.
    pub broker_gid: Gid,
}

/// Why a user or group could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is not in the user/group database.
    #[error("`{key}`: no such {kind} {name:?}")]
    Unknown {
        /// The config key.
        key: &'static str,
        /// "user" or "group".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// The lookup itself failed.
    #[error("`{key}`: looking up {name:?} failed: {source}")]
    Lookup {
        /// The config key.
        key: &'static str,
        /// The name.
        name: String,
        /// The error.
        source: nix::Error,
    },
    /// A combination that would defeat the privilege separation.
    #[error("`{key}`: {message}")]
    Refused {
        /// The config key.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// Resolves a user: numeric ids are taken as is (they need no passwd entry), names are looked up.
pub fn resolve_user(key: &'static str, spec: &IdSpec) -> Result<Uid, UserError> {
    match spec {
        IdSpec::Id(id) => Ok(Uid::from_raw(*id)),
        IdSpec::Name(name) => match User::from_name(name) {
            Ok(Some(u)) => Ok(u.uid),
            Ok(None) => Err(UserError::Unknown {
                key,
                kind: "user",
                name: name.clone(),
            }),
            Err(source) => Err(UserError::Lookup {
                key,
                name: name.clone(),
                source,
            }),
        },
    }
}

/// Resolves a group like [`resolve_user`].
pub fn resolve_group(key: &'static str, spec: &IdSpec) -> Result<Gid, UserError> {
    match spec {
        IdSpec::Id(id) => Ok(Gid::from_raw(*id)),
        IdSpec::Name(name) => match Group::from_name(name) {
            Ok(Some(g)) => Ok(g.gid),
            Ok(None) => Err(UserError::Unknown {
                key,
                kind: "group",
                name: name.clone(),
            }),
            Err(source) => Err(UserError::Lookup {
                key,
                name: name.clone(),
                source,
            }),
        },
    }
}

impl Identities {
    /// Resolves all four ids and refuses a broker that would be root or the frontend.
    pub fn resolve(cfg: &HelperConfig) -> Result<Identities, UserError> {
        let ids = Identities {
            frontend_uid: resolve_user("frontend_user", &cfg.frontend_user)?,
            frontend_gid: resolve_group("frontend_group", &cfg.frontend_group)?,
            broker_uid: resolve_user("broker_user", &cfg.broker_user)?,
            broker_gid: resolve_group("broker_group", &cfg.broker_group)?,
        };
        ids.check()?;
        Ok(ids)
    }

    fn check(&self) -> Result<(), UserError> {
        let refuse = |key, message: &str| {
            Err(UserError::Refused {
                key,
                message: message.to_owned(),
            })
        };
        if self.broker_uid.is_root() {
            return refuse("broker_user", "the broker must not run as root");
        }
        if self.broker_uid == self.frontend_uid {
            return refuse(
                "broker_user",
                "the broker must not share its user with the frontend",
            );
        }
        if self.broker_gid.as_raw() == 0 {
            return refuse("broker_group", "the broker must not run with group root");
        }
        if self.frontend_uid.is_root() {
            return refuse(
                "frontend_user",
                "the frontend never runs as root (use allow_root_peer for tests)",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(extra: &str) -> HelperConfig {
        let base = "frontend_group: 61001\nbroker_group: 61002\n";
        HelperConfig::parse(Path::new("t.yaml"), &format!("{base}{extra}")).unwrap()
    }

    #[test]
    fn numeric_ids_need_no_passwd_entry() {
        let ids = Identities::resolve(&cfg("frontend_user: 61001\nbroker_user: 61002\n")).unwrap();
        assert_eq!(ids.frontend_uid.as_raw(), 61001);
        assert_eq!(ids.broker_uid.as_raw(), 61002);
        assert_eq!(ids.broker_gid.as_raw(), 61002);
    }

    #[test]
    fn names_are_looked_up() {
        let ids = Identities::resolve(&cfg("frontend_user: 61001\nbroker_user: nobody\n")).unwrap();
        assert_eq!(
            Some(ids.broker_uid),
            User::from_name("nobody").unwrap().map(|u| u.uid)
        );
        let err = Identities::resolve(&cfg("frontend_user: 61001\nbroker_user: no-such-user-x\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broker_user") && err.contains("no such user"),
            "{err}"
        );
    }

    #[test]
    fn broker_as_root_or_as_frontend_is_refused() {
        let err = Identities::resolve(&cfg("frontend_user: 61001\nbroker_user: 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not run as root"), "{err}");
        let err = Identities::resolve(&cfg("frontend_user: 61001\nbroker_user: 61001\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not share"), "{err}");
        assert!(Identities::resolve(&cfg("frontend_user: root\nbroker_user: 61002\n")).is_err());
    }
}
