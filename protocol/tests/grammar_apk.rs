//! Property tests of apk's name and version grammar: apk's special argument forms never pass, real names
//! and versions always do, and the version check accepts exactly apk-tools' grammar.

use lpa_protocol::{Backend, PackageName, Version};
use proptest::prelude::*;

/// A name is usable with apk when it passes both the union grammar and apk's own rule.
fn apk_name_ok(s: &str) -> bool {
    PackageName::new(s).is_ok_and(|n| Backend::Apk.check_name(&n).is_ok())
}

fn apk_version_ok(s: &str) -> bool {
    Version::new(s).is_ok_and(|v| Backend::Apk.check_version(&v).is_ok())
}

/// apk's version grammar, built from its parts.
fn apk_version() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(0u32..100_000, 1..5),
        proptest::option::of("[a-z]"),
        proptest::collection::vec(
            (
                prop::sample::select(vec![
                    "alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p",
                ]),
                proptest::option::of(0u32..100_000_000),
            ),
            0..3,
        ),
        proptest::option::of("[0-9a-f]{1,12}"),
        proptest::option::of(0u32..1000),
    )
        .prop_map(|(nums, letter, suffixes, hash, rel)| {
            let mut v = nums
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".");
            v.push_str(&letter.unwrap_or_default());
            for (s, n) in suffixes {
                v.push('_');
                v.push_str(s);
                if let Some(n) = n {
                    v.push_str(&n.to_string());
                }
            }
            if let Some(h) = hash {
                v.push('~');
                v.push_str(&h);
            }
            if let Some(r) = rel {
                v.push_str(&format!("-r{r}"));
            }
            v
        })
}

proptest! {
    #[test]
    fn special_argument_forms_are_never_names(
        name in "[a-z0-9][a-z0-9._+-]{0,30}",
        tail in "[a-z0-9.]{0,10}",
        form in prop::sample::select(vec!["!{}", "{}@edge", "{}>1.0", "{}<1.0", "{}=1.0-r0", "{}~1.0", "{}>=1", "/tmp/{}.apk", "./{}.apk", "{}.apk"]),
    ) {
        let arg = form.replace("{}", &format!("{name}{tail}"));
        prop_assert!(!apk_name_ok(&arg), "{:?} was accepted as an apk package name", arg);
    }

    #[test]
    fn apk_in_a_name_is_refused_anywhere(pre in "[a-z0-9][a-z0-9_+-]{0,20}", post in "[a-z0-9_+-]{0,20}") {
        let name = format!("{pre}.apk{post}");
        prop_assert!(!apk_name_ok(&name), "{:?} accepted", name);
    }

    #[test]
    fn names_without_apk_are_accepted(s in "[a-z0-9][a-z0-9_+-]{0,40}(\\.[a-z0-9][a-z0-9_+-]{0,10}){0,3}") {
        prop_assume!(!s.contains(".apk"));
        prop_assert!(apk_name_ok(&s), "{:?} refused", s);
    }

    #[test]
    fn versions_of_apks_grammar_are_accepted(v in apk_version()) {
        prop_assert!(apk_version_ok(&v), "{:?} refused", v);
    }

    #[test]
    fn an_epoch_plus_caret_or_debian_revision_is_refused(v in apk_version(), bad in prop::sample::select(vec!["1:", "+b1", "^x", "-1", "-r", "_zz", "..", "~G"])) {
        let with = if bad == "1:" { format!("{bad}{v}") } else { format!("{v}{bad}") };
        prop_assert!(!apk_version_ok(&with), "{:?} accepted", with);
    }

    #[test]
    fn apt_versions_never_end_in_a_modifier_or_use_non_debian_characters(v in "[0-9][0-9a-z.+~:_^-]{0,20}") {
        // apt now has its own (Debian policy) version grammar: a pin joined as `NAME:ARCH=VERSION` must
        // never end in `-` (apt's "remove" modifier), and `_`/`^` are not Debian version characters.
        if let Ok(v) = Version::new(v)
            && Backend::Apt.check_version(&v).is_ok()
        {
            let s = v.as_str();
            prop_assert!(!s.ends_with('-'), "{:?}", s);
            prop_assert!(!s.contains(['_', '^']), "{:?}", s);
        }
    }
}
