//! `stowage-local --backend aws`: the local API over DynamoDB and S3 (here moto). S3 sends no
//! events to a laptop, so the upload completes through `GET`'s self-repair.

use serde_json::{json, Value};
use stowage::identity::ClaimNames;
use stowage::model::{TenantId, Timestamp, UserId};

#[tokio::test]
async fn the_local_api_works_over_dynamodb_and_s3() {
    let (sdk, config) = stowage_tests::moto_storage(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_local::start(stowage_local::LocalConfig {
        backend: stowage_local::Backend::Aws {
            config: Box::new(config),
            sdk: Box::new(sdk),
        },
        sweep_interval: std::time::Duration::from_secs(3_600),
        thumbnails: false,
        ..stowage_local::LocalConfig::new(dir.path())
    })
    .await
    .expect("stowage-local starts over moto");
    let token = server.secret.issue_token(
        &ClaimNames::default(),
        &TenantId::parse("acme").unwrap(),
        &UserId::parse("alice").unwrap(),
        stowage::identity::Scopes::all(),
        Timestamp::from_datetime(chrono::Utc::now()),
        600,
    );
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/files", server.base_url))
        .bearer_auth(&token)
        .json(&json!({"name": "cloud.txt", "mimeType": "text/plain"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = created["upload"]["url"].as_str().expect("upload url");
    assert!(
        !url.starts_with(&server.base_url),
        "uploads go to S3, not to the local server"
    );
    let put = http
        .put(url)
        .header("content-type", "text/plain")
        .body("in the cloud")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let id = created["file"]["id"].as_str().unwrap();
    let file: Value = http
        .get(format!("{}/files/{id}", server.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(file["status"], "uploaded", "{file}");
    assert_eq!(file["size"], 12);
    server.stop().await;
}
