//! Reading one YAML configuration file: typed parse, key index, unknown keys.
//!
//! Each file is parsed twice: leniently into the typed structs (unknown keys are ignored so existing files keep
//! working) and into a [`KeyIndex`] that knows every key's line. The known-key set is derived from the
//! schema itself by serialising its defaults, so adding a field to a struct can never make it "unknown".

use super::error::{ConfigError, Issue, UnknownKey};
use super::yaml_index::KeyIndex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::path::Path;

/// A parsed file: the typed value, where each key is, and the keys the schema does not know.
#[derive(Debug)]
pub struct Document<T> {
    /// The typed content (defaults filled in).
    pub value: T,
    /// Location of every key, for validation messages.
    pub index: KeyIndex,
    /// Keys that were ignored.
    pub unknown_keys: Vec<UnknownKey>,
}

/// Reads and parses `path`.
pub fn read<T>(path: &Path) -> Result<Document<T>, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses `text` as the content of `path` (the path is only used in messages).
pub fn parse<T>(path: &Path, text: &str) -> Result<Document<T>, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let index = KeyIndex::parse(text).map_err(|e| syntax_error(path, &KeyIndex::default(), &e))?;
    // An empty file (or one holding only comments) is a valid, all-defaults configuration.
    let value = if index.entries().is_empty() && is_blank(text) {
        T::default()
    } else {
        serde_saphyr::from_str::<T>(text).map_err(|e| syntax_error(path, &index, &e))?
    };
    let known = known_keys::<T>();
    let unknown_keys = index
        .unknown_keys(&known)
        .into_iter()
        .map(|e| UnknownKey {
            file: path.to_path_buf(),
            line: e.line,
            key: e.path.clone(),
        })
        .collect();
    Ok(Document {
        value,
        index,
        unknown_keys,
    })
}

/// True when the text holds no YAML content at all (only whitespace and comments).
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    })
}

/// Every key path of the schema, taken from the serialised defaults.
pub fn known_keys<T: Serialize + Default>() -> BTreeSet<String> {
    // Serialising plain structs of strings, numbers and paths cannot fail; if it ever did, every key would be
    // reported unknown, which is loud rather than silent.
    serde_saphyr::to_string(&T::default())
        .ok()
        .and_then(|yaml| KeyIndex::parse(&yaml).ok())
        .map(|index| index.paths())
        .unwrap_or_default()
}

fn syntax_error(path: &Path, index: &KeyIndex, err: &serde_saphyr::Error) -> ConfigError {
    let plain = err.without_snippet().to_string();
    // serde-saphyr appends " at line L, column C"; the location is rendered by us, once.
    let message = match plain.rsplit_once(" at line ") {
        Some((head, _)) => head.to_string(),
        None => plain,
    };
    let location = err.location().filter(|l| l.line() > 0);
    let key = location
        .and_then(|l| index.key_at(l.line(), l.column()))
        .map(|e| e.path.clone())
        .unwrap_or_else(|| "(document)".to_string());
    ConfigError::Syntax {
        path: path.to_path_buf(),
        issue: Issue {
            key,
            line: location.map(|l| l.line()),
            message,
        },
    }
}
