//! `POST /packages` (install), `PUT /packages/{name}` (update), `DELETE /packages/{name}` (remove): each
//! validates its input, queues a job and answers 202 with the job.

use crate::api::jobs::accepted;
use crate::api::{Reply, Request, json};
use crate::http::{ApiError, AppState};
use crate::jobs::intent::Intent;
use crate::jobs::record::Requester;
use lpa_protocol::{InstallOptions, PackageName, PackageSpec};
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
    let job = state.jobs.submit(
        Intent::Remove {
            name: name.clone(),
            purge,
        },
        Requester::client(request.conn),
    )?;
    accepted(&job, json!({ "package": name.as_str(), "purge": purge }))
}
