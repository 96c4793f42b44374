//! `GET /patches` and `POST /patches/apply`.
//!
//! A patch is one upgradable package. Where the distribution publishes an advisory for it (dnf/yum
//! `updateinfo`), the patch carries the advisory: `id` is the advisory id, `severity` its severity (Red Hat's
//! Critical/Important/Moderate/Low as critical/high/medium/low), `cve_ids` its CVEs, `source` `updateinfo`,
//! and `packages` every upgradable package the advisory covers; `POST /patches/apply` accepts such an id and
//! applies all of them. apt, pacman and apk repositories carry no advisories, so there `id` is the package
//! name, `cve_ids` is empty and `severity` is `unknown` (never guessed from names or descriptions). On apt the
//! `security` flag comes from the candidate's origin: a `-security` suite or an origin labelled
//! `Debian-Security`; `source` then says `security-suite`, otherwise it names the suites offering the update.
//! `requires_reboot` is `false`: no backend has per-package reboot metadata before installation (Debian
//! records the need *after* installing, in `/run/reboot-required`, which `GET /system/info` reports).

use super::jobs::accepted;
use super::system::unexpected;
use super::{Data, Reply, Request, data, json};
use crate::http::query::Query;
use crate::http::{ApiError, AppState};
use crate::jobs::intent::Intent;
use crate::jobs::pending;
use crate::jobs::record::Requester;
use lpa_protocol::{Glob, Operation, Outcome, PackageRecord, Severity, UpgradablePackage};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// Parameters of `GET /patches`.
pub const PARAMETERS: &[&str] = &["severity", "limit", "offset"];
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "unknown"];
/// Most entries in a selection or an exclusion list.
pub const MAX_ENTRIES: usize = 100;

/// One patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patch {
    id: String,
    name: String,
    current_version: Option<String>,
    available_version: String,
    severity: &'static str,
    security: bool,
    source: Option<String>,
    cve_ids: Vec<String>,
    packages: Vec<String>,
    requires_reboot: bool,
    description: String,
}

/// The patch of one upgradable package; `installed` gives its description, `all` the other upgradable
/// packages (an advisory's patch lists every one it covers).
pub fn patch(
    u: &UpgradablePackage,
    installed: Option<&PackageRecord>,
    all: &[UpgradablePackage],
) -> Patch {
    let description = installed.map(|r| r.description.clone()).unwrap_or_default();
    if let Some(a) = &u.advisory {
        return Patch {
            id: a.id.clone(),
            name: u.name.clone(),
            current_version: u.current_version.clone(),
            available_version: u.available_version.clone(),
            severity: a.severity.map_or("unknown", Severity::as_str),
            security: u.security,
            source: Some("updateinfo".to_owned()),
            cve_ids: a.cve_ids.clone(),
            packages: covered_by(&a.id, all),
            requires_reboot: false,
            description: if a.title.is_empty() {
                description
            } else {
                a.title.clone()
            },
        };
    }
    let source = if u.security {
        Some("security-suite".to_owned())
    } else if u.sources.is_empty() {
        None
    } else {
        Some(u.sources.join(", "))
    };
    Patch {
        id: u.name.clone(),
        name: u.name.clone(),
        current_version: u.current_version.clone(),
        available_version: u.available_version.clone(),
        severity: "unknown",
        security: u.security,
        source,
        cve_ids: Vec::new(),
        packages: vec![u.name.clone()],
        requires_reboot: false,
        description,
    }
}

/// The upgradable packages whose advisory is `id`, by name.
fn covered_by(id: &str, all: &[UpgradablePackage]) -> Vec<String> {
    let mut names: Vec<String> = all
        .iter()
        .filter(|u| u.advisory.as_ref().is_some_and(|a| a.id == id))
        .map(|u| u.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[derive(Serialize)]
struct ListData<'a> {
    patches: &'a [Patch],
    total: usize,
    security_updates: usize,
    requires_reboot: bool,
    limit: u64,
    offset: u64,
}

/// `GET /patches`.
pub async fn list(state: &AppState, query: &Query) -> Result<Data, ApiError> {
    query.only(PARAMETERS)?;
    let severity = query
        .get("severity")
        .map(|_| query.choice("severity", SEVERITIES, ""))
        .transpose()?;
    let limit = query.integer("limit", 1, 1000, 100)?;
    let offset = query.integer("offset", 0, u64::MAX, 0)?;
    // The upgradable list goes through the pending view, which `POST /patches/apply` counts from.
    let (installed, upgradable) = tokio::join!(
        state.helper.call(Operation::ListInstalled),
        state.jobs.pending().fetch(&state.helper),
    );
    let installed = match installed? {
        Outcome::Installed(list) => list,
        other => return Err(unexpected("installed list", &other)),
    };
    let upgradable = upgradable?;
    let by_name: HashMap<&str, &PackageRecord> =
        installed.iter().map(|r| (r.name.as_str(), r)).collect();
    let all: Vec<Patch> = upgradable
        .iter()
        .map(|u| patch(u, by_name.get(u.name.as_str()).copied(), &upgradable))
        .filter(|p| severity.is_none_or(|s| p.severity == s))
        .collect();
    let page: Vec<Patch> = all
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    data(&ListData {
        patches: &page,
        total: all.len(),
        security_updates: all.iter().filter(|p| p.security).count(),
        requires_reboot: all.iter().any(|p| p.requires_reboot),
        limit,
        offset,
    })
}

/// Both request shapes of `POST /patches/apply`, in one strict struct.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    // Shape 1.
    #[serde(default)]
    patches: Option<Vec<String>>,
    #[serde(default)]
    options: Option<ApplyOptions>,
    // Shape 2.
    #[serde(default)]
    packages: Option<Vec<String>>,
    #[serde(default)]
    allow_reboot: Option<bool>,
    #[serde(default)]
    reboot_delay_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ApplyOptions {
    reboot: bool,
    reboot_delay_minutes: u32,
    exclude_packages: Vec<String>,
}

/// `POST /patches/apply`.
pub async fn apply(state: &AppState, request: &Request<'_>) -> Result<Reply, ApiError> {
    let body: ApplyBody = json::parse(request.body, Some(ApplyBody::default()))?;
    let shape_one = body.patches.is_some() || body.options.is_some();
    let shape_two = body.packages.is_some()
        || body.allow_reboot.is_some()
        || body.reboot_delay_seconds.is_some();
    if shape_one && shape_two {
        return Err(ApiError::InvalidRequest {
            message:
                "use either {patches, options} or {packages, allow_reboot, reboot_delay_seconds}, \
                      not a mix"
                    .into(),
            details: None,
        });
    }
    let options = body.options.unwrap_or_default();
    let (field, names) = match (body.patches, body.packages) {
        (Some(list), _) => ("patches", list),
        (_, Some(list)) => ("packages", list),
        _ => ("packages", Vec::new()),
    };
    json::bounded(field, &names, MAX_ENTRIES)?;
    json::bounded(
        "options.exclude_packages",
        &options.exclude_packages,
        MAX_ENTRIES,
    )?;
    // Advisory ids among the `patches` entries stand for every package their advisory covers.
    let advisories = if field == "patches" && !names.is_empty() {
        advisory_packages(state).await?
    } else {
        HashMap::new()
    };
    let mut selection = Vec::with_capacity(names.len());
    for entry in &names {
        let expanded: Vec<&str> = match advisories.get(entry.as_str()) {
            Some(packages) => packages.iter().map(String::as_str).collect(),
            None => vec![entry.as_str()],
        };
        for name in expanded {
            let name = json::package_name(state, field, name).await?;
            if !selection.contains(&name) {
                selection.push(name);
            }
        }
    }
    let exclude: Vec<Glob> = options
        .exclude_packages
        .iter()
        .map(|g| json::glob("options.exclude_packages", g))
        .collect::<Result<_, _>>()?;
    let reboot = options.reboot || body.allow_reboot.unwrap_or(false);
    let delay = if shape_one {
        options
            .reboot_delay_minutes
            .checked_mul(60)
            .ok_or_else(|| json::invalid("options.reboot_delay_minutes", "too large"))?
    } else {
        body.reboot_delay_seconds.unwrap_or(0)
    };
    if delay > super::reboot::MAX_DELAY_SECONDS {
        return Err(json::invalid("reboot delay", "at most one day"));
    }
    let intent = Intent::PatchApply {
        selection: (!selection.is_empty()).then_some(selection),
        exclude,
        reboot_after_seconds: reboot.then_some(delay),
    };
    // The package-state fingerprint before the job can change anything: the count describes that state.
    let stamp = pending::stamp(&state.helper).await.ok();
    let job = state
        .jobs
        .submit(intent.clone(), Requester::client(request.conn))?;
    // Let the woken job worker start the job (it waits in this thread's run queue) before this task
    // finishes the answer: the job's start then does not wait for the count and the response.
    tokio::task::yield_now().await;
    let count = patches_count(state, &intent, stamp).await;
    accepted(
        &job,
        json!({
            "patches_count": count,
            "requires_reboot": false,
            "auto_reboot": reboot,
            "reboot_delay_seconds": reboot.then_some(delay),
        }),
    )
}

/// Advisory id → the upgradable packages it covers, from the helper's upgradable list (cached there by
/// the package-state stamp, and recorded in the pending view). Empty on backends without advisories.
async fn advisory_packages(state: &AppState) -> Result<HashMap<String, Vec<String>>, ApiError> {
    // Through the pending view: the count of the 202 answer then finds this list.
    let list = state.jobs.pending().fetch(&state.helper).await?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for u in list.iter() {
        if let Some(a) = &u.advisory {
            map.entry(a.id.clone()).or_default().push(u.name.clone());
        }
    }
    Ok(map)
}

/// How many pending updates the apply covers, in the package state before its job (so before the refresh
/// the job does). Taken from the pending view when it was read under `stamp`; otherwise `None`: asking the
/// helper now could cost a simulation that competes with the job (see `jobs::pending`).
async fn patches_count(state: &AppState, intent: &Intent, stamp: Option<u64>) -> Option<usize> {
    if intent.excludes_everything() {
        return Some(0);
    }
    let Intent::PatchApply {
        selection, exclude, ..
    } = intent
    else {
        return None;
    };
    let list = state.jobs.pending().at(stamp?).await?;
    Some(
        list.iter()
            .filter(|u| {
                selection
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n.as_str() == u.name))
            })
            .filter(|u| !exclude.iter().any(|g| g.matches(&u.name)))
            .count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::Advisory;

    fn up(name: &str, advisory: Option<Advisory>) -> UpgradablePackage {
        UpgradablePackage {
            name: name.into(),
            current_version: Some("1.0-1".into()),
            available_version: "1.0.1-1".into(),
            architecture: Some("noarch".into()),
            sources: vec!["demo".into()],
            security: advisory.as_ref().is_some_and(|a| a.kind == "security"),
            advisory,
        }
    }

    fn advisory(id: &str, severity: Option<Severity>) -> Advisory {
        Advisory {
            id: id.into(),
            kind: "security".into(),
            severity,
            cve_ids: vec!["CVE-2026-0001".into()],
            title: "demo-lib: fix a buffer overflow".into(),
        }
    }

    #[test]
    fn an_advisory_gives_the_patch_its_id_severity_cves_and_every_package_it_covers() {
        let all = [
            up(
                "demo-lib",
                Some(advisory("DEMO-2026-0001", Some(Severity::High))),
            ),
            up(
                "demo-lib-devel",
                Some(advisory("DEMO-2026-0001", Some(Severity::High))),
            ),
            up("hello", None),
        ];
        let p = patch(&all[0], None, &all);
        assert_eq!(p.id, "DEMO-2026-0001");
        assert_eq!(p.name, "demo-lib");
        assert_eq!(p.severity, "high");
        assert!(p.security);
        assert_eq!(p.source.as_deref(), Some("updateinfo"));
        assert_eq!(p.cve_ids, ["CVE-2026-0001"]);
        assert_eq!(p.packages, ["demo-lib", "demo-lib-devel"]);
        assert_eq!(p.description, "demo-lib: fix a buffer overflow");
    }

    #[test]
    fn without_an_advisory_or_its_severity_nothing_is_guessed() {
        let all = [
            up("hello", None),
            up("demo-tool", Some(advisory("DEMO-2026-0003", None))),
        ];
        let p = patch(&all[0], None, &all);
        assert_eq!((p.id.as_str(), p.severity), ("hello", "unknown"));
        assert!(p.cve_ids.is_empty() && !p.security);
        assert_eq!(patch(&all[1], None, &all).severity, "unknown");
    }
}
