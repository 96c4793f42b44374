//! `GET /packages` and `GET /packages/{name}`.
//!
//! - [`mod@list`]: parameters, merge of installed and upgradable, filter, sort, page.
//! - [`model`]: the package object.
//! - [`glob`]: the `name` filter. [`version`]: version ordering.

pub mod glob;
pub mod list;
pub mod model;
pub mod version;

use super::system::unexpected;
use crate::http::query::Query;
use crate::http::{ApiError, AppState};
use list::ListParams;
use lpa_protocol::{Operation, Outcome, PackageName};
use serde_json::{Value, json};

/// The package list.
pub async fn list(state: &AppState, query: &Query) -> Result<Value, ApiError> {
    let params = ListParams::parse(query)?;
    // Both lists are needed for every status: installed packages are marked upgradable, and upgradable
    // packages get their installed record. The two requests use separate connections and run together.
    let (installed, upgradable) = tokio::join!(
        state.helper.call(Operation::ListInstalled),
        state.helper.call(Operation::ListUpgradable),
    );
    let installed = match installed? {
        Outcome::Installed(list) => list,
        other => return Err(unexpected("installed list", &other)),
    };
    let upgradable = match upgradable? {
        Outcome::Upgradable(list) => list,
        other => return Err(unexpected("upgradable list", &other)),
    };
    let merged = list::merge(&installed, &upgradable, params.status);
    let (page, total) = list::select(merged, &params);
    Ok(json!({
        "packages": page,
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
    }))
}

/// One package. `name` already passed the union grammar; the host's own grammar is checked here, with the
/// backend the helper announced.
pub async fn detail(state: &AppState, name: PackageName) -> Result<Value, ApiError> {
    let backend = state.helper.backend().await?;
    backend
        .check_name(&name)
        .map_err(|e| ApiError::Validation {
            message: format!(
                "invalid package name {}: {e}",
                crate::http::error::sanitize(name.as_str())
            ),
            details: Some(json!({ "field": "name", "backend": backend.as_str() })),
        })?;
    let requested = name.as_str().to_owned();
    match state.helper.call(Operation::PackageDetail { name }).await? {
        Outcome::PackageDetail(d) => match model::detail(&d) {
            Some(object) => serde_json::to_value(object).map_err(|e| ApiError::Internal {
                message: format!("cannot serialise package: {e}"),
            }),
            None => Err(ApiError::PackageNotFound { name: requested }),
        },
        other => Err(unexpected("package detail", &other)),
    }
}
