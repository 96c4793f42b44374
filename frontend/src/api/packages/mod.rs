//! `GET /packages` and `GET /packages/{name}`.
//!
//! - [`mod@list`]: parameters, merge of installed and upgradable, filter, sort, page.
//! - [`model`]: the package object.
//! - [`glob`]: the `name` filter. Version ordering is the backend's own (`lpa_protocol::order`).
//! - [`change`]: the install, update and remove jobs.

pub mod change;
pub mod glob;
pub mod list;
pub mod model;

use super::system::unexpected;
use crate::helper_client::{HelperClient, HelperClientError};
use crate::http::query::Query;
use crate::http::{ApiError, AppState};
use list::ListParams;
use lpa_protocol::{HelperError, Operation, Outcome, PackageName};
use serde_json::{Value, json};
use std::sync::Arc;

/// The merged list (installed ∪ upgradable) of the last request, with the helper's fingerprint of the package
/// state it was built from.
///
/// Listing asks the helper for the fingerprint first (one small round trip) and reuses this copy while it is
/// unchanged, instead of moving and decoding thousands of records per request. The fingerprint is taken
/// *before* the lists, so a change that lands in between makes the next request see a new fingerprint and
/// rebuild: a stale copy is never kept under a current fingerprint.
#[derive(Debug, Default)]
pub struct PackageCache {
    entry: tokio::sync::Mutex<Option<(u64, Arc<Vec<model::PackageObject>>)>>,
}

impl PackageCache {
    /// The merged list for the current package state.
    pub async fn current(
        &self,
        helper: &HelperClient,
    ) -> Result<Arc<Vec<model::PackageObject>>, ApiError> {
        let stamp = match helper.call(Operation::PackageStateStamp).await? {
            Outcome::PackageStateStamp(stamp) => stamp,
            other => return Err(unexpected("package state stamp", &other)),
        };
        let mut entry = self.entry.lock().await;
        if let Some((cached, list)) = entry.as_ref()
            && *cached == stamp
        {
            return Ok(list.clone());
        }
        // Both lists are needed: installed packages are marked upgradable, and upgradable packages get their
        // installed record. The two requests use separate connections and run together.
        let (installed, upgradable) = tokio::join!(
            helper.call(Operation::ListInstalled),
            helper.call(Operation::ListUpgradable),
        );
        let installed = match installed? {
            Outcome::Installed(list) => list,
            other => return Err(unexpected("installed list", &other)),
        };
        let list = match upgradable {
            Ok(Outcome::Upgradable(upgradable)) => Arc::new(list::merge(&installed, &upgradable)),
            // A database that needs repair still lists from the database: what is installed is known,
            // whether anything is upgradable is not (`null`), and `/health` says why.
            Err(HelperClientError::Helper(HelperError::NeedsRepair { message })) => {
                tracing::warn!("listing packages without updates: {message}");
                Arc::new(installed.iter().map(model::installed_unknown).collect())
            }
            Ok(other) => return Err(unexpected("upgradable list", &other)),
            Err(e) => return Err(e.into()),
        };
        *entry = Some((stamp, list.clone()));
        Ok(list)
    }
}

/// `data` of the package list.
#[derive(serde::Serialize)]
struct PackageListData<'a> {
    packages: &'a [&'a model::PackageObject],
    total: u64,
    limit: u64,
    offset: u64,
}

/// The package list.
pub async fn list(state: &AppState, query: &Query) -> Result<crate::api::Data, ApiError> {
    let params = ListParams::parse(query)?;
    let all = state.packages.current(&state.helper).await?;
    let backend = state.helper.backend().await?;
    let (page, total) = list::select(&all, &params, backend);
    crate::api::data(&PackageListData {
        packages: &page,
        total,
        limit: params.limit,
        offset: params.offset,
    })
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
        Outcome::PackageDetail(d) => match model::detail(&d, backend) {
            Some(object) => serde_json::to_value(object).map_err(|e| ApiError::Internal {
                message: format!("cannot serialise package: {e}"),
            }),
            None => Err(ApiError::PackageNotFound { name: requested }),
        },
        other => Err(unexpected("package detail", &other)),
    }
}
