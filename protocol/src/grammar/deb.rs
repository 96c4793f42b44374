//! apt's and dpkg's own rules for versions, on top of the union grammar of [`crate::Version`].
//!
//! Debian policy §5.6.12: `[EPOCH:]UPSTREAM[-REVISION]`. EPOCH is digits; UPSTREAM starts with a digit and
//! holds `[A-Za-z0-9.+~-]`; REVISION (after the last `-`) is non-empty and holds `[A-Za-z0-9.+~]`.
//!
//! Why it matters beyond tidiness: the launcher joins a pin as `NAME:ARCH=VERSION`, and apt reads a trailing
//! `-` on an install argument as "remove this package" (and a trailing `+` as "install"). A Debian version
//! never ends in `-` (the revision would be empty), so refusing such versions keeps a pin from turning an
//! install into a removal. `_`, `^` and a second `:` (all in the union grammar) are refused too.

/// Checks a version; `Err` carries the broken rule.
pub(super) fn check_version(v: &str) -> Result<(), &'static str> {
    let (epoch, rest) = match v.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, v),
    };
    if let Some(epoch) = epoch
        && (epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("a Debian epoch is a number before a single ':'");
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("a Debian upstream version starts with a digit");
    }
    if !upstream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~-".contains(&b))
    {
        return Err("a Debian upstream version uses only A-Z, a-z, 0-9, '.', '+', '~' and '-'");
    }
    if let Some(revision) = revision
        && (revision.is_empty()
            || !revision
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b)))
    {
        return Err("a Debian revision is non-empty and uses only A-Z, a-z, 0-9, '.', '+' and '~'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_version;

    #[test]
    fn debian_versions_and_the_forms_apt_would_misread() {
        for good in [
            "1.0",
            "1:2.3~rc1-4+deb12u1",
            "2.36-9+deb12u14",
            "1.2+",
            "0.9-1~bpo12+1",
        ] {
            assert!(check_version(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "1.0-", "1.0_1", "2.0^git", "a1.0", "1:2:3", ":1.0", "x:1.0", "1.0-1-", "1.0-a_b",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?} accepted");
        }
    }
}
