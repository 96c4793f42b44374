//! The resources of the REST API, one module each. Handlers get validated input (an
//! [`Endpoint`] and a decoded [`Query`]) and return the `data` of the envelope or an [`ApiError`].
//!
//! - [`health`]: `GET /health` with the self-measured [`confinement`] of the frontend.
//! - [`health_state`]: the helper's liveness, confinement and host facts kept current in the background, so
//!   `/health` and `/system/info` never wait on the broker.
//! - [`system`]: host facts (kept by [`health_state`]) and service status, from the helper.
//! - [`packages`]: the package list (installed ∪ upgradable), one package's detail, and the install, update
//!   and remove jobs.
//! - [`patches`]: pending updates and the patch-apply job.
//! - [`jobs`]: the job history, one job, cancel/delete.
//! - [`reboot`]: the reboot job and its admission rule.
//! - [`json`]: strict parsing of request bodies.

pub mod confinement;
pub mod health;
pub mod health_state;
pub mod jobs;
pub mod json;
pub mod packages;
pub mod patches;
pub mod reboot;
pub mod system;
pub mod ws;

use crate::conn::ConnInfo;
use crate::http::query::Query;
use crate::http::router::Endpoint;
use crate::http::{ApiError, AppState};
use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;

/// The `data` of an envelope, serialized once from its typed form.
pub type Data = Box<RawValue>;

/// What a handler sees of the request: the parsed query, the body (already size-limited) and the
/// connection (for the client identity recorded in jobs).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The query string, parsed strictly.
    pub query: &'a Query,
    /// The raw body.
    pub body: &'a [u8],
    /// The connection.
    pub conn: &'a ConnInfo,
}

/// A successful answer: its status (200, or 202 for an accepted job) and its `data`.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `data` of the envelope.
    pub data: Data,
}

impl From<Data> for Reply {
    fn from(data: Data) -> Self {
        Reply {
            status: StatusCode::OK,
            data,
        }
    }
}

/// Serializes a handler's result into [`Data`].
pub fn data<T: Serialize + ?Sized>(value: &T) -> Result<Data, ApiError> {
    serde_json::value::to_raw_value(value).map_err(|e| ApiError::Internal {
        message: format!("serializing the response: {e}"),
    })
}

/// Runs the handler of `endpoint`.
pub async fn dispatch(
    state: &AppState,
    endpoint: Endpoint,
    request: &Request<'_>,
) -> Result<Reply, ApiError> {
    let query = request.query;
    let reply = match endpoint {
        Endpoint::Health => {
            query.only(&[])?;
            data(&health::health(state).await)
        }
        Endpoint::SystemInfo => {
            query.only(&[])?;
            data(&system::info(state).await?)
        }
        Endpoint::ServiceStatus(name) => {
            query.only(&[])?;
            data(&system::service(state, name).await?)
        }
        Endpoint::PackageList => packages::list(state, query).await,
        Endpoint::PackageDetail(name) => {
            query.only(&[])?;
            data(&packages::detail(state, name).await?)
        }
        Endpoint::PackageInstall => {
            query.only(&[])?;
            return packages::change::install(state, request).await;
        }
        Endpoint::PackageUpdate(name) => {
            query.only(&[])?;
            return packages::change::update(state, request, name).await;
        }
        Endpoint::PackageRemove(name) => {
            return packages::change::remove(state, request, name).await;
        }
        Endpoint::PatchList => patches::list(state, query).await,
        Endpoint::PatchApply => {
            query.only(&[])?;
            return patches::apply(state, request).await;
        }
        Endpoint::JobList => jobs::list(state, query),
        Endpoint::JobDetail(id) => {
            query.only(&[])?;
            jobs::detail(state, id)
        }
        Endpoint::JobCancel(id) => {
            query.only(&[])?;
            jobs::cancel(state, id).await
        }
        Endpoint::Reboot => {
            query.only(&[])?;
            return reboot::reboot(state, request);
        }
    };
    reply.map(Reply::from)
}
