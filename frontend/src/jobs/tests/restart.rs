//! Start-up recovery of jobs the previous process left running.

use super::*;

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
        advisory: None,
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
