//! Property tests of dnf's (and yum's) name and version grammar: every well-formed `[EPOCH:]VERSION[-RELEASE]`
//! passes, malformed epochs and extra separators never do, and nothing ending in `.rpm` (a local file to
//! dnf) is accepted as a name or a version.

use lpa_protocol::{Backend, PackageName, Version};
use proptest::prelude::*;

fn name_ok(b: Backend, s: &str) -> bool {
    PackageName::new(s).is_ok_and(|n| b.check_name(&n).is_ok())
}

fn version_ok(b: Backend, s: &str) -> bool {
    Version::new(s).is_ok_and(|v| b.check_version(&v).is_ok())
}

/// An RPM EVR built from its parts, with the characters rpm allows in VERSION and RELEASE.
fn rpm_version() -> impl Strategy<Value = String> {
    (
        proptest::option::of(0u32..100),
        "[0-9a-z][0-9a-zA-Z.+~_^]{0,15}",
        proptest::option::of("[0-9a-z][0-9a-zA-Z.+~_^]{0,10}"),
    )
        .prop_map(|(epoch, version, release)| {
            let mut v = String::new();
            if let Some(e) = epoch {
                v.push_str(&format!("{e}:"));
            }
            v.push_str(&version);
            if let Some(r) = release {
                v.push('-');
                v.push_str(&r);
            }
            v
        })
        .prop_filter("not a local file", |v| {
            !v.to_ascii_lowercase().ends_with(".rpm")
        })
}

proptest! {
    #[test]
    fn every_well_formed_rpm_version_is_accepted_by_dnf_and_yum(v in rpm_version()) {
        prop_assert!(version_ok(Backend::Dnf, &v), "{v}");
        prop_assert!(version_ok(Backend::Yum, &v), "{v}");
    }

    #[test]
    fn a_second_release_separator_is_refused(v in rpm_version(), extra in "[0-9a-z]{1,5}") {
        let bad = if v.contains('-') { format!("{v}-{extra}") } else { format!("{v}-1-{extra}") };
        prop_assert!(!version_ok(Backend::Dnf, &bad), "{bad}");
    }

    #[test]
    fn a_non_numeric_epoch_is_refused(e in "[a-z][a-z0-9]{0,4}", v in "[0-9][0-9.]{0,6}") {
        let bad = format!("{e}:{v}");
        prop_assert!(!version_ok(Backend::Dnf, &bad), "{bad}");
    }

    #[test]
    fn nothing_ending_in_dot_rpm_is_a_name_or_version(stem in "[a-z0-9][a-z0-9._+-]{0,20}", ext in "\\.(rpm|RPM|Rpm)") {
        let s = format!("{stem}{ext}");
        prop_assert!(!name_ok(Backend::Dnf, &s), "{s}");
        prop_assert!(!name_ok(Backend::Yum, &s), "{s}");
        prop_assert!(!version_ok(Backend::Dnf, &s), "{s}");
    }

    #[test]
    fn rpm_names_keep_the_union_grammar_otherwise(s in "[A-Za-z0-9][A-Za-z0-9._+-]{0,30}") {
        prop_assume!(!s.to_ascii_lowercase().ends_with(".rpm"));
        prop_assert!(name_ok(Backend::Dnf, &s), "{s}");
    }
}

#[test]
fn real_rpm_versions_from_the_fixtures_and_distributions() {
    for v in [
        "1.0-1",
        "2:1.0~rc1-3.fc39",
        "1.0.1",
        "0:4.18.0-1.el9_2",
        "1.2^git20240101-1",
        "5.2.15-2.fc39",
    ] {
        assert!(version_ok(Backend::Dnf, v), "{v}");
    }
    for v in ["1:2:3", "1.0-1-2", "x:1.0", "1.0-", "1.0-1.rpm"] {
        assert!(!version_ok(Backend::Dnf, v), "{v}");
    }
    assert!(name_ok(Backend::Dnf, "NetworkManager") && name_ok(Backend::Dnf, "python3.11"));
    assert!(!name_ok(Backend::Dnf, "evil.rpm"));
}
