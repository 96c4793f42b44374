//! The deb822 paragraph format (`Key: value` lines, continuation lines starting with a space or tab,
//! paragraphs separated by blank lines), as used by `/var/lib/dpkg/status` and `apt-cache show`.
//!
//! The parser is total: any input yields some paragraphs and never panics. Lines that are neither a field
//! nor a continuation are skipped, because one corrupt line must not hide the rest of the database.

/// One paragraph, fields in file order. Values keep continuation lines joined by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph<'a> {
    fields: Vec<(&'a str, String)>,
}

impl<'a> Paragraph<'a> {
    /// The value of `key` (field names are case-insensitive in deb822).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The first line of `key`'s value, trimmed (for `Description`, the synopsis).
    pub fn first_line(&self, key: &str) -> Option<&str> {
        self.get(key).map(|v| v.lines().next().unwrap_or("").trim())
    }

    /// Whether the paragraph has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Splits `text` into paragraphs.
pub fn parse(text: &str) -> Vec<Paragraph<'_>> {
    let mut out = Vec::new();
    let mut cur = Paragraph::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty() && !k.contains(' ') {
                cur.fields.push((k, v.trim().to_owned()));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Package names of a relationship field (`Depends`, `Pre-Depends`): alternatives included, version
/// constraints and architecture qualifiers stripped, duplicates removed, order kept.
pub fn relation_names(value: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for alt in value.split([',', '|']) {
        let name = alt
            .trim()
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<' | ':'))
            .next()
            .unwrap_or("");
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paragraphs_fields_and_continuations() {
        let text =
            "Package: a\nDescription: short\n long one\n .\n two\n\n\nPackage: b\nversion: 1\n";
        let ps = parse(text);
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Description"), Some("short\nlong one\n.\ntwo"));
        assert_eq!(ps[0].first_line("Description"), Some("short"));
        assert_eq!(ps[1].get("Version"), Some("1"));
    }

    #[test]
    fn relation_names_strip_versions_arches_and_duplicates() {
        assert_eq!(
            relation_names(
                "libc6 (>= 2.34), dconf-service (<< 0.40.0-4.1~), python3:any, a | b (= 1), libc6"
            ),
            ["libc6", "dconf-service", "python3", "a", "b"]
        );
        assert!(relation_names("").is_empty());
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            for p in parse(&s) {
                let _ = p.first_line("Description");
            }
            let _ = relation_names(&s);
        }
    }
}
