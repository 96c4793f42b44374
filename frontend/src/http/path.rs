//! Checks on the raw request path that run before routing.
//!
//! The router never sees a path under `/api/v1/system/services/` or `/api/v1/packages/` that is not exactly
//! one valid name segment. Paths are not normalised anywhere: `..`, `.`, an empty segment, an extra segment, a
//! percent-encoded byte of any kind (`%2F`, `%2e`, even `%41`) are answered with 400 here, so no spelling of
//! a path can reach another route or a name the grammar would refuse.

use super::error::{ApiError, sanitize};
use lpa_protocol::{PackageName, ServiceName};
use serde_json::json;

/// Everything below this prefix is a service name.
pub const SERVICES_PREFIX: &str = "/api/v1/system/services/";
/// Everything below this prefix is a package name.
pub const PACKAGES_PREFIX: &str = "/api/v1/packages/";

/// Refuses raw paths that would put an invalid name into a route. Other paths pass unchanged.
pub fn check(path: &str) -> Result<(), ApiError> {
    if let Some(rest) = path.strip_prefix(SERVICES_PREFIX) {
        service_name(rest)?;
    } else if let Some(rest) = path.strip_prefix(PACKAGES_PREFIX) {
        package_name(rest)?;
    }
    Ok(())
}

/// The service name of a path segment, or 400 `INVALID_SERVICE_NAME`.
pub fn service_name(segment: &str) -> Result<ServiceName, ApiError> {
    let refuse = |why: String| ApiError::InvalidServiceName {
        message: format!("invalid service name {}: {why}", sanitize(segment)),
    };
    segment_shape(segment).map_err(|why| refuse(why.to_owned()))?;
    ServiceName::new(segment).map_err(|e| refuse(e.to_string()))
}

/// The package name of a path segment in the union grammar of all backends, or 400 `VALIDATION_ERROR`.
/// The host's own grammar is applied later, once the helper has said which backend it drives.
pub fn package_name(segment: &str) -> Result<PackageName, ApiError> {
    let refuse = |why: String| ApiError::Validation {
        message: format!("invalid package name {}: {why}", sanitize(segment)),
        details: Some(json!({ "field": "name" })),
    };
    segment_shape(segment).map_err(|why| refuse(why.to_owned()))?;
    PackageName::new(segment).map_err(|e| refuse(e.to_string()))
}

fn segment_shape(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("the name is empty");
    }
    if segment.contains('/') {
        return Err("the path has more than one segment after the collection");
    }
    if segment.contains('%') {
        return Err("percent-encoding is not accepted in names");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nasty_service_paths_are_invalid_service_name() {
        let too_long = format!("{SERVICES_PREFIX}{}", "a".repeat(257));
        let nasty = [
            "/api/v1/system/services/../../etc/passwd",
            "/api/v1/system/services/..",
            "/api/v1/system/services/.",
            "/api/v1/system/services/",
            "/api/v1/system/services//",
            "/api/v1/system/services/ssh/",
            "/api/v1/system/services/ssh/extra",
            "/api/v1/system/services/..%2F..%2Fetc%2Fpasswd",
            "/api/v1/system/services/ssh%2Fx",
            "/api/v1/system/services/%2e%2e",
            "/api/v1/system/services/%73sh",
            "/api/v1/system/services/-ssh",
            "/api/v1/system/services/ssh;id",
            "/api/v1/system/services/a\\b",
            too_long.as_str(),
        ];
        for path in nasty {
            let err = check(path).unwrap_err();
            assert_eq!(err.code(), "INVALID_SERVICE_NAME", "{path}");
            assert!(!err.to_string().contains("passwd/"), "{err}");
        }
    }

    #[test]
    fn valid_service_names_pass() {
        for name in ["ssh", "getty@tty1.service", "nginx.service", "a+b_c-d", "x"] {
            check(&format!("{SERVICES_PREFIX}{name}")).unwrap();
            assert_eq!(service_name(name).unwrap().as_str(), name);
        }
        check(&format!("{SERVICES_PREFIX}{}", "a".repeat(256))).unwrap();
    }

    #[test]
    fn nasty_package_paths_are_validation_errors() {
        for path in [
            "/api/v1/packages/",
            "/api/v1/packages/..",
            "/api/v1/packages/../system/info",
            "/api/v1/packages/-oAPT::x",
            "/api/v1/packages/a%2Fb",
            "/api/v1/packages/nginx/extra",
            "/api/v1/packages/a:amd64",
            "/api/v1/packages/a*",
        ] {
            let err = check(path).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_ERROR", "{path}");
        }
        check("/api/v1/packages/libstdc++6").unwrap();
        check("/api/v1/packages/NetworkManager").unwrap();
    }

    #[test]
    fn other_paths_are_left_to_the_router() {
        for path in [
            "/api/v1/system/services",
            "/api/v1/packages",
            "/health",
            "/api/v1/../etc",
            "//api/v1/system/services/x",
        ] {
            check(path).unwrap();
        }
    }
}
