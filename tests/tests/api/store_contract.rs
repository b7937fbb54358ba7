//! The metadata-store contract, checked directly on both adapters: DynamoDB (on moto, through
//! the real SDK) and the embedded SQLite store.

use std::sync::Arc;

use stowage::model::{
    FileId, FileKind, FileName, FileRecord, FileStatus, MediaType, Metadata, Tags, TenantId,
    Timestamp, UserId,
};
use stowage::store::dynamodb::DynamoStore;
use stowage::store::embedded::SqliteStore;
use stowage::store::{MetadataStore, StoreError};

fn record(tenant: &str) -> FileRecord {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let metadata = serde_json::json!({"deep": [[[[{"x": "ü"}]]]], "": null, "n": 1.5});
    FileRecord {
        tenant: TenantId::parse(tenant).unwrap(),
        id: FileId::generate(),
        kind: FileKind::Client,
        name: FileName::parse("résumé.pdf").unwrap(),
        extension: ".pdf".into(),
        mime_type: MediaType::parse("application/pdf").unwrap(),
        size: None,
        expected_size: Some(42),
        checksum_sha256: None,
        status: FileStatus::Pending,
        failure_reason: None,
        purpose: None,
        tags: Tags::parse(["a", "b"]).unwrap(),
        metadata: Metadata::parse(metadata.as_object().unwrap().clone()).unwrap(),
        external_id: None,
        directory: None,
        source: None,
        private_access: true,
        uploaded_by: UserId::parse("alice").unwrap(),
        created_at: now,
        updated_at: now,
        uploaded_at: None,
        expires_at: Some(now.plus_seconds(60)),
        ttl_seconds: None,
        version: 1,
        revision: 1,
        content: None,
        upload: None,
    }
}

async fn contract(store: Arc<dyn MetadataStore>) {
    let first = record("acme");
    assert_eq!(store.get(&first.tenant, first.id).await.unwrap(), None);

    store.insert(&first).await.unwrap();
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        matches!(store.insert(&first).await, Err(StoreError::Conflict)),
        "insert never overwrites"
    );

    // Keys are tenant-scoped: the same id under another tenant is another record.
    let other_tenant = TenantId::parse("globex").unwrap();
    assert_eq!(store.get(&other_tenant, first.id).await.unwrap(), None);

    // replace is a compare-and-swap on version.
    let mut second = first.clone();
    second.version = 2;
    second.status = FileStatus::Uploaded;
    second.size = Some(42);
    store.replace(&second, 1).await.unwrap();
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(second.clone())
    );
    let mut stale = first.clone();
    stale.version = 2;
    assert!(matches!(
        store.replace(&stale, 1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(second)
    );

    // Replacing a record that does not exist is a conflict too, and creates nothing.
    let ghost = record("acme");
    assert!(matches!(
        store.replace(&ghost, 1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get(&ghost.tenant, ghost.id).await.unwrap(), None);
}

#[tokio::test]
async fn dynamodb_store_keeps_the_contract() {
    let sdk = stowage_tests::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!(
        "stowage-contract-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    stowage_tests::create_table_from_template(&client, &table).await;
    contract(Arc::new(DynamoStore::new(client, table))).await;
}

#[tokio::test]
async fn embedded_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(
        SqliteStore::open(&dir.path().join("m.sqlite3")).unwrap(),
    ))
    .await;
}
