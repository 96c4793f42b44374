//! pacman's (Arch) own rules for package names and versions, on top of the union grammar of
//! [`crate::PackageName`] and [`crate::Version`].
//!
//! Names: makepkg accepts `[a-z0-9@._+-]`, not starting with `-` or `.`; Arch's packaging rules make names
//! lowercase. The union grammar already forbids `@` and a leading `-`/`.`, so what remains is refusing
//! uppercase letters.
//!
//! Versions: `[EPOCH:]PKGVER[-PKGREL]` (libalpm's `parseEVR`, makepkg's `lint_pkgver`/`lint_pkgrel`).
//! EPOCH is digits; PKGVER has no `:`, `-`, `/` or whitespace; PKGREL is `digits[.digits]`. A pin without
//! PKGREL (`hello=1.1`) is valid: libalpm then ignores the release when matching. A pin is handed to
//! pacman as `NAME=VERSION`, a dependency expression, so it can only ever select a package of that exact
//! version.

/// Checks a package name; `Err` carries the broken rule.
pub(super) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("pacman package names are lowercase");
    }
    Ok(())
}

/// Checks a version; `Err` carries the broken rule.
pub(super) fn check_version(v: &str) -> Result<(), &'static str> {
    let (epoch, rest) = match v.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, v),
    };
    if let Some(epoch) = epoch
        && (epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("a pacman epoch is a number before a single ':'");
    }
    let (pkgver, pkgrel) = match rest.split_once('-') {
        Some((pkgver, pkgrel)) => (pkgver, Some(pkgrel)),
        None => (rest, None),
    };
    if pkgver.is_empty() || pkgver.contains(':') {
        return Err(
            "a pacman version is [EPOCH:]PKGVER[-PKGREL] with a non-empty PKGVER without ':'",
        );
    }
    if let Some(rel) = pkgrel {
        let mut parts = rel.split('.');
        let numeric = |p: Option<&str>| {
            p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        let ok = numeric(parts.next())
            && match parts.next() {
                None => true,
                minor => numeric(minor) && parts.next().is_none(),
            };
        if !ok {
            return Err(
                "a pacman PKGREL is a number, optionally with one '.number' (and no second '-')",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_arch_versions_are_accepted() {
        for v in [
            "1.0",
            "1.0-1",
            "1:1.0~rc1-1",
            "2:0.9-1",
            "6.0.2-3",
            "1.2.3_beta-1.1",
            "20260101.r5.gabcdef-2",
            "2.0^1-1",
        ] {
            assert_eq!(check_version(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn malformed_epochs_and_releases_are_refused() {
        for v in [
            "a:1.0",
            "1:2:3",
            "1.0-",
            "1.0-1-2",
            "1.0-x",
            "1.0-1.2.3",
            "1.0-1.",
            "1:-1",
        ] {
            assert!(check_version(v).is_err(), "{v}");
        }
    }

    #[test]
    fn uppercase_names_are_refused() {
        assert!(check_name("Hello").is_err());
        assert_eq!(check_name("lib32-glibc"), Ok(()));
    }
}
