//! Job history on disk: atomic writes, temp leftovers, corrupt files, retention.

use super::*;

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
