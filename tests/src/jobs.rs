//! Submitting jobs and waiting for them, over the real API.

use lpa_client::{ApiClient, ApiResponse};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Sends `method path` with a JSON body and returns the answer.
pub async fn send(
    client: &ApiClient,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> ApiResponse {
    client
        .request(method, path, &[], body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Submits a job and returns its id, asserting the 202 answer.
pub async fn submit(
    client: &ApiClient,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> String {
    let resp = send(client, method, path, body).await;
    assert_eq!(resp.status, 202, "{path}: {:?}", resp.envelope);
    assert_eq!(resp.data()["status"], "pending", "{path}: {}", resp.data());
    resp.data()["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no job_id in {}", resp.data()))
        .to_owned()
}

/// Submits `POST /api/v1/packages` for one package and returns the job id.
pub async fn install(client: &ApiClient, name: &str) -> String {
    submit(
        client,
        reqwest::Method::POST,
        "/api/v1/packages",
        Some(serde_json::json!({"packages": [{"name": name}]})),
    )
    .await
}

/// `GET /api/v1/jobs/{id}` data.
pub async fn job(client: &ApiClient, id: &str) -> Value {
    let resp = send(
        client,
        reqwest::Method::GET,
        &format!("/api/v1/jobs/{id}"),
        None,
    )
    .await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    resp.data().clone()
}

/// Polls the job until its status is terminal (or `limit` passes) and returns it.
pub async fn wait(client: &ApiClient, id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let job = job(client, id).await;
        let status = job["status"].as_str().unwrap_or("");
        if !matches!(status, "pending" | "running") {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {status} after {limit:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the job until `pred` holds (or `limit` passes) and returns it.
pub async fn wait_until(
    client: &ApiClient,
    id: &str,
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let job = job(client, id).await;
        if pred(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id}: condition not met after {limit:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `changes` of a job as `(name, from, to)` triples.
pub fn changes(job: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    job["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_owned(),
                        c["from"].as_str().map(str::to_owned),
                        c["to"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The number of jobs `GET /api/v1/jobs` reports.
pub async fn job_count(client: &ApiClient) -> u64 {
    let resp = send(client, reqwest::Method::GET, "/api/v1/jobs", None).await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    resp.data()["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in {}", resp.data()))
}

/// Sends a package change for a name the package database does not know and asserts the request-time
/// refusal: 404 `PKG_NOT_FOUND`, and no job was queued for it.
pub async fn refused_not_found(
    client: &ApiClient,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) {
    let jobs = job_count(client).await;
    let resp = send(client, method.clone(), path, body).await;
    assert_eq!(resp.status, 404, "{method} {path}: {:?}", resp.envelope);
    assert_eq!(
        resp.error_code(),
        Some("PKG_NOT_FOUND"),
        "{method} {path}: {:?}",
        resp.envelope
    );
    assert_eq!(
        job_count(client).await,
        jobs,
        "{method} {path} queued a job"
    );
}

/// [`refused_not_found`] for `POST /api/v1/packages` of one package.
pub async fn install_refused(client: &ApiClient, name: &str) {
    refused_not_found(
        client,
        reqwest::Method::POST,
        "/api/v1/packages",
        Some(serde_json::json!({"packages": [{"name": name}]})),
    )
    .await;
}
