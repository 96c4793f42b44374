//! The job manager against the fake broker on a real Unix socket, with real temporary state directories.

use super::*;
use crate::helper_client::fake_broker::{
    FakeBroker, HelloMode, Reply, Script, Step, change_failure,
};
use lpa_protocol::{
    Backend, FailureKind, Glob, HelperError, InstallOptions, JobEvent, Operation, Outcome,
    PackageChange, PackageName, PackageRecord, PackageSpec, UpgradablePackage,
};
use std::path::Path;

const WAIT: Duration = Duration::from_secs(10);

fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

fn settings(dir: &Path) -> JobSettings {
    JobSettings {
        state_dir: Some(dir.join("state")),
        timeout: Duration::from_secs(10),
        recovery_retry: Duration::from_millis(50),
        cancel_wait: Duration::from_secs(5),
        abort_grace: Duration::from_secs(5),
        ..JobSettings::default()
    }
}

fn manager(dir: &Path, settings: JobSettings) -> Arc<JobManager> {
    let helper = HelperClient::new(dir.join("helper.sock"), Duration::from_secs(5));
    Arc::new(JobManager::new(settings, Arc::new(helper)))
}

fn broker(dir: &Path, answer: impl Fn(&Operation) -> Reply + Send + Sync + 'static) -> FakeBroker {
    FakeBroker::start(
        &dir.join("helper.sock"),
        HelloMode::Ack(Backend::Apt),
        answer,
    )
}

fn install(names: &[&str]) -> Intent {
    Intent::Install {
        packages: names
            .iter()
            .map(|n| PackageSpec {
                name: name(n),
                version: None,
            })
            .collect(),
        options: InstallOptions::default(),
    }
}

fn change(n: &str, from: Option<&str>, to: Option<&str>) -> PackageChange {
    PackageChange {
        name: n.into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
    }
}

fn record(n: &str, v: &str) -> PackageRecord {
    PackageRecord {
        name: n.into(),
        version: v.into(),
        ..PackageRecord::default()
    }
}

fn client() -> Requester {
    Requester {
        common_name: Some("ops".into()),
        ..Requester::default()
    }
}

async fn wait_for(manager: &JobManager, id: Uuid, pred: impl Fn(&JobRecord) -> bool) -> JobRecord {
    let deadline = Instant::now() + WAIT;
    loop {
        let job = manager.get(id).expect("job exists");
        if pred(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "condition not met: {job:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn finished(manager: &JobManager, id: Uuid) -> JobRecord {
    wait_for(manager, id, |j| j.status.is_terminal()).await
}

fn on_disk(dir: &Path, id: Uuid) -> JobRecord {
    let bytes = std::fs::read(dir.join("state/jobs").join(format!("{id}.json"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A slow install that streams events: 2 s before `ChangesStarted` (cancellable), then 2 s after.
fn slow_install() -> Reply {
    Reply::Script(Script::ok(
        vec![
            Step::Event(JobEvent::Progress {
                percent: 10,
                message: "Downloading".into(),
            }),
            Step::Sleep(Duration::from_secs(2)),
            Step::Event(JobEvent::ChangesStarted),
            Step::Sleep(Duration::from_secs(2)),
        ],
        vec![change("hello", None, Some("1.0"))],
    ))
}

#[tokio::test]
async fn events_become_job_updates_and_status_moves_pending_running_completed() {
    let dir = tempfile::tempdir().unwrap();
    let _broker = broker(dir.path(), |_| {
        Reply::Script(Script::ok(
            vec![
                Step::Event(JobEvent::Progress {
                    percent: 50,
                    message: "Unpacking hello".into(),
                }),
                Step::Event(JobEvent::Log {
                    line: "Setting up hello (1.0)".into(),
                }),
                Step::Event(JobEvent::ChangesStarted),
            ],
            vec![change("hello", None, Some("1.0"))],
        ))
    });
    let m = manager(dir.path(), settings(dir.path()));
    let mut updates = m.subscribe();
    m.start();
    let job = m.submit(install(&["hello"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:#?}");
    assert_eq!(done.progress, 100);
    assert_eq!(
        done.changes,
        [record::Change {
            name: "hello".into(),
            from: None,
            to: Some("1.0".into())
        }]
    );
    assert!(
        done.logs.iter().any(|l| l == "Setting up hello (1.0)"),
        "{:?}",
        done.logs
    );
    assert_eq!(done.requested_by.common_name.as_deref(), Some("ops"));
    assert!(done.completed_at.is_some());

    let mut seen = Vec::new();
    while let Ok(u) = updates.try_recv() {
        assert_eq!(u.job_id, job.job_id);
        seen.push((u.status, u.progress, u.message));
    }
    let statuses: Vec<JobStatus> = seen.iter().map(|s| s.0).collect();
    assert_eq!(statuses.first(), Some(&JobStatus::Pending));
    assert!(statuses.contains(&JobStatus::Running));
    assert_eq!(statuses.last(), Some(&JobStatus::Completed));
    assert!(
        seen.iter()
            .any(|(s, p, msg)| *s == JobStatus::Running && *p == 49 && msg == "Unpacking hello"),
        "progress event published: {seen:?}"
    );
    assert_eq!(
        on_disk(dir.path(), job.job_id),
        done,
        "persisted on completion"
    );
}

#[tokio::test]
async fn failure_kind_becomes_error_code_with_exit_code_output_and_changes() {
    let dir = tempfile::tempdir().unwrap();
    let _broker = broker(dir.path(), |_| {
        Reply::Answer(Err(change_failure(
            FailureKind::PackageManager,
            vec![change("demo-broken", None, Some("1.0"))],
        )))
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m.submit(install(&["demo-broken"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.error_code.as_deref(), Some("PKG_MANAGER_ERROR"));
    assert_eq!(done.exit_code, Some(100));
    assert_eq!(done.command_stderr, "fake stderr");
    assert_eq!(done.changes.len(), 1, "what changed anyway is kept");
}

#[tokio::test]
async fn helper_down_fails_the_job_with_helper_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m.submit(install(&["hello"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.error_code.as_deref(), Some("HELPER_UNAVAILABLE"));
}

#[tokio::test]
async fn package_changes_run_one_at_a_time_in_creation_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |_| {
        Reply::Script(Script::ok(
            vec![Step::Sleep(Duration::from_millis(150))],
            vec![],
        ))
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let ids: Vec<Uuid> = ["a1", "b2", "c3", "d4"]
        .iter()
        .map(|n| m.submit(install(&[n]), client()).unwrap().job_id)
        .collect();
    for id in &ids {
        assert_eq!(finished(&m, *id).await.status, JobStatus::Completed);
    }
    assert_eq!(broker.max_in_flight(), 1, "never two changes at once");
    let order: Vec<String> = broker
        .operations()
        .iter()
        .map(|op| match op {
            Operation::Install { packages, .. } => packages[0].name.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(order, ["a1", "b2", "c3", "d4"]);
}

#[tokio::test]
async fn queue_full_at_depth_and_space_again_once_jobs_finish() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(
        dir.path(),
        JobSettings {
            max_queue_depth: 2,
            ..settings(dir.path())
        },
    );
    // Not started: every job stays pending.
    let first = m.submit(install(&["a1"]), client()).unwrap();
    m.submit(install(&["b2"]), client()).unwrap();
    let err = m.submit(install(&["c3"]), client()).unwrap_err();
    assert_eq!(err, SubmitError::QueueFull { depth: 2 });
    m.cancel(first.job_id).await.unwrap();
    m.submit(install(&["c3"]), client()).unwrap();
}

#[tokio::test]
async fn reboot_is_blocked_by_pending_package_jobs_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), settings(dir.path()));
    let reboot = |force| Intent::Reboot {
        delay_seconds: 0,
        force,
        reason: Some("kernel".into()),
    };
    m.submit(reboot(false), client()).unwrap();
    let pending = m.submit(install(&["a1"]), client()).unwrap();
    assert_eq!(
        m.submit(reboot(false), client()).unwrap_err(),
        SubmitError::RebootBlocked { active: 1 }
    );
    m.submit(reboot(true), client()).unwrap();
    m.cancel(pending.job_id).await.unwrap();
    m.submit(reboot(false), client()).unwrap();
}

#[tokio::test]
async fn timeout_sends_abort_and_ends_with_status_timeout_and_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |_| {
        let mut script = Script::ok(
            vec![
                Step::Event(JobEvent::ChangesStarted),
                Step::Sleep(Duration::from_secs(30)),
            ],
            vec![],
        );
        script.changes_on_abort = vec![change("demo-slow", None, Some("1.0"))];
        Reply::Script(script)
    });
    let m = manager(
        dir.path(),
        JobSettings {
            timeout: Duration::from_millis(300),
            ..settings(dir.path())
        },
    );
    m.start();
    let job = m.submit(install(&["demo-slow"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Timeout, "{done:#?}");
    assert_eq!(done.error_code.as_deref(), Some("TIMEOUT"));
    assert_eq!(
        done.changes.len(),
        1,
        "the helper's report of what changed is kept"
    );
    assert_eq!(broker.controls(), ["abort"]);
}

#[tokio::test]
async fn cancel_pending_running_refused_and_finished() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |_| slow_install());
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let running = m.submit(install(&["a1"]), client()).unwrap();
    let pending = m.submit(install(&["b2"]), client()).unwrap();
    let third = m.submit(install(&["c3"]), client()).unwrap();
    wait_for(&m, running.job_id, |j| j.progress > 0).await;

    // Pending: cancelled at once, never sent to the helper.
    let out = m.cancel(pending.job_id).await.unwrap();
    assert_eq!(
        (out.previous_status, out.current_status, out.action),
        (JobStatus::Pending, "cancelled", "cancelled")
    );
    assert_eq!(m.get(pending.job_id).unwrap().status, JobStatus::Cancelled);

    // Running, before ChangesStarted: the helper stops it.
    let out = m.cancel(running.job_id).await.unwrap();
    assert_eq!(
        (out.previous_status, out.action),
        (JobStatus::Running, "cancelled")
    );
    assert_eq!(
        finished(&m, running.job_id).await.status,
        JobStatus::Cancelled
    );

    // Running, after ChangesStarted: refused, and the job completes.
    wait_for(&m, third.job_id, |j| {
        j.logs.iter().any(|l| l.contains("started changing"))
    })
    .await;
    let err = m.cancel(third.job_id).await.unwrap_err();
    assert!(
        matches!(err, cancel::CancelError::NotCancellable { .. }),
        "{err:?}"
    );
    assert_eq!(
        finished(&m, third.job_id).await.status,
        JobStatus::Completed
    );

    // Finished: deleted from memory and disk.
    let out = m.cancel(third.job_id).await.unwrap();
    assert_eq!(
        (out.previous_status, out.current_status, out.action),
        (JobStatus::Completed, "deleted", "deleted")
    );
    assert!(m.get(third.job_id).is_none());
    assert!(
        !dir.path()
            .join(format!("state/jobs/{}.json", third.job_id))
            .exists()
    );
    assert!(matches!(
        m.cancel(third.job_id).await,
        Err(cancel::CancelError::NotFound(_))
    ));

    let installs = broker
        .operations()
        .iter()
        .filter(|o| matches!(o, Operation::Install { .. }))
        .count();
    assert_eq!(
        installs, 2,
        "the cancelled pending job never reached the helper"
    );
    assert_eq!(
        broker.controls(),
        ["cancel"],
        "after ChangesStarted the refusal needs no round trip"
    );
}

#[tokio::test]
async fn cancel_refused_by_the_helper_is_not_cancellable() {
    let dir = tempfile::tempdir().unwrap();
    // The helper has started changing the system but the frontend has not seen ChangesStarted yet: the
    // broker answers CancelRefused.
    let _broker = broker(dir.path(), |_| {
        Reply::Script(Script::ok(
            vec![
                Step::Event(JobEvent::Progress {
                    percent: 5,
                    message: "x".into(),
                }),
                Step::Sleep(Duration::from_millis(10)),
                Step::Event(JobEvent::ChangesStarted),
                Step::Sleep(Duration::from_secs(1)),
            ],
            vec![],
        ))
    });
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m.submit(install(&["a1"]), client()).unwrap();
    wait_for(&m, job.job_id, |j| {
        j.logs.iter().any(|l| l.contains("started changing"))
    })
    .await;
    assert!(m.cancel(job.job_id).await.is_err());
    assert_eq!(finished(&m, job.job_id).await.status, JobStatus::Completed);
}

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
    let kinds: Vec<&str> = broker.operations().iter().map(|o| o.kind()).collect();
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
        broker.operations().len(),
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

#[test]
fn store_ignores_leftover_temp_files_and_sets_corrupt_files_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::JobStore::open(&dir.path().join("state")).unwrap();
    let good = JobRecord::new(install(&["hello"]), client(), 30);
    store.save(&good).unwrap();
    let jobs_dir = dir.path().join("state/jobs");
    std::fs::write(jobs_dir.join(".tmp-123-half.json"), b"{\"job_id\": \"trunc").unwrap();
    let bad = Uuid::now_v7();
    std::fs::write(jobs_dir.join(format!("{bad}.json")), b"{not json").unwrap();
    let evil = JobRecord::new(install(&["hello"]), client(), 30);
    let text = serde_json::to_string(&evil)
        .unwrap()
        .replace("\"hello\"", "\"-oAPT::x\"");
    std::fs::write(jobs_dir.join(format!("{}.json", evil.job_id)), text).unwrap();

    let m = manager(dir.path(), settings(dir.path()));
    assert_eq!(m.get(good.job_id).unwrap(), good);
    assert!(m.get(bad).is_none());
    assert!(
        m.get(evil.job_id).is_none(),
        "an invalid name in a job file never loads"
    );
    assert!(
        !jobs_dir.join(".tmp-123-half.json").exists(),
        "temp leftovers are removed"
    );
    assert!(jobs_dir.join(format!("{bad}.json.corrupt")).exists());
    let check = m.health_check();
    assert!(check.contains(&bad.to_string()), "{check}");
    assert!(check.contains(&evil.job_id.to_string()), "{check}");
    // And the next start is clean again: the corrupt files were set aside.
    assert_eq!(
        manager(dir.path(), settings(dir.path())).health_check(),
        "ok"
    );
}

#[test]
fn saved_files_are_complete_json_and_no_temp_file_remains() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::JobStore::open(dir.path()).unwrap();
    let mut job = JobRecord::new(install(&["hello"]), client(), 30);
    for i in 0..50 {
        job.log(&format!("line {i}"));
        store.save(&job).unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{}.json", job.job_id)]);
    assert_eq!(store.load().unwrap().jobs, [job]);
}

#[tokio::test]
async fn retention_cap_removes_the_oldest_finished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(
        dir.path(),
        JobSettings {
            history_limit: 2,
            ..settings(dir.path())
        },
    );
    let ids: Vec<Uuid> = (0..4)
        .map(|i| {
            m.submit(install(&[&format!("p{i}")]), client())
                .unwrap()
                .job_id
        })
        .collect();
    for id in &ids[..3] {
        m.cancel(*id).await.unwrap();
    }
    assert!(m.get(ids[0]).is_none(), "oldest finished job removed");
    assert!(m.get(ids[1]).is_some() && m.get(ids[2]).is_some());
    assert!(m.get(ids[3]).is_some(), "unfinished jobs are never removed");
    assert!(
        !dir.path()
            .join(format!("state/jobs/{}.json", ids[0]))
            .exists()
    );
    let again = manager(
        dir.path(),
        JobSettings {
            history_limit: 1,
            ..settings(dir.path())
        },
    );
    assert!(again.get(ids[1]).is_none() && again.get(ids[2]).is_some());
}

/// Writes `job` as the previous process would have left it.
fn leave_behind(dir: &Path, mut job: JobRecord, status: JobStatus) -> Uuid {
    job.status = status;
    job.started = true;
    store::JobStore::open(&dir.join("state"))
        .unwrap()
        .save(&job)
        .unwrap();
    job.job_id
}

#[tokio::test]
async fn recovery_resolves_interrupted_jobs_from_the_package_database() {
    let dir = tempfile::tempdir().unwrap();
    let done = leave_behind(
        dir.path(),
        JobRecord::new(install(&["hello"]), client(), 30),
        JobStatus::Running,
    );
    let not_done = leave_behind(
        dir.path(),
        JobRecord::new(
            Intent::Remove {
                name: name("demo-lib"),
                purge: false,
            },
            client(),
            30,
        ),
        JobStatus::Pending,
    );
    let mut queued = JobRecord::new(install(&["demo-tool"]), client(), 30);
    queued.started = false;
    store::JobStore::open(&dir.path().join("state"))
        .unwrap()
        .save(&queued)
        .unwrap();

    let broker = broker(dir.path(), |op| match op {
        Operation::ListInstalled => Reply::Answer(Ok(Outcome::Installed(vec![
            record("demo-lib", "1.0"),
            record("hello", "1.0"),
        ]))),
        Operation::ListUpgradable => Reply::Answer(Ok(Outcome::Upgradable(vec![]))),
        _ => Reply::Script(Script::ok(vec![], vec![])),
    });
    let m = manager(dir.path(), settings(dir.path()));
    assert_eq!(
        m.get(done).unwrap().status,
        JobStatus::Pending,
        "never shown running"
    );
    m.start();
    let a = finished(&m, done).await;
    assert_eq!(a.status, JobStatus::Completed, "{a:#?}");
    assert!(a.message.contains("recovered"), "{}", a.message);
    let b = finished(&m, not_done).await;
    assert_eq!(b.status, JobStatus::Failed);
    assert_eq!(b.error_code.as_deref(), Some("INTERRUPTED"));
    assert!(
        b.message.contains("demo-lib is still installed"),
        "{}",
        b.message
    );
    let c = finished(&m, queued.job_id).await;
    assert_eq!(
        c.status,
        JobStatus::Completed,
        "a never-started pending job simply runs"
    );
    assert!(
        broker
            .operations()
            .iter()
            .any(|o| matches!(o, Operation::Install { .. }))
    );
    assert!(
        !broker
            .operations()
            .iter()
            .any(|o| matches!(o, Operation::Remove { .. })),
        "an interrupted job is never re-run"
    );
}

#[tokio::test]
async fn recovery_with_the_helper_down_shows_pending_recovering_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let id = leave_behind(
        dir.path(),
        JobRecord::new(install(&["hello"]), client(), 30),
        JobStatus::Running,
    );
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let next = m.submit(install(&["other"]), client()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = m.get(id).unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.message, recovery::RECOVERING_MESSAGE);
    assert_eq!(
        on_disk(dir.path(), id).status,
        JobStatus::Pending,
        "not running on disk either"
    );
    assert!(
        m.health_check().contains("waiting for the helper"),
        "{}",
        m.health_check()
    );
    assert_eq!(
        m.get(next.job_id).unwrap().status,
        JobStatus::Pending,
        "nothing runs before recovery"
    );
    assert!(
        m.cancel(id).await.is_err(),
        "a recovering job cannot be cancelled"
    );

    let _broker = broker(dir.path(), |op| match op {
        Operation::ListInstalled => Reply::Answer(Ok(Outcome::Installed(vec![]))),
        Operation::ListUpgradable => Reply::Answer(Ok(Outcome::Upgradable(vec![]))),
        _ => Reply::Script(Script::ok(vec![], vec![])),
    });
    let job = finished(&m, id).await;
    assert_eq!(job.error_code.as_deref(), Some("INTERRUPTED"), "{job:#?}");
    assert_eq!(finished(&m, next.job_id).await.status, JobStatus::Completed);
    assert_eq!(m.health_check(), "ok");
}

#[test]
fn resolve_compares_intents_with_the_database() {
    let installed = [record("hello", "1.1"), record("demo-lib", "1.0")];
    let upgradable = [UpgradablePackage {
        name: "demo-lib".into(),
        current_version: Some("1.0".into()),
        available_version: "1.0.1".into(),
        architecture: None,
        sources: vec![],
        security: true,
    }];
    let ok = |i: &Intent| recovery::resolve(i, &installed, &upgradable).is_ok();
    assert!(ok(&install(&["hello"])));
    assert!(!ok(&install(&["hello", "nope"])));
    let versioned = |v: &str| Intent::Install {
        packages: vec![PackageSpec {
            name: name("hello"),
            version: Some(lpa_protocol::Version::new(v).unwrap()),
        }],
        options: InstallOptions::default(),
    };
    assert!(ok(&versioned("1.1")));
    assert!(!ok(&versioned("1.0")));
    assert!(ok(&Intent::Update {
        name: name("hello"),
        version: None
    }));
    assert!(!ok(&Intent::Update {
        name: name("demo-lib"),
        version: None
    }));
    assert!(ok(&Intent::Remove {
        name: name("gone"),
        purge: true
    }));
    assert!(!ok(&Intent::Remove {
        name: name("hello"),
        purge: false
    }));
    let apply = |exclude: &[&str]| Intent::PatchApply {
        selection: None,
        exclude: exclude.iter().map(|g| Glob::new(*g).unwrap()).collect(),
        reboot_after_seconds: None,
    };
    assert!(!ok(&apply(&[])));
    assert!(ok(&apply(&["demo-*"])));
    assert!(
        !ok(&Intent::CacheRefresh),
        "unverifiable intents are interrupted"
    );
    let _ = HelperError::Internal {
        message: String::new(),
    };
}
