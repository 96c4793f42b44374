//! `whitelist.yaml`: `allowed: [...]`, single IPv4/IPv6 addresses and CIDRs.
//!
//! Parsing is all-or-nothing: one invalid entry rejects the file (the caller then denies everyone), because a
//! whitelist that silently drops a typo could lock operators out or, worse, be mistaken for a complete list.

use super::document;
use super::error::{ConfigError, Issue, UnknownKey};
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::net::IpAddr;
use std::path::Path;

/// The typed content of `whitelist.yaml`, used to derive the known keys.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct WhitelistFile {
    /// Addresses and CIDRs allowed to connect.
    allowed: Vec<String>,
}

/// The same file with a location on every entry, for error messages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SpannedWhitelistFile {
    allowed: Vec<Spanned<String>>,
}

/// A parsed whitelist plus the keys that were ignored.
#[derive(Debug, Clone)]
pub struct LoadedWhitelist {
    /// Allowed networks (single addresses are /32 or /128). Empty means deny all.
    pub nets: Vec<IpNet>,
    /// Keys not in the schema.
    pub unknown_keys: Vec<UnknownKey>,
}

/// Reads and parses the whitelist at `path`.
pub fn load_whitelist(path: &Path) -> Result<LoadedWhitelist, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_whitelist(path, &text)
}

/// Parses `text` as the content of the whitelist at `path`.
pub fn parse_whitelist(path: &Path, text: &str) -> Result<LoadedWhitelist, ConfigError> {
    // Typed parse first: it reports syntax errors with key and line and finds unknown keys.
    let doc = document::parse::<WhitelistFile>(path, text)?;
    let spanned: SpannedWhitelistFile = if doc.value.allowed.is_empty() {
        SpannedWhitelistFile::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            issue: Issue {
                key: "allowed".to_string(),
                line: e.location().map(|l| l.line()),
                message: e.without_snippet().to_string(),
            },
        })?
    };
    let mut nets = Vec::with_capacity(spanned.allowed.len());
    let mut issues = Vec::new();
    for entry in &spanned.allowed {
        match parse_entry(&entry.value) {
            Some(net) => nets.push(net),
            None => issues.push(Issue {
                key: format!("allowed entry {:?}", entry.value),
                line: Some(entry.referenced.line()),
                message: "not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8, 127.0.0.1)"
                    .to_string(),
            }),
        }
    }
    if !issues.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            issues,
        });
    }
    Ok(LoadedWhitelist {
        nets,
        unknown_keys: doc.unknown_keys,
    })
}

/// One entry: an address or a CIDR. IPv4-mapped IPv6 entries become IPv4, because peers are compared after
/// canonicalisation and a mapped entry would otherwise never match. Host bits of a CIDR are ignored.
fn parse_entry(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    let net = if entry.contains('/') {
        entry.parse::<IpNet>().ok()?.trunc()
    } else {
        IpNet::from(entry.parse::<IpAddr>().ok()?.to_canonical())
    };
    Some(canonical_net(net))
}

fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(v4net) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net.trunc());
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedWhitelist, ConfigError> {
        parse_whitelist(Path::new("/etc/wl.yaml"), text)
    }

    #[test]
    fn addresses_and_cidrs_of_both_families_parse() {
        let wl =
            parse("allowed: [\"127.0.0.1\", \"::1\", \"10.0.0.0/8\", \"fd00::/8\"]\n").unwrap();
        let want: Vec<IpNet> = ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(wl.nets, want);
        assert!(wl.unknown_keys.is_empty());
    }

    #[test]
    fn invalid_entry_names_file_line_and_entry() {
        let err = parse("allowed:\n  - 127.0.0.1\n  - 10.0.0.0/33\n  - bogus\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/etc/wl.yaml"), "{text}");
        assert!(
            text.contains("line 3") && text.contains("10.0.0.0/33"),
            "{text}"
        );
        assert!(text.contains("line 4") && text.contains("bogus"), "{text}");
    }

    #[test]
    fn empty_file_and_empty_list_allow_nobody() {
        assert!(parse("").unwrap().nets.is_empty());
        assert!(parse("allowed: []\n").unwrap().nets.is_empty());
    }

    #[test]
    fn mapped_ipv6_entries_become_ipv4() {
        let wl = parse("allowed: [\"::ffff:192.0.2.7\", \"::ffff:10.0.0.0/104\"]\n").unwrap();
        assert_eq!(
            wl.nets,
            vec![
                "192.0.2.7/32".parse::<IpNet>().unwrap(),
                "10.0.0.0/8".parse::<IpNet>().unwrap()
            ]
        );
    }

    #[test]
    fn unknown_key_in_whitelist_is_reported_with_line() {
        let wl = parse("allowed: [\"::1\"]\ndenied: [\"10.0.0.1\"]\n").unwrap();
        assert_eq!(wl.unknown_keys.len(), 1);
        assert_eq!(wl.unknown_keys[0].key, "denied");
        assert_eq!(wl.unknown_keys[0].line, 2);
    }

    #[test]
    fn wrong_type_is_a_syntax_error_naming_the_key() {
        let err = parse("allowed: 10.0.0.1\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("line 1") && text.contains("allowed"),
            "{text}"
        );
    }
}
