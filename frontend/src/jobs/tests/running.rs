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
