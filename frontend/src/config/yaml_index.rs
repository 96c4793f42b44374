//! A location index of a YAML document: every mapping key with its dotted path and line.
//!
//! serde's derived structs forget where a value came from, and serde-saphyr's own errors carry a line and
//! column but not the key. Parsing the same text a second time into this index lets the loader (a) name the
//! key and line of any typed error or validation failure and (b) find keys the schema does not know, without
//! making the configuration structs themselves carry spans.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::BTreeSet;
use std::fmt;

/// One mapping key of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Dotted path from the document root, e.g. `server.port`.
    pub path: String,
    /// 1-based line of the key itself.
    pub line: u64,
    /// 1-based line and column where the key's value starts (a typed error points there).
    pub value_at: (u64, u64),
}

/// All mapping keys of a document, in document order.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    entries: Vec<KeyEntry>,
}

impl KeyIndex {
    /// Parses `text`; a YAML syntax error comes back as serde-saphyr's error, which carries the location.
    pub fn parse(text: &str) -> Result<Self, serde_saphyr::Error> {
        let root: Option<Node> = serde_saphyr::from_str(text)?;
        let mut entries = Vec::new();
        if let Some(root) = root {
            collect(&root, "", &mut entries);
        }
        Ok(KeyIndex { entries })
    }

    /// All keys, in document order.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// Line of the key at `path`, if the document sets it.
    pub fn line_of(&self, path: &str) -> Option<u64> {
        self.entries.iter().find(|e| e.path == path).map(|e| e.line)
    }

    /// The key a typed error at `line`/`column` belongs to: the key whose value starts exactly there, else
    /// the last key on that line (an error inside a flow collection), else none.
    pub fn key_at(&self, line: u64, column: u64) -> Option<&KeyEntry> {
        self.entries
            .iter()
            .find(|e| e.value_at == (line, column))
            .or_else(|| {
                self.entries
                    .iter()
                    .rev()
                    .find(|e| e.line == line || e.value_at.0 == line)
            })
    }

    /// Keys not in `known`. Only the outermost unknown key is reported: below an unknown key everything is
    /// unknown, and one line per mistake is what an operator wants to read.
    pub fn unknown_keys(&self, known: &BTreeSet<String>) -> Vec<&KeyEntry> {
        let mut reported: Vec<&KeyEntry> = Vec::new();
        for entry in &self.entries {
            if known.contains(&entry.path) {
                continue;
            }
            let below_reported = reported
                .iter()
                .any(|r| entry.path.starts_with(&format!("{}.", r.path)));
            if !below_reported {
                reported.push(entry);
            }
        }
        reported
    }

    /// The set of all key paths, used to derive the known-key set from the serialised defaults.
    pub fn paths(&self) -> BTreeSet<String> {
        self.entries.iter().map(|e| e.path.clone()).collect()
    }
}

fn collect(node: &Node, prefix: &str, out: &mut Vec<KeyEntry>) {
    // Sequences are not descended into: no key of our schemas lives inside a list.
    if let Node::Map(pairs) = node {
        for (key, value) in pairs {
            let path = if prefix.is_empty() {
                key.value.clone()
            } else {
                format!("{prefix}.{}", key.value)
            };
            out.push(KeyEntry {
                path: path.clone(),
                line: key.referenced.line(),
                value_at: (value.referenced.line(), value.referenced.column()),
            });
            collect(&value.value, &path, out);
        }
    }
}

/// A YAML node reduced to what the index needs: mapping keys with spans; scalars are dropped.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq,
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut pairs = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            pairs.push((key, value));
        }
        Ok(Node::Map(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Node::Seq)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_get_dotted_paths_and_lines() {
        let index = KeyIndex::parse("server:\n  port: 1\n# c\ntls:\n  ca_cert: /x\n").unwrap();
        let paths: Vec<_> = index
            .entries()
            .iter()
            .map(|e| (e.path.as_str(), e.line))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("server", 1),
                ("server.port", 2),
                ("tls", 4),
                ("tls.ca_cert", 5)
            ]
        );
        assert_eq!(index.entries()[1].value_at, (2, 9));
    }

    #[test]
    fn only_outermost_unknown_key_is_reported() {
        let index = KeyIndex::parse("server:\n  port: 1\n  bogus: 2\nextra:\n  deep: 1\n").unwrap();
        let known: BTreeSet<String> = ["server", "server.port"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let unknown: Vec<_> = index
            .unknown_keys(&known)
            .iter()
            .map(|e| (e.path.clone(), e.line))
            .collect();
        assert_eq!(
            unknown,
            vec![("server.bogus".to_string(), 3), ("extra".to_string(), 4)]
        );
    }

    #[test]
    fn empty_document_has_no_keys() {
        assert!(KeyIndex::parse("").unwrap().entries().is_empty());
        assert!(
            KeyIndex::parse("# only a comment\n")
                .unwrap()
                .entries()
                .is_empty()
        );
    }

    #[test]
    fn syntax_error_carries_a_location() {
        let err = KeyIndex::parse("a: [1\nb: 2\n").unwrap_err();
        assert!(err.location().is_some());
    }
}
