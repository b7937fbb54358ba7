//! Versions and the trash: nothing a team stores is lost by one mistake. A re-upload keeps the
//! replaced content in a collection with `versions`; a delete moves the file to the trash in a
//! collection with `trashDays`, until it is restored or purged. Bytes go exactly when the last
//! thing that needs them goes, and usage counts them until then.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, upload_key, TestEnv};

const DAY: u64 = 86_400;

/// `POST /collections` as an app; asserts `201`.
async fn collection(env: &TestEnv, body: Value) -> Value {
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(body)
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    made.json
}

/// An uploaded text file of alice's in `collection`; its record.
async fn file_in(env: &TestEnv, collection: &str, bytes: &[u8]) -> Value {
    env.uploaded(
        "acme",
        json!({"name": "notes.txt", "mimeType": "text/plain", "collection": collection}),
        bytes,
    )
    .await
}

/// A new upload of `id` with `bytes`, landed through its S3 event.
async fn reupload(env: &TestEnv, id: &str, bytes: &[u8]) {
    let started = env
        .route(RouteId::StartUpload, "acme")
        .id(id)
        .body(json!({"size": bytes.len()}))
        .send()
        .await;
    assert_eq!(started.status, 200, "{}", started.json);
    let upload = &started.json["upload"];
    env.upload(upload, bytes).await;
    env.deliver(
        env.object_created_event(&upload_key(upload), &env.next_sequencer())
            .await,
    )
    .await;
}

/// `GET /usage`'s numbers for one collection: (bytes, files).
async fn usage_of(env: &TestEnv, collection: &str) -> (u64, u64) {
    let usage = env
        .route(RouteId::GetUsage, "acme")
        .as_app("admin")
        .send()
        .await;
    assert_eq!(usage.status, 200, "{}", usage.json);
    let c = &usage.json["collections"][collection];
    (
        c["bytes"].as_u64().unwrap_or(0),
        c["files"].as_u64().unwrap_or(0),
    )
}

async fn versions(env: &TestEnv, id: &str) -> Vec<(u64, bool, u64)> {
    let reply = env.route(RouteId::ListVersions, "acme").id(id).send().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["current"].as_bool().unwrap(),
                v["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn trashed_ids(env: &TestEnv) -> Vec<String> {
    let reply = env
        .route(RouteId::ListFiles, "acme")
        .query("trashed=true&limit=1000")
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    ids(&reply.json)
}

async fn a_delete_moves_the_file_to_the_trash_until_it_is_restored_or_purged(env: TestEnv) {
    collection(&env, json!({"name": "docs", "trashDays": 7})).await;
    let file = file_in(&env, "docs", b"keep me").await;
    let id = id_of(&file);
    let key = env.content_key(&id).await;

    let deleted = env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    // Gone from every ordinary read...
    env.get("acme", &id).await.assert_problem(404, "not_found");
    assert!(!env.listed("acme").await.contains(&id));
    for route in [RouteId::GetContent, RouteId::ListVersions] {
        env.route(route, "acme")
            .id(&id)
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"tags": ["x"]}))
        .send()
        .await
        .assert_problem(404, "not_found");
    // ...but in the trash, with its bytes, and still counted.
    let trashed = env
        .route(RouteId::GetFile, "acme")
        .id(&id)
        .query("trashed=true")
        .send()
        .await;
    assert_eq!(trashed.status, 200, "{}", trashed.json);
    assert!(trashed.json["trashedAt"].is_string(), "{}", trashed.json);
    assert!(trashed.json["purgeAt"].is_string(), "{}", trashed.json);
    assert_eq!(trashed.json["expiresAt"], Value::Null);
    assert_eq!(trashed_ids(&env).await, vec![id.clone()]);
    assert!(env.object_exists(&key).await);
    assert_eq!(usage_of(&env, "docs").await, (7, 1));

    // Restored as it was.
    let restored = env.route(RouteId::RestoreFile, "acme").id(&id).send().await;
    assert_eq!(restored.status, 200, "{}", restored.json);
    assert!(
        restored.json.get("trashedAt").is_none(),
        "{}",
        restored.json
    );
    assert_eq!(env.download(&id).await, b"keep me");
    assert!(trashed_ids(&env).await.is_empty());
    env.route(RouteId::RestoreFile, "acme")
        .id(&id)
        .send()
        .await
        .assert_problem(409, "not_trashed");

    // Deleted again and left there: purged after its days, bytes and all.
    env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    env.advance(Duration::from_secs(6 * DAY));
    env.expire().await;
    assert_eq!(
        trashed_ids(&env).await,
        vec![id.clone()],
        "not before its purgeAt"
    );
    env.advance(Duration::from_secs(2 * DAY));
    env.expire().await;
    assert!(trashed_ids(&env).await.is_empty());
    env.route(RouteId::GetFile, "acme")
        .id(&id)
        .query("trashed=true")
        .send()
        .await
        .assert_problem(404, "not_found");
    assert!(
        !env.object_exists(&key).await,
        "the purge deleted the bytes"
    );
    assert_eq!(usage_of(&env, "docs").await, (0, 0));
}

async fn permanent_deletes_temp_files_and_unfinished_uploads_skip_the_trash(env: TestEnv) {
    collection(&env, json!({"name": "docs", "trashDays": 30})).await;
    // permanent=true on a live file.
    let live = id_of(&file_in(&env, "docs", b"one").await);
    let key = env.content_key(&live).await;
    let gone = env
        .route(RouteId::DeleteFile, "acme")
        .id(&live)
        .query("permanent=true")
        .send()
        .await;
    assert_eq!(gone.status, 204, "{}", gone.json);
    assert!(trashed_ids(&env).await.is_empty());
    assert!(!env.object_exists(&key).await);
    // A trashed file: a plain delete does not see it; permanent=true deletes it for good.
    let trashed = id_of(&file_in(&env, "docs", b"two").await);
    env.route(RouteId::DeleteFile, "acme")
        .id(&trashed)
        .send()
        .await;
    env.route(RouteId::DeleteFile, "acme")
        .id(&trashed)
        .send()
        .await
        .assert_problem(404, "not_found");
    let purged = env
        .route(RouteId::DeleteFile, "acme")
        .id(&trashed)
        .query("permanent=true")
        .send()
        .await;
    assert_eq!(purged.status, 204, "{}", purged.json);
    assert!(trashed_ids(&env).await.is_empty());
    // A temp file and a file never uploaded skip the trash.
    let temp = env
        .uploaded(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "collection": "docs", "kind": "temp", "ttlSeconds": 3600}),
            b"temp",
        )
        .await;
    let pending = env
        .create_id(
            "acme",
            json!({"name": "p.txt", "mimeType": "text/plain", "collection": "docs"}),
        )
        .await;
    for id in [id_of(&temp), pending] {
        let reply = env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
        assert_eq!(reply.status, 204, "{}", reply.json);
    }
    assert!(trashed_ids(&env).await.is_empty());
    assert_eq!(usage_of(&env, "docs").await, (0, 0));
    // Bad flags are refused, and nothing is deleted.
    let kept = id_of(&file_in(&env, "docs", b"three").await);
    env.route(RouteId::DeleteFile, "acme")
        .id(&kept)
        .query("permanent=yes")
        .send()
        .await
        .assert_problem(400, "validation_failed");
    assert_eq!(env.get("acme", &kept).await.status, 200);
}

async fn batch_and_filter_deletes_go_to_the_trash_and_permanent_empties_it(env: TestEnv) {
    collection(&env, json!({"name": "docs", "trashDays": 30})).await;
    let a = id_of(&file_in(&env, "docs", b"a").await);
    let b = id_of(&file_in(&env, "docs", b"b").await);
    let reply = env
        .route(RouteId::DeleteFiles, "acme")
        .body(json!({"ids": [a, b]}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let mut trash = trashed_ids(&env).await;
    trash.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(trash, both);
    // The trash by filter, for good.
    let emptied = env
        .route(RouteId::DeleteFiles, "acme")
        .body(json!({"filter": {"collection": "docs", "trashed": true}, "permanent": true}))
        .send()
        .await;
    assert_eq!(emptied.status, 200, "{}", emptied.json);
    assert_eq!(
        emptied.json["deleted"].as_array().unwrap().len(),
        2,
        "{}",
        emptied.json
    );
    assert!(trashed_ids(&env).await.is_empty());
    assert_eq!(usage_of(&env, "docs").await, (0, 0));
    // A change by filter cannot reach into the trash.
    env.route(RouteId::UpdateFiles, "acme")
        .body(json!({"filter": {"trashed": true}, "patch": {"tags": ["x"]}}))
        .send()
        .await
        .assert_problem(400, "validation_failed");
}

async fn the_deployments_default_trash_days_apply_to_default(env: TestEnv) {
    let id = id_of(&file_in(&env, "default", b"x").await);
    env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    let trashed = env
        .route(RouteId::GetFile, "acme")
        .id(&id)
        .query("trashed=true")
        .send()
        .await;
    assert_eq!(trashed.status, 200, "{}", trashed.json);
    let (trashed_at, purge_at) = (
        chrono::DateTime::parse_from_rfc3339(trashed.json["trashedAt"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(trashed.json["purgeAt"].as_str().unwrap()).unwrap(),
    );
    assert_eq!((purge_at - trashed_at).num_seconds(), 3 * DAY as i64);
    // A collection created without trashDays takes the default too, and says so.
    let made = collection(&env, json!({"name": "plain"})).await;
    assert_eq!(made["trashDays"], 3, "{made}");
}

async fn rules_out_of_range_are_refused_naming_each_field(env: TestEnv) {
    let reply = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(json!({"name": "bad", "versions": 101, "trashDays": 366}))
        .send()
        .await;
    reply.assert_problem(400, "validation_failed");
    let fields: Vec<&str> = reply.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["versions", "trashDays"], "{}", reply.json);
    env.route(RouteId::GetCollection, "acme")
        .id("bad")
        .send()
        .await
        .assert_problem(404, "collection_not_found");
}

async fn a_collection_keeps_the_newest_versions_and_restores_any(env: TestEnv) {
    collection(&env, json!({"name": "kept", "versions": 2})).await;
    let id = id_of(&file_in(&env, "kept", b"one").await);
    let first = env.content_key(&id).await;
    for bytes in [&b"two!"[..], b"three", b"four!!"] {
        reupload(&env, &id, bytes).await;
    }
    // The current content and the two newest earlier ones; the oldest went with its bytes.
    assert_eq!(
        versions(&env, &id).await,
        [(4, true, 6), (3, false, 5), (2, false, 4)]
    );
    assert!(!env.object_exists(&first).await);
    assert_eq!(usage_of(&env, "kept").await, (6 + 5 + 4, 1));
    // Any version downloads.
    let three = env
        .route(RouteId::GetVersionContent, "acme")
        .id(&format!("{id}@3"))
        .send()
        .await;
    assert_eq!(three.status, 302, "{}", three.json);
    let (status, bytes) = env.fetch(three.headers["location"].to_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"three"[..]));
    // The current one cannot be deleted; an unknown one is 404; a kept one goes with its bytes.
    let current = env.content_key(&id).await;
    env.route(RouteId::DeleteVersion, "acme")
        .id(&format!("{id}@4"))
        .send()
        .await
        .assert_problem(409, "current_version");
    env.route(RouteId::DeleteVersion, "acme")
        .id(&format!("{id}@9"))
        .send()
        .await
        .assert_problem(404, "version_not_found");
    let deleted = env
        .route(RouteId::DeleteVersion, "acme")
        .id(&format!("{id}@2"))
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    assert_eq!(versions(&env, &id).await, [(4, true, 6), (3, false, 5)]);
    assert_eq!(usage_of(&env, "kept").await, (6 + 5, 1));

    // Restoring copies version 3 back as a new content; the replaced one is kept in turn.
    let restored = env
        .route(RouteId::RestoreVersion, "acme")
        .id(&format!("{id}@3"))
        .send()
        .await;
    assert_eq!(restored.status, 200, "{}", restored.json);
    assert_eq!(restored.json["size"], 5);
    assert_eq!(env.download(&id).await, b"three");
    assert_eq!(
        versions(&env, &id).await,
        [(5, true, 5), (4, false, 6), (3, false, 5)]
    );
    assert!(env.object_exists(&current).await, "version 4's bytes stay");
    env.route(RouteId::RestoreVersion, "acme")
        .id(&format!("{id}@5"))
        .send()
        .await
        .assert_problem(409, "current_version");
    // Restoring again pushes the oldest kept version out, bytes and all.
    let oldest = {
        let id = stowage::model::FileId::parse(&id).unwrap();
        let record = env
            .app
            .service
            .store()
            .get(&env.who("acme").tenant, id)
            .await
            .unwrap()
            .unwrap();
        record.versions.last().unwrap().key.clone()
    };
    let again = env
        .route(RouteId::RestoreVersion, "acme")
        .id(&format!("{id}@4"))
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(
        versions(&env, &id).await,
        [(6, true, 6), (5, false, 5), (4, false, 6)]
    );
    assert!(!env.object_exists(&oldest).await, "version 3's bytes went");
    assert_eq!(env.download(&id).await, b"four!!");
    // A late event for a kept version's key changes nothing and deletes nothing.
    env.deliver(
        env.object_created_event(&current, &env.next_sequencer())
            .await,
    )
    .await;
    assert!(env.object_exists(&current).await);
    assert_eq!(versions(&env, &id).await.len(), 3);

    // Deleting the file for good deletes every version's bytes.
    let keys = [env.content_key(&id).await, current];
    env.route(RouteId::DeleteFile, "acme")
        .id(&id)
        .query("permanent=true")
        .send()
        .await;
    for key in keys {
        assert!(!env.object_exists(&key).await, "{key}");
    }
    assert_eq!(usage_of(&env, "kept").await, (0, 0));
}

async fn without_versions_a_new_upload_replaces_the_old_content(env: TestEnv) {
    let id = id_of(&file_in(&env, "default", b"one").await);
    let first = env.content_key(&id).await;
    reupload(&env, &id, b"two").await;
    assert_eq!(versions(&env, &id).await, [(2, true, 3)]);
    assert!(!env.object_exists(&first).await);
    env.route(RouteId::GetVersionContent, "acme")
        .id(&format!("{id}@1"))
        .send()
        .await
        .assert_problem(404, "version_not_found");
}

async fn a_public_file_in_the_trash_is_not_served_until_it_is_restored(env: TestEnv) {
    collection(&env, json!({"name": "site", "trashDays": 7})).await;
    let file = env
        .uploaded(
            "acme",
            json!({"name": "page.txt", "mimeType": "text/plain", "collection": "site", "privateAccess": false}),
            b"hello, world",
        )
        .await;
    let id = id_of(&file);
    env.run_jobs().await.unwrap();
    let copy = format!("public/acme/{id}");
    assert!(env.object_exists(&copy).await);
    env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    env.run_jobs().await.unwrap();
    assert!(
        !env.object_exists(&copy).await,
        "withdrawn while in the trash"
    );
    let restored = env.route(RouteId::RestoreFile, "acme").id(&id).send().await;
    assert_eq!(restored.status, 200, "{}", restored.json);
    env.run_jobs().await.unwrap();
    assert_eq!(
        env.object_bytes(&copy).await.as_deref(),
        Some(&b"hello, world"[..])
    );
}

stowage_tests::on_every_backend!(
    a_public_file_in_the_trash_is_not_served_until_it_is_restored,
    a_delete_moves_the_file_to_the_trash_until_it_is_restored_or_purged,
    permanent_deletes_temp_files_and_unfinished_uploads_skip_the_trash,
    batch_and_filter_deletes_go_to_the_trash_and_permanent_empties_it,
    rules_out_of_range_are_refused_naming_each_field,
    a_collection_keeps_the_newest_versions_and_restores_any,
    without_versions_a_new_upload_replaces_the_old_content,
);

mod default_trash {
    use super::*;
    stowage_tests::on_every_backend!(
        settings = [("STOWAGE_DEFAULT_TRASH_DAYS", "3")];
        the_deployments_default_trash_days_apply_to_default,
    );
}
