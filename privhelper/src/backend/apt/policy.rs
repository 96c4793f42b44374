//! `apt-cache policy -- NAME`: where the candidate version comes from.
//!
//! ```text
//! demo-lib:
//!   Installed: 1.0
//!   Candidate: 1.0.1
//!   Version table:
//!      1.0.1 500
//!         500 file:/srv/repo/v2/main ./ Packages
//!         500 file:/srv/repo/v2 bookworm-security/main amd64 Packages
//!  *** 1.0 500
//!         100 /var/lib/dpkg/status
//! ```
//! A source line of a `dists/` repository names its distribution (`bookworm-security/main`); a flat
//! repository prints its path (`./`), for which the repository URI is reported instead.

/// The parts of the policy the API reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `Installed:` (`None` for `(none)`).
    pub installed: Option<String>,
    /// `Candidate:` (`None` for `(none)`).
    pub candidate: Option<String>,
    /// Sources offering the candidate: distributions, or URIs of flat repositories. Never the dpkg status.
    pub candidate_sources: Vec<String>,
}

fn value(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v != "(none)").then(|| v.to_owned())
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Parses the policy of one package. Empty output (unknown package) gives an empty [`Policy`].
pub fn parse_policy(stdout: &str) -> Policy {
    let mut p = Policy::default();
    let mut in_table = false;
    let mut in_candidate = false;
    for line in stdout.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Installed:") {
            p.installed = value(v);
        } else if let Some(v) = t.strip_prefix("Candidate:") {
            p.candidate = value(v);
        } else if t.starts_with("Version table:") {
            in_table = true;
            in_candidate = false;
        } else if t.starts_with("***") || (in_table && indent(line) < 8 && !t.is_empty()) {
            // A version line: "     1.0.1 500" or " *** 1.0 500"; source lines are indented by 8.
            let version = t.trim_start_matches("***").split_whitespace().next();
            in_candidate = version.is_some() && version == p.candidate.as_deref();
        } else if in_candidate {
            let mut words = t.split_whitespace();
            let (_prio, uri, dist) = (words.next(), words.next(), words.next());
            let source = match (uri, dist) {
                (Some(uri), _) if uri.starts_with('/') => None, // the dpkg status file
                (Some(uri), Some(dist)) if dist.ends_with('/') => Some(uri.to_owned()),
                (Some(_), Some(dist)) => dist.split('/').next().map(str::to_owned),
                _ => None,
            };
            if let Some(s) = source
                && !p.candidate_sources.contains(&s)
            {
                p.candidate_sources.push(s);
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recorded_upgradable_package() {
        let p = parse_policy(include_str!(
            "../../../tests/data/apt-cache-policy-demo-lib.txt"
        ));
        assert_eq!(p.installed.as_deref(), Some("1.0"));
        assert_eq!(p.candidate.as_deref(), Some("1.0.1"));
        assert_eq!(
            p.candidate_sources,
            ["file:/tmp/aptrec/fix/v2/main", "bookworm-security"]
        );
    }

    #[test]
    fn recorded_not_installed_package_and_unknown() {
        let p = parse_policy(include_str!(
            "../../../tests/data/apt-cache-policy-not-installed.txt"
        ));
        assert_eq!(p.installed, None);
        assert_eq!(p.candidate.as_deref(), Some("2.0-1"));
        assert_eq!(p.candidate_sources.len(), 1);
        assert_eq!(parse_policy(""), Policy::default());
    }

    #[test]
    fn installed_only_version_has_no_repository_source() {
        let text = "x:\n  Installed: 1.0\n  Candidate: 1.0\n  Version table:\n *** 1.0 100\n        100 /var/lib/dpkg/status\n";
        let p = parse_policy(text);
        assert_eq!(p.candidate.as_deref(), Some("1.0"));
        assert!(p.candidate_sources.is_empty());
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            let _ = parse_policy(&s);
        }

        #[test]
        fn policy_like_text_never_panics(s in "( {0,9}(\\*\\*\\*)?[ 0-9a-z.:/()]{0,12}\n){0,10}") {
            let _ = parse_policy(&s);
        }
    }
}
