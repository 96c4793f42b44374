//! The frontend's state is private: after real jobs (an install, and a patch apply, which refreshes the cache
//! and so writes `cache.json`), every directory under the state directory is 0700 and every file 0600, owned
//! by the frontend's uid, although the harness created the directory 0755.

use lpa_tests::jobs::{install, submit, wait};
use lpa_tests::stack;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

fn walk(dir: &Path, seen: &mut Vec<(String, u32, u32, bool)>) {
    for entry in std::fs::read_dir(dir).expect("state directory readable by root") {
        let entry = entry.unwrap();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        let name = entry.path().display().to_string();
        seen.push((name, meta.mode() & 0o7777, meta.uid(), meta.is_dir()));
        if meta.is_dir() {
            walk(&entry.path(), seen);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_in_the_state_directory_is_private_after_jobs() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let installed = install(&client, "hello").await;
    let applied = submit(
        &client,
        reqwest::Method::POST,
        "/api/v1/patches/apply",
        Some(serde_json::json!({})),
    )
    .await;
    for id in [&installed, &applied] {
        let job = wait(&client, id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    }

    let state = stack.work_dir().join("state");
    let root = std::fs::metadata(&state).unwrap();
    assert_eq!(root.mode() & 0o7777, 0o700, "the state directory itself");
    let mut seen = Vec::new();
    walk(&state, &mut seen);
    // Not vacuous: both job records and the cache state are there.
    let files: Vec<_> = seen.iter().filter(|(_, _, _, dir)| !dir).collect();
    for id in [&installed, &applied] {
        assert!(
            files.iter().any(|(name, ..)| name.contains(id.as_str())),
            "no record of job {id} in {seen:?}"
        );
    }
    assert!(
        files.iter().any(|(name, ..)| name.ends_with("cache.json")),
        "no cache.json in {seen:?}"
    );
    for (name, mode, uid, dir) in &seen {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{name} has mode {mode:o}");
        assert_eq!(*uid, 61001, "{name} is owned by uid {uid}");
    }
}
