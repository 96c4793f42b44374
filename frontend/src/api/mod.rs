//! The resources of the REST API, one module each. Handlers get validated input (an
//! [`Endpoint`] and a decoded [`Query`]) and return the `data` of the envelope or an [`ApiError`].
//!
//! - [`health`]: `GET /health` with the self-measured [`confinement`] of the frontend.
//! - [`system`]: host facts and service status, from the helper.
//! - [`packages`]: the package list (installed ∪ upgradable) and one package's detail, from the helper.

pub mod confinement;
pub mod health;
pub mod packages;
pub mod system;
pub mod ws;

use crate::http::query::Query;
use crate::http::router::Endpoint;
use crate::http::{ApiError, AppState};
use serde::Serialize;
use serde_json::value::RawValue;

/// The `data` of an envelope, serialized once from its typed form.
pub type Data = Box<RawValue>;

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
    query: &Query,
) -> Result<Data, ApiError> {
    match endpoint {
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
    }
}
