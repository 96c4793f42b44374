//! dnf's and yum's (RPM) own rules for package names and versions, on top of the union grammar of
//! [`crate::PackageName`] and [`crate::Version`].
//!
//! dnf reads each install argument as a package spec: `NAME`, `NAME.ARCH`, `NAME-[EPOCH:]VERSION[-RELEASE]`
//! (and globs, `@group`, `/path` provides, which the union grammar already excludes). One form is
//! dangerous: an argument ending in `.rpm` is read as a **local file** and installed from the working
//! directory (dnf 4 does not check local packages' signatures by default). Names and versions ending in
//! `.rpm` are therefore refused, since the launcher joins `NAME-VERSION` into one argument.
//!
//! Versions: `[EPOCH:]VERSION[-RELEASE]` as rpm defines them: EPOCH is digits; VERSION and RELEASE are
//! non-empty and contain neither `-` nor `:` (rpmbuild refuses both in `Version:` and `Release:`).

/// Checks a package name; `Err` carries the broken rule.
pub(super) fn check_name(name: &str) -> Result<(), &'static str> {
    if is_rpm_file(name) {
        return Err("an RPM package name never ends in '.rpm' (dnf would read a local file)");
    }
    Ok(())
}

/// Checks a version; `Err` carries the broken rule.
pub(super) fn check_version(v: &str) -> Result<(), &'static str> {
    if is_rpm_file(v) {
        return Err("an RPM version never ends in '.rpm' (dnf would read a local file)");
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, v),
    };
    if let Some(epoch) = epoch
        && (epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("an RPM epoch is a number before a single ':'");
    }
    let (version, release) = match rest.split_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    if version.is_empty() || version.contains(':') {
        return Err(
            "an RPM version is [EPOCH:]VERSION[-RELEASE] with a non-empty VERSION without ':'",
        );
    }
    if let Some(release) = release
        && (release.is_empty() || release.contains(['-', ':']))
    {
        return Err("an RPM RELEASE is non-empty and has no '-' or ':'");
    }
    Ok(())
}

fn is_rpm_file(s: &str) -> bool {
    s.len() >= 4 && s[s.len() - 4..].eq_ignore_ascii_case(".rpm")
}
