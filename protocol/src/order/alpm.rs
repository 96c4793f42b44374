//! pacman's version order (libalpm `alpm_pkg_vercmp`, `version.c`): the order of pacman hosts.
//!
//! rpm-like, with alpm's own rules: `[EPOCH:]VERSION[-RELEASE]` compared epoch first, then version, then
//! release only when both sides have one. Segments are maximal runs of digits or letters; anything else
//! separates them, and a **longer separator run is newer** (`1.0..1` > `1.0.1`). There is no special `~`
//! or `^`: `~` is just a separator, so pacman ranks `1.0~rc1` *after* `1.0`, where dpkg and rpm rank it
//! before. At the end, a remaining letter segment is older than nothing, anything else newer. Checked
//! against libalpm's own `alpm_pkg_vercmp` in `protocol/tests/version_order.rs`.

use std::cmp::Ordering;

/// Compares two full pacman versions (`[EPOCH:]VERSION[-RELEASE]`).
pub fn compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    let epoch = segments(ea, eb);
    if epoch != Ordering::Equal {
        return epoch;
    }
    let version = segments(va, vb);
    if version != Ordering::Equal {
        return version;
    }
    match (ra, rb) {
        (Some(ra), Some(rb)) => segments(ra, rb),
        _ => Ordering::Equal,
    }
}

/// `(epoch, version, release)`; the epoch is `0` when absent (alpm's `parseEVR`).
fn split(evr: &str) -> (&str, &str, Option<&str>) {
    let digits = evr.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if evr.as_bytes().get(digits) == Some(&b':') {
        let e = &evr[..digits];
        (if e.is_empty() { "0" } else { e }, &evr[digits + 1..])
    } else {
        ("0", evr)
    };
    match rest.rfind('-') {
        Some(i) => (epoch, &rest[..i], Some(&rest[i + 1..])),
        None => (epoch, rest, None),
    }
}

/// alpm's `rpmvercmp` on one part.
fn segments(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() && j < b.len() {
        let (si, sj) = (i, j);
        while i < a.len() && !a[i].is_ascii_alphanumeric() {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        // Separator runs of different lengths decide: the longer one is newer.
        if i - si != j - sj {
            return (i - si).cmp(&(j - sj));
        }
        let numeric = a[i].is_ascii_digit();
        let run = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len()
                && if numeric {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                }
            {
                k += 1;
            }
            (start, k)
        };
        let (a0, a1) = run(a, i);
        let (b0, b1) = run(b, j);
        if b0 == b1 {
            // Different kinds: a number beats letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (x, y) = (&a[a0..a1], &b[b0..b1]);
        let ord = if numeric {
            let strip = |s: &[u8]| {
                let z = s.iter().take_while(|c| **c == b'0').count();
                s[z..].to_vec()
            };
            let (x, y) = (strip(x), strip(y));
            x.len().cmp(&y.len()).then_with(|| x.cmp(&y))
        } else {
            x.cmp(y)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = a1;
        j = b1;
    }
    let (rest_a, rest_b) = (&a[i.min(a.len())..], &b[j.min(b.len())..]);
    if rest_a.is_empty() && rest_b.is_empty() {
        return Ordering::Equal;
    }
    // "We never want a remaining alpha string to beat an empty string."
    let alpha = |s: &[u8]| s.first().is_some_and(u8::is_ascii_alphabetic);
    if (rest_a.is_empty() && !alpha(rest_b)) || alpha(rest_a) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn alpm_specifics() {
        for (a, b, want) in [
            ("1.0~rc1-1", "1.0-1", Greater),
            ("1.0", "1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.0-1", "1.0", Equal),
            ("1:1.0-1", "2.0-1", Greater),
            ("1.0a", "1.0", Less),
            ("1.0.1", "1.0a", Greater),
            ("1.0..1", "1.0.1", Greater),
            ("1.01", "1.1", Equal),
            ("2.0", "10.0", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
