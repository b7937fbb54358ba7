//! A client can do exactly what it was given, nothing more: each test performs one attack an
//! ordinary member could try with its own token or URLs, and checks that it is refused and
//! changes nothing. (The races of the public copy are in the service's fast tests and the store
//! contract; the embedded endpoint's own limits in `local/tests`.)

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, upload_key, TestEnv};

fn text(name: &str) -> Value {
    json!({"name": name, "mimeType": "text/plain"})
}

/// `POST /collections` as an app; asserts `201`.
async fn collection(env: &TestEnv, body: Value) {
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(body)
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
}

/// A file of `tenant` whose upload of `bytes` landed; its id and content key.
async fn landed(env: &TestEnv, tenant: &str, bytes: &[u8]) -> (String, String) {
    let created = env.create(tenant, text("secret.txt")).await;
    let key = upload_key(&created.json["upload"]);
    env.upload(&created.json["upload"], bytes).await;
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    (id_of(&created.json["file"]), key)
}

/// The seconds from now until an `expiresAt` of an answer.
fn seconds_left(expires_at: &Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(expires_at.as_str().expect("expiresAt"))
        .expect("an RFC 3339 time");
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

// 1. A presigned request does what was signed (the embedded endpoint; S3 itself refuses
// unsigned x-amz-* headers on query-signed requests).

#[tokio::test]
async fn a_presigned_put_with_an_unsigned_copy_source_is_refused() {
    let env = TestEnv::embedded().await;
    let (_, secret_key) = landed(&env, "globex", b"globex's private bytes").await;
    let mine = env.create("acme", text("mine.txt")).await;
    let upload = &mine.json["upload"];
    let (key, url) = (upload_key(upload), upload["url"].as_str().unwrap());

    let copied = env
        .http
        .put(url)
        .header("content-type", "text/plain")
        .header("if-none-match", "*")
        .header("x-amz-copy-source", format!("stowage/{secret_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), 403);
    let body = copied.text().await.unwrap();
    assert!(body.contains("AccessDenied"), "{body}");
    assert!(!env.object_exists(&key).await, "nothing was written");
    let record = env.get("acme", &id_of(&mine.json["file"])).await;
    assert_eq!(record.json["status"], "pending");

    // Any other unsigned x-amz-* header too (S3: "headers … which were not signed").
    let tagged = env
        .http
        .put(url)
        .header("content-type", "text/plain")
        .header("if-none-match", "*")
        .header("x-amz-meta-owner", "mallory")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), 403);
    assert!(!env.object_exists(&key).await);
}

#[tokio::test]
async fn a_presigned_part_url_with_an_unsigned_copy_source_is_refused() {
    let env = TestEnv::embedded().await;
    let (_, secret_key) = landed(&env, "globex", b"globex's private bytes").await;
    let mine = env
        .create(
            "acme",
            json!({"name": "m.bin", "mimeType": "application/octet-stream",
                   "size": 6 << 20, "multipart": true}),
        )
        .await;
    let part = &mine.json["upload"]["parts"][0];
    let copied = env
        .http
        .put(part["url"].as_str().unwrap())
        .header("x-amz-copy-source", format!("stowage/{secret_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), 403);
    let parts = env
        .route(RouteId::ListUploadParts, "acme")
        .id(&id_of(&mine.json["file"]))
        .send()
        .await;
    assert_eq!(parts.status, 200, "{}", parts.json);
    assert_eq!(parts.json["parts"], json!([]), "no part was stored");
}

// 2. An upload URL writes once.

async fn bytes_sent_again_to_a_landed_upload_url_are_refused(env: TestEnv) {
    env.check_policies();
    let created = env.create("acme", text("a.txt")).await;
    let id = id_of(&created.json["file"]);
    let upload = &created.json["upload"];
    let key = upload_key(upload);
    env.upload(upload, b"first").await;
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let before = env.get("acme", &id).await.json;

    // The old URL, with the headers it was signed with: S3's conditional write refuses it.
    let mut again = env.http.put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        again = again.header(name, value.as_str().unwrap());
    }
    let again = again.body("replaced!").send().await.unwrap();
    assert_eq!(again.status(), 412, "{}", again.text().await.unwrap());
    assert_eq!(env.object_bytes(&key).await.as_deref(), Some(&b"first"[..]));
    assert_eq!(env.get("acme", &id).await.json, before);
    assert_eq!(env.download(&id).await, b"first");
}

async fn a_second_event_for_landed_content_neither_replaces_nor_fails_the_file(env: TestEnv) {
    env.check_policies();
    // Where a second write is not refused (an HTML form's POST), its event is the backstop:
    // even bytes of another size than expectedSize do not fail the file or delete its bytes.
    let created = env
        .create(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "size": 5}),
        )
        .await;
    let id = id_of(&created.json["file"]);
    let key = upload_key(&created.json["upload"]);
    env.upload(&created.json["upload"], b"hello").await;
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let before = env.get("acme", &id).await.json;
    assert_eq!(before["status"], "uploaded");

    let mut event = env.object_created_event(&key, &env.next_sequencer()).await;
    event.records[0].s3.object.size = Some(6);
    event.records[0].s3.object.e_tag = Some("0123456789abcdef0123456789abcdef".into());
    assert_eq!(
        env.deliver(event).await,
        [stowage::service::Outcome::Unchanged]
    );
    assert_eq!(env.get("acme", &id).await.json, before);
    assert!(env.object_exists(&key).await, "its only bytes stay");
}

async fn a_multipart_completion_is_signed_to_write_once(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "m.bin", "mimeType": "application/octet-stream",
                   "size": 6 << 20, "multipart": true}),
        )
        .await;
    let id = id_of(&created.json["file"]);
    let upload_id = created.json["upload"]["uploadId"].as_str().unwrap();
    let signed = env
        .route(RouteId::SignUploadRequest, "acme")
        .id(&id)
        .body(json!({"method": "POST", "uploadId": upload_id}))
        .send()
        .await;
    assert_eq!(signed.status, 200, "{}", signed.json);
    assert_eq!(
        signed.json["headers"]["if-none-match"], "*",
        "{}",
        signed.json
    );
}

// An open upload belongs to whoever opened it; no URL outlives the collection's cap.

async fn only_the_opener_or_an_app_signs_for_an_open_upload(env: TestEnv) {
    env.check_policies();
    let created = env.create("acme", text("alices.txt")).await;
    let id = id_of(&created.json["file"]);
    let sign = |who: &str, app: bool| {
        let call = env.route(RouteId::SignUploadRequest, "acme").id(&id);
        let call = if app {
            call.as_app(who)
        } else {
            call.as_user(who, &[])
        };
        call.body(json!({"method": "PUT", "expiresIn": 604800}))
    };
    // Bob may write every file of `default`, but the upload is alice's.
    let bob = sign("bob", false).send().await;
    bob.assert_problem(403, "forbidden");
    let aborted = env
        .route(RouteId::AbortUpload, "acme")
        .as_user("bob", &[])
        .id(&id)
        .send()
        .await;
    aborted.assert_problem(403, "forbidden");
    assert_eq!(env.get("acme", &id).await.json["status"], "pending");
    assert_eq!(sign("alice", false).send().await.status, 200);
    assert_eq!(sign("admin", true).send().await.status, 200);
}

async fn signed_upload_urls_live_no_longer_than_the_collection_allows(env: TestEnv) {
    env.check_policies();
    collection(&env, json!({"name": "short", "maxUploadUrlExpiresIn": 60})).await;
    let single = env
        .create(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "collection": "short"}),
        )
        .await;
    let signed = env
        .route(RouteId::SignUploadRequest, "acme")
        .id(&id_of(&single.json["file"]))
        .body(json!({"method": "PUT", "expiresIn": 604800}))
        .send()
        .await;
    assert_eq!(signed.status, 200, "{}", signed.json);
    assert!(
        seconds_left(&signed.json["expiresAt"]) <= 60,
        "{}",
        signed.json
    );

    let multipart = env
        .create(
            "acme",
            json!({"name": "m.bin", "mimeType": "application/octet-stream",
                   "collection": "short", "size": 6 << 20, "multipart": true}),
        )
        .await;
    let parts = env
        .route(RouteId::SignUploadParts, "acme")
        .id(&id_of(&multipart.json["file"]))
        .body(json!({"partNumbers": [1], "uploadUrlExpiresIn": 604800}))
        .send()
        .await;
    assert_eq!(parts.status, 200, "{}", parts.json);
    assert!(
        seconds_left(&parts.json["expiresAt"]) <= 60,
        "{}",
        parts.json
    );
}

// 3 (and 7). Private means private: an expired file's public copy goes within a sweep, and no
// download link outlives the file.

async fn an_expired_files_public_copy_is_withdrawn_by_the_next_sweep(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp",
                   "ttlSeconds": 60, "privateAccess": false}),
            b"temp",
        )
        .await;
    let id = id_of(&file);
    let public_key = format!("public/acme/{id}");
    env.run_jobs().await.unwrap();
    assert!(env.object_exists(&public_key).await, "published");

    // A link asked for a week lives only as long as the file.
    let link = env
        .route(RouteId::GetContent, "acme")
        .id(&id)
        .query("expiresIn=604800")
        .send()
        .await;
    assert_eq!(link.status, 302, "{}", link.json);
    let location = link.headers["location"].to_str().unwrap();
    let expires: u64 = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))
        .expect("a presigned link")
        .parse()
        .unwrap();
    assert!(expires <= 60, "{location}");

    // Expired: the store removes the record in its own time (DynamoDB's TTL: hours); the
    // publish worker's sweep withdraws the copy at once.
    env.advance(std::time::Duration::from_secs(62));
    // What EventBridge sends the worker every minute.
    let scheduled: stowage::events::PublishTrigger = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/scheduled-sweep.json",
            stowage_tests::REPO_ROOT
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        scheduled,
        stowage::events::PublishTrigger::Schedule(_)
    ));
    let swept = env
        .acting(
            "publish-file",
            stowage::events::on_publish_trigger(&env.app, scheduled),
        )
        .await;
    assert_eq!(swept.ok(), Some(1));
    let sweep = || env.acting("publish-file", env.app.service.withdraw_expired_public());
    assert!(!env.object_exists(&public_key).await, "withdrawn");
    assert_eq!(sweep().await.unwrap(), 0, "and not found again");
    // The job markers' S3 events still reach the worker as jobs.
    let marker = stowage_tests::s3_event(
        &env.bucket,
        &format!("jobs/publish/acme/{id}"),
        0,
        "d41d8cd98f00b204e9800998ecf8427e",
        &env.next_sequencer(),
    );
    let jobs: stowage::events::PublishTrigger =
        serde_json::from_value(serde_json::to_value(marker).unwrap()).unwrap();
    assert!(matches!(jobs, stowage::events::PublishTrigger::Jobs(_)));
}

// 4. externalId + overwrite adopts only the caller's own file.

async fn overwrite_does_not_adopt_another_members_file(env: TestEnv) {
    env.check_policies();
    let squat = env
        .route(RouteId::CreateFile, "acme")
        .as_user("mallory", &[])
        .body(json!({"name": "q3.pdf", "mimeType": "application/pdf", "externalId": "q3-board-report"}))
        .send()
        .await;
    assert_eq!(squat.status, 201, "{}", squat.json);
    let victim = env
        .route(RouteId::CreateFile, "acme")
        .as_user("manager", &["managers"])
        .body(json!({"name": "q3.pdf", "mimeType": "application/pdf",
                     "externalId": "q3-board-report", "overwrite": true}))
        .send()
        .await;
    victim.assert_problem(409, "external_id_conflict");
    let mallorys = env
        .route(RouteId::GetFile, "acme")
        .as_user("mallory", &[])
        .id(&id_of(&squat.json["file"]))
        .send()
        .await;
    assert_eq!(mallorys.json["uploadedBy"], "mallory");
    assert_eq!(mallorys.json["version"], squat.json["file"]["version"]);
    // Its owner may overwrite it, and so may an app.
    for call in [
        env.route(RouteId::CreateFile, "acme")
            .as_user("mallory", &[]),
        env.route(RouteId::CreateFile, "acme").as_app("admin"),
    ] {
        let adopted = call
            .body(json!({"name": "q3.pdf", "mimeType": "application/pdf",
                         "externalId": "q3-board-report", "overwrite": true}))
            .send()
            .await;
        assert_eq!(adopted.status, 201, "{}", adopted.json);
        assert_eq!(adopted.json["file"]["id"], squat.json["file"]["id"]);
    }
}

// 5. Publishing needs the share right, and the collection's publicFiles.

async fn a_writer_who_may_not_share_may_not_publish(env: TestEnv) {
    env.check_policies();
    collection(&env, json!({"name": "team", "fileSecurity": true})).await;
    let file = env
        .uploaded(
            "acme",
            json!({"name": "o.txt", "mimeType": "text/plain", "collection": "team",
                   "grants": [{"principal": "user:bob", "role": "writer"}]}),
            b"olivia's",
        )
        .await;
    let id = id_of(&file);
    let public_key = format!("public/acme/{id}");
    let by_bob = |route: RouteId| env.route(route, "acme").as_user("bob", &[]);
    let single = by_bob(RouteId::UpdateFile)
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    single.assert_problem(403, "forbidden");
    assert!(single.json["detail"].as_str().unwrap().contains("share"));
    let by_ids = by_bob(RouteId::UpdateFiles)
        .body(json!([{"id": id, "privateAccess": false}]))
        .send()
        .await;
    by_ids.assert_problem(403, "forbidden");
    let by_filter = by_bob(RouteId::UpdateFiles)
        .body(json!({"filter": {"collection": "team"}, "patch": {"privateAccess": false}}))
        .send()
        .await;
    by_filter.assert_problem(403, "forbidden");
    let now = env.get("acme", &id).await.json;
    assert_eq!(now["privateAccess"], true);
    assert_eq!(now["version"], file["version"]);
    assert!(!env.object_exists(&public_key).await);
    // The writer still writes, and may make it private again; its owner publishes.
    let renamed = by_bob(RouteId::UpdateFile)
        .id(&id)
        .body(json!({"name": "p.txt"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    let published = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    assert_eq!(published.status, 200, "{}", published.json);
    assert!(env.object_exists(&public_key).await);
}

async fn collections_decide_who_may_publish(env: TestEnv) {
    env.check_policies();
    collection(&env, json!({"name": "internal", "publicFiles": "never"})).await;
    collection(&env, json!({"name": "curated", "publicFiles": "apps"})).await;
    let shown = env
        .route(RouteId::GetCollection, "acme")
        .id("curated")
        .send()
        .await;
    assert_eq!(shown.json["publicFiles"], "apps", "{}", shown.json);

    // never: nobody, not even an app (400), on create and on update.
    let created = env
        .route(RouteId::CreateFile, "acme")
        .body(
            json!({"name": "a.txt", "mimeType": "text/plain", "collection": "internal",
                     "privateAccess": false}),
        )
        .send()
        .await;
    created.assert_problem(400, "validation_failed");
    let internal = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "collection": "internal"}),
            b"x",
        )
        .await;
    let app_patch = env
        .route(RouteId::UpdateFile, "acme")
        .as_app("admin")
        .id(&id_of(&internal))
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    app_patch.assert_problem(400, "validation_failed");

    // apps: the owner may not (403); an app may.
    let curated = env
        .uploaded(
            "acme",
            json!({"name": "b.txt", "mimeType": "text/plain", "collection": "curated"}),
            b"y",
        )
        .await;
    let id = id_of(&curated);
    let by_owner = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    by_owner.assert_problem(403, "forbidden");
    let by_app = env
        .route(RouteId::UpdateFile, "acme")
        .as_app("admin")
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    assert_eq!(by_app.status, 200, "{}", by_app.json);

    // A collection cannot default its files to public where they may never be.
    let contradiction = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(json!({"name": "odd", "publicFiles": "never", "defaults": {"privateAccess": false}}))
        .send()
        .await;
    contradiction.assert_problem(400, "validation_failed");
}

// 7. A file whose collection no longer exists is its owner's (and apps' and grantees'), not
// the whole tenant's.

async fn a_file_whose_collection_is_gone_is_not_the_tenants(env: TestEnv) {
    env.check_policies();
    // Collections cannot be deleted while their counter shows files, but a counter can drift:
    // here the record simply names a collection that is not there.
    let now = chrono::Utc::now().timestamp_millis();
    let mut record = stowage_tests::sample_record("acme", now);
    record.expires_at = None;
    record.collection = stowage::model::CollectionName::parse_as("collection", "board").unwrap();
    record.uploaded_by = stowage::model::UserId::parse("olivia").unwrap();
    env.insert_record(&record).await;
    let id = record.id.to_string();
    let get = |user: &'static str| {
        env.route(RouteId::GetFile, "acme")
            .as_user(user, &[])
            .id(&id)
            .send()
    };
    get("bob").await.assert_problem(404, "not_found");
    let listed = env
        .route(RouteId::ListFiles, "acme")
        .as_user("bob", &[])
        .send()
        .await;
    assert_eq!(listed.json["items"], json!([]), "{}", listed.json);
    assert_eq!(get("olivia").await.status, 200);
}

stowage_tests::on_every_backend!(
    bytes_sent_again_to_a_landed_upload_url_are_refused,
    a_second_event_for_landed_content_neither_replaces_nor_fails_the_file,
    a_multipart_completion_is_signed_to_write_once,
    an_expired_files_public_copy_is_withdrawn_by_the_next_sweep,
    only_the_opener_or_an_app_signs_for_an_open_upload,
    signed_upload_urls_live_no_longer_than_the_collection_allows,
    overwrite_does_not_adopt_another_members_file,
    a_writer_who_may_not_share_may_not_publish,
    collections_decide_who_may_publish,
    a_file_whose_collection_is_gone_is_not_the_tenants,
);
