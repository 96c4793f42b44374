//! The query formats the helper hands to `rpm --qf` and `dnf repoquery --qf`, and the reader of the
//! `key=value` records they produce.
//!
//! Each record starts with a marker line (`@@pkg`), then one `key=value` line per single-line tag (rpm's
//! name, version, summary, URL, license and packager tags never contain a newline), then the array of
//! requirement names. Lines before the first marker (warnings) are ignored. rpm prints `(none)` for an unset
//! tag; the reader turns that into an absent value.

/// `rpm -qa --qf`: the installed list and the snapshot (one call for both).
pub const INSTALLED_QF: &str = "@@pkg\\nname=%{NAME}\\nepoch=%{EPOCH}\\nversion=%{VERSION}\\nrelease=%{RELEASE}\\narch=%{ARCH}\\nsummary=%{SUMMARY}\\nsize=%{SIZE}\\ninstalltime=%{INSTALLTIME}\\nlicense=%{LICENSE}\\nurl=%{URL}\\npackager=%{PACKAGER}\\nsourcerpm=%{SOURCERPM}\\n[requires=%{REQUIRENAME}\\n]";

/// `dnf repoquery --upgrades --qf`: one line per upgrade; every field is whitespace-free by rpm's rules.
pub const UPGRADES_QF: &str = "@@upgrade %{name} %{epoch} %{version} %{release} %{arch} %{repoid}";

/// `dnf repoquery --available --qf` of the exact-name lookup: one line per available package.
pub const VERSIONS_QF: &str = "@@version %{name} %{epoch} %{version} %{release} %{arch}";

/// `dnf repoquery --available --qf`: the candidate record; requirements follow `@@requires`, one per line,
/// with their version constraints (`demo-lib >= 1.0`).
pub const CANDIDATE_QF: &str = "@@pkg\\nname=%{name}\\nepoch=%{epoch}\\nversion=%{version}\\nrelease=%{release}\\narch=%{arch}\\nsummary=%{summary}\\nsize=%{installsize}\\nlicense=%{license}\\nurl=%{url}\\npackager=%{packager}\\nsourcerpm=%{sourcerpm}\\nrepo=%{repoid}\\n@@requires\\n%{requires}";

/// One `@@pkg` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// `key=value` fields in order (unset tags left out).
    pub fields: Vec<(String, String)>,
    /// Requirement names (`requires=` lines, or the lines after `@@requires`), version constraints
    /// stripped, `rpmlib(…)` features left out, each once.
    pub requires: Vec<String>,
}

impl Record {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `[EPOCH:]VERSION-RELEASE`, the form dnf prints: epoch 0 and an unset epoch are left out.
    pub fn evr(&self) -> Option<String> {
        Some(evr_string(
            self.get("epoch"),
            self.get("version")?,
            self.get("release")?,
        ))
    }
}

/// `[EPOCH:]VERSION-RELEASE`, leaving out an epoch that is absent or 0, as dnf prints it.
pub fn evr_string(epoch: Option<&str>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) if !e.is_empty() && e != "0" && e != "(none)" => {
            format!("{e}:{version}-{release}")
        }
        _ => format!("{version}-{release}"),
    }
}

/// Reads every `@@pkg` record of `text`.
pub fn records(text: &str) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut in_requires = false;
    for line in text.lines() {
        if line == "@@pkg" {
            out.push(Record::default());
            in_requires = false;
            continue;
        }
        let Some(rec) = out.last_mut() else {
            continue;
        };
        if line == "@@requires" {
            in_requires = true;
            continue;
        }
        let requirement = if in_requires {
            Some(line)
        } else {
            line.strip_prefix("requires=")
        };
        if let Some(req) = requirement {
            // `demo-lib >= 1.0` → `demo-lib`; a rich dependency `(a or b)` is kept whole.
            let name = if req.starts_with('(') {
                req.trim()
            } else {
                req.split_whitespace().next().unwrap_or("")
            };
            if !name.is_empty()
                && !name.starts_with("rpmlib(")
                && !rec.requires.iter().any(|r| r == name)
            {
                rec.requires.push(name.to_owned());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && value != "(none)"
        {
            rec.fields.push((key.to_owned(), value.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_tags_are_absent_and_rpmlib_requirements_are_dropped() {
        let r = &records(
            "warning: x\n@@pkg\nname=a\nepoch=(none)\nversion=1\nrelease=2\nurl=(none)\n\
             requires=rpmlib(FileDigests)\nrequires=/bin/sh\nrequires=/bin/sh\n",
        )[0];
        assert_eq!(r.get("url"), None);
        assert_eq!(r.evr().as_deref(), Some("1-2"));
        assert_eq!(r.requires, ["/bin/sh"]);
    }

    #[test]
    fn evr_leaves_out_epoch_zero_only() {
        assert_eq!(evr_string(Some("0"), "1.0", "1"), "1.0-1");
        assert_eq!(
            evr_string(Some("2"), "1.0~rc1", "3.fc39"),
            "2:1.0~rc1-3.fc39"
        );
        assert_eq!(evr_string(None, "1", "1"), "1-1");
    }

    #[test]
    fn the_recorded_formats_are_the_helpers() {
        // The test kit writes the formats it recorded with next to the outputs (testkit/tests/dnf_fixtures.rs).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dnf/formats.txt");
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, [INSTALLED_QF, UPGRADES_QF, CANDIDATE_QF]);
    }
}
