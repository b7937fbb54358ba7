//! Collections, their rules, usage counters and quotas on both backends:
//! the counters stay equal to the sum over the records through every kind of change, limits
//! are never overshot by concurrent writers, rules bind creates, re-uploads and landed bytes,
//! and bad input is a clear 400 that writes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, Backend, Reply, TestEnv};

const ADMIN_ROUTES: [RouteId; 4] = [
    RouteId::CreateCollection,
    RouteId::UpdateCollection,
    RouteId::DeleteCollection,
    RouteId::PutUsageLimits,
];

async fn new_collection(env: &TestEnv, body: Value) -> Reply {
    let reply = env
        .route(RouteId::CreateCollection, "acme")
        .body(body)
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    reply
}

async fn create(env: &TestEnv, body: Value) -> Reply {
    let request = stowage_tests::create_request("acme", "alice", &body);
    env.call(RouteId::CreateFile, request).await
}

fn file(collection: &str, name: &str, size: Option<u64>) -> Value {
    let mut body = json!({"collection": collection, "name": name, "mimeType": "text/plain"});
    if let Some(size) = size {
        body["size"] = json!(size);
    }
    body
}

async fn usage(env: &TestEnv) -> Value {
    let reply = env.route(RouteId::GetUsage, "acme").send().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json
}

/// Uploads `bytes` with the create's URL and delivers the S3 event (twice if `twice`).
async fn land(env: &TestEnv, created: &Reply, bytes: &[u8], twice: bool) {
    env.upload(&created.json["upload"], bytes).await;
    let key = stowage_tests::upload_key(&created.json["upload"]);
    let event = env.object_created_event(&key, &env.next_sequencer()).await;
    env.deliver(event.clone()).await;
    if twice {
        env.deliver(event).await;
    }
}

/// Usage recomputed from the records themselves (read from the store, so records that have
/// expired but are not removed yet count, as they hold bytes): per collection and in all.
async fn recomputed(env: &TestEnv, ids: &[String]) -> Value {
    let tenant = stowage::model::TenantId::parse("acme").unwrap();
    let mut by_collection: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for id in ids {
        let id = stowage::model::FileId::parse(id).unwrap();
        let Some(record) = env.app.service.store().get(&tenant, id).await.unwrap() else {
            continue;
        };
        // The content, and the earlier contents kept as versions.
        let stored = record.content.as_ref().map_or(0, |c| c.size)
            + record.versions.iter().map(|v| v.size).sum::<u64>();
        let reserved = match &record.upload {
            Some(_) => record.expected_size.unwrap_or(0),
            None => 0,
        };
        let entry = by_collection
            .entry(record.collection.as_str().to_owned())
            .or_default();
        entry.0 += stored + reserved;
        entry.1 += 1;
    }
    let bytes: u64 = by_collection.values().map(|c| c.0).sum();
    let files: u64 = by_collection.values().map(|c| c.1).sum();
    json!({
        "bytes": bytes,
        "files": files,
        "collections": by_collection
            .iter()
            .map(|(name, (bytes, files))| (name.clone(), json!({"bytes": bytes, "files": files})))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// What `GET /usage` says, without the collections whose counters are back at zero (a
/// recount from records cannot see them) and without the limits.
fn counted(usage: &Value) -> Value {
    let collections: serde_json::Map<String, Value> = usage["collections"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| c["files"] != 0 || c["bytes"] != 0)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({"bytes": usage["bytes"], "files": usage["files"], "collections": collections})
}

async fn counters_stay_exact_through_every_kind_of_change(env: TestEnv) {
    new_collection(
        &env,
        json!({"name": "docs", "maxBytes": 10_000, "maxFiles": 50}),
    )
    .await;
    new_collection(&env, json!({"name": "small", "maxFileSize": 10})).await;
    let limits = env
        .route(RouteId::PutUsageLimits, "acme")
        .body(json!({"maxBytes": 100_000, "maxFiles": 100}))
        .send()
        .await;
    assert_eq!(limits.status, 200, "{}", limits.json);
    let mut all = Vec::new();

    // Uploaded, its event delivered twice.
    let a = create(&env, file("docs", "a.txt", Some(10))).await;
    land(&env, &a, b"0123456789", true).await;
    all.push(id_of(&a.json["file"]));

    // Uploaded, then uploaded again (30 bytes reserved beside the 20 stored until it lands),
    // then the first upload's event arrives late.
    let b = create(&env, file("default", "b.txt", Some(20))).await;
    let b_id = id_of(&b.json["file"]);
    env.upload(&b.json["upload"], &[b'b'; 20]).await;
    let first_key = stowage_tests::upload_key(&b.json["upload"]);
    let first = env
        .object_created_event(&first_key, &env.next_sequencer())
        .await;
    env.deliver(first.clone()).await;
    let again = env
        .route(RouteId::StartUpload, "acme")
        .id(&b_id)
        .body(json!({"size": 30}))
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.json);
    all.push(b_id.clone());
    assert_eq!(counted(&usage(&env).await), recomputed(&env, &all).await);
    land(&env, &again, &[b'B'; 30], false).await;
    env.deliver(first).await;

    // One object lands at its key (an upload URL writes once), its event delivered twice,
    // a later sequencer first.
    let c = create(&env, file("default", "c.txt", Some(5))).await;
    env.upload(&c.json["upload"], b"aaaaa").await;
    let c_key = stowage_tests::upload_key(&c.json["upload"]);
    let older = env
        .object_created_event(&c_key, &env.next_sequencer())
        .await;
    let newer = env
        .object_created_event(&c_key, &env.next_sequencer())
        .await;
    env.deliver(newer).await;
    env.deliver(older).await;
    all.push(id_of(&c.json["file"]));

    // Aborted before any byte: failed, its reservation released.
    let d = create(&env, file("docs", "d.txt", Some(40))).await;
    let d_id = id_of(&d.json["file"]);
    let aborted = env
        .route(RouteId::AbortUpload, "acme")
        .id(&d_id)
        .send()
        .await;
    assert_eq!(aborted.status, 200, "{}", aborted.json);
    all.push(d_id);

    // Deleted, one by one and in a batch (with an unknown id beside them).
    let e = create(&env, file("default", "e.txt", Some(6))).await;
    land(&env, &e, b"eeeeee", false).await;
    let e_id = id_of(&e.json["file"]);
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&e_id)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    all.push(e_id);
    let mut batch = Vec::new();
    for (name, bytes) in [("f.txt", &b"fffffff"[..]), ("g.txt", &b"gggggggg"[..])] {
        let created = create(&env, file("docs", name, Some(bytes.len() as u64))).await;
        land(&env, &created, bytes, false).await;
        batch.push(id_of(&created.json["file"]));
    }
    batch.push("01KAQ3V6T0Z9Y8X7W6V5T4S3R2".to_owned());
    let deleted = env
        .route(RouteId::DeleteFiles, "acme")
        .body(json!({ "ids": batch }))
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.json);
    assert_eq!(deleted.json["deleted"].as_array().unwrap().len(), 2);
    all.extend(batch);

    // Bytes other than the declared size: failed, the bytes deleted, the reservation
    // released.
    let j = create(&env, file("small", "j.txt", Some(10))).await;
    assert_eq!(j.status, 201, "{}", j.json);
    land(&env, &j, &[b'j'; 20], false).await;
    let j_id = id_of(&j.json["file"]);
    let got = env.get("acme", &j_id).await.json;
    assert_eq!(got["status"], "failed", "{got}");
    assert!(got["failureReason"]
        .as_str()
        .is_some_and(|r| r.contains("expectedSize")));
    let j_key = stowage_tests::upload_key(&j.json["upload"]);
    assert!(
        !env.object_exists(&j_key).await,
        "the oversized bytes are gone"
    );
    all.push(j_id);

    // Versions and the trash: three contents of one file (their events repeated and out of
    // order, the first one's again once it is a kept version), then the file in the trash.
    new_collection(&env, json!({"name": "kept", "versions": 2, "trashDays": 1})).await;
    let k = create(&env, file("kept", "k.txt", Some(4))).await;
    land(&env, &k, b"kkkk", false).await;
    let k_id = id_of(&k.json["file"]);
    let k_first = stowage_tests::upload_key(&k.json["upload"]);
    for (size, fill) in [(5, b'K'), (6, b'L')] {
        let again = env
            .route(RouteId::StartUpload, "acme")
            .id(&k_id)
            .body(json!({ "size": size }))
            .send()
            .await;
        assert_eq!(again.status, 200, "{}", again.json);
        env.upload(&again.json["upload"], &vec![fill; size]).await;
        let key = stowage_tests::upload_key(&again.json["upload"]);
        let older = env.object_created_event(&key, &env.next_sequencer()).await;
        let newer = env.object_created_event(&key, &env.next_sequencer()).await;
        env.deliver(newer).await;
        env.deliver(older).await;
    }
    env.deliver(
        env.object_created_event(&k_first, &env.next_sequencer())
            .await,
    )
    .await;
    assert!(
        env.object_exists(&k_first).await,
        "a kept version keeps its bytes"
    );
    all.push(k_id.clone());
    assert_eq!(counted(&usage(&env).await), recomputed(&env, &all).await);
    let trashed = env
        .route(RouteId::DeleteFile, "acme")
        .id(&k_id)
        .send()
        .await;
    assert_eq!(trashed.status, 204, "{}", trashed.json);
    assert_eq!(
        counted(&usage(&env).await)["collections"]["kept"],
        json!({"bytes": 4 + 5 + 6, "files": 1}),
        "a trashed file counts with its versions"
    );

    // A temp file expires (TTL and the stream function on DynamoDB, delivered twice; the
    // sweep on the embedded backend).
    let h = create(
        &env,
        json!({"name": "h.txt", "mimeType": "text/plain", "size": 9, "kind": "temp", "ttlSeconds": 60}),
    )
    .await;
    land(&env, &h, b"hhhhhhhhh", false).await;
    let h_id = id_of(&h.json["file"]);
    all.push(h_id.clone());
    env.advance(Duration::from_secs(61));
    assert_eq!(
        counted(&usage(&env).await),
        recomputed(&env, &all).await,
        "an expired file not yet removed still counts"
    );
    match env.backend {
        Backend::Moto => {
            assert_eq!(env.ttl_delete().await, std::slice::from_ref(&h_id));
            let stream = env.table_stream(std::slice::from_ref(&h_id)).await;
            env.deliver_stream(stream.clone()).await;
            env.deliver_stream(stream).await;
            assert_eq!(env.unfinished_cleanups(), 0);
        }
        Backend::Embedded => {
            assert_eq!(env.expire().await, 1);
            env.retry_stream().await;
        }
    }

    // The trashed file's day passes: purged with every version's bytes, its TTL removal
    // delivered twice on DynamoDB.
    env.advance(Duration::from_secs(86_400));
    match env.backend {
        Backend::Moto => {
            assert_eq!(env.ttl_delete().await, std::slice::from_ref(&k_id));
            let stream = env.table_stream(std::slice::from_ref(&k_id)).await;
            env.deliver_stream(stream.clone()).await;
            env.deliver_stream(stream).await;
            assert_eq!(env.unfinished_cleanups(), 0);
        }
        Backend::Embedded => {
            assert_eq!(env.expire().await, 1);
            env.retry_stream().await;
        }
    }
    assert!(
        !env.object_exists(&k_first).await,
        "purged with its versions"
    );
    let after = counted(&usage(&env).await);
    assert_eq!(after, recomputed(&env, &all).await);
    assert!(after["collections"].get("kept").is_none(), "{after}");

    // 16 clients race for the last bytes of a collection and for the last files of another:
    // exactly as many win as fit, the others are told which limit.
    new_collection(&env, json!({"name": "race", "maxBytes": 1_000})).await;
    new_collection(&env, json!({"name": "racef", "maxFiles": 5})).await;
    for (collection, size, fit, limit) in [
        ("race", Some(100), 10, "collection.maxBytes"),
        ("racef", Some(1), 5, "collection.maxFiles"),
    ] {
        let attempts = (0..16).map(|i| create(&env, file(collection, &format!("{i}.txt"), size)));
        let replies = futures_util::future::join_all(attempts).await;
        let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
        assert_eq!(
            won.len(),
            fit,
            "{collection}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for lost in replies.iter().filter(|r| r.status != 201) {
            lost.assert_problem(409, "quota_exceeded");
            let detail = lost.json["detail"].as_str().unwrap();
            assert!(detail.contains(limit), "{detail}");
        }
        all.extend(won.iter().map(|r| id_of(&r.json["file"])));
        let listed = env
            .route(RouteId::ListFiles, "acme")
            .query(&format!("collection={collection}&limit=100"))
            .send()
            .await;
        assert_eq!(
            ids(&listed.json).len(),
            fit,
            "nothing of the losers is left"
        );
    }

    let now = usage(&env).await;
    assert_eq!(counted(&now), recomputed(&env, &all).await, "{now}");
    assert_eq!(now["limits"], json!({"maxBytes": 100_000, "maxFiles": 100}));
    assert_eq!(
        now["collections"]["race"],
        json!({"bytes": 1_000, "files": 10})
    );
    // a (10) + b (30) + c (5) + d (failed, 0) + j (failed, 0) + the racers (1,000 + 5)
    assert_eq!(
        (&now["bytes"], &now["files"]),
        (&json!(1_050), &json!(20)),
        "{now}"
    );
}

async fn rules_bind_creates_reuploads_and_the_bytes_that_land(env: TestEnv) {
    new_collection(
        &env,
        json!({"name": "avatars", "allowedMimeTypes": ["image/*", "application/JSON"], "maxFileSize": 5_000_000}),
    )
    .await;
    let avatar = |mime: &str, size: Option<u64>| {
        let mut body = json!({"collection": "avatars", "name": "me", "mimeType": mime});
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        body
    };
    create(&env, avatar("application/pdf", Some(10)))
        .await
        .assert_problem(400, "mime_type_not_allowed");
    create(&env, avatar("image/png", Some(6_000_000)))
        .await
        .assert_problem(413, "file_too_large");
    create(&env, file("avatarz", "x", None))
        .await
        .assert_problem(404, "collection_not_found");
    let ok = create(&env, avatar("IMAGE/PNG", Some(10))).await;
    assert_eq!(ok.status, 201, "{}", ok.json);
    assert_eq!(ok.json["file"]["collection"], "avatars");
    let json_file = create(&env, avatar("application/json; charset=utf-8", Some(2))).await;
    assert_eq!(json_file.status, 201, "{}", json_file.json);
    let id = id_of(&ok.json["file"]);
    let listed = env
        .route(RouteId::ListFiles, "acme")
        .query("collection=avatars")
        .send()
        .await;
    assert_eq!(ids(&listed.json).len(), 2, "only what was admitted");
    // An update cannot give it a type the collection does not take, alone or in a batch.
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"mimeType": "text/html"}))
        .send()
        .await
        .assert_problem(400, "mime_type_not_allowed");
    env.route(RouteId::ReplaceFile, "acme")
        .id(&id)
        .body(json!({"name": "me.html", "mimeType": "text/html"}))
        .send()
        .await
        .assert_problem(400, "mime_type_not_allowed");
    env.route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": id, "mimeType": "text/html"}]))
        .send()
        .await
        .assert_problem(400, "mime_type_not_allowed");
    let retyped = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"mimeType": "image/webp"}))
        .send()
        .await;
    assert_eq!(retyped.status, 200, "{}", retyped.json);
    assert_eq!(env.get("acme", &id).await.json["version"], 2);
    // A re-upload is checked again.
    env.route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": 6_000_000}))
        .send()
        .await
        .assert_problem(413, "file_too_large");
    // The collection is fixed: overwrite naming another is refused.
    let first = create(
        &env,
        json!({"collection": "avatars", "name": "p.png", "mimeType": "image/png", "size": 1, "externalId": "p"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.json);
    create(
        &env,
        json!({"collection": "default", "name": "p.png", "mimeType": "image/png", "externalId": "p", "overwrite": true}),
    )
    .await
    .assert_problem(409, "collection_mismatch");
    // Not naming it keeps the file's collection, and its rules.
    let kept = create(
        &env,
        json!({"name": "p.png", "mimeType": "image/png", "size": 1, "externalId": "p", "overwrite": true}),
    )
    .await;
    assert_eq!(kept.status, 201, "{}", kept.json);
    assert_eq!(kept.json["file"]["collection"], "avatars");
    create(
        &env,
        json!({"name": "p.pdf", "mimeType": "application/pdf", "externalId": "p", "overwrite": true}),
    )
    .await
    .assert_problem(400, "mime_type_not_allowed");

    // A single PUT cannot bind its size: bytes larger than maxFileSize end the upload failed,
    // and are deleted.
    let undeclared = create(&env, avatar("image/png", None)).await;
    assert_eq!(undeclared.status, 201, "{}", undeclared.json);
    let key = stowage_tests::upload_key(&undeclared.json["upload"]);
    let huge = vec![0u8; 5_000_001];
    env.upload(&undeclared.json["upload"], &huge).await;
    let event = env.object_created_event(&key, &env.next_sequencer()).await;
    env.deliver(event).await;
    let got = env.get("acme", &id_of(&undeclared.json["file"])).await.json;
    assert_eq!(got["status"], "failed", "{got}");
    assert!(
        got["failureReason"]
            .as_str()
            .is_some_and(|r| r.contains("maxFileSize")),
        "{got}"
    );
    assert!(
        !env.object_exists(&key).await,
        "the oversized bytes are gone"
    );

    // requireSize, defaults and the URL lifetime cap.
    new_collection(
        &env,
        json!({"name": "exports", "requireSize": true, "maxUploadUrlExpiresIn": 600,
               "defaults": {"privateAccess": false, "kind": "temp", "ttlSeconds": 120}}),
    )
    .await;
    create(&env, file("exports", "e.csv", None))
        .await
        .assert_problem(400, "size_required");
    let mut long = file("exports", "e.csv", Some(3));
    long["uploadUrlExpiresIn"] = json!(3_600);
    let refused = create(&env, long).await;
    refused.assert_problem(400, "validation_failed");
    assert_eq!(refused.error_fields(), ["uploadUrlExpiresIn"]);
    let made = create(&env, file("exports", "e.csv", Some(3))).await;
    assert_eq!(made.status, 201, "{}", made.json);
    let record = &made.json["file"];
    assert_eq!(
        (&record["privateAccess"], &record["kind"]),
        (&json!(false), &json!("temp"))
    );
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    assert_eq!(at(&record["expiresAt"]) - at(&record["createdAt"]), 120);
    let url_life = at(&made.json["upload"]["expiresAt"]) - at(&record["createdAt"]);
    assert!((1..=600).contains(&url_life), "{url_life}");

    // A POST form's policy stops at maxFileSize.
    new_collection(&env, json!({"name": "small", "maxFileSize": 10})).await;
    let mut form = file("small", "s.txt", None);
    form["uploadMethod"] = json!("POST");
    let form = create(&env, form).await;
    assert_eq!(form.status, 201, "{}", form.json);
    let policy = form.json["upload"]["fields"]["policy"].as_str().unwrap();
    let policy: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, policy).unwrap(),
    )
    .unwrap();
    let range = policy["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == "content-length-range")
        .cloned()
        .unwrap_or_default();
    assert_eq!(range[2], 10, "{policy}");
    if env.backend == Backend::Embedded {
        // The embedded endpoint enforces the policy as S3 does.
        let fields = form.json["upload"]["fields"].as_object().unwrap();
        let mut multipart = reqwest::multipart::Form::new();
        for (name, value) in fields {
            multipart = multipart.text(name.clone(), value.as_str().unwrap().to_owned());
        }
        multipart = multipart.part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'x'; 11]).file_name("s.txt"),
        );
        let posted = env
            .http
            .post(form.json["upload"]["url"].as_str().unwrap())
            .multipart(multipart)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 400, "11 bytes are refused");
    }
}

async fn collections_are_managed_with_if_match_and_refuse_bad_input(env: TestEnv) {
    let listed = env.route(RouteId::ListCollections, "acme").send().await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.json["items"][0]["name"], "default");
    assert_eq!(listed.json["items"][0]["version"], 0);

    let made = new_collection(&env, json!({"name": "docs", "maxFiles": 10})).await;
    assert_eq!(made.headers["location"], "/collections/docs");
    assert_eq!(made.headers["etag"], "\"1\"");
    assert_eq!(made.json["maxFiles"], 10);
    for name in ["docs", "default"] {
        env.route(RouteId::CreateCollection, "acme")
            .body(json!({ "name": name }))
            .send()
            .await
            .assert_problem(409, "collection_exists");
    }
    let got = env
        .route(RouteId::GetCollection, "acme")
        .id("docs")
        .send()
        .await;
    assert_eq!((got.status, &got.json["version"]), (200, &json!(1)));
    env.route(RouteId::GetCollection, "acme")
        .id("nope")
        .send()
        .await
        .assert_problem(404, "collection_not_found");
    let bad_name = env
        .route(RouteId::GetCollection, "acme")
        .id("Docs")
        .send()
        .await;
    assert_eq!(bad_name.status, 400, "{}", bad_name.json);

    env.route(RouteId::UpdateCollection, "acme")
        .id("docs")
        .headers(&[("if-match", "\"7\"")])
        .body(json!({"maxFileSize": 100}))
        .send()
        .await
        .assert_problem(412, "version_mismatch");
    let patched = env
        .route(RouteId::UpdateCollection, "acme")
        .id("docs")
        .headers(&[("if-match", "\"1\"")])
        .body(json!({"maxFileSize": 100, "maxFiles": null, "allowedMimeTypes": ["text/*"]}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(
        (
            &patched.json["version"],
            &patched.json["maxFileSize"],
            &patched.json["maxFiles"]
        ),
        (&json!(2), &json!(100), &Value::Null)
    );
    for (body, field) in [
        (json!({"name": "other"}), "name"),
        (json!({"colour": "red"}), "colour"),
        (json!({"maxFileSize": 0}), "maxFileSize"),
    ] {
        let reply = env
            .route(RouteId::UpdateCollection, "acme")
            .id("docs")
            .body(body)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }

    let too_long = "a".repeat(65);
    for (body, field) in [
        (json!({"name": "Avatars"}), "name"),
        (json!({"name": "a/b"}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": too_long}), "name"),
        (json!({"name": 7}), "name"),
        (json!({}), "name"),
        (
            json!({"name": "x", "allowedMimeTypes": ["image/"]}),
            "allowedMimeTypes",
        ),
        (
            json!({"name": "x", "allowedMimeTypes": ["*/*"]}),
            "allowedMimeTypes",
        ),
        (
            json!({"name": "x", "allowedMimeTypes": []}),
            "allowedMimeTypes",
        ),
        (
            json!({"name": "x", "allowedMimeTypes": ["text/plain; charset=utf-8"]}),
            "allowedMimeTypes",
        ),
        (
            json!({"name": "x", "allowedMimeTypes": "image/png"}),
            "allowedMimeTypes",
        ),
        (
            json!({"name": "x", "maxFileSize": 5_497_558_138_881_u64}),
            "maxFileSize",
        ),
        (json!({"name": "x", "maxFileSize": "5"}), "maxFileSize"),
        (json!({"name": "x", "requireSize": "yes"}), "requireSize"),
        (json!({"name": "x", "maxBytes": -1}), "maxBytes"),
        (json!({"name": "x", "maxFiles": 1.5}), "maxFiles"),
        (
            json!({"name": "x", "maxUploadUrlExpiresIn": 604_801}),
            "maxUploadUrlExpiresIn",
        ),
        (
            json!({"name": "x", "defaults": {"kind": "forever"}}),
            "defaults.kind",
        ),
        (
            json!({"name": "x", "defaults": {"colour": 1}}),
            "defaults.colour",
        ),
        (json!({"name": "x", "defaults": []}), "defaults"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let reply = env
            .route(RouteId::CreateCollection, "acme")
            .body(body.clone())
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    for body in [
        json!({"maxBytes": -1}),
        json!({"maxFiles": "many"}),
        json!({"colour": 1}),
    ] {
        env.route(RouteId::PutUsageLimits, "acme")
            .body(body)
            .send()
            .await
            .assert_problem(400, "validation_failed");
    }
    let listed = env.route(RouteId::ListCollections, "acme").send().await;
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "docs"], "nothing was written");
    assert_eq!(
        usage(&env).await["limits"],
        json!({"maxBytes": null, "maxFiles": null})
    );

    // Deleting: never default, never one that holds files, always at its version.
    let held = create(&env, file("docs", "a.txt", None)).await;
    assert_eq!(held.status, 201, "{}", held.json);
    env.route(RouteId::DeleteCollection, "acme")
        .id("docs")
        .send()
        .await
        .assert_problem(409, "collection_not_empty");
    env.route(RouteId::DeleteCollection, "acme")
        .id("default")
        .send()
        .await
        .assert_problem(409, "default_collection");
    let removed = env
        .route(RouteId::DeleteFile, "acme")
        .id(&id_of(&held.json["file"]))
        .send()
        .await;
    assert_eq!(removed.status, 204);
    env.route(RouteId::DeleteCollection, "acme")
        .id("docs")
        .headers(&[("if-match", "\"1\"")])
        .send()
        .await
        .assert_problem(412, "version_mismatch");
    let deleted = env
        .route(RouteId::DeleteCollection, "acme")
        .id("docs")
        .headers(&[("if-match", "\"2\"")])
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    env.route(RouteId::GetCollection, "acme")
        .id("docs")
        .send()
        .await
        .assert_problem(404, "collection_not_found");
    create(&env, file("docs", "b.txt", None))
        .await
        .assert_problem(404, "collection_not_found");
}

async fn tenant_limits_default_to_the_deployment_and_bound_every_collection(env: TestEnv) {
    let settings = [("STOWAGE_DEFAULT_TENANT_MAX_FILES", "2")];
    let env = match env.backend {
        Backend::Moto => TestEnv::moto_with(&settings).await,
        Backend::Embedded => TestEnv::embedded_with(&settings).await,
    };
    assert_eq!(
        usage(&env).await["limits"],
        json!({"maxBytes": null, "maxFiles": 2})
    );
    for name in ["1", "2"] {
        assert_eq!(create(&env, file("default", name, None)).await.status, 201);
    }
    let third = create(&env, file("default", "3", None)).await;
    third.assert_problem(409, "quota_exceeded");
    assert!(third.json["detail"]
        .as_str()
        .unwrap()
        .contains("tenant.maxFiles"));
    let lifted = env
        .route(RouteId::PutUsageLimits, "acme")
        .body(json!({"maxFiles": 0, "maxBytes": 100}))
        .send()
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.json);
    assert_eq!(
        lifted.json["limits"],
        json!({"maxBytes": 100, "maxFiles": null})
    );
    // Under a byte limit, sizes are declared and reserved.
    create(&env, file("default", "3", None))
        .await
        .assert_problem(400, "size_required");
    let big = create(&env, file("default", "3", Some(60))).await;
    assert_eq!(big.status, 201, "{}", big.json);
    let over = create(&env, file("default", "4", Some(50))).await;
    over.assert_problem(409, "quota_exceeded");
    assert!(over.json["detail"]
        .as_str()
        .unwrap()
        .contains("tenant.maxBytes"));
    let aborted = env
        .route(RouteId::AbortUpload, "acme")
        .id(&id_of(&big.json["file"]))
        .send()
        .await;
    assert_eq!(aborted.status, 200, "{}", aborted.json);
    assert_eq!(
        create(&env, file("default", "4", Some(50))).await.status,
        201
    );
    // Leaving a limit out goes back to the deployment's default.
    let reset = env
        .route(RouteId::PutUsageLimits, "acme")
        .body(json!({}))
        .send()
        .await;
    assert_eq!(
        reset.json["limits"],
        json!({"maxBytes": null, "maxFiles": 2})
    );
    create(&env, file("default", "5", None))
        .await
        .assert_problem(409, "quota_exceeded");
    let now = usage(&env).await;
    assert_eq!(
        (&now["files"], &now["bytes"]),
        (&json!(4), &json!(50)),
        "{now}"
    );
}

/// Managing collections and limits is an app's: a member's token is refused, and nothing
/// changes.
async fn members_cannot_manage_collections_or_limits(env: TestEnv) {
    for route in ADMIN_ROUTES {
        let body = stowage_tests::valid_body(route);
        let id = matches!(route, RouteId::UpdateCollection | RouteId::DeleteCollection)
            .then_some("default");
        let request = stowage_tests::scoped_request(
            route,
            "acme",
            "files:read files:write files:delete",
            id,
            body.as_ref(),
        );
        let reply = env.call(route, request).await;
        reply.assert_problem(403, "insufficient_scope");
    }
    let listed = env.route(RouteId::ListCollections, "acme").send().await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
}

/// A warm create rests on what admitted the one before (no read); rules or limits changed
/// behind this process's back (straight in the store, as another Lambda instance would) are
/// still enforced on the very next create, and a refusal is never told on stale facts.
async fn remembered_admissions_never_outlive_a_change(env: TestEnv) {
    use stowage::model::{Collection, CollectionName, Limits, MimePattern, Rules, TenantId};
    new_collection(&env, json!({"name": "c", "allowedMimeTypes": ["text/*"]})).await;
    let text = json!({"collection": "c", "name": "a.txt", "mimeType": "text/plain"});
    let image = json!({"collection": "c", "name": "a.png", "mimeType": "image/png"});
    assert_eq!(create(&env, text.clone()).await.status, 201);
    let store = env.app.service.store();
    let tenant = TenantId::parse("acme").unwrap();
    let name = CollectionName::parse_as("name", "c").unwrap();
    let current = store.collection(&tenant, &name).await.unwrap().unwrap();
    let next = Collection {
        rules: Rules {
            allowed_mime_types: Some(vec![MimePattern::parse("x", "image/*").unwrap()]),
            ..Rules::default()
        },
        version: current.version + 1,
        ..current.clone()
    };
    store
        .put_collection(&next, Some(current.version))
        .await
        .unwrap();
    create(&env, text.clone())
        .await
        .assert_problem(400, "mime_type_not_allowed");
    assert_eq!(create(&env, image.clone()).await.status, 201);
    // The tenant's limits too.
    let usage = store.usage(&tenant).await.unwrap();
    let two = Limits {
        max_bytes: None,
        max_files: Some(2),
    };
    store
        .put_limits(&tenant, two, usage.limits_version)
        .await
        .unwrap();
    let refused = create(&env, image.clone()).await;
    refused.assert_problem(409, "quota_exceeded");
    assert!(refused.json["detail"]
        .as_str()
        .unwrap()
        .contains("tenant.maxFiles"));
    let usage = store.usage(&tenant).await.unwrap();
    store
        .put_limits(&tenant, Limits::default(), usage.limits_version)
        .await
        .unwrap();
    assert_eq!(create(&env, image).await.status, 201);
    assert_eq!(usage_files(&env).await, 3);
}

async fn usage_files(env: &TestEnv) -> u64 {
    usage(env).await["files"].as_u64().unwrap()
}

stowage_tests::on_every_backend!(
    remembered_admissions_never_outlive_a_change,
    counters_stay_exact_through_every_kind_of_change,
    rules_bind_creates_reuploads_and_the_bytes_that_land,
    collections_are_managed_with_if_match_and_refuse_bad_input,
    tenant_limits_default_to_the_deployment_and_bound_every_collection,
    members_cannot_manage_collections_or_limits,
);
