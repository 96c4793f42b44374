//! Running jobs: status transitions, events, failures, timeout, cancellation.

use super::*;

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

/// A broker whose change request streams `steps` then answers (or closes, with [`Step::Close`]), and whose
/// `ListInstalled` shows `hello 1.0` from the `installed_from`-th read on (never, with `usize::MAX`).
fn broker_losing_the_change(
    dir: &Path,
    steps: Vec<Step>,
    installed_from: usize,
) -> (FakeBroker, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    let broker = broker(dir, move |op| match op {
        Operation::ListInstalled => {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Reply::Answer(Ok(Outcome::Installed(if n >= installed_from {
                vec![record("hello", "1.0")]
            } else {
                vec![]
            })))
        }
        Operation::ListUpgradable => Reply::Answer(Ok(Outcome::Upgradable(vec![]))),
        _ => Reply::Script(Script::ok(steps.clone(), vec![])),
    });
    (broker, reads)
}

#[tokio::test]
async fn helper_lost_after_changes_started_is_settled_from_the_package_database() {
    let dir = tempfile::tempdir().unwrap();
    // The package manager is still running for the first two reads (nothing installed yet), done after.
    let (_broker, reads) = broker_losing_the_change(
        dir.path(),
        vec![Step::Event(JobEvent::ChangesStarted), Step::Close],
        2,
    );
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m.submit(install(&["hello"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:#?}");
    assert!(
        done.message.contains("confirmed from the package database"),
        "{}",
        done.message
    );
    assert!(
        reads.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "completed only once the package database showed the package"
    );
}

#[tokio::test]
async fn helper_lost_after_changes_started_fails_interrupted_at_the_deadline_when_never_installed()
{
    let dir = tempfile::tempdir().unwrap();
    let (_broker, _reads) = broker_losing_the_change(
        dir.path(),
        vec![Step::Event(JobEvent::ChangesStarted), Step::Close],
        usize::MAX,
    );
    let m = manager(
        dir.path(),
        JobSettings {
            timeout: Duration::from_secs(3),
            ..settings(dir.path())
        },
    );
    m.start();
    let job = m.submit(install(&["hello"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Failed, "{done:#?}");
    assert_eq!(done.error_code.as_deref(), Some("INTERRUPTED"));
    assert!(
        done.message.contains("hello is not installed"),
        "{}",
        done.message
    );
}

#[tokio::test]
async fn helper_lost_before_changes_started_fails_with_helper_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // The package database would show the package: still, nothing was started, so nothing is confirmed.
    let (_broker, reads) = broker_losing_the_change(dir.path(), vec![Step::Close], 0);
    let m = manager(dir.path(), settings(dir.path()));
    m.start();
    let job = m.submit(install(&["hello"]), client()).unwrap();
    let done = finished(&m, job.job_id).await;
    assert_eq!(done.status, JobStatus::Failed, "{done:#?}");
    assert_eq!(done.error_code.as_deref(), Some("HELPER_UNAVAILABLE"));
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 0);
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
