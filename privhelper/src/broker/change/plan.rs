//! Which packages an `ApplyUpdates` upgrades: the upgradable ones (or the selection among them), minus the
//! exclusion patterns. A selected name without an update is skipped and reported, not an error.

use lpa_protocol::{Glob, PackageName};

/// Which upgradable packages an `ApplyUpdates` upgrades, and what it leaves out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpdatePlan {
    /// What to upgrade.
    pub names: Vec<PackageName>,
    /// Selected names without an update.
    pub not_upgradable: Vec<String>,
    /// Names matched by an exclusion pattern.
    pub excluded: Vec<String>,
}

/// The plan for `upgradable` packages (installed ones with a newer candidate), the optional selection and
/// the exclusion patterns.
pub fn plan_updates(
    upgradable: &[String],
    selection: Option<&[PackageName]>,
    exclude: &[Glob],
) -> UpdatePlan {
    let mut plan = UpdatePlan::default();
    let wanted: Vec<String> = match selection {
        None => upgradable.to_vec(),
        Some(names) => names
            .iter()
            .filter_map(|n| {
                if upgradable.iter().any(|u| u == n.as_str()) {
                    Some(n.as_str().to_owned())
                } else {
                    plan.not_upgradable.push(n.as_str().to_owned());
                    None
                }
            })
            .collect(),
    };
    for name in wanted {
        if exclude.iter().any(|g| g.matches(&name)) {
            plan.excluded.push(name);
        } else if let Ok(valid) = PackageName::new(name.clone()) {
            // Names come from apt's own output; one that fails the grammar is skipped, never passed on.
            plan.names.push(valid);
        }
    }
    plan
}

/// `message` plus what the plan skipped and excluded.
pub fn with_notes(message: String, plan: &UpdatePlan) -> String {
    let mut out = message;
    if !plan.not_upgradable.is_empty() {
        out.push_str(&format!(
            "; skipped (no update available): {}",
            plan.not_upgradable.join(", ")
        ));
    }
    if !plan.excluded.is_empty() {
        out.push_str(&format!("; excluded: {}", plan.excluded.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn pkg(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    #[test]
    fn all_upgradable_minus_exclusions() {
        let up = names(&["demo-app", "demo-lib", "demo-tool"]);
        let plan = plan_updates(&up, None, &[Glob::new("demo-l*").unwrap()]);
        assert_eq!(plan.names, [pkg("demo-app"), pkg("demo-tool")]);
        assert_eq!(plan.excluded, ["demo-lib"]);
        let plan = plan_updates(&up, None, &[Glob::new("*").unwrap()]);
        assert!(plan.names.is_empty());
        assert_eq!(
            with_notes("nothing to apply".into(), &plan),
            "nothing to apply; excluded: demo-app, demo-lib, demo-tool"
        );
    }

    #[test]
    fn a_selected_name_that_is_not_upgradable_is_skipped_and_reported() {
        let up = names(&["demo-app", "demo-lib"]);
        let plan = plan_updates(&up, Some(&[pkg("demo-lib"), pkg("hello")]), &[]);
        assert_eq!(plan.names, [pkg("demo-lib")]);
        assert_eq!(plan.not_upgradable, ["hello"]);
        assert!(
            with_notes("1 upgraded or downgraded".into(), &plan)
                .ends_with("skipped (no update available): hello")
        );
    }
}
