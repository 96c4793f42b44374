//! The route table: path → endpoint, and which methods each path accepts.
//!
//! A `matchit` tree finds the route; the method is checked afterwards so that a known path with the wrong
//! method is 405 with an `Allow` header rather than 404. Path parameters come out as validated names
//! ([`Endpoint`]), so handlers never see a raw string. The raw-path checks in [`super::path`] run first.

use super::error::ApiError;
use super::path;
use http::Method;
use lpa_protocol::{PackageName, ServiceName};
use uuid::Uuid;

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
    /// `POST /api/v1/packages`.
    PackageInstall,
    /// `PUT /api/v1/packages/{name}`.
    PackageUpdate(PackageName),
    /// `DELETE /api/v1/packages/{name}`.
    PackageRemove(PackageName),
    /// `GET /api/v1/patches`.
    PatchList,
    /// `POST /api/v1/patches/apply`.
    PatchApply,
    /// `GET /api/v1/jobs`.
    JobList,
    /// `GET /api/v1/jobs/{id}`.
    JobDetail(Uuid),
    /// `DELETE /api/v1/jobs/{id}`.
    JobCancel(Uuid),
    /// `POST /api/v1/system/reboot`.
    Reboot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteId {
    Health,
    SystemInfo,
    ServiceStatus,
    Packages,
    Package,
    Patches,
    PatchApply,
    Jobs,
    Job,
    Reboot,
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
    (
        "/api/v1/packages",
        RouteId::Packages,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/v1/packages/{name}",
        RouteId::Package,
        &[Method::GET, Method::PUT, Method::DELETE],
    ),
    ("/api/v1/patches", RouteId::Patches, &[Method::GET]),
    (
        "/api/v1/patches/apply",
        RouteId::PatchApply,
        &[Method::POST],
    ),
    ("/api/v1/jobs", RouteId::Jobs, &[Method::GET]),
    (
        "/api/v1/jobs/{id}",
        RouteId::Job,
        &[Method::GET, Method::DELETE],
    ),
    ("/api/v1/system/reboot", RouteId::Reboot, &[Method::POST]),
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
        let id = || job_id(matched.params.get("id").unwrap_or(""));
        Ok(match (route.id, method) {
            (RouteId::Health, _) => Endpoint::Health,
            (RouteId::SystemInfo, _) => Endpoint::SystemInfo,
            (RouteId::ServiceStatus, _) => Endpoint::ServiceStatus(path::service_name(name)?),
            (RouteId::Packages, &Method::POST) => Endpoint::PackageInstall,
            (RouteId::Packages, _) => Endpoint::PackageList,
            (RouteId::Package, &Method::PUT) => Endpoint::PackageUpdate(path::package_name(name)?),
            (RouteId::Package, &Method::DELETE) => {
                Endpoint::PackageRemove(path::package_name(name)?)
            }
            (RouteId::Package, _) => Endpoint::PackageDetail(path::package_name(name)?),
            (RouteId::Patches, _) => Endpoint::PatchList,
            (RouteId::PatchApply, _) => Endpoint::PatchApply,
            (RouteId::Jobs, _) => Endpoint::JobList,
            (RouteId::Job, &Method::DELETE) => Endpoint::JobCancel(id()?),
            (RouteId::Job, _) => Endpoint::JobDetail(id()?),
            (RouteId::Reboot, _) => Endpoint::Reboot,
        })
    }
}

/// A job id path segment: a UUID in its hyphenated form, or 400 `INVALID_JOB_ID`.
fn job_id(segment: &str) -> Result<Uuid, ApiError> {
    let invalid = || ApiError::InvalidJobId {
        id: segment.to_owned(),
    };
    // Only the canonical 36-character form: no braces, no URN prefix, no simple (unhyphenated) form.
    if segment.len() != 36 {
        return Err(invalid());
    }
    Uuid::parse_str(segment).map_err(|_| invalid())
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
    fn job_routes_take_a_canonical_uuid() {
        let r = Router::new();
        let id = Uuid::now_v7();
        let path = format!("/api/v1/jobs/{id}");
        assert_eq!(
            r.resolve(&Method::GET, &path).unwrap(),
            Endpoint::JobDetail(id)
        );
        assert_eq!(
            r.resolve(&Method::DELETE, &path).unwrap(),
            Endpoint::JobCancel(id)
        );
        let simple = id.simple().to_string();
        for bad in [
            "not-a-uuid",
            "1",
            simple.as_str(),
            "%7B00000000-0000-0000-0000-000000000000%7D",
        ] {
            let err = r
                .resolve(&Method::GET, &format!("/api/v1/jobs/{bad}"))
                .unwrap_err();
            assert_eq!(err.code(), "INVALID_JOB_ID", "{bad}");
        }
        assert_eq!(
            r.resolve(&Method::POST, "/api/v1/packages").unwrap(),
            Endpoint::PackageInstall
        );
        assert_eq!(
            r.resolve(&Method::DELETE, "/api/v1/packages/hello")
                .unwrap(),
            Endpoint::PackageRemove(PackageName::new("hello").unwrap())
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
            let err = r.resolve(&m, "/api/v1/system/info").unwrap_err();
            assert_eq!(err.code(), "METHOD_NOT_ALLOWED");
            assert_eq!(err.allow_header().as_deref(), Some("GET"));
        }
        let err = r
            .resolve(&Method::POST, "/api/v1/packages/nginx")
            .unwrap_err();
        assert_eq!(err.allow_header().as_deref(), Some("GET, PUT, DELETE"));
        let err = r
            .resolve(&Method::GET, "/api/v1/patches/apply")
            .unwrap_err();
        assert_eq!(err.allow_header().as_deref(), Some("POST"));
        let err = r.resolve(&Method::PUT, "/api/v1/jobs/x").unwrap_err();
        assert_eq!(err.allow_header().as_deref(), Some("GET, DELETE"));
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
        // The job WebSocket is answered before routing (`api::ws::PATH`), so it is documented but not in TABLE.
        let ws = paths
            .get(crate::api::ws::PATH)
            .unwrap_or_else(|| panic!("{} missing from openapi.yaml", crate::api::ws::PATH));
        assert!(
            ws.get("get").is_some(),
            "GET {} undocumented",
            crate::api::ws::PATH
        );
        assert_eq!(
            paths.len(),
            TABLE.len() + 1,
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
