//! The job manager against the fake broker on a real Unix socket, with real temporary state directories.

mod admission;
mod history;
mod patching;
mod restart;
mod running;

pub(super) use super::*;
pub(super) use crate::helper_client::fake_broker::{
    FakeBroker, HelloMode, Reply, Script, Step, change_failure,
};
pub(super) use lpa_protocol::{
    Backend, FailureKind, Glob, HelperError, InstallOptions, JobEvent, Operation, Outcome,
    PackageChange, PackageName, PackageRecord, PackageSpec, UpgradablePackage,
};
pub(super) use std::path::Path;

pub(super) const WAIT: Duration = Duration::from_secs(10);

pub(super) fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

pub(super) fn settings(dir: &Path) -> JobSettings {
    JobSettings {
        state_dir: Some(dir.join("state")),
        timeout: Duration::from_secs(10),
        recovery_retry: Duration::from_millis(50),
        cancel_wait: Duration::from_secs(5),
        abort_grace: Duration::from_secs(5),
        ..JobSettings::default()
    }
}

pub(super) fn manager(dir: &Path, settings: JobSettings) -> Arc<JobManager> {
    let helper = HelperClient::new(dir.join("helper.sock"), Duration::from_secs(5));
    Arc::new(JobManager::new(settings, Arc::new(helper)))
}

pub(super) fn broker(
    dir: &Path,
    answer: impl Fn(&Operation) -> Reply + Send + Sync + 'static,
) -> FakeBroker {
    FakeBroker::start(
        &dir.join("helper.sock"),
        HelloMode::Ack(Backend::Apt),
        answer,
    )
}

/// The requests that change something, in order: the reads (such as the start-up read of the pending
/// updates) left out.
pub(super) fn changes(broker: &FakeBroker) -> Vec<Operation> {
    broker
        .operations()
        .into_iter()
        .filter(|o| !crate::helper_client::is_retry_safe(o))
        .collect()
}

/// Answers to the reads of the pending view: fingerprint 1, nothing upgradable.
pub(super) fn reads(op: &Operation) -> Reply {
    match op {
        Operation::PackageStateStamp => Reply::Answer(Ok(Outcome::PackageStateStamp(1))),
        _ => Reply::Answer(Ok(Outcome::Upgradable(vec![]))),
    }
}

pub(super) fn install(names: &[&str]) -> Intent {
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

pub(super) fn change(n: &str, from: Option<&str>, to: Option<&str>) -> PackageChange {
    PackageChange {
        name: n.into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
    }
}

pub(super) fn record(n: &str, v: &str) -> PackageRecord {
    PackageRecord {
        name: n.into(),
        version: v.into(),
        ..PackageRecord::default()
    }
}

pub(super) fn client() -> Requester {
    Requester {
        common_name: Some("ops".into()),
        ..Requester::default()
    }
}

pub(super) async fn wait_for(
    manager: &JobManager,
    id: Uuid,
    pred: impl Fn(&JobRecord) -> bool,
) -> JobRecord {
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

pub(super) async fn finished(manager: &JobManager, id: Uuid) -> JobRecord {
    wait_for(manager, id, |j| j.status.is_terminal()).await
}

pub(super) fn on_disk(dir: &Path, id: Uuid) -> JobRecord {
    let bytes = std::fs::read(dir.join("state/jobs").join(format!("{id}.json"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
