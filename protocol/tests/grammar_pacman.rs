//! Property tests of pacman's name and version grammar: every well-formed `[EPOCH:]PKGVER[-PKGREL]` passes,
//! malformed epochs and releases never do, and uppercase names are refused.

use lpa_protocol::{Backend, PackageName, Version};
use proptest::prelude::*;

fn pacman_name_ok(s: &str) -> bool {
    PackageName::new(s).is_ok_and(|n| Backend::Pacman.check_name(&n).is_ok())
}

fn pacman_version_ok(s: &str) -> bool {
    Version::new(s).is_ok_and(|v| Backend::Pacman.check_version(&v).is_ok())
}

/// A pacman version built from its parts: optional epoch, a PKGVER of the union's characters minus `:`
/// and `-`, optional `digits[.digits]` release.
fn pacman_version() -> impl Strategy<Value = String> {
    (
        proptest::option::of(0u32..100),
        "[0-9a-z][0-9a-z.+~_^]{0,15}",
        proptest::option::of((0u32..1000, proptest::option::of(0u32..10))),
    )
        .prop_map(|(epoch, pkgver, rel)| {
            let mut v = String::new();
            if let Some(e) = epoch {
                v.push_str(&format!("{e}:"));
            }
            v.push_str(&pkgver);
            if let Some((rel, minor)) = rel {
                v.push_str(&format!("-{rel}"));
                if let Some(m) = minor {
                    v.push_str(&format!(".{m}"));
                }
            }
            v
        })
}

proptest! {
    #[test]
    fn every_well_formed_pacman_version_is_accepted(v in pacman_version()) {
        prop_assert!(pacman_version_ok(&v), "{v}");
    }

    #[test]
    fn a_non_numeric_release_is_refused(v in pacman_version(), rel in "[a-z][a-z0-9]{0,4}") {
        let base = v.split('-').next().unwrap_or("1").to_owned();
        let bad = format!("{base}-{rel}");
        prop_assert!(!pacman_version_ok(&bad), "{bad}");
    }

    #[test]
    fn a_non_numeric_epoch_is_refused(epoch in "[a-z][a-z0-9]{0,4}", rest in "[0-9][0-9.]{0,6}") {
        let bad = format!("{epoch}:{rest}");
        prop_assert!(!pacman_version_ok(&bad), "{bad}");
    }

    #[test]
    fn two_release_separators_are_refused(v in "[0-9][0-9.]{0,6}", a in 0u32..100, b in 0u32..100) {
        let bad = format!("{v}-{a}-{b}");
        prop_assert!(!pacman_version_ok(&bad), "{bad}");
    }

    #[test]
    fn a_name_with_an_uppercase_letter_is_refused(lower in "[a-z0-9][a-z0-9._+-]{0,10}", upper in "[A-Z]") {
        let bad = format!("{lower}{upper}");
        prop_assert!(!pacman_name_ok(&bad), "{bad}");
        prop_assert!(pacman_name_ok(&lower), "{lower}");
    }

    #[test]
    fn special_forms_never_pass_as_names(name in "[a-z0-9]{1,8}", op in prop::sample::select(vec!["=", ">=", "<", "/", "@", ":", " "])) {
        let bad = format!("{name}{op}1.0");
        prop_assert!(!pacman_name_ok(&bad), "{bad}");
    }
}

#[test]
fn real_arch_names_and_versions_pass() {
    for n in [
        "linux",
        "lib32-glibc",
        "python-pip",
        "gtk2+extra",
        "xorg-server",
    ] {
        assert!(pacman_name_ok(n), "{n}");
    }
    for v in ["6.0.2-3", "1:1.0~rc1-1", "2:0.9-1", "1.1"] {
        assert!(pacman_version_ok(v), "{v}");
    }
    assert!(!pacman_name_ok("NetworkManager"));
}
