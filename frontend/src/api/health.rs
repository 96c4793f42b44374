//! `GET /health`: is the service able to do its job, and how confined is it.
//!
//! Nothing here asks the broker: the helper's liveness, its confinement and the package database's repair
//! state come from the state the frontend keeps current in the background ([`super::health_state`]; a dead helper
//! shows within a second, a stuck one within [`super::health_state::PING_LIMIT`] plus a ping interval). A helper
//! that cannot be reached makes the status `degraded`; the check itself still answers 200, because the
//! frontend is up and can say what is wrong.
//!
//! `last_cache_update` and `cache_status` come from the cache state (`<state_dir>/state/cache.json`). A
//! `stale` or `unknown` cache makes the check queue one background `cache_refresh` job (never a second one
//! while one is pending or running); a `failed` last refresh makes the status `degraded`. `job_queue` is
//! `ok`, or says what is wrong with the job history (unreadable files set aside, failed writes, jobs
//! waiting to be recovered).
//!
//! The frontend's capability bounding set must be empty (the service manager empties it); a non-empty one is
//! listed under `confinement.frontend.degraded` and makes the status `degraded`
//! ([`confinement::flag_bounding_set`]).
//!
//! `refused_connections` (an addition) counts the connections the listener refused since start, by reason
//! (`crate::listener::refusals`).
//!
//! `checks.config` is `ok` or names each file that failed to (re)load (the previous one stays in force) and a
//! CRL past its `nextUpdate` ([`crate::reload::State::config_check`]); anything but `ok` makes the status
//! `degraded`. `checks.certificates` reads the expiry of the server certificate in use, reloads included.
//!
//! `confinement` shows each process's self-measurement ([`confinement`]), `null` for a process that
//! did not report (a helper that is down is already a failed `helper` check); the frontend or the broker
//! reporting a degraded (best-effort) confinement makes the status `degraded`. The launcher is
//! unconfined by design and never degrades the status.

use super::confinement;
use crate::http::AppState;
use crate::jobs::cache::CacheStatus;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A certificate closer than this to its expiry is reported (without degrading the status).
const CERT_WARNING_DAYS: i64 = 30;

/// The health document, from the kept state ([`super::health_state`]): answering never waits on the broker.
pub async fn health(state: &AppState) -> Value {
    state.health.start(state.helper.clone(), state.jobs.clone());
    let kept = state.health.snapshot().await;
    let (helper, package_manager, helper_ok) = match &kept.helper {
        Some(Ok(backend)) => ("ok".to_owned(), backend.as_str().to_owned(), true),
        Some(Err(reason)) => (reason.clone(), reason.clone(), false),
        None => {
            let text = "the helper has not been reached yet".to_owned();
            (text.clone(), text, false)
        }
    };
    let now = OffsetDateTime::now_utc();
    // A database that needs repair (an unmet dependency) is named here: the package manager cannot
    // compute updates until an administrator fixes it. The broker's last word on it is kept by the client.
    let (package_manager, repair_ok) = match (helper_ok, state.helper.needs_repair()) {
        (true, Some(message)) => (format!("{package_manager}: {message}"), false),
        _ => (package_manager, true),
    };
    let (certificates, cert_ok) = certificate_check(
        state
            .reload
            .server_cert_not_after()
            .or(state.settings.server_cert_not_after),
        now,
    );
    // A file that failed to (re)load, or a stale CRL: the service runs on the previous state (crate::reload).
    let config = state.reload.config_check(now);
    let cache = state.jobs.cache();
    let cache_status = cache.status();
    if helper_ok {
        // Queues one background job at most; never waits for it.
        state.jobs.refresh_cache_if_stale();
    }
    let job_queue = state.jobs.health_check();
    let cache_ok = cache_status != CacheStatus::Failed;
    let frontend = confinement::measure_self().map(|c| {
        if state.settings.require_empty_bounding_set {
            confinement::flag_bounding_set(c)
        } else {
            c
        }
    });
    let (broker, launcher) = kept.confinement;
    let confinement_ok = [&frontend, &broker]
        .iter()
        .all(|c| c.as_ref().is_none_or(|c| !c.is_degraded()));
    let status = if config == "ok"
        && helper_ok
        && repair_ok
        && cert_ok
        && cache_ok
        && job_queue == "ok"
        && confinement_ok
    {
        "healthy"
    } else {
        "degraded"
    };
    json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "refused_connections": state.refusals.totals(),
        "last_cache_update": cache.last_update(),
        "cache_status": cache_status.as_str(),
        "checks": {
            "config": config,
            "certificates": certificates,
            "helper": helper,
            "package_manager": package_manager,
            "job_queue": job_queue,
        },
        "confinement": {
            "frontend": frontend,
            "broker": broker,
            "launcher": launcher,
        },
    })
}

/// `ok`, `expires in N days` (within the warning window) or `expired`; the flag is false only when expired.
pub fn certificate_check(not_after: Option<OffsetDateTime>, now: OffsetDateTime) -> (String, bool) {
    let Some(not_after) = not_after else {
        return ("expiry unknown".to_owned(), true);
    };
    if not_after <= now {
        return ("expired".to_owned(), false);
    }
    let days = (not_after - now).whole_days();
    if days < CERT_WARNING_DAYS {
        (format!("expires in {days} days"), true)
    } else {
        ("ok".to_owned(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn certificate_check_reports_ok_soon_and_expired() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            certificate_check(Some(now + Duration::days(365)), now),
            ("ok".to_owned(), true)
        );
        assert_eq!(
            certificate_check(Some(now + Duration::days(10) + Duration::hours(1)), now),
            ("expires in 10 days".to_owned(), true)
        );
        assert_eq!(
            certificate_check(Some(now - Duration::seconds(1)), now),
            ("expired".to_owned(), false)
        );
        assert!(certificate_check(None, now).1);
    }
}
