//! rpm's version order (`rpmvercmp` and EVR comparison): the order of dnf/yum hosts, used by the broker to
//! tell a downgrade before it asks dnf for it (dnf 4's `install NAME-OLDER` downgrades silently, recorded:
//! `install-older`, which the API allows only with `allow_downgrade`) and by the frontend to sort and to
//! decide `upgradable`. Checked against librpm's own `rpmvercmp` in `protocol/tests/version_order.rs`.
//!
//! The algorithm is rpm's `rpmvercmp` (rpmio/rpmvercmp.c): split into alternating runs of digits and
//! letters, skipping other characters; `~` sorts before anything (even the end), `^` after the end but
//! before anything else; digit runs compare numerically and beat letter runs.

use std::cmp::Ordering;

/// Compares two version (or release) strings the way rpm does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(separator) {
            a = &a[1..];
        }
        while b.first().is_some_and(separator) {
            b = &b[1..];
        }
        // Tilde: sorts before everything, including the end of the string.
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret: sorts after the end of the string but before anything else.
        match (a.first() == Some(&b'^'), b.first() == Some(&b'^')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => {
                return if b.is_empty() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (false, true) => {
                return if a.is_empty() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            _ => {}
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (run(a), run(b));
        let (sa, sb) = (&a[..la], &b[..lb]);
        if lb == 0 {
            // Different kinds of run: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let trim = |s: &[u8]| {
                let z = s.iter().take_while(|c| **c == b'0').count();
                s[z..].to_vec()
            };
            let (ta, tb) = (trim(sa), trim(sb));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[la..];
        b = &b[lb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `(epoch, version, release)` of `[EPOCH:]VERSION[-RELEASE]`; a missing epoch is 0.
fn split(evr: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, rest)) => (e.parse().unwrap_or(0), rest),
        None => (0, evr),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// Compares two `[EPOCH:]VERSION[-RELEASE]` strings. A side without a release matches any release of the
/// same version (as dnf matches `NAME-VERSION`).
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(ra), Some(rb)) => rpmvercmp(ra, rb),
            _ => Ordering::Equal,
        })
}

/// Whether installing `requested` over `installed` is a downgrade.
pub fn is_downgrade(installed: &str, requested: &str) -> bool {
    compare_evr(requested, installed) == Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn rpmvercmp_matches_rpms_own_test_vectors() {
        // From rpm's tests/rpmvercmp.at.
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("1b", "1a", Greater),
            ("1.0010", "1.9", Greater),
            ("1.05", "1.5", Equal),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("6.0.rc1", "6.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epochs_win_and_a_missing_release_matches_any() {
        assert_eq!(compare_evr("2:1.0~rc1-3.fc39", "2:1.0-1.fc39"), Less);
        assert_eq!(compare_evr("1:0.1-1", "9.9-1"), Greater);
        assert_eq!(compare_evr("1.0", "1.0-7"), Equal);
        assert!(is_downgrade("1.1-1", "1.0-1"));
        assert!(!is_downgrade("1.0-1", "1.1-1"));
        assert!(!is_downgrade("1.0-1", "1.0"));
    }
}
