use super::*;
use lpa_protocol::{Backend, ExecFailure};

fn all_variants() -> Vec<(ApiError, u16, &'static str, bool)> {
    vec![
        (
            ApiError::InvalidRequest {
                message: "m".into(),
                details: None,
            },
            400,
            "INVALID_REQUEST",
            false,
        ),
        (
            ApiError::Validation {
                message: "m".into(),
                details: None,
            },
            400,
            "VALIDATION_ERROR",
            false,
        ),
        (
            ApiError::InvalidServiceName {
                message: "m".into(),
            },
            400,
            "INVALID_SERVICE_NAME",
            false,
        ),
        (ApiError::NotFound, 404, "NOT_FOUND", false),
        (
            ApiError::InvalidJobId { id: "x".into() },
            400,
            "INVALID_JOB_ID",
            false,
        ),
        (
            ApiError::JobNotFound { id: "x".into() },
            404,
            "JOB_NOT_FOUND",
            false,
        ),
        (
            ApiError::QueueFull {
                message: "full".into(),
                depth: 1,
            },
            429,
            "QUEUE_FULL",
            true,
        ),
        (
            ApiError::JobNotCancellable {
                message: "late".into(),
            },
            409,
            "JOB_NOT_CANCELLABLE",
            false,
        ),
        (
            ApiError::RebootBlocked {
                message: "busy".into(),
                active_jobs: 1,
            },
            409,
            "REBOOT_BLOCKED",
            false,
        ),
        (
            ApiError::PackageNotFound { name: "p".into() },
            404,
            "PKG_NOT_FOUND",
            false,
        ),
        (
            ApiError::ServiceNotFound { name: "s".into() },
            404,
            "SERVICE_NOT_FOUND",
            false,
        ),
        (
            ApiError::MethodNotAllowed {
                method: "PUT".into(),
                allow: vec![Method::GET],
            },
            405,
            "METHOD_NOT_ALLOWED",
            false,
        ),
        (
            ApiError::PayloadTooLarge { limit: 10 },
            413,
            "PAYLOAD_TOO_LARGE",
            false,
        ),
        (
            ApiError::HeadersTooLarge {
                max_headers: 64,
                max_bytes: 16384,
            },
            431,
            "HEADERS_TOO_LARGE",
            false,
        ),
        (
            ApiError::UnsupportedMediaType,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            false,
        ),
        (
            ApiError::RequestTimeout { seconds: 30 },
            408,
            "REQUEST_TIMEOUT",
            true,
        ),
        (
            ApiError::HelperUnavailable {
                message: "m".into(),
            },
            503,
            "HELPER_UNAVAILABLE",
            true,
        ),
        (
            ApiError::ServiceUnhealthy {
                message: "m".into(),
            },
            503,
            "SERVICE_UNHEALTHY",
            false,
        ),
        (
            ApiError::PackageManager {
                message: "m".into(),
                details: None,
            },
            500,
            "PKG_MANAGER_ERROR",
            true,
        ),
        (
            ApiError::Internal {
                message: "m".into(),
            },
            500,
            "INTERNAL_ERROR",
            false,
        ),
    ]
}

#[test]
fn every_error_has_its_contract_status_code_and_retryability() {
    for (err, status, code, retryable) in all_variants() {
        assert_eq!(err.status().as_u16(), status, "{code}");
        assert_eq!(err.code(), code);
        assert_eq!(err.retryable(), retryable, "{code}");
        assert!(!err.to_string().is_empty(), "{code} has a message");
    }
}

#[test]
fn only_method_not_allowed_has_an_allow_header() {
    for (err, _, code, _) in all_variants() {
        assert_eq!(err.allow_header().is_some(), code == "METHOD_NOT_ALLOWED");
    }
}

#[test]
fn helper_errors_map_to_their_api_codes() {
    let cases: Vec<(HelperError, &str)> = vec![
        (
            HelperError::Validation {
                message: "bad".into(),
            },
            "VALIDATION_ERROR",
        ),
        (
            HelperError::PackageNotFound { name: "x".into() },
            "PKG_NOT_FOUND",
        ),
        (
            HelperError::ServiceNotFound { name: "x".into() },
            "SERVICE_NOT_FOUND",
        ),
        (
            HelperError::ServiceManagerUnavailable {
                reason: "no systemd".into(),
            },
            "SERVICE_UNHEALTHY",
        ),
        (
            HelperError::Database {
                message: "x".into(),
            },
            "PKG_MANAGER_ERROR",
        ),
        (
            HelperError::Exec(ExecFailure {
                program: "/usr/bin/apt-get".into(),
                exit_code: Some(100),
                stderr: "E: boom\u{1b}[31m".into(),
            }),
            "PKG_MANAGER_ERROR",
        ),
        (
            HelperError::Unsupported {
                operation: "x".into(),
                backend: Backend::Apk,
            },
            "INTERNAL_ERROR",
        ),
        (
            HelperError::Internal {
                message: "x".into(),
            },
            "INTERNAL_ERROR",
        ),
    ];
    for (helper, code) in cases {
        assert_eq!(ApiError::from(helper).code(), code);
    }
}

#[test]
fn exec_failure_details_name_program_exit_code_and_escaped_stderr() {
    let err = ApiError::from(HelperError::Exec(ExecFailure {
        program: "/usr/bin/apt-get".into(),
        exit_code: Some(100),
        stderr: "E: boom\u{1b}[31m".into(),
    }));
    let details = err.details().unwrap();
    assert_eq!(details["program"], "/usr/bin/apt-get");
    assert_eq!(details["exit_code"], 100);
    assert!(!details["stderr"].as_str().unwrap().contains('\u{1b}'));
    assert!(err.to_string().contains("exit code 100"));
}

#[test]
fn connection_failures_are_helper_unavailable_and_typed_failures_pass_through() {
    let down = HelperClientError::Closed;
    assert_eq!(ApiError::from(down).code(), "HELPER_UNAVAILABLE");
    let refused = HelperClientError::Refused {
        ours: 1,
        theirs: 2,
        reason: "r".into(),
    };
    let mapped = ApiError::from(refused);
    assert_eq!(mapped.code(), "HELPER_UNAVAILABLE");
    assert!(mapped.to_string().contains('2'));
    let typed = HelperClientError::Helper(HelperError::PackageNotFound { name: "x".into() });
    assert_eq!(ApiError::from(typed).code(), "PKG_NOT_FOUND");
}

#[test]
fn sanitize_escapes_markup_and_control_characters_and_cuts_long_input() {
    assert_eq!(sanitize("nginx"), "\"nginx\"");
    let s = sanitize("<script>\n\"x\"");
    assert!(!s.contains('<') && !s.contains('\n'), "{s}");
    assert!(s.contains("\\u{3c}"), "{s}");
    let long = sanitize(&"a".repeat(10_000));
    assert!(long.len() < 80, "{}", long.len());
    assert!(long.ends_with("…\""));
}

#[test]
fn bad_parameter_names_the_parameter_and_the_allowed_values() {
    let err = ApiError::bad_parameter("status", "unknown value", Some(&["installed", "all"]));
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("\"status\""));
    assert!(err.to_string().contains("installed, all"));
    assert_eq!(err.details().unwrap()["allowed"][1], "all");
}

#[test]
fn every_error_code_is_in_the_openapi_enum() {
    let text = include_str!("../../../../docs/api/openapi.yaml");
    let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    for (err, _, code, _) in all_variants() {
        assert!(codes.iter().any(|c| c == code), "{code} missing");
        assert_eq!(err.code(), code);
    }
}
