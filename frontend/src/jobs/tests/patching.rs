//! Patch apply and the package cache: refresh first, retry after a network failure, nothing to apply, reboot after, health refresh.

use super::*;

#[tokio::test]
async fn patch_apply_refreshes_first_and_retries_once_after_a_network_failure() {
    let dir = tempfile::tempdir().unwrap();
    let applies = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = applies.clone();
    let broker = broker(dir.path(), move |op| match op {
        Operation::RefreshCache => Reply::Answer(Ok(Outcome::CacheRefreshed {
            stdout: "Hit".into(),
        })),
        Operation::ApplyUpdates { .. } => {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::Answer(Err(change_failure(FailureKind::Network, vec![])))
            } else {
                Reply::Script(Script::ok(
                    vec![],
                    vec![change("demo-tool", Some("1.0"), Some("1.2"))],
                ))
            }
        }
        _ => Reply::Close,
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    assert_eq!(m.cache().status(), cache::CacheStatus::Unknown);
    let job = m
        .submit(
            Intent::PatchApply {
                selection: Some(vec![name("demo-tool")]),
                exclude: vec![],
                reboot_after_seconds: None,
            },
            client(),
        )
        .unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:#?}");
    let kinds: Vec<&str> = changes(&broker).iter().map(|o| o.kind()).collect();
    assert_eq!(
        kinds,
        [
            "refresh_cache",
            "apply_updates",
            "refresh_cache",
            "apply_updates"
        ]
    );
    assert!(
        done.logs.iter().any(|l| l.contains("retrying once")),
        "{:?}",
        done.logs
    );
    assert_eq!(m.cache().status(), cache::CacheStatus::Fresh);
}

#[tokio::test]
async fn failed_refresh_fails_the_apply_with_cache_refresh_error_and_marks_the_cache_failed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |op| match op {
        Operation::RefreshCache => {
            Reply::Answer(Err(change_failure(FailureKind::CacheRefresh, vec![])))
        }
        _ => Reply::Close,
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m
        .submit(
            Intent::PatchApply {
                selection: None,
                exclude: vec![],
                reboot_after_seconds: Some(60),
            },
            client(),
        )
        .unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.error_code.as_deref(), Some("CACHE_REFRESH_ERROR"));
    assert_eq!(
        changes(&broker).len(),
        1,
        "no apply, no reboot after a failed refresh"
    );
    assert_eq!(m.cache().status(), cache::CacheStatus::Failed);
    assert!(m.with_jobs(|mut j| !j.any(|r| r.operation == JobOperation::Reboot)));
}

#[tokio::test]
async fn excluding_everything_completes_at_once_without_the_helper() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m
        .submit(
            Intent::PatchApply {
                selection: None,
                exclude: vec![Glob::new("*").unwrap()],
                reboot_after_seconds: None,
            },
            client(),
        )
        .unwrap();
    assert_eq!(
        job.status,
        JobStatus::Pending,
        "accepted as pending like every job"
    );
    let done = finished(&m, job.job_id).await;
    assert_eq!(
        done.status,
        JobStatus::Completed,
        "no helper is running: {done:#?}"
    );
    assert_eq!(done.message, "nothing to apply");
    assert!(done.changes.is_empty());
}

#[tokio::test]
async fn successful_apply_with_reboot_queues_a_reboot_job_with_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |op| match op {
        Operation::RefreshCache => Reply::Answer(Ok(Outcome::CacheRefreshed {
            stdout: String::new(),
        })),
        Operation::ApplyUpdates { .. } => Reply::Script(Script::ok(vec![], vec![])),
        Operation::Reboot { .. } => Reply::Answer(Ok(Outcome::RebootScheduled {
            at_unix: 2_000_000_000,
        })),
        _ => Reply::Close,
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m
        .submit(
            Intent::PatchApply {
                selection: None,
                exclude: vec![],
                reboot_after_seconds: Some(120),
            },
            client(),
        )
        .unwrap();
    assert_eq!(finished(&m, job.job_id).await.status, JobStatus::Completed);
    let reboot = m
        .with_jobs(|mut j| {
            j.find(|r| r.operation == JobOperation::Reboot)
                .map(|r| r.job_id)
        })
        .expect("reboot job queued");
    let done = finished(&m, reboot).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert!(done.scheduled_at.is_some());
    assert!(
        broker
            .operations()
            .contains(&Operation::Reboot { delay_seconds: 120 })
    );
}

#[tokio::test]
async fn health_starts_one_background_refresh_when_stale_or_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), settings(dir.path()));
    assert!(m.refresh_cache_if_stale());
    assert!(
        !m.refresh_cache_if_stale(),
        "never a second one while one is pending"
    );
    let count = m.with_jobs(|j| {
        j.filter(|r| r.operation == JobOperation::CacheRefresh)
            .count()
    });
    assert_eq!(count, 1);
    let _broker = broker(dir.path(), |_| {
        Reply::Answer(Ok(Outcome::CacheRefreshed {
            stdout: String::new(),
        }))
    });
    m.start();
    let id = m.with_jobs(|mut j| j.next().map(|r| r.job_id)).unwrap();
    assert_eq!(finished(&m, id).await.status, JobStatus::Completed);
    assert_eq!(m.cache().status(), cache::CacheStatus::Fresh);
    assert!(!m.refresh_cache_if_stale(), "fresh: nothing to do");
}

#[tokio::test]
async fn pending_updates_read_at_start_up_answer_only_for_their_package_state() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |op| match op {
        Operation::PackageStateStamp => Reply::Answer(Ok(Outcome::PackageStateStamp(7))),
        Operation::ListUpgradable => {
            Reply::Answer(Ok(Outcome::Upgradable(vec![UpgradablePackage {
                name: "demo-tool".into(),
                current_version: Some("1.0".into()),
                available_version: "1.2".into(),
                architecture: None,
                sources: vec![],
                security: false,
                advisory: None,
            }])))
        }
        _ => Reply::Close,
    });
    let m = manager(dir.path(), settings(dir.path()));
    assert!(
        m.pending().at(7).await.is_none(),
        "nothing is read before start"
    );
    m.start();
    // Asked right after start: waits for the start-up read instead of missing it.
    let list = m.pending().at(7).await.expect("read at start-up");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "demo-tool");
    assert!(
        m.pending().at(8).await.is_none(),
        "another package state is never answered from it"
    );
    let kinds: Vec<&str> = broker.operations().iter().map(|o| o.kind()).collect();
    assert_eq!(kinds, ["package_state_stamp", "list_upgradable"]);
}
