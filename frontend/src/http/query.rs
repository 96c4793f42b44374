//! The query string as received: decoded once, strictly.
//!
//! Percent-escapes are decoded; `+` is kept as a literal plus (no value the API accepts contains a space,
//! and package names such as `g++` contain pluses). A parameter given twice, an invalid escape, a non-UTF-8
//! value, or a parameter the endpoint does not know is 400 `INVALID_REQUEST` naming the parameter. An empty
//! value counts as absent.

use super::error::ApiError;

/// Decoded `key=value` pairs in order of appearance, each key at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses the raw query (without `?`). Empty pieces (`a=1&&b=2`) are skipped; `key` alone means an
    /// empty value.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            let key = decode(k).ok_or_else(|| {
                ApiError::bad_parameter(k, "the name is not valid percent-encoded UTF-8", None)
            })?;
            let value = decode(v).ok_or_else(|| {
                ApiError::bad_parameter(&key, "the value is not valid percent-encoded UTF-8", None)
            })?;
            if pairs.iter().any(|(existing, _)| *existing == key) {
                return Err(ApiError::bad_parameter(&key, "given more than once", None));
            }
            pairs.push((key, value));
        }
        Ok(Query { pairs })
    }

    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) if known.is_empty() => Err(ApiError::bad_parameter(
                k,
                "unknown parameter; this endpoint takes no query parameters",
                None,
            )),
            Some((k, _)) => Err(ApiError::bad_parameter(k, "unknown parameter", Some(known))),
        }
    }

    /// The value of `key`, if given with a non-empty value. An empty value (`?status=&limit=`, as template-
    /// filling clients send) means the same as leaving the parameter out; its name is still checked by
    /// [`Query::only`].
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, which must be one of `allowed`; `default` when absent.
    pub fn choice<'a>(
        &self,
        key: &str,
        allowed: &[&'a str],
        default: &'a str,
    ) -> Result<&'a str, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .copied()
                .ok_or_else(|| ApiError::bad_parameter(key, "unknown value", Some(allowed))),
        }
    }

    /// The value of `key` as an integer in `min..=max`; `default` when absent.
    pub fn integer(&self, key: &str, min: u64, max: u64, default: u64) -> Result<u64, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let problem = format!("expected an integer from {min} to {max}");
        // Digits only: no sign, no whitespace, no exponent.
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_parameter(key, &problem, None));
        }
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_parameter(key, &problem, None)),
        }
    }
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_plus_literal() {
        let q = Query::parse(Some("name=g%2B%2B&x=g++&empty&&y=%2a")).unwrap();
        assert_eq!(q.get("name"), Some("g++"));
        assert_eq!(q.get("x"), Some("g++"));
        assert_eq!(q.get("empty"), None, "an empty value is absent");
        assert!(
            q.only(&["name", "x", "y"]).is_err(),
            "but its name is still checked"
        );
        assert_eq!(q.get("y"), Some("*"));
        assert_eq!(Query::parse(None).unwrap(), Query::default());
    }

    #[test]
    fn malformed_or_repeated_parameters_are_invalid_request() {
        for raw in ["a=%", "a=%zz", "a=%ff", "%=1", "a=1&a=2"] {
            let err = Query::parse(Some(raw)).unwrap_err();
            assert_eq!(err.code(), "INVALID_REQUEST", "{raw}");
        }
    }

    #[test]
    fn unknown_parameter_is_named() {
        let q = Query::parse(Some("status=all&colour=red")).unwrap();
        let err = q.only(&["status"]).unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        assert!(err.to_string().contains("\"colour\""), "{err}");
        q.only(&["status", "colour"]).unwrap();
        let err = Query::parse(Some("x=1")).unwrap().only(&[]).unwrap_err();
        assert!(err.to_string().contains("\"x\""));
    }

    #[test]
    fn choice_accepts_listed_values_only() {
        let q = Query::parse(Some("order=desc&sort=colour")).unwrap();
        assert_eq!(q.choice("order", &["asc", "desc"], "asc").unwrap(), "desc");
        assert_eq!(
            q.choice("status", &["installed"], "installed").unwrap(),
            "installed"
        );
        let err = q.choice("sort", &["name", "version"], "name").unwrap_err();
        assert!(err.to_string().contains("\"sort\""));
        assert!(err.to_string().contains("name, version"));
    }

    #[test]
    fn integers_are_strict_and_range_checked() {
        let q = Query::parse(Some(
            "a=0&b=1000&c=1001&d=-1&e=+5&f=1e3&g=&h=99999999999999999999999",
        ))
        .unwrap();
        assert_eq!(q.integer("a", 0, u64::MAX, 7).unwrap(), 0);
        assert_eq!(q.integer("b", 1, 1000, 7).unwrap(), 1000);
        assert_eq!(q.integer("missing", 1, 1000, 100).unwrap(), 100);
        assert_eq!(
            q.integer("g", 1, 1000, 100).unwrap(),
            100,
            "empty means default"
        );
        for key in ["c", "d", "e", "f", "h"] {
            assert!(q.integer(key, 1, 1000, 100).is_err(), "{key}");
        }
        assert!(q.integer("a", 1, 1000, 100).is_err());
    }
}
