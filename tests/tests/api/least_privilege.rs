//! Least privilege, proven: the work each function does that needs a permission no
//! other test needed. On moto every call a function makes — and every presigned URL it signs,
//! when a client uses it — is checked against that function's policy in `template.yaml`
//! (`scripts/moto_server.py`, `scripts/iam.py`): a missing permission fails the test, and
//! `scripts/iam.py check` fails the run when a policy names an action no test needed. Every
//! test checks the behaviour itself too, and runs on both backends.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

const MIB: usize = 1024 * 1024;

fn bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i / 4093) % 251) as u8).collect()
}

fn text(name: &str) -> Value {
    json!({"name": name, "mimeType": "text/plain"})
}

/// An uploaded private text file of `acme`; its id.
async fn uploaded(env: &TestEnv, name: &str, content: &[u8]) -> String {
    id_of(&env.uploaded("acme", text(name), content).await)
}

/// An uploaded public file of `acme` of `size` bytes: its id and its bytes.
async fn uploaded_public(env: &TestEnv, size: usize) -> (String, Vec<u8>) {
    let data = bytes(size);
    let body = json!({"name": "big.bin", "mimeType": "application/octet-stream",
                      "privateAccess": false});
    (id_of(&env.uploaded("acme", body, &data).await), data)
}

/// PUTs every part of a multipart `upload` (from a create or start answer) with `data`.
async fn put_parts(env: &TestEnv, upload: &Value, data: &[u8]) {
    let size = upload["partSize"].as_u64().unwrap() as usize;
    for part in upload["parts"].as_array().expect("part URLs") {
        let number = part["partNumber"].as_u64().unwrap() as usize;
        let chunk = &data[(number - 1) * size..(number * size).min(data.len())];
        let response = env
            .http
            .put(part["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "part {number}");
        env.assert_no_denials().await;
    }
}

/// Whether the multipart `upload` of an answer is still open in the bucket (S3 lists its
/// parts) or gone.
async fn is_open(env: &TestEnv, upload: &Value) -> bool {
    let part_url = upload["parts"][0]["url"].as_str().expect("a part URL");
    let key = stowage_tests::upload_key(&json!({ "url": part_url }));
    let upload_id = upload["uploadId"].as_str().expect("an upload id");
    env.s3
        .list_parts()
        .bucket(&env.bucket)
        .key(&key)
        .upload_id(upload_id)
        .send()
        .await
        .is_ok()
}

/// Downloads a presigned `contentUrl` from an answer: it was signed by the answering
/// function's role, so its `GET` needs that function's `s3:GetObject`.
async fn download(env: &TestEnv, file: &Value) -> Vec<u8> {
    let url = file["contentUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{file}"));
    let (status, body) = env.fetch(url).await;
    assert_eq!(status, 200, "{url}");
    body
}

/// Every route that answers a private file's presigned `contentUrl` signs one that works:
/// the listing, a re-upload's start and its abort.
async fn every_answered_content_url_downloads(env: TestEnv) {
    env.check_policies();
    let id = uploaded(&env, "a.txt", b"first").await;
    let listed = env.route(RouteId::ListFiles, "acme").send().await;
    assert_eq!(download(&env, &listed.json["items"][0]).await, b"first");
    let started = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": 6 * MIB, "multipart": true, "partSize": 5 * MIB}))
        .send()
        .await;
    assert_eq!(started.status, 200, "{}", started.json);
    assert_eq!(download(&env, &started.json["file"]).await, b"first");
    assert!(is_open(&env, &started.json["upload"]).await);
    let aborted = env.route(RouteId::AbortUpload, "acme").id(&id).send().await;
    assert_eq!(aborted.status, 200, "{}", aborted.json);
    assert_eq!(download(&env, &aborted.json).await, b"first");
    assert!(!is_open(&env, &started.json["upload"]).await);
}

/// A multipart re-upload, completed: the counters move to the new size, the old content is
/// deleted, and the answer's `contentUrl` downloads the new bytes.
async fn a_completed_multipart_reupload_replaces_the_old_content(env: TestEnv) {
    env.check_policies();
    let id = uploaded(&env, "a.txt", b"old bytes").await;
    let old_key = env.content_key(&id).await;
    let data = bytes(6 * MIB);
    let started = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": data.len(), "multipart": true, "partSize": 5 * MIB}))
        .send()
        .await;
    assert_eq!(started.status, 200, "{}", started.json);
    put_parts(&env, &started.json["upload"], &data).await;
    let done = env
        .route(RouteId::CompleteUpload, "acme")
        .id(&id)
        .body(json!({}))
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.json);
    assert_eq!(done.json["size"], data.len());
    assert!(download(&env, &done.json).await == data);
    assert!(
        !env.object_exists(&old_key).await,
        "the old content is deleted"
    );
    let usage = env.route(RouteId::GetUsage, "acme").send().await.json;
    assert_eq!(usage["bytes"], data.len(), "{usage}");
    assert_eq!(usage["files"], 1);
}

/// A public file's multipart upload, completed: its public copy is made at once (and, before
/// it, the thumbnails' state is looked for, which may not exist).
async fn a_completed_public_multipart_upload_is_copied_public(env: TestEnv) {
    env.check_policies();
    let data = bytes(6 * MIB);
    let created = env
        .create(
            "acme",
            json!({"name": "p.bin", "mimeType": "application/octet-stream", "size": data.len(),
                   "multipart": true, "partSize": 5 * MIB, "privateAccess": false}),
        )
        .await;
    let id = id_of(&created.json["file"]);
    put_parts(&env, &created.json["upload"], &data).await;
    let done = env
        .route(RouteId::CompleteUpload, "acme")
        .id(&id)
        .body(json!({}))
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.json);
    assert!(env.object_bytes(&format!("public/acme/{id}")).await == Some(data));
}

/// `overwrite` on an externalId: making the file public copies it, making it private again
/// withdraws the copy, and an overwrite of a file with an open multipart upload aborts it.
async fn overwrites_keep_the_public_copy_and_end_the_replaced_upload(env: TestEnv) {
    env.check_policies();
    let body = |private: bool| {
        json!({"name": "o.txt", "mimeType": "text/plain", "externalId": "order-1",
               "overwrite": true, "privateAccess": private})
    };
    let created = env.create("acme", body(true)).await;
    let id = id_of(&created.json["file"]);
    env.upload(&created.json["upload"], b"ordered").await;
    let key = stowage_tests::upload_key(&created.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let public = format!("public/acme/{id}");

    let again = env.create("acme", body(false)).await;
    assert_eq!(id_of(&again.json["file"]), id);
    assert_eq!(
        env.object_bytes(&public).await.as_deref(),
        Some(&b"ordered"[..])
    );
    env.create("acme", body(true)).await;
    assert_eq!(env.object_bytes(&public).await, None, "withdrawn");

    let multipart = json!({"name": "m.bin", "mimeType": "application/octet-stream",
        "externalId": "order-2", "size": 6 * MIB, "multipart": true, "partSize": 5 * MIB,
        "overwrite": true});
    let first = env.create("acme", multipart.clone()).await;
    assert!(is_open(&env, &first.json["upload"]).await);
    let replaced = env.create("acme", multipart).await;
    assert!(
        !is_open(&env, &first.json["upload"]).await,
        "the old upload is aborted"
    );
    assert!(is_open(&env, &replaced.json["upload"]).await);
}

/// Deleting a file whose multipart upload is open aborts that upload too, one by one or in a
/// batch.
async fn deletes_abort_open_multipart_uploads(env: TestEnv) {
    env.check_policies();
    let start = |name: &str| {
        json!({"name": name, "mimeType": "application/octet-stream", "size": 6 * MIB,
               "multipart": true, "partSize": 5 * MIB})
    };
    let one = env.create("acme", start("one.bin")).await.json;
    let two = env.create("acme", start("two.bin")).await.json;
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&id_of(&one["file"]))
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    assert!(!is_open(&env, &one["upload"]).await);
    assert!(is_open(&env, &two["upload"]).await);
    let batch = env
        .route(RouteId::DeleteFiles, "acme")
        .body(json!({"ids": [id_of(&two["file"])]}))
        .send()
        .await;
    assert_eq!(batch.status, 200, "{}", batch.json);
    assert!(!is_open(&env, &two["upload"]).await);
}

/// The content and thumbnail routes repair a record whose S3 event was lost before they
/// answer: the bytes count in the usage, a re-upload's old content is deleted, and a public
/// file gets its copy.
async fn reads_that_repair_a_lost_event_do_the_whole_completion(env: TestEnv) {
    env.check_policies();
    for route in [RouteId::GetContent, RouteId::GetThumbnail] {
        let read = |id: String| {
            let env = &env;
            async move {
                let query = if route == RouteId::GetThumbnail {
                    "size=64"
                } else {
                    ""
                };
                env.route(route, "acme").id(&id).query(query).send().await
            }
        };
        // No size declared: the repair counts the bytes.
        let created = env.create("acme", text("lost.txt")).await;
        let id = id_of(&created.json["file"]);
        env.upload(&created.json["upload"], b"no event came").await;
        let answered = read(id.clone()).await;
        assert!([302, 404].contains(&answered.status), "{}", answered.json);
        assert_eq!(env.get("acme", &id).await.json["size"], 13);

        // A re-upload whose event was lost: the repair deletes the old content.
        let old_key = env.content_key(&id).await;
        let started = env.route(RouteId::StartUpload, "acme").id(&id).send().await;
        env.upload(&started.json["upload"], b"newer bytes").await;
        read(id.clone()).await;
        assert_eq!(env.get("acme", &id).await.json["size"], 11);
        assert!(!env.object_exists(&old_key).await, "{route:?}");

        // A public file whose upload's event was lost: repaired and copied public.
        let created = env
            .create(
                "acme",
                json!({"name": "pub.txt", "mimeType": "text/plain", "privateAccess": false}),
            )
            .await;
        let id = id_of(&created.json["file"]);
        env.upload(&created.json["upload"], b"for all").await;
        read(id.clone()).await;
        assert_eq!(
            env.object_bytes(&format!("public/acme/{id}"))
                .await
                .as_deref(),
            Some(&b"for all"[..]),
            "{route:?}"
        );
    }
    let usage = env.route(RouteId::GetUsage, "acme").send().await.json;
    assert_eq!(usage["bytes"], 2 * (11 + 7), "{usage}");
}

/// A pending multipart upload that expires is aborted with its record.
async fn an_expired_multipart_upload_is_aborted(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "late.bin", "mimeType": "application/octet-stream", "size": 6 * MIB,
                   "multipart": true, "partSize": 5 * MIB, "uploadUrlExpiresIn": 60}),
        )
        .await;
    assert!(is_open(&env, &created.json["upload"]).await);
    env.advance(std::time::Duration::from_secs(60 + 86_400 + 1));
    assert_eq!(env.expire().await, 1);
    assert!(!is_open(&env, &created.json["upload"]).await);
}

/// `PUT` and the batch `PATCH` keep the public copy in step both ways.
async fn replacing_and_batch_updating_keep_the_public_copy(env: TestEnv) {
    env.check_policies();
    let id = uploaded(&env, "r.txt", b"replace me").await;
    let public = format!("public/acme/{id}");
    let replaced = env
        .route(RouteId::ReplaceFile, "acme")
        .id(&id)
        .body(json!({"name": "r.txt", "mimeType": "text/plain", "privateAccess": false}))
        .send()
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.json);
    assert!(env.object_bytes(&public).await.is_some(), "copied");
    // A PUT without privateAccess makes the file private (its default): withdrawn.
    let replaced = env
        .route(RouteId::ReplaceFile, "acme")
        .id(&id)
        .body(json!({"name": "r.txt", "mimeType": "text/plain"}))
        .send()
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.json);
    assert_eq!(env.object_bytes(&public).await, None, "withdrawn");

    let patched = env
        .route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": id, "privateAccess": false}]))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert!(env.object_bytes(&public).await.is_some(), "copied");
    let patched = env
        .route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": id, "privateAccess": true}]))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(env.object_bytes(&public).await, None, "withdrawn");
    // Private again: the batch's answer carries a presigned contentUrl.
    assert_eq!(
        download(&env, &patched.json["items"][0]).await,
        b"replace me"
    );
}

/// A new upload of a file whose multipart upload is open aborts the old one.
async fn a_new_upload_aborts_the_open_multipart_upload(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "s.bin", "mimeType": "application/octet-stream", "size": 6 * MIB,
                   "multipart": true, "partSize": 5 * MIB}),
        )
        .await;
    let id = id_of(&created.json["file"]);
    assert!(is_open(&env, &created.json["upload"]).await);
    let single = env.route(RouteId::StartUpload, "acme").id(&id).send().await;
    assert_eq!(single.status, 200, "{}", single.json);
    assert!(!is_open(&env, &created.json["upload"]).await);
}

/// Aborting a re-upload of a public file whose copy is behind (its publish job not yet run)
/// asks for the copy again.
async fn an_abort_asks_again_for_a_public_copy_that_is_behind(env: TestEnv) {
    env.check_policies();
    let (id, data) = uploaded_public(&env, 6 * MIB).await;
    // Above the inline limit: a job marker asks the worker for the copy; it has not run.
    let marker = format!("{}acme/{id}", stowage::keys::PUBLISH_JOBS);
    assert!(env.object_exists(&marker).await);
    env.s3
        .delete_object()
        .bucket(&env.bucket)
        .key(&marker)
        .send()
        .await
        .unwrap();
    env.route(RouteId::StartUpload, "acme").id(&id).send().await;
    let aborted = env.route(RouteId::AbortUpload, "acme").id(&id).send().await;
    assert_eq!(aborted.status, 200, "{}", aborted.json);
    assert!(env.object_exists(&marker).await, "asked again");
    assert_eq!(env.run_jobs().await.unwrap(), 1);
    assert!(env.object_bytes(&format!("public/acme/{id}")).await == Some(data));
}

stowage_tests::on_every_backend!(
    every_answered_content_url_downloads,
    a_completed_multipart_reupload_replaces_the_old_content,
    a_completed_public_multipart_upload_is_copied_public,
    overwrites_keep_the_public_copy_and_end_the_replaced_upload,
    deletes_abort_open_multipart_uploads,
    reads_that_repair_a_lost_event_do_the_whole_completion,
    an_expired_multipart_upload_is_aborted,
    replacing_and_batch_updating_keep_the_public_copy,
    a_new_upload_aborts_the_open_multipart_upload,
);

mod behind {
    use super::*;
    stowage_tests::on_every_backend!(
        settings = [("STOWAGE_INLINE_COPY_LIMIT", "5242880")];
        an_abort_asks_again_for_a_public_copy_that_is_behind,
    );
}

/// A copy in parts whose part copy fails is aborted (no parts left behind) and the job fails,
/// to succeed when it is retried (moto: only its client can fail a single part copy).
#[tokio::test]
async fn a_copy_in_parts_that_fails_is_aborted_and_retried() {
    let env = TestEnv::moto_with(&[("STOWAGE_INLINE_COPY_LIMIT", "5242880")]).await;
    env.check_policies();
    let (id, data) = uploaded_public(&env, 12 * MIB).await;
    env.part_copy_outage(true);
    assert!(env.run_jobs().await.is_err(), "the job fails");
    env.part_copy_outage(false);
    let open = env
        .s3
        .list_multipart_uploads()
        .bucket(&env.bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        open.uploads().len(),
        0,
        "the failed copy's upload is aborted"
    );
    assert_eq!(env.run_jobs().await.unwrap(), 1, "retried");
    assert!(env.object_bytes(&format!("public/acme/{id}")).await == Some(data));
}

/// Each function's cold start opens its connections (`bootstrap::prime`, with its own
/// `STOWAGE_PRIME` from `template.yaml`) with calls its policy allows. A function that may not
/// list the bucket sees `403` for the probe's missing key, as S3 answers it, which priming
/// accepts: that is the only refusal allowed.
#[tokio::test]
async fn every_cold_start_primes_within_its_policy() {
    let env = TestEnv::moto().await;
    let template = stowage_tests::template();
    let global = template["Globals"]["Function"]["Environment"]["Variables"]["STOWAGE_PRIME"]
        .as_str()
        .expect("a global STOWAGE_PRIME")
        .to_owned();
    let mut primed = 0;
    for resource in template["Resources"].as_mapping().unwrap().values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let prime = resource["Properties"]["Environment"]["Variables"]["STOWAGE_PRIME"]
            .as_str()
            .map_or(global.clone(), str::to_owned);
        let config = stowage::config::Config::from_lookup(|key| match key {
            "STOWAGE_TABLE" | "STOWAGE_BUCKET" => Some("x".into()),
            "STOWAGE_PRIME" => Some(prime.clone()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let binary: &'static str = Box::leak(binary.into_boxed_str());
        let service = &env.app.service;
        stowage_tests::acting_as(
            binary,
            stowage::bootstrap::prime(
                config.prime,
                service.store().as_ref(),
                service.objects().as_ref(),
            ),
        )
        .await;
        primed += usize::from(config.prime.dynamodb || config.prime.s3);
        let world = env.world.as_deref().unwrap();
        for denied in stowage_tests::denials(world).await {
            let probe = denied["action"] == "s3:ListBucket"
                && denied["context"]["s3:prefix"] == stowage::keys::WARM_KEY;
            assert!(
                probe,
                "{binary}'s cold start called outside its policy: {denied}"
            );
        }
    }
    assert!(primed >= 20, "{primed} functions prime");
}

/// The presigned URL's own signer is checked even without a route call (a sanity check of
/// the harness: a URL signed for a function whose policy lacks `s3:GetObject` is refused).
#[tokio::test]
async fn a_url_signed_by_a_function_without_the_permission_is_refused() {
    let env = TestEnv::moto().await;
    let id = uploaded(&env, "a.txt", b"secret").await;
    let key = env.content_key(&id).await;
    // get-usage's policy allows no S3 action at all.
    let presigned = stowage_tests::acting_as(
        "get-usage",
        env.s3.get_object().bucket(&env.bucket).key(&key).presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    let response = env.http.get(presigned.uri()).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let denied = stowage_tests::denials(env.world.as_deref().unwrap()).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["function"], "get-usage");
    assert_eq!(denied[0]["action"], "s3:GetObject");
}
