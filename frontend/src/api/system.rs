//! `GET /system/info` and `GET /system/services/{name}`.

use crate::http::{ApiError, AppState};
use lpa_protocol::{
    HostInfo, Operation, Outcome, RebootRequired, ServiceName, ServiceState, ServiceStatus,
};
use serde_json::{Value, json};

/// The API version reported in `/system/info`.
pub const API_VERSION: &str = "v1";

/// Host facts as kept by [`crate::api::health_state`] (re-read after every job and periodically); an
/// unavailable helper is a 503 `HELPER_UNAVAILABLE` as before, answered without waiting on it. The helper is
/// asked only when no facts are kept yet or a job ended after they were asked for (it may have changed
/// `reboot_required`), so a client checking right after its job sees the new state.
pub async fn info(state: &AppState) -> Result<Value, ApiError> {
    state.health.start(state.helper.clone(), state.jobs.clone());
    let kept = state.health.snapshot().await;
    let last_job_end = state.jobs.with_jobs(|jobs| {
        jobs.filter(|j| j.status.is_terminal())
            .map(|j| j.updated_at)
            .max()
    });
    match (&kept.helper, &kept.host) {
        (Some(Ok(_)), Some(facts)) if last_job_end.is_none_or(|end| end < facts.asked_at) => {
            return Ok(info_json(&facts.now()));
        }
        (Some(Err(reason)), _) => {
            return Err(ApiError::HelperUnavailable {
                message: reason.clone(),
            });
        }
        _ => {}
    }
    let asked_at = time::OffsetDateTime::now_utc();
    // Bounded like the background reads: a helper that is stuck but not yet detected cannot hang the answer.
    let answer = state
        .helper
        .call_within(Operation::SystemInfo, crate::api::health_state::READ_LIMIT)
        .await?;
    match answer.outcome {
        Outcome::SystemInfo(host) => {
            state.health.store_host(host.clone(), asked_at);
            Ok(info_json(&host))
        }
        other => Err(unexpected("system info", &other)),
    }
}

/// One service's state from the helper.
pub async fn service(state: &AppState, name: ServiceName) -> Result<Value, ApiError> {
    match state.helper.call(Operation::ServiceStatus { name }).await? {
        Outcome::ServiceStatus(status) => Ok(service_json(&status)),
        other => Err(unexpected("service status", &other)),
    }
}

/// The `data` of `/system/info`. `reboot_required` is `true`, `false`, or `null` when the host has no way to
/// tell; `reboot_required_reason` says why (or why it cannot be told).
pub fn info_json(host: &HostInfo) -> Value {
    let (required, reason) = match &host.reboot_required {
        RebootRequired::Yes { reason } => (Some(true), Some(reason.as_str())),
        RebootRequired::No => (Some(false), None),
        RebootRequired::Unknown { reason } => (None, Some(reason.as_str())),
    };
    json!({
        "hostname": host.hostname,
        "os": {
            "id": host.os.id,
            "name": host.os.name,
            "version": host.os.version,
            "codename": host.os.codename,
            "id_like": host.os.id_like,
        },
        "kernel": host.kernel,
        "architecture": host.architecture,
        "uptime_seconds": host.uptime_seconds,
        "package_manager": host.package_manager.as_str(),
        "reboot_required": required,
        "reboot_required_reason": reason,
        "api_version": API_VERSION,
    })
}

/// The `data` of `/system/services/{name}`.
pub fn service_json(s: &ServiceStatus) -> Value {
    json!({
        "name": s.name,
        "display_name": s.display_name,
        "active_state": s.active_state,
        "sub_state": s.sub_state,
        "load_state": s.load_state,
        "enabled_state": s.enabled_state,
        "main_pid": s.main_pid,
        "healthy": s.state == ServiceState::Healthy,
    })
}

/// The helper answered with an outcome of another operation: a protocol bug, not the client's fault.
pub(crate) fn unexpected(what: &str, got: &Outcome) -> ApiError {
    ApiError::Internal {
        message: format!(
            "the helper answered a {what} request with {:?}",
            outcome_kind(got)
        ),
    }
}

fn outcome_kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Pong => "pong",
        Outcome::SystemInfo(_) => "system info",
        Outcome::ServiceStatus(_) => "service status",
        Outcome::Installed(_) => "installed list",
        Outcome::PackageDetail(_) => "package detail",
        Outcome::Upgradable(_) => "upgradable list",
        _ => "an unknown outcome",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{Backend, OsRelease};

    fn host(reboot: RebootRequired) -> HostInfo {
        HostInfo {
            hostname: "h".into(),
            os: OsRelease {
                id: "debian".into(),
                id_like: vec![],
                name: "Debian GNU/Linux".into(),
                version: Some("12".into()),
                codename: Some("bookworm".into()),
            },
            kernel: "6.1.0".into(),
            architecture: "x86_64".into(),
            uptime_seconds: 42,
            package_manager: Backend::Apt,
            reboot_required: reboot,
        }
    }

    #[test]
    fn info_has_contract_fields_and_tri_state_reboot_flag() {
        let v = info_json(&host(RebootRequired::No));
        for key in [
            "hostname",
            "os",
            "kernel",
            "architecture",
            "uptime_seconds",
            "package_manager",
            "reboot_required",
            "reboot_required_reason",
            "api_version",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["os"]["codename"], "bookworm");
        assert_eq!(v["package_manager"], "apt");
        assert_eq!(v["api_version"], "v1");
        assert_eq!(v["reboot_required"], false);
        assert!(v["reboot_required_reason"].is_null());
        let v = info_json(&host(RebootRequired::Yes {
            reason: "linux-image".into(),
        }));
        assert_eq!(v["reboot_required"], true);
        assert_eq!(v["reboot_required_reason"], "linux-image");
        let v = info_json(&host(RebootRequired::Unknown {
            reason: "no mechanism".into(),
        }));
        assert!(v["reboot_required"].is_null());
        assert_eq!(v["reboot_required_reason"], "no mechanism");
    }

    #[test]
    fn service_reports_healthy_as_a_bool() {
        let s = ServiceStatus {
            name: "ssh".into(),
            display_name: "OpenBSD Secure Shell server".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            load_state: "loaded".into(),
            enabled_state: "enabled".into(),
            main_pid: Some(12),
            state: ServiceState::Healthy,
        };
        let v = service_json(&s);
        assert_eq!(v["healthy"], true);
        assert_eq!(v["main_pid"], 12);
        let v = service_json(&ServiceStatus {
            main_pid: None,
            state: ServiceState::Unhealthy,
            ..s
        });
        assert_eq!(v["healthy"], false);
        assert!(v["main_pid"].is_null());
    }
}
