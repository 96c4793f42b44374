//! Requests of the job API as plain values: what to send (method, path, query, JSON body), built from typed
//! arguments. Kept apart from sending so that the command line's "arguments → request" mapping is testable
//! without a server, and so the JSON shapes of API.md live in one place.

use serde::Serialize;
use serde_json::{Value, json};

/// One API request, not yet sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Path below the base URL, starting with `/api/v1`.
    pub path: String,
    /// Query pairs (only the ones that were given).
    pub query: Vec<(&'static str, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Call {
    fn new(method: reqwest::Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn push(mut self, key: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((key, value.to_string()));
        }
        self
    }
}

/// `GET path` without parameters (health, system info, one service, one package).
pub fn get(path: impl Into<String>) -> Call {
    Call::new(reqwest::Method::GET, path)
}

/// `GET /api/v1/packages`.
pub fn packages(query: &crate::PackageQuery) -> Call {
    let mut call = get("/api/v1/packages");
    call.query = query.pairs();
    call
}

/// One package of an install: a name and optionally an exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageSpec {
    /// Package name (validated by the server).
    pub name: String,
    /// Exact version, or `None` for the candidate.
    pub version: Option<String>,
}

impl PackageSpec {
    /// Parses `NAME` or `NAME=VERSION` (Debian versions contain no `=`).
    pub fn parse(text: &str) -> Self {
        match text.split_once('=') {
            Some((name, version)) => PackageSpec {
                name: name.to_owned(),
                version: Some(version.to_owned()),
            },
            None => PackageSpec {
                name: text.to_owned(),
                version: None,
            },
        }
    }
}

/// `options` of an install; each defaults to false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InstallOptions {
    /// Reinstall even if installed (never disables signature checks).
    pub force: bool,
    /// Do not install recommended packages.
    pub no_recommends: bool,
    /// Allow an older version than the installed one.
    pub allow_downgrade: bool,
}

/// `POST /api/v1/packages`.
pub fn install(packages: &[PackageSpec], options: InstallOptions) -> Call {
    Call::new(reqwest::Method::POST, "/api/v1/packages")
        .with_body(json!({"packages": packages, "options": options}))
}

/// `PUT /api/v1/packages/{name}` with `{"version": version}` (`null` = newest).
pub fn update(name: &str, version: Option<&str>) -> Call {
    Call::new(reqwest::Method::PUT, format!("/api/v1/packages/{name}"))
        .with_body(json!({ "version": version }))
}

/// `DELETE /api/v1/packages/{name}?purge=…`.
pub fn remove(name: &str, purge: bool) -> Call {
    Call::new(reqwest::Method::DELETE, format!("/api/v1/packages/{name}"))
        .push("purge", Some(purge))
}

/// `GET /api/v1/patches`.
pub fn patches(severity: Option<&str>, limit: Option<u32>, offset: Option<u32>) -> Call {
    Call::new(reqwest::Method::GET, "/api/v1/patches")
        .push("severity", severity)
        .push("limit", limit)
        .push("offset", offset)
}

/// The two request shapes of `POST /api/v1/patches/apply` (API.md accepts both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyRequest {
    /// `{"patches": [id…], "options": {"reboot", "reboot_delay_minutes", "exclude_packages"}}`. For apt a
    /// patch id is the package name. An empty list means every available update.
    Patches {
        /// Patch ids; empty = all.
        patches: Vec<String>,
        /// Reboot when done.
        reboot: bool,
        /// Delay of that reboot.
        reboot_delay_minutes: u32,
        /// Globs of package names to leave out.
        exclude_packages: Vec<String>,
    },
    /// `{"packages": [name…] | null, "allow_reboot", "reboot_delay_seconds"}`.
    Packages {
        /// Package names; `None` = all.
        packages: Option<Vec<String>>,
        /// Reboot when done.
        allow_reboot: bool,
        /// Delay of that reboot.
        reboot_delay_seconds: u32,
    },
}

/// `POST /api/v1/patches/apply`.
pub fn apply(request: &ApplyRequest) -> Call {
    let body = match request {
        ApplyRequest::Patches {
            patches,
            reboot,
            reboot_delay_minutes,
            exclude_packages,
        } => json!({
            "patches": patches,
            "options": {
                "reboot": reboot,
                "reboot_delay_minutes": reboot_delay_minutes,
                "exclude_packages": exclude_packages,
            },
        }),
        ApplyRequest::Packages {
            packages,
            allow_reboot,
            reboot_delay_seconds,
        } => json!({
            "packages": packages,
            "allow_reboot": allow_reboot,
            "reboot_delay_seconds": reboot_delay_seconds,
        }),
    };
    Call::new(reqwest::Method::POST, "/api/v1/patches/apply").with_body(body)
}

/// Filters and paging of `GET /api/v1/jobs`; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// `pending` | `running` | `completed` | `failed` | `cancelled` | `timeout`.
    pub status: Option<String>,
    /// `install` | `update` | `remove` | `patch_apply` | `reboot` | …
    pub operation: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Page start.
    pub offset: Option<u32>,
}

/// `GET /api/v1/jobs`.
pub fn jobs(query: &JobQuery) -> Call {
    Call::new(reqwest::Method::GET, "/api/v1/jobs")
        .push("status", query.status.as_deref())
        .push("operation", query.operation.as_deref())
        .push("limit", query.limit)
        .push("offset", query.offset)
}

/// `GET /api/v1/jobs/{id}` (sent as given; the server validates the id).
pub fn job(id: &str) -> Call {
    Call::new(reqwest::Method::GET, format!("/api/v1/jobs/{id}"))
}

/// `DELETE /api/v1/jobs/{id}`: cancels a pending (or not yet changing) job, removes a finished one.
pub fn delete_job(id: &str) -> Call {
    Call::new(reqwest::Method::DELETE, format!("/api/v1/jobs/{id}"))
}

/// `POST /api/v1/system/reboot`. The reason is left out when not given.
pub fn reboot(delay_seconds: u32, force: bool, reason: Option<&str>) -> Call {
    let mut body = json!({"delay_seconds": delay_seconds, "force": force});
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    Call::new(reqwest::Method::POST, "/api/v1/system/reboot").with_body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs_split_at_the_first_equals_sign() {
        assert_eq!(
            PackageSpec::parse("hello"),
            PackageSpec {
                name: "hello".into(),
                version: None
            }
        );
        assert_eq!(
            PackageSpec::parse("hello=1.1-2"),
            PackageSpec {
                name: "hello".into(),
                version: Some("1.1-2".into())
            }
        );
    }

    #[test]
    fn install_body_lists_every_package_and_every_option() {
        let call = install(
            &[
                PackageSpec::parse("hello"),
                PackageSpec::parse("demo-lib=1.0"),
            ],
            InstallOptions {
                no_recommends: true,
                ..InstallOptions::default()
            },
        );
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/packages");
        assert_eq!(
            call.body.unwrap(),
            json!({
                "packages": [{"name": "hello", "version": null}, {"name": "demo-lib", "version": "1.0"}],
                "options": {"force": false, "no_recommends": true, "allow_downgrade": false},
            })
        );
    }

    #[test]
    fn both_apply_shapes_match_the_contract() {
        let first = apply(&ApplyRequest::Patches {
            patches: vec![],
            reboot: true,
            reboot_delay_minutes: 5,
            exclude_packages: vec!["linux-*".into()],
        });
        assert_eq!(
            first.body.unwrap(),
            json!({"patches": [], "options": {"reboot": true, "reboot_delay_minutes": 5, "exclude_packages": ["linux-*"]}})
        );
        let second = apply(&ApplyRequest::Packages {
            packages: None,
            allow_reboot: false,
            reboot_delay_seconds: 0,
        });
        assert_eq!(
            second.body.unwrap(),
            json!({"packages": null, "allow_reboot": false, "reboot_delay_seconds": 0})
        );
    }

    #[test]
    fn queries_carry_only_the_given_parameters() {
        let call = jobs(&JobQuery {
            status: Some("running".into()),
            limit: Some(10),
            ..JobQuery::default()
        });
        assert_eq!(
            call.query,
            vec![("status", "running".to_owned()), ("limit", "10".to_owned())]
        );
        assert_eq!(
            remove("hello", true).query,
            vec![("purge", "true".to_owned())]
        );
        assert!(patches(None, None, None).query.is_empty());
        assert_eq!(
            reboot(60, false, None).body.unwrap(),
            json!({"delay_seconds": 60, "force": false})
        );
    }
}
