//! Failures that must converge or tell the truth, on both backends: the bytes of removed files
//! are deleted once S3 is back (the stream function and the local sweep retry until they
//! succeed), and an outage of either store is `503` with `Retry-After`, not `500`.

use std::time::Duration;

use serde_json::json;
use stowage::http::RouteId;
use stowage_tests::{id_of, Backend, TestEnv};

fn small() -> serde_json::Value {
    json!({"name": "a.txt", "mimeType": "text/plain"})
}

async fn expired_files_lose_their_bytes_once_s3_is_back(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
            b"temporary",
        )
        .await;
    let key = env.content_key(&id_of(&file)).await;
    env.advance(Duration::from_secs(120));

    env.s3_outage(true);
    assert_eq!(env.expire().await, 1, "the record expires");
    assert_eq!(env.unfinished_cleanups(), 1, "the failed cleanup is kept");
    env.retry_stream().await;
    assert_eq!(
        env.unfinished_cleanups(),
        1,
        "still failing while S3 is down"
    );
    env.s3_outage(false);
    assert!(env.object_exists(&key).await, "nothing deleted yet");

    env.retry_stream().await;
    assert_eq!(env.unfinished_cleanups(), 0);
    assert!(!env.object_exists(&key).await, "the bytes are gone");
    env.get("acme", &id_of(&file))
        .await
        .assert_problem(404, "not_found");
}

async fn a_metadata_outage_is_503_with_retry_after(env: TestEnv) {
    let id = env.create_id("acme", small()).await;
    env.metadata_outage(true);
    for (route, id, body) in [
        (RouteId::GetFile, Some(id.as_str()), None),
        (RouteId::ListFiles, None, None),
        (RouteId::CreateFile, None, Some(small())),
        (
            RouteId::UpdateFile,
            Some(id.as_str()),
            Some(json!({"tags": ["x"]})),
        ),
        (RouteId::DeleteFile, Some(id.as_str()), None),
    ] {
        let reply = env
            .route(route, "acme")
            .maybe_id(id)
            .maybe_body(body)
            .send()
            .await;
        reply.assert_problem(503, "unavailable");
        assert_eq!(reply.headers["retry-after"], "1", "{route:?}");
    }
    env.metadata_outage(false);
    assert_eq!(env.get("acme", &id).await.status, 200, "it recovers");
}

async fn an_object_store_outage_is_503_with_retry_after(env: TestEnv) {
    // A pending file: reading it asks S3 whether its upload arrived.
    let id = env.create_id("acme", small()).await;
    env.s3_outage(true);
    let read = env.get("acme", &id).await;
    read.assert_problem(503, "unavailable");
    assert_eq!(read.headers["retry-after"], "1");
    // A multipart upload is opened in S3 at create.
    let big = json!({"name": "big.bin", "mimeType": "application/octet-stream",
                     "size": 20 * 1024 * 1024, "multipart": true});
    let reply = env
        .route(RouteId::CreateFile, "acme")
        .body(big)
        .send()
        .await;
    reply.assert_problem(503, "unavailable");
    env.s3_outage(false);
    let read = env.get("acme", &id).await;
    assert_eq!(read.status, 200, "{}", read.json);
    assert_eq!(read.json["status"], "pending");
    assert_eq!(
        env.listed("acme").await,
        [id],
        "the failed create wrote nothing"
    );
}

stowage_tests::on_every_backend!(
    expired_files_lose_their_bytes_once_s3_is_back,
    a_metadata_outage_is_503_with_retry_after,
    an_object_store_outage_is_503_with_retry_after,
);

/// `stowage-local` deletes through the API too go through its change log: bytes whose
/// deletion failed are deleted by a later sweep (on AWS, the table stream does the same).
#[tokio::test]
async fn embedded_api_deletes_lose_their_bytes_once_s3_is_back() {
    let env = TestEnv::embedded().await;
    assert_eq!(env.backend, Backend::Embedded);
    let file = env.uploaded("acme", small(), b"bytes").await;
    let id = id_of(&file);
    let key = env.content_key(&id).await;
    env.s3_outage(true);
    let reply = env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    assert_eq!(reply.status, 204, "the record is gone: {}", reply.json);
    env.retry_stream().await;
    assert_eq!(env.unfinished_cleanups(), 1);
    env.s3_outage(false);
    assert!(env.object_exists(&key).await);
    env.retry_stream().await;
    assert_eq!(env.unfinished_cleanups(), 0);
    assert!(!env.object_exists(&key).await);
}
