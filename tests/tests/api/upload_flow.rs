//! The first end-to-end flow through the real AWS SDK: create → presigned PUT of real bytes →
//! S3 event → the record is uploaded; plus the event-ordering, expiry and integrity rules.

use std::time::Duration;

use serde_json::json;
use stowage::service::Outcome;
use stowage_tests::TestEnv;

fn key_of(created: &serde_json::Value) -> String {
    // The key is the presigned URL's path below the bucket (path-style).
    let url = created["upload"]["url"].as_str().unwrap();
    let path = url.split('?').next().unwrap();
    let after_host = path.splitn(4, '/').nth(3).unwrap(); // bucket/key…
    after_host.split_once('/').unwrap().1.to_owned()
}

async fn create_upload_event_then_get_shows_uploaded_with_size(env: TestEnv) {
    env.check_policies();
    let bytes = b"hello stowage";
    let created = env
        .create(
            "acme",
            json!({"name": "hello.txt", "mimeType": "text/plain", "size": bytes.len()}),
        )
        .await;
    let file = &created.json["file"];
    let id = file["id"].as_str().unwrap();
    assert_eq!(file["status"], "pending");
    assert_eq!(file["size"], serde_json::Value::Null);
    assert_eq!(file["expectedSize"], bytes.len());
    assert_eq!(file["extension"], ".txt");
    assert_eq!(file["uploadedBy"], "alice");
    assert_eq!(created.json["upload"]["method"], "PUT");
    assert_eq!(
        created.json["upload"]["headers"]["content-type"],
        "text/plain"
    );
    assert!(file["expiresAt"].is_string(), "pending records expire");

    assert_eq!(env.upload(&created.json["upload"], bytes).await, 200);
    let key = key_of(&created.json);
    assert!(key.starts_with("files/acme/"), "{key}");
    assert!(
        !key.contains("hello"),
        "the file name never goes into the key"
    );

    let outcomes = env
        .deliver(env.object_created_event(&key, "0055AED6DCD90281E5").await)
        .await;
    assert!(matches!(outcomes[..], [Outcome::Updated(_)]));

    let got = env.get("acme", id).await;
    assert_eq!(got.status, 200, "{}", got.json);
    assert_eq!(got.json["status"], "uploaded");
    assert_eq!(got.json["size"], bytes.len());
    assert!(got.json["uploadedAt"].is_string());
    assert_eq!(
        got.json["expiresAt"],
        serde_json::Value::Null,
        "client files stop expiring"
    );
    assert_eq!(got.json["version"], 2);
    assert_eq!(got.headers["etag"], "\"2\"");

    // The contentUrl really serves the bytes, with the original name.
    let url = got.json["contentUrl"]
        .as_str()
        .expect("contentUrl once uploaded");
    let download = env.http.get(url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(disposition, "attachment; filename=\"hello.txt\"");
    assert_eq!(&download.bytes().await.unwrap()[..], bytes);
}

async fn the_same_event_twice_leaves_the_same_record(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "a.bin", "mimeType": "application/octet-stream"}),
        )
        .await;
    let id = created.json["file"]["id"].as_str().unwrap().to_owned();
    env.upload(&created.json["upload"], b"12345").await;
    let event = env.object_created_event(&key_of(&created.json), "0A").await;

    env.deliver(event.clone()).await;
    let first = env.get("acme", &id).await.json;
    let outcomes = env.deliver(event).await;
    assert_eq!(outcomes, [Outcome::Unchanged]);
    let second = env.get("acme", &id).await.json;
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("contentUrl");
        v
    };
    assert_eq!(strip(first), strip(second));
}

async fn another_tenants_get_is_404_like_a_missing_file(env: TestEnv) {
    env.check_policies();
    let created = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let id = created.json["file"]["id"].as_str().unwrap();

    let other = env.get("globex", id).await;
    other.assert_problem(404, "not_found");
    let missing = env.get("acme", &ulid::Ulid::new().to_string()).await;
    missing.assert_problem(404, "not_found");
    assert_eq!(
        other.json, missing.json,
        "no difference leaks between the two"
    );
    assert_eq!(env.get("acme", id).await.status, 200);
}

async fn a_pending_record_past_expires_at_is_404(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "uploadUrlExpiresIn": 60}),
        )
        .await;
    let file = &created.json["file"];
    let id = file["id"].as_str().unwrap();
    let created_at =
        chrono::DateTime::parse_from_rfc3339(file["createdAt"].as_str().unwrap()).unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(file["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        (expires_at - created_at).num_seconds(),
        60 + 86_400,
        "URL expiry + 1 day"
    );

    env.advance(Duration::from_secs(60 + 86_400 - 1));
    assert_eq!(env.get("acme", id).await.status, 200);
    env.advance(Duration::from_secs(1));
    env.get("acme", id).await.assert_problem(404, "not_found");

    // DynamoDB still holds the item (TTL deletes late); it is the read that hides it, and the
    // item carries the TTL attribute in epoch seconds.
    let Some((dynamodb, table)) = &env.dynamodb else {
        return; // the embedded store has no TTL attribute to inspect
    };
    let item = dynamodb
        .get_item()
        .table_name(table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("T#acme".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("F#{id}")),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("item still stored");
    let ttl: i64 = item["expiresAtEpoch"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        ttl,
        expires_at.timestamp() + i64::from(expires_at.timestamp_subsec_millis() > 0)
    );
}

async fn an_event_for_an_expired_record_deletes_the_object(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "uploadUrlExpiresIn": 60}),
        )
        .await;
    env.upload(&created.json["upload"], b"late").await;
    let key = key_of(&created.json);
    env.advance(Duration::from_secs(60 + 86_400));
    let outcomes = env
        .deliver(env.object_created_event(&key, "01").await)
        .await;
    assert_eq!(outcomes, [Outcome::OrphanDeleted]);
    assert!(!env.object_exists(&key).await);
}

async fn a_size_other_than_expected_size_fails_the_record_and_deletes_the_object(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "expectedSize": 10}),
        )
        .await;
    let id = created.json["file"]["id"].as_str().unwrap();
    env.upload(&created.json["upload"], b"only 9 b.").await;
    let key = key_of(&created.json);
    env.deliver(env.object_created_event(&key, "01").await)
        .await;

    let got = env.get("acme", id).await.json;
    assert_eq!(got["status"], "failed");
    assert!(
        got["failureReason"].as_str().unwrap().contains("9 bytes"),
        "{got}"
    );
    assert_eq!(got["size"], serde_json::Value::Null);
    assert_eq!(got["contentUrl"], serde_json::Value::Null);
    assert!(
        !env.object_exists(&key).await,
        "the wrong object is deleted"
    );
}

async fn an_object_that_matches_no_record_is_deleted(env: TestEnv) {
    env.check_policies();
    for key in [
        "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/1".to_string(),
        "stray upload with spaces+plus.txt".to_string(),
    ] {
        env.s3
            .put_object()
            .bucket(&env.bucket)
            .key(&key)
            .body(b"stray".to_vec().into())
            .send()
            .await
            .unwrap();
        let outcomes = env
            .deliver(env.object_created_event(&key, "01").await)
            .await;
        assert_eq!(outcomes, [Outcome::OrphanDeleted], "{key}");
        assert!(!env.object_exists(&key).await, "{key} should be gone");
    }
}

async fn events_for_other_buckets_are_ignored(env: TestEnv) {
    env.check_policies();
    let created = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    env.upload(&created.json["upload"], b"x").await;
    let key = key_of(&created.json);
    let event = stowage_tests::s3_event("someone-elses-bucket", &key, 1, "etag", "01");
    assert!(env.deliver(event).await.is_empty());
    assert!(env.object_exists(&key).await);
}

async fn get_repairs_a_pending_record_whose_event_was_lost(env: TestEnv) {
    env.check_policies();
    let created = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let id = created.json["file"]["id"].as_str().unwrap();
    env.upload(&created.json["upload"], b"no event came").await;

    let got = env.get("acme", id).await.json;
    assert_eq!(got["status"], "uploaded");
    assert_eq!(got["size"], 13);

    // The event arriving afterwards changes nothing.
    let key = key_of(&created.json);
    let outcomes = env
        .deliver(env.object_created_event(&key, "01").await)
        .await;
    assert_eq!(outcomes, [Outcome::Unchanged]);
    assert_eq!(env.get("acme", id).await.json["version"], got["version"]);
}

async fn temp_files_live_under_their_own_prefix_and_keep_their_ttl(env: TestEnv) {
    env.check_policies();
    let created = env
        .create(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 600}),
        )
        .await;
    let file = &created.json["file"];
    let id = file["id"].as_str().unwrap();
    let key = key_of(&created.json);
    assert!(key.starts_with("temp/acme/"), "{key}");
    env.upload(&created.json["upload"], b"temp").await;
    env.deliver(env.object_created_event(&key, "01").await)
        .await;

    let got = env.get("acme", id).await.json;
    assert_eq!(got["status"], "uploaded");
    let created_at =
        chrono::DateTime::parse_from_rfc3339(got["createdAt"].as_str().unwrap()).unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(got["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires_at - created_at).num_seconds(), 600);
    env.advance(Duration::from_secs(600));
    env.get("acme", id).await.assert_problem(404, "not_found");
}

async fn a_declared_checksum_is_bound_into_the_upload_headers(env: TestEnv) {
    env.check_policies();
    use base64::Engine as _;
    use sha2::Digest as _;
    let bytes = b"checked bytes";
    let checksum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
    let created = env
        .create(
            "acme",
            json!({"name": "c.txt", "mimeType": "text/plain", "checksumSha256": checksum}),
        )
        .await;
    let upload = &created.json["upload"];
    assert_eq!(upload["headers"]["x-amz-checksum-sha256"], checksum);
    assert_eq!(upload["headers"]["content-type"], "text/plain");
    assert_eq!(created.json["file"]["checksumSha256"], checksum);
    let signed = upload["url"].as_str().unwrap();
    let signed_headers = signed
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap();
    assert!(
        signed_headers.contains("x-amz-checksum-sha256"),
        "{signed_headers}"
    );
    assert!(signed_headers.contains("content-type"), "{signed_headers}");
    assert_eq!(env.upload(upload, bytes).await, 200);
}

stowage_tests::on_every_backend!(
    create_upload_event_then_get_shows_uploaded_with_size,
    the_same_event_twice_leaves_the_same_record,
    another_tenants_get_is_404_like_a_missing_file,
    a_pending_record_past_expires_at_is_404,
    an_event_for_an_expired_record_deletes_the_object,
    a_size_other_than_expected_size_fails_the_record_and_deletes_the_object,
    an_object_that_matches_no_record_is_deleted,
    events_for_other_buckets_are_ignored,
    get_repairs_a_pending_record_whose_event_was_lost,
    temp_files_live_under_their_own_prefix_and_keep_their_ttl,
    a_declared_checksum_is_bound_into_the_upload_headers,
);
