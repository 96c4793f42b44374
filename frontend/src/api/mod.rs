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

use crate::http::query::Query;
use crate::http::router::Endpoint;
use crate::http::{ApiError, AppState};
use serde_json::Value;

/// Runs the handler of `endpoint`.
pub async fn dispatch(
    state: &AppState,
    endpoint: Endpoint,
    query: &Query,
) -> Result<Value, ApiError> {
    match endpoint {
        Endpoint::Health => {
            query.only(&[])?;
            Ok(health::health(state).await)
        }
        Endpoint::SystemInfo => {
            query.only(&[])?;
            system::info(state).await
        }
        Endpoint::ServiceStatus(name) => {
            query.only(&[])?;
            system::service(state, name).await
        }
        Endpoint::PackageList => packages::list(state, query).await,
        Endpoint::PackageDetail(name) => {
            query.only(&[])?;
            packages::detail(state, name).await
        }
    }
}
