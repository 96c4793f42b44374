//! apk's version ordering, following apk-tools' `version.c` (`apk_version_compare`), so the broker can
//! tell an upgrade from a downgrade (apk itself downgrades silently on a `name=VERSION` pin) and pick a
//! candidate from `apk policy` without trusting the order apk printed.
//!
//! A version is a sequence of tokens — `digit{.digit}…{letter}{_suffix{#}}…{~hash}{-r#}` — compared pairwise
//! while both sides have a token of the same kind. Numbers compare numerically, except that a component
//! with a leading zero compares as text; suffixes order `alpha < beta < pre < rc < (none) < cvs < svn < git
//! < hg < p`; a hash compares as text. When one side has run out or continues with another kind, the longer
//! version is newer unless what follows is a pre-release suffix.

use std::cmp::Ordering;

/// Token kinds, in apk's order: with everything before equal, the side whose next token is later in this
/// list is the older version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks: pre-releases below [`NO_SUFFIX`], post-releases above.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];
const NO_SUFFIX: u8 = 5;

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    number: u64,
    suffix: u8,
}

struct Tokens<'a> {
    rest: &'a [u8],
    tok: Token<'a>,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Tokens<'a> {
        let mut t = Tokens {
            rest: s.as_bytes(),
            tok: Token {
                kind: Kind::InitialDigit,
                text: &[],
                number: 0,
                suffix: 0,
            },
        };
        t.digits(Kind::InitialDigit);
        t
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|b| f(**b)).count();
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        taken
    }

    fn digits(&mut self, kind: Kind) {
        let text = self.take_while(|b| b.is_ascii_digit());
        let number = text.iter().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        let kind = if text.is_empty() { Kind::Invalid } else { kind };
        self.tok = Token {
            kind,
            text,
            number,
            suffix: 0,
        };
    }

    fn invalid(&mut self) {
        self.tok.kind = Kind::Invalid;
    }

    /// Moves to the next token, checking that it may follow the previous one.
    fn advance(&mut self) {
        let prev = self.tok.kind;
        let Some(&first) = self.rest.first() else {
            self.tok.kind = Kind::End;
            return;
        };
        match first {
            b'a'..=b'z' if prev <= Kind::Digit => {
                self.tok = Token {
                    kind: Kind::Letter,
                    text: &self.rest[..1],
                    number: 0,
                    suffix: 0,
                };
                self.rest = &self.rest[1..];
            }
            b'.' if prev <= Kind::Digit => {
                self.rest = &self.rest[1..];
                self.digits(Kind::Digit);
            }
            b'0'..=b'9' if prev == Kind::Suffix => self.digits(Kind::SuffixNo),
            b'_' if prev <= Kind::SuffixNo => {
                self.rest = &self.rest[1..];
                let text = self.take_while(|b| b.is_ascii_lowercase());
                match SUFFIXES.iter().find(|(s, _)| s.as_bytes() == text) {
                    Some(&(_, rank)) => {
                        self.tok = Token {
                            kind: Kind::Suffix,
                            text,
                            number: 0,
                            suffix: rank,
                        }
                    }
                    None => self.invalid(),
                }
            }
            b'~' if prev < Kind::CommitHash => {
                self.rest = &self.rest[1..];
                let text = self.take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if text.is_empty() {
                    self.invalid();
                } else {
                    self.tok = Token {
                        kind: Kind::CommitHash,
                        text,
                        number: 0,
                        suffix: 0,
                    };
                }
            }
            b'-' if prev < Kind::RevisionNo && self.rest.starts_with(b"-r") => {
                self.rest = &self.rest[2..];
                self.digits(Kind::RevisionNo);
            }
            _ => self.invalid(),
        }
    }
}

fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Kind::Letter => a.text.cmp(b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        Kind::CommitHash | Kind::End | Kind::Invalid => a.text.cmp(b.text),
    }
}

/// Orders two apk versions the way apk does. Malformed input still gives an answer (apk's rules applied to
/// the well-formed prefix), never a panic.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    while ta.tok.kind == tb.tok.kind && ta.tok.kind < Kind::End {
        match token_cmp(&ta.tok, &tb.tok) {
            Ordering::Equal => {}
            other => return other,
        }
        ta.advance();
        tb.advance();
    }
    let (ka, kb) = (ta.tok.kind, tb.tok.kind);
    if ka == kb {
        return Ordering::Equal;
    }
    if ka == Kind::Suffix && ta.tok.suffix < NO_SUFFIX {
        return Ordering::Less;
    }
    if kb == Kind::Suffix && tb.tok.suffix < NO_SUFFIX {
        return Ordering::Greater;
    }
    kb.cmp(&ka)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn recorded_fixture_versions_order_as_apk_printed_them() {
        // `apk version -l '<'` of the recorded sessions: installed < available.
        assert_eq!(compare("1.0-r0", "1.1-r0"), Less);
        assert_eq!(compare("1.0-r0", "1.0.1-r0"), Less);
        assert_eq!(compare("1.1-r0", "1.0-r0"), Greater);
        assert_eq!(compare("1.0-r0", "1.0-r0"), Equal);
    }

    #[test]
    fn apk_rules_for_suffixes_letters_releases_and_zeros() {
        let ascending = [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r10",
            "1.0_p1",
            "1.0a",
            "1.0.01",
            "1.0.1",
            "1.1",
            "1.1~abc",
            "1.1~abd",
            "2.0",
            "10.0",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for junk in [
            "",
            "-",
            "x",
            "1..2",
            "1.0_zz",
            "1.0-",
            "1.0a1",
            "99999999999999999999999",
        ] {
            let _ = compare(junk, "1.0");
            let _ = compare("1.0", junk);
            assert_eq!(compare(junk, junk), Equal, "{junk}");
        }
    }
}
