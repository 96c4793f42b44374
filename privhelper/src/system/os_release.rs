//! os-release(5): `KEY=VALUE` lines with shell-style quoting, read from the package root.

use lpa_protocol::OsRelease;
use std::collections::HashMap;
use std::path::Path;

/// Parses os-release text into its variables. Comments and blank lines are skipped; values may be
/// unquoted, single-quoted or double-quoted, and backslash escapes `\" \\ \$ \`` are honoured (outside
/// single quotes). Malformed lines are ignored.
pub fn parse_vars(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if let Some(value) = unquote(raw) {
            vars.insert(key.to_owned(), value);
        }
    }
    vars
}

fn unquote(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (Some('\''), c) => out.push(c),
            (_, '\\') => match chars.next() {
                Some(n) if quote.is_none() || matches!(n, '"' | '\\' | '$' | '`') => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return None,
            },
            (None, c) if c.is_whitespace() => return None,
            (_, c) => out.push(c),
        }
    }
    if quote.is_some() { None } else { Some(out) }
}

/// The API's view of the variables, with the defaults os-release(5) prescribes.
pub fn from_vars(vars: &HashMap<String, String>) -> OsRelease {
    let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
    OsRelease {
        id: get("ID").unwrap_or_else(|| "linux".into()),
        id_like: vars
            .get("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        name: get("NAME")
            .or_else(|| get("PRETTY_NAME"))
            .unwrap_or_else(|| "Linux".into()),
        version: get("VERSION_ID").or_else(|| get("VERSION")),
        codename: get("VERSION_CODENAME"),
    }
}

/// Reads `<root>/etc/os-release`, falling back to `<root>/usr/lib/os-release`.
pub fn read(root: &Path) -> std::io::Result<OsRelease> {
    let text = std::fs::read_to_string(root.join("etc/os-release"))
        .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))?;
    Ok(from_vars(&parse_vars(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_debian_file() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                    VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
                    HOME_URL=\"https://www.debian.org/\"\n";
        let os = from_vars(&parse_vars(text));
        assert_eq!(os.id, "debian");
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.version.as_deref(), Some("12"));
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
        assert!(os.id_like.is_empty());
    }

    #[test]
    fn quotes_escapes_and_comments() {
        let text = "# comment\n\nID_LIKE=\"rhel centos fedora\"\nNAME='It''s'\nX=\"a \\\"q\\\" \\$HOME \\\\ \\n\"\n\
                    Y=plain\\ word\nBROKEN=\"unterminated\nZ=two words\n";
        let v = parse_vars(text);
        assert_eq!(v["ID_LIKE"], "rhel centos fedora");
        assert_eq!(v["NAME"], "Its");
        assert_eq!(v["X"], "a \"q\" $HOME \\ \\n");
        assert_eq!(v["Y"], "plain word");
        assert!(!v.contains_key("BROKEN"));
        assert!(!v.contains_key("Z"));
        let os = from_vars(&v);
        assert_eq!(os.id, "linux");
        assert_eq!(os.id_like, ["rhel", "centos", "fedora"]);
    }

    #[test]
    fn falls_back_to_usr_lib() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "ID=arch\nPRETTY_NAME=Arch\n",
        )
        .unwrap();
        let os = read(root.path()).unwrap();
        assert_eq!((os.id.as_str(), os.name.as_str()), ("arch", "Arch"));
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            let _ = from_vars(&parse_vars(&s));
        }
    }
}
