//! Public copies that converge, on both backends: files above the inline copy limit (lowered
//! here to 5 MiB, as 5 GiB is S3's) are copied in server-side parts by the publish worker; a
//! copy that fails is repaired by the next read, the next write, or the job's retry.

use serde_json::json;
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

const MIB: usize = 1024 * 1024;

fn bytes(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i / 1009 % 251) as u8 ^ (i % 13) as u8)
        .collect()
}

fn public_key(id: &str) -> String {
    format!("public/acme/{id}")
}

async fn patch(env: &TestEnv, id: &str, body: serde_json::Value) -> stowage_tests::Reply {
    env.route(RouteId::UpdateFile, "acme")
        .id(id)
        .body(body)
        .send()
        .await
}

async fn a_public_file_above_the_inline_limit_is_copied_in_parts_by_the_worker(env: TestEnv) {
    env.check_policies();
    let data = bytes(12 * MIB + 7);
    let file = env
        .uploaded(
            "acme",
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                   "privateAccess": false}),
            &data,
        )
        .await;
    let id = id_of(&file);
    assert_eq!(env.object_bytes(&public_key(&id)).await, None, "not inline");
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.as_deref(),
        Some(&data[..]),
        "three 5 MiB part copies, byte for byte"
    );
    assert_eq!(env.run_jobs().await.unwrap(), 0, "the marker is gone");

    // Made private: the copy is withdrawn at once, whatever its size.
    let reply = patch(&env, &id, json!({"privateAccess": true})).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(env.object_bytes(&public_key(&id)).await, None);
}

async fn a_failed_public_copy_is_repaired_by_a_read(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"hello",
        )
        .await;
    let id = id_of(&file);
    env.s3_outage(true);
    let reply = patch(&env, &id, json!({"privateAccess": false})).await;
    reply.assert_problem(503, "unavailable");
    env.s3_outage(false);
    // The record is public; its copy is not there yet.
    let read = env.get("acme", &id).await;
    assert_eq!(read.json["privateAccess"], false);
    assert_eq!(env.object_bytes(&public_key(&id)).await, None);
    // That read asked for the copy; the worker makes it.
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.as_deref(),
        Some(&b"hello"[..])
    );
}

async fn a_failed_public_copy_is_repaired_by_the_same_patch_again(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"hello",
        )
        .await;
    let id = id_of(&file);
    env.s3_outage(true);
    patch(&env, &id, json!({"privateAccess": false}))
        .await
        .assert_problem(503, "unavailable");
    env.s3_outage(false);
    let again = patch(&env, &id, json!({"privateAccess": false})).await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.as_deref(),
        Some(&b"hello"[..])
    );
}

async fn a_failed_publish_job_succeeds_when_retried(env: TestEnv) {
    env.check_policies();
    let data = bytes(6 * MIB);
    let file = env
        .uploaded(
            "acme",
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                   "privateAccess": false}),
            &data,
        )
        .await;
    let id = id_of(&file);
    env.s3_outage(true);
    // The worker cannot even list its markers while S3 is out; the event for the marker it
    // would have got fails the same way.
    let event = stowage_tests::s3_event(
        &env.bucket,
        &format!("jobs/publish/acme/{id}"),
        0,
        "",
        &env.next_sequencer(),
    );
    assert!(env
        .acting(
            "publish-file",
            stowage::events::on_publish_requested(&env.app, event)
        )
        .await
        .is_err());
    env.s3_outage(false);
    assert_eq!(env.object_bytes(&public_key(&id)).await, None);
    assert_eq!(
        env.run_jobs().await.unwrap(),
        1,
        "the marker is still there"
    );
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.as_deref(),
        Some(&data[..])
    );
}

/// `events/s3-publish-requested.json`, as `cargo lambda invoke publish-file` would send it:
/// handled (its file does not exist, so there is nothing to copy) and its marker deleted.
async fn the_sample_publish_event_is_handled(env: TestEnv) {
    env.check_policies();
    let event: aws_lambda_events::s3::S3Event =
        serde_json::from_value(stowage_tests::sample("s3-publish-requested.json")).unwrap();
    let key = event.records[0].s3.object.key.clone().unwrap();
    let mut event = event;
    event.records[0].s3.bucket.name = Some(env.bucket.clone());
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(&key)
        .body(Vec::new().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.acting(
            "publish-file",
            stowage::events::on_publish_requested(&env.app, event)
        )
        .await
        .unwrap(),
        1
    );
    assert!(!env.object_exists(&key).await);
}

async fn a_large_public_files_new_content_replaces_its_copy(env: TestEnv) {
    env.check_policies();
    let first = bytes(6 * MIB + 1);
    let file = env
        .uploaded(
            "acme",
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                   "privateAccess": false}),
            &first,
        )
        .await;
    let id = id_of(&file);
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.map(|b| b.len()),
        Some(first.len())
    );
    // A new upload lands: the worker copies it over the old copy (the public key is reused,
    // unlike an upload's key, so that copy is not a write-once completion).
    let second: Vec<u8> = bytes(7 * MIB + 3).into_iter().map(|b| b ^ 0x5a).collect();
    let again = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": second.len()}))
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.json);
    env.upload(&again.json["upload"], &second).await;
    let key = stowage_tests::upload_key(&again.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert_eq!(
        env.object_bytes(&public_key(&id)).await.as_deref(),
        Some(&second[..])
    );
}

stowage_tests::on_every_backend!(
    settings = [("STOWAGE_INLINE_COPY_LIMIT", "5242880")];
    a_large_public_files_new_content_replaces_its_copy,
    a_public_file_above_the_inline_limit_is_copied_in_parts_by_the_worker,
    a_failed_public_copy_is_repaired_by_a_read,
    a_failed_public_copy_is_repaired_by_the_same_patch_again,
    a_failed_publish_job_succeeds_when_retried,
    the_sample_publish_event_is_handled,
);
