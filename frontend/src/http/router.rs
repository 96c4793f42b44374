//! The route table: path → endpoint, and which methods each path accepts.
//!
//! A `matchit` tree finds the route; the method is checked afterwards so that a known path with the wrong
//! method is 405 with an `Allow` header rather than 404. Path parameters come out as validated names
//! ([`Endpoint`]), so handlers never see a raw string. The raw-path checks in [`super::path`] run first.

use super::error::ApiError;
use super::path;
use http::Method;
use lpa_protocol::{PackageName, ServiceName};

/// A resolved request target with its validated parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /health`, `GET /api/v1/health`.
    Health,
    /// `GET /api/v1/system/info`.
    SystemInfo,
    /// `GET /api/v1/system/services/{name}`.
    ServiceStatus(ServiceName),
    /// `GET /api/v1/packages`.
    PackageList,
    /// `GET /api/v1/packages/{name}`.
    PackageDetail(PackageName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteId {
    Health,
    SystemInfo,
    ServiceStatus,
    PackageList,
    PackageDetail,
}

#[derive(Debug, Clone)]
struct Route {
    id: RouteId,
    methods: &'static [Method],
}

/// The whole table. Later issues add routes here (and methods to existing paths).
const TABLE: &[(&str, RouteId, &[Method])] = &[
    ("/health", RouteId::Health, &[Method::GET]),
    ("/api/v1/health", RouteId::Health, &[Method::GET]),
    ("/api/v1/system/info", RouteId::SystemInfo, &[Method::GET]),
    (
        "/api/v1/system/services/{name}",
        RouteId::ServiceStatus,
        &[Method::GET],
    ),
    ("/api/v1/packages", RouteId::PackageList, &[Method::GET]),
    (
        "/api/v1/packages/{name}",
        RouteId::PackageDetail,
        &[Method::GET],
    ),
];

/// Path → endpoint resolution.
#[derive(Debug)]
pub struct Router {
    tree: matchit::Router<Route>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// Builds the table.
    pub fn new() -> Self {
        let mut tree = matchit::Router::new();
        for (pattern, id, methods) in TABLE {
            // The table is a constant checked by the tests; a conflict is a programming error.
            tree.insert(*pattern, Route { id: *id, methods })
                .expect("route table has no conflicts");
        }
        Router { tree }
    }

    /// Resolves `method` and the raw `path`: 404 `NOT_FOUND` for unknown paths, 405 for a known path with
    /// another method, 400 for invalid names in the path.
    pub fn resolve(&self, method: &Method, raw_path: &str) -> Result<Endpoint, ApiError> {
        path::check(raw_path)?;
        let matched = self.tree.at(raw_path).map_err(|_| ApiError::NotFound)?;
        let route = matched.value;
        if !route.methods.contains(method) {
            return Err(ApiError::MethodNotAllowed {
                method: method.as_str().to_owned(),
                allow: route.methods.to_vec(),
            });
        }
        let name = matched.params.get("name").unwrap_or("");
        Ok(match route.id {
            RouteId::Health => Endpoint::Health,
            RouteId::SystemInfo => Endpoint::SystemInfo,
            RouteId::ServiceStatus => Endpoint::ServiceStatus(path::service_name(name)?),
            RouteId::PackageList => Endpoint::PackageList,
            RouteId::PackageDetail => Endpoint::PackageDetail(path::package_name(name)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_resolve_to_their_endpoints() {
        let r = Router::new();
        assert_eq!(
            r.resolve(&Method::GET, "/health").unwrap(),
            Endpoint::Health
        );
        assert_eq!(
            r.resolve(&Method::GET, "/api/v1/health").unwrap(),
            Endpoint::Health
        );
        assert_eq!(
            r.resolve(&Method::GET, "/api/v1/system/info").unwrap(),
            Endpoint::SystemInfo
        );
        assert_eq!(
            r.resolve(&Method::GET, "/api/v1/system/services/getty@tty1.service")
                .unwrap(),
            Endpoint::ServiceStatus(ServiceName::new("getty@tty1.service").unwrap())
        );
        assert_eq!(
            r.resolve(&Method::GET, "/api/v1/packages").unwrap(),
            Endpoint::PackageList
        );
        assert_eq!(
            r.resolve(&Method::GET, "/api/v1/packages/libstdc++6")
                .unwrap(),
            Endpoint::PackageDetail(PackageName::new("libstdc++6").unwrap())
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        let r = Router::new();
        for p in [
            "/",
            "/api/v1",
            "/api/v1/",
            "/health/",
            "/api/v1/packages/",
            "/api/v2/health",
            "/API/v1/health",
            "/api/v1/system/services",
            "/api/v1/../health",
            "//health",
        ] {
            let err = r.resolve(&Method::GET, p);
            // `/api/v1/packages/` is an empty name, refused before routing.
            let code = err.map(|_| "OK").unwrap_or_else(|e| e.code());
            assert!(
                code == "NOT_FOUND" || (p == "/api/v1/packages/" && code == "VALIDATION_ERROR"),
                "{p}: {code}"
            );
        }
    }

    #[test]
    fn wrong_method_on_a_known_path_is_405_listing_allowed_methods() {
        let r = Router::new();
        for m in [
            Method::POST,
            Method::DELETE,
            Method::PUT,
            Method::HEAD,
            Method::OPTIONS,
        ] {
            let err = r.resolve(&m, "/api/v1/packages/nginx").unwrap_err();
            assert_eq!(err.code(), "METHOD_NOT_ALLOWED");
            assert_eq!(err.allow_header().as_deref(), Some("GET"));
        }
        let err = r.resolve(&Method::POST, "/health").unwrap_err();
        assert_eq!(err.status().as_u16(), 405);
    }

    #[test]
    fn every_route_and_method_is_documented_in_openapi() {
        let text = include_str!("../../../docs/api/openapi.yaml");
        let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (pattern, _, methods) in TABLE {
            let entry = paths
                .get(*pattern)
                .unwrap_or_else(|| panic!("{pattern} missing from openapi.yaml"));
            for m in *methods {
                let key = m.as_str().to_ascii_lowercase();
                assert!(entry.get(&key).is_some(), "{m} {pattern} undocumented");
            }
        }
        assert_eq!(
            paths.len(),
            TABLE.len(),
            "openapi.yaml documents a route that does not exist"
        );
    }

    #[test]
    fn invalid_names_are_refused_before_method_or_route() {
        let r = Router::new();
        let err = r
            .resolve(&Method::DELETE, "/api/v1/system/services/../../etc/passwd")
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_SERVICE_NAME");
    }
}
