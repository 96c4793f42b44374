//! Validated values: package names, versions and service names.
//!
//! Each newtype checks its grammar in [`TryFrom<String>`], and serde goes through the same function
//! (`#[serde(try_from = "String")]`), so decoding a frame cannot produce an unvalidated value.
//!
//! The grammars here are the *union* of what the supported package managers accept, restricted to bytes that
//! are inert on a command line: no leading `-` (option injection), no whitespace or control characters, no
//! `=`, `/`, `:` (in names), `*?[]` globs, shell metacharacters or `@`. A backend narrows this further with
//! [`crate::Backend::check_name`]; apt, for example, accepts only Debian policy names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest accepted package name, version or service name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Why a value was refused. The message never echoes more than a short, sanitised prefix of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What was being validated.
        kind: &'static str,
    },
    /// The value is longer than [`MAX_NAME_LEN`] bytes.
    #[error("{kind} is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// What was being validated.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first character is not allowed (for example a `-`, which would be read as an option).
    #[error("{kind} must start with a letter or digit")]
    BadStart {
        /// What was being validated.
        kind: &'static str,
    },
    /// A character outside the grammar.
    #[error("{kind} contains the character {found:?}, which is not allowed")]
    BadChar {
        /// What was being validated.
        kind: &'static str,
        /// The offending character.
        found: char,
    },
    /// The value is well-formed in general but not in the grammar of the host's package manager.
    #[error("{kind} is not valid for {backend}: {rule}")]
    Backend {
        /// What was being validated.
        kind: &'static str,
        /// The backend whose grammar refused it.
        backend: &'static str,
        /// The rule that was broken.
        rule: &'static str,
    },
}

fn check(
    kind: &'static str,
    s: &str,
    starts: impl Fn(char) -> bool,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty { kind });
    }
    if s.len() > MAX_NAME_LEN {
        return Err(ValidationError::TooLong {
            kind,
            len: s.len(),
            max: MAX_NAME_LEN,
        });
    }
    let first = s.chars().next().unwrap_or('-');
    if !starts(first) {
        return Err(ValidationError::BadStart { kind });
    }
    match s.chars().find(|c| !allowed(*c)) {
        Some(found) => Err(ValidationError::BadChar { kind, found }),
        None => Ok(()),
    }
}

macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $allowed:expr) => {
        validated_string!($(#[$meta])* $name, $kind, |c: char| c.is_ascii_alphanumeric(), $allowed);
    };
    ($(#[$meta:meta])* $name:ident, $kind:literal, $starts:expr, $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, ValidationError> {
                let s = s.into();
                check($kind, &s, $starts, $allowed)?;
                Ok(Self(s))
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// A package name in the union grammar of all backends: `[A-Za-z0-9][A-Za-z0-9._+-]*`, at most 256 bytes.
    ///
    /// Narrow it per host with [`crate::Backend::check_name`] before use.
    PackageName,
    "package name",
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
);

validated_string!(
    /// A package version: `[A-Za-z0-9][A-Za-z0-9.+~:_^-]*`, at most 256 bytes. The `:` is the epoch separator
    /// of Debian and RPM versions, `~` and `^` sort before/after in both.
    Version,
    "version",
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | ':' | '_' | '^' | '-')
);

validated_string!(
    /// A Debian architecture name as dpkg spells it (`amd64`, `arm64`, `all`, `hurd-i386`): lowercase letters,
    /// digits and `-`, starting with a letter or digit. The launcher joins it to a name as apt's exact
    /// `NAME:ARCH` form.
    Architecture,
    "architecture",
    |c: char| c.is_ascii_lowercase() || c.is_ascii_digit(),
    |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);

validated_string!(
    /// A pacman repository name as in `pacman.conf` (`core`, `extra`, `my-repo`): letters, digits, `.`,
    /// `_` and `-`, starting with a letter or digit. The launcher joins it as pacman's `REPO/NAME`.
    RepoName,
    "repository name",
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
);

validated_string!(
    /// An exclusion pattern over package names: the [`PackageName`] characters plus the wildcards `*` and
    /// `?`. It is only ever matched by our own code, never handed to a package manager, and may start with a
    /// wildcard (`*` alone excludes everything).
    Glob,
    "package pattern",
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '?'),
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | '*' | '?')
);

validated_string!(
    /// A service (unit) name as in the API contract: `[A-Za-z0-9][A-Za-z0-9_.@+-]*`, at most 256 bytes.
    /// No `/`, so a name can never become a path.
    ServiceName,
    "service name",
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-')
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_option_injection_and_paths() {
        for bad in [
            "-oAPT::Update::Pre-Invoke::=x",
            "foo;rm",
            "../x",
            "a b",
            "a\nb",
            "a=1",
            "a/b",
            "a:amd64",
            "a*",
            "",
        ] {
            assert!(PackageName::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PackageName::new("x".repeat(300)).is_err());
        assert!(PackageName::new("x".repeat(256)).is_ok());
    }

    #[test]
    fn accepts_real_names_and_versions() {
        for good in [
            "hello",
            "libc6",
            "g++",
            "python3.11",
            "demo-lib",
            "libstdc++6",
            "R",
        ] {
            assert!(PackageName::new(good).is_ok(), "{good:?} refused");
        }
        for good in [
            "1.0",
            "1:2.3~rc1-4+deb12u1",
            "2.0^20260101git",
            "1.0-1.el9_3",
        ] {
            assert!(Version::new(good).is_ok(), "{good:?} refused");
        }
        assert!(ServiceName::new("getty@tty1.service").is_ok());
        assert!(ServiceName::new("..").is_err());
        assert!(ServiceName::new("a/b").is_err());
    }
}

impl Glob {
    /// Whether `name` matches: `*` is any run of characters, `?` exactly one. Linear-time (no backtracking
    /// blow-up on patterns like `*a*a*a*b`).
    pub fn matches(&self, name: &str) -> bool {
        let (p, n): (Vec<char>, Vec<char>) = (self.0.chars().collect(), name.chars().collect());
        let (mut pi, mut ni) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
                pi += 1;
                ni += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ni));
                pi += 1;
            } else if let Some((sp, sn)) = star {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    #[test]
    fn glob_matches_and_refuses_injection() {
        let g = |s: &str| Glob::new(s).expect("valid glob");
        assert!(g("*").matches("anything"));
        assert!(g("demo-*").matches("demo-lib"));
        assert!(!g("demo-*").matches("hello"));
        assert!(g("demo-?ib").matches("demo-lib"));
        assert!(g("*a*a*b").matches("aaaaaaaaaaaaaaaaaaab"));
        assert!(!g("*a*a*b").matches("aaaaaaaaaaaaaaaaaaaa"));
        for bad in ["-x", "a/b", "a b", "[ab]", ""] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
    }
}
