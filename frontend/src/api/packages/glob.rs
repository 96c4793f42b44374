//! The `name` filter of `GET /packages`: `*` (any run, also empty) and `?` (exactly one character) over the
//! package-name character set `[A-Za-z0-9._+-]`, matched case-sensitively against the whole name.
//!
//! Matching is iterative with single-star backtracking, so it is linear-ish in practice and can never
//! explode on patterns such as `*a*a*a*a*b`.

use crate::http::ApiError;

/// Longest accepted pattern (the longest package name).
const MAX_LEN: usize = 256;

/// A validated glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<u8>);

impl Glob {
    /// Validates `pattern`.
    pub fn new(pattern: &str) -> Result<Self, ApiError> {
        let bad = |problem: &str| ApiError::bad_parameter("name", problem, None);
        if pattern.is_empty() {
            return Err(bad("the pattern is empty"));
        }
        if pattern.len() > MAX_LEN {
            return Err(bad("the pattern is longer than 256 characters"));
        }
        if !pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-*?".contains(&b))
        {
            return Err(bad(
                "only letters, digits, '.', '_', '+', '-' and the wildcards '*' and '?' are allowed",
            ));
        }
        Ok(Glob(pattern.as_bytes().to_vec()))
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let (p, s) = (&self.0[..], name.as_bytes());
        let (mut pi, mut si) = (0, 0);
        // Position of the last `*` and the subject position it was tried at.
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some(b'*') => {
                    star = Some((pi, si));
                    pi += 1;
                }
                Some(&c) if c == b'?' || c == s[si] => {
                    pi += 1;
                    si += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&c| c == b'*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn literal_star_and_question_mark() {
        assert!(m("nginx", "nginx"));
        assert!(!m("nginx", "nginx-core"));
        assert!(m("nginx*", "nginx-core"));
        assert!(m("nginx*", "nginx"));
        assert!(m("*lib*", "glibc"));
        assert!(m("lib?", "libc"));
        assert!(!m("lib?", "lib"));
        assert!(!m("lib?", "libcc"));
        assert!(m("*", ""));
        assert!(m("g++", "g++"));
        assert!(m("*-dev", "libssl-dev"));
        assert!(!m("*-dev", "libssl-devel"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(!m("Nginx", "nginx"), "case-sensitive");
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let subject = "a".repeat(256);
        let start = std::time::Instant::now();
        assert!(!m("*a*a*a*a*a*a*a*a*a*b", &subject));
        assert!(start.elapsed() < std::time::Duration::from_millis(200));
    }

    #[test]
    fn invalid_patterns_are_invalid_request_naming_the_parameter() {
        for bad in ["", "a b", "a/b", "[ab]", "a;b", "é", &"a".repeat(257)] {
            let err = Glob::new(bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_REQUEST", "{bad}");
            assert!(err.to_string().contains("\"name\""));
        }
    }
}
