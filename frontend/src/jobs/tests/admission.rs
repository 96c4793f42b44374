//! Admission and order: one change at a time, QUEUE_FULL, REBOOT_BLOCKED.

use super::*;

#[tokio::test]
async fn package_changes_run_one_at_a_time_in_creation_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), |op| match op {
        // The start-up read of the pending updates.
        Operation::PackageStateStamp | Operation::ListUpgradable => reads(op),
        _ => Reply::Script(Script::ok(
            vec![Step::Sleep(Duration::from_millis(150))],
            vec![],
        )),
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
    let order: Vec<String> = changes(&broker)
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
