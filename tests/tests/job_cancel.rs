//! A cancel and a delete are distinct requests, end to end: `DELETE`s of a pending job sent together all
//! answer `cancelled` and the cancelled record stays; only a `DELETE` sent after the answer window deletes it.

use lpa_tests::jobs::{install, job, send};
use lpa_tests::stack;
use reqwest::Method;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deletes_of_a_pending_job_all_cancel_and_keep_the_record() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    // demo-slow's postinst takes 5 s: `hello` waits behind it, pending.
    let _slow = install(&client, "demo-slow").await;
    let pending = install(&client, "hello").await;
    assert_eq!(job(&client, &pending).await["status"], "pending");

    let path = format!("/api/v1/jobs/{pending}");
    let answers =
        futures_util::future::join_all((0..4).map(|_| send(&client, Method::DELETE, &path, None)))
            .await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{:?}", answer.envelope);
        assert_eq!(answer.data()["action"], "cancelled", "{answers:?}");
        assert_eq!(answer.data()["previous_status"], "pending", "{answers:?}");
    }
    let record = job(&client, &pending).await;
    assert_eq!(record["status"], "cancelled", "{record}");

    // Positive control: a later DELETE is a delete.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let deleted = send(&client, Method::DELETE, &path, None).await;
    assert_eq!(
        deleted.data()["action"],
        "deleted",
        "{:?}",
        deleted.envelope
    );
    let gone = send(&client, Method::GET, &path, None).await;
    assert_eq!(gone.status, 404);
}
