//! apk's (Alpine) own rules for package names and versions, on top of the union grammar of
//! [`crate::PackageName`] and [`crate::Version`].
//!
//! Names: the union grammar already excludes apk's special argument forms — `!name` (a conflict),
//! `name@tag` (a repository tag), `name>ver`/`name<ver`/`name=ver`/`name~ver` (constraints) and paths
//! (`/`). What remains is `.apk` anywhere in the name: apk-tools 2.x reads *any* argument containing
//! `.apk` as a package file to install from disk (`strstr(arg, ".apk")` in `app_add.c`), bypassing the
//! repositories, so such a name is refused.
//!
//! Versions: apk's version grammar (`version.c` of apk-tools 2 and 3), so that a pin `name=VERSION` is
//! always an exact, well-formed apk version: `digits ('.' digits)* [letter] ('_' suffix [digits])*
//! ['~' hex] ['-r' digits]`, where suffix is one of `alpha beta pre rc cvs svn git hg p`. No epoch
//! (`:`), no `+` or `^`.

/// The suffixes apk's version comparison knows (`_alpha1`, `_p2`, …), in apk's order.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];

/// Checks a package name; `Err` carries the broken rule.
pub(super) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.contains(".apk") {
        return Err("apk reads an argument containing \".apk\" as a package file, not a name");
    }
    Ok(())
}

/// Checks a version; `Err` carries the broken rule.
pub(super) fn check_version(v: &str) -> Result<(), &'static str> {
    let b = v.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if digits(&mut i) == 0 {
        return Err("apk versions start with a number");
    }
    while i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return Err("apk version components after '.' are numbers");
        }
    }
    if i < b.len() && b[i].is_ascii_lowercase() {
        i += 1;
    }
    while i < b.len() && b[i] == b'_' {
        i += 1;
        let rest = &v[i..];
        let Some(suffix) = SUFFIXES
            .iter()
            .filter(|s| rest.starts_with(**s))
            .max_by_key(|s| s.len())
        else {
            return Err(
                "apk version suffixes are _alpha, _beta, _pre, _rc, _cvs, _svn, _git, _hg or _p",
            );
        };
        i += suffix.len();
        digits(&mut i);
    }
    if i < b.len() && b[i] == b'~' {
        i += 1;
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || (b'a'..=b'f').contains(&b[i])) {
            i += 1;
        }
        if i == start {
            return Err("an apk commit hash after '~' is lowercase hexadecimal");
        }
    }
    if i < b.len() && b[i] == b'-' {
        if b.get(i + 1) != Some(&b'r') {
            return Err("the only '-' in an apk version starts the release, '-rN'");
        }
        i += 2;
        if digits(&mut i) == 0 {
            return Err("an apk release '-r' is followed by a number");
        }
    }
    if i != b.len() {
        return Err("not an apk version (digits, '.', one letter, _suffixes, ~hash, -rN)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_alpine_versions_are_accepted() {
        for good in [
            "1.0-r0",
            "1.0.1-r0",
            "1.36.1-r15",
            "3.0.6",
            "2.14.9-r3",
            "1.2.3a-r1",
            "6.4_p20240113-r0",
            "1.0_rc1-r2",
            "0.9_alpha2_p1",
            "2.0_git20240101-r0",
            "1.0~ab12cd-r1",
            "20240101",
        ] {
            assert_eq!(check_version(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn debian_and_rpm_forms_are_refused() {
        for bad in [
            "1:1.0-r0",
            "1.0+deb12u1",
            "1.0-1",
            "1.0-r",
            "v1.0",
            "1..0",
            "1.0_foo",
            "1.0ab",
            "1.0~XY",
            "1.0-r0-r1",
            "1.0^git",
            ".1",
            "",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_with_apk_file_suffix_are_refused() {
        assert!(check_name("demo-hello").is_ok());
        assert!(check_name("py3.11-foo").is_ok());
        assert!(check_name("evil.apk").is_err());
        assert!(check_name("x.apkfoo").is_err());
    }
}
