//! `POST /packages` (install), `PUT /packages/{name}` (update), `DELETE /packages/{name}` (remove): each
//! validates its input, refuses a name the package database does not know (404 `PKG_NOT_FOUND`, nothing
//! queued), queues a job and answers 202 with the job.

use crate::api::jobs::accepted;
use crate::api::{Reply, Request, json};
use crate::helper_client::HelperClientError;
use crate::http::{ApiError, AppState};
use crate::jobs::intent::Intent;
use crate::jobs::record::Requester;
use lpa_protocol::{HelperError, InstallOptions, Operation, PackageName, PackageSpec};
use serde::Deserialize;
use serde_json::json;

/// Most packages in one install (the request to the helper must fit its 64 KiB frame).
pub const MAX_PACKAGES: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    packages: Vec<PackageItem>,
    #[serde(default)]
    options: OptionsBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageItem {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

/// Every option defaults to false individually; none disables signature checks (there is no such field).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OptionsBody {
    force: bool,
    no_recommends: bool,
    allow_downgrade: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    version: Option<String>,
}

/// How long a change request waits for the request-time lookup. dnf's lookup waits for dnf's lock while
/// another dnf holds it; the request must not wait with it (the job waits, and says so in its log), so past
/// this the request is queued and the job decides.
const LOOKUP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses `name` with 404 `PKG_NOT_FOUND` when the broker's exact lookup (the one `GET /packages/{name}`
/// answers from: the installed database and the repository metadata, never a widened match) finds no
/// package of that name, so a job is never queued for it.
///
/// Only that answer refuses: when the broker cannot tell (helper down, database needing repair, a package
/// manager error, no answer within [`LOOKUP_WAIT`]), the request is queued as before and the job decides, with the state it runs against.
/// The job-time check stays in any case, since the state can change between this lookup and the run.
async fn known(state: &AppState, name: &PackageName) -> Result<(), ApiError> {
    let lookup = state
        .helper
        .call(Operation::PackageDetail { name: name.clone() });
    let Ok(answer) = tokio::time::timeout(LOOKUP_WAIT, lookup).await else {
        tracing::debug!(
            "request-time lookup of {} not answered within {LOOKUP_WAIT:?}; the job checks",
            name.as_str()
        );
        return Ok(());
    };
    match answer {
        Err(HelperClientError::Helper(HelperError::PackageNotFound { name })) => {
            Err(ApiError::PackageNotFound { name })
        }
        Err(e) => {
            tracing::debug!(
                "request-time lookup of {} not conclusive: {e}",
                name.as_str()
            );
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// `POST /packages`.
pub async fn install(state: &AppState, request: &Request<'_>) -> Result<Reply, ApiError> {
    let body: InstallBody = json::parse(request.body, None)?;
    if body.packages.is_empty() {
        return Err(json::invalid(
            "packages",
            "at least one package is required",
        ));
    }
    json::bounded("packages", &body.packages, MAX_PACKAGES)?;
    let mut packages: Vec<PackageSpec> = Vec::with_capacity(body.packages.len());
    for item in &body.packages {
        let name = json::package_name(state, "packages[].name", &item.name).await?;
        if packages.iter().any(|p| p.name == name) {
            return Err(json::invalid(
                "packages",
                "a package is named more than once",
            ));
        }
        let version = item
            .version
            .as_deref()
            .map(|v| json::version("packages[].version", v))
            .transpose()?;
        packages.push(PackageSpec { name, version });
    }
    // Validation of the whole body first (a 400 wins over a 404), then one lookup per name.
    for spec in &packages {
        known(state, &spec.name).await?;
    }
    let options = InstallOptions {
        no_recommends: body.options.no_recommends,
        allow_downgrade: body.options.allow_downgrade,
        reinstall: body.options.force,
    };
    let job = state.jobs.submit(
        Intent::Install { packages, options },
        Requester::client(request.conn),
    )?;
    accepted(&job, json!({}))
}

/// `PUT /packages/{name}` with an optional body `{"version": "…" | null}`.
pub async fn update(
    state: &AppState,
    request: &Request<'_>,
    name: PackageName,
) -> Result<Reply, ApiError> {
    let body: UpdateBody = json::parse(request.body, Some(UpdateBody::default()))?;
    let name = json::package_name(state, "name", name.as_str()).await?;
    let version = body
        .version
        .as_deref()
        .map(|v| json::version("version", v))
        .transpose()?;
    let target = version.as_ref().map(ToString::to_string);
    known(state, &name).await?;
    let job = state.jobs.submit(
        Intent::Update {
            name: name.clone(),
            version,
        },
        Requester::client(request.conn),
    )?;
    accepted(
        &job,
        json!({ "package": name.as_str(), "target_version": target }),
    )
}

/// `DELETE /packages/{name}?purge=false`.
pub async fn remove(
    state: &AppState,
    request: &Request<'_>,
    name: PackageName,
) -> Result<Reply, ApiError> {
    request.query.only(&["purge"])?;
    let purge = request.query.choice("purge", &["true", "false"], "false")? == "true";
    if !request.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest {
            message: "DELETE /packages/{name} takes no body; use ?purge=true".into(),
            details: None,
        });
    }
    let name = json::package_name(state, "name", name.as_str()).await?;
    known(state, &name).await?;
    let job = state.jobs.submit(
        Intent::Remove {
            name: name.clone(),
            purge,
        },
        Requester::client(request.conn),
    )?;
    accepted(&job, json!({ "package": name.as_str(), "purge": purge }))
}
