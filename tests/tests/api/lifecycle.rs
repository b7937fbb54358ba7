//! What happens to files over time and across tenants, on both backends: temp expiry, public
//! files, tenant isolation on every route, stream cleanup, repair of lost events, racing
//! creates.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, Backend, TestEnv};

async fn temp_files_expire_everywhere_and_their_bytes_go(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
            b"temp",
        )
        .await;
    let id = id_of(&file);
    let key = env.content_key(&id).await;
    assert!(key.starts_with("temp/"));
    env.advance(Duration::from_secs(59));
    assert_eq!(env.get("acme", &id).await.status, 200);
    env.advance(Duration::from_secs(1));
    env.get("acme", &id).await.assert_problem(404, "not_found");
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"purpose": "x"}))
        .send()
        .await
        .assert_problem(404, "not_found");
    env.route(RouteId::GetContent, "acme")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
    assert!(
        env.object_exists(&key).await,
        "until the backend removes the record"
    );
    // DynamoDB's TTL is in whole seconds (rounded up) and lags besides.
    env.advance(Duration::from_secs(2));
    assert_eq!(env.expire().await, 1);
    assert!(
        !env.object_exists(&key).await,
        "removing the record removed its bytes"
    );
}

async fn public_files_get_a_stable_url_and_toggle_without_reupload(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "logo.png", "mimeType": "image/png", "privateAccess": false}),
            b"PNG!",
        )
        .await;
    let id = id_of(&file);
    let public_key = format!("public/acme/{id}");
    let url = file["contentUrl"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&public_key), "{url}");
    assert!(
        !url.contains("X-Amz-Signature"),
        "no credentials, no expiry"
    );
    assert!(env.object_exists(&public_key).await);
    if env.backend == Backend::Embedded {
        assert_eq!(env.fetch(&url).await, (200, b"PNG!".to_vec()));
    }
    assert_eq!(env.get("acme", &id).await.json["contentUrl"], url, "stable");

    let private = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": true}))
        .send()
        .await;
    assert!(private.json["contentUrl"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Signature"));
    assert!(
        !env.object_exists(&public_key).await,
        "the public copy is withdrawn"
    );
    if env.backend == Backend::Embedded {
        assert_eq!(env.fetch(&url).await.0, 404);
    }
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    assert!(
        env.object_exists(&public_key).await,
        "public again, same bytes, no re-upload"
    );
    env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    assert!(!env.object_exists(&public_key).await);
}

async fn every_route_hides_other_tenants_files(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "externalId": "e", "tags": ["t"]}),
            b"mine",
        )
        .await;
    let id = id_of(&file);
    let id = id.as_str();
    let patch = Some(json!({"purpose": "stolen"}));
    let put = Some(json!({"name": "x", "mimeType": "text/plain"}));
    for (route, body) in [
        (RouteId::GetFile, None),
        (RouteId::UpdateFile, patch.clone()),
        (RouteId::ReplaceFile, put),
        (RouteId::DeleteFile, None),
        (RouteId::GetContent, None),
        (RouteId::StartUpload, None),
    ] {
        env.route(route, "globex")
            .id(id)
            .maybe_body(body)
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    env.route(RouteId::UpdateFiles, "globex")
        .body(json!([{"id": id, "purpose": "stolen"}]))
        .send()
        .await
        .assert_problem(404, "not_found");
    let batch = env
        .route(RouteId::DeleteFiles, "globex")
        .body(json!({"ids": [id]}))
        .send()
        .await;
    assert_eq!(batch.json, json!({"deleted": [], "notFound": [id]}));
    for query in [
        "",
        "externalId=e",
        "tag=t",
        "name=a.txt",
        "uploadedBy=alice",
    ] {
        let page = env
            .route(RouteId::ListFiles, "globex")
            .query(query)
            .send()
            .await;
        assert_eq!(ids(&page.json), Vec::<String>::new(), "{query}");
    }
    // Nothing changed for the owner.
    let mine = env.get("acme", id).await.json;
    assert_eq!(
        (mine["version"].clone(), mine["purpose"].clone()),
        (file["version"].clone(), Value::Null)
    );
    assert_eq!(env.download(id).await, b"mine");
}

async fn the_sample_stream_event_cleans_up_a_removed_record(env: TestEnv) {
    let event: aws_lambda_events::dynamodb::Event =
        serde_json::from_value(stowage_tests::sample("dynamodb-record-removed.json")).unwrap();
    let key = "temp/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/1";
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(key)
        .body(b"left behind".to_vec().into())
        .send()
        .await
        .unwrap();
    let response = env
        .acting(
            "on-records-removed",
            stowage::events::on_records_removed(&env.app, event),
        )
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(!env.object_exists(key).await);
}

async fn a_reupload_whose_event_was_lost_is_repaired_by_get(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"old",
        )
        .await;
    let id = id_of(&file);
    let reply = env.route(RouteId::StartUpload, "acme").id(&id).send().await;
    env.upload(&reply.json["upload"], b"newer").await;
    let got = env.get("acme", &id).await.json;
    assert_eq!(got["size"], 5, "{got}");
    assert_eq!(env.download(&id).await, b"newer");
}

async fn concurrent_creates_cannot_share_an_external_id(env: TestEnv) {
    let attempts = (0..8).map(|i| {
        let request = stowage_tests::create_request(
            "acme",
            "alice",
            &json!({"name": format!("{i}.txt"), "mimeType": "text/plain", "externalId": "race"}),
        );
        env.call(RouteId::CreateFile, request)
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 7),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let page = env
        .route(RouteId::ListFiles, "acme")
        .query("externalId=race")
        .send()
        .await;
    assert_eq!(ids(&page.json).len(), 1);
}

stowage_tests::on_every_backend!(
    temp_files_expire_everywhere_and_their_bytes_go,
    public_files_get_a_stable_url_and_toggle_without_reupload,
    every_route_hides_other_tenants_files,
    the_sample_stream_event_cleans_up_a_removed_record,
    a_reupload_whose_event_was_lost_is_repaired_by_get,
    concurrent_creates_cannot_share_an_external_id,
);
