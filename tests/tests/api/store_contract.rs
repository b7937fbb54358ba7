//! The metadata-store contract, checked directly on both adapters: DynamoDB (on moto, through
//! the real SDK) and the embedded SQLite store.

use std::sync::Arc;

use stowage::model::{
    Admission, ExternalId, FileId, FileRecord, FileStatus, Tags, TenantId, Timestamp,
};
use stowage::store::dynamodb::DynamoStore;
use stowage::store::embedded::SqliteStore;
use stowage::store::{IndexQuery, ListIndex, MetadataStore, StoreError};

fn record(tenant: &str) -> FileRecord {
    stowage_tests::sample_record(tenant, chrono::Utc::now().timestamp_millis())
}

async fn contract(store: Arc<dyn MetadataStore>) {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let first = record("acme");
    assert_eq!(store.get(&first.tenant, first.id).await.unwrap(), None);

    store
        .insert(&first, &Admission::unlimited(&first), now)
        .await
        .unwrap();
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        matches!(
            store
                .insert(&first, &Admission::unlimited(&first), now)
                .await,
            Err(StoreError::Conflict)
        ),
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
    store.replace(&first, &second, now).await.unwrap();
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(second.clone())
    );
    let mut stale = first.clone();
    stale.version = 3;
    assert!(matches!(
        store.replace(&first, &stale, now).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(&first.tenant, first.id).await.unwrap(),
        Some(second.clone())
    );

    // Replacing a record that does not exist is a conflict too, and creates nothing.
    let ghost = record("acme");
    let mut ghost_next = ghost.clone();
    ghost_next.version = 2;
    assert!(matches!(
        store.replace(&ghost, &ghost_next, now).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get(&ghost.tenant, ghost.id).await.unwrap(), None);

    // delete is a compare-and-swap too.
    assert!(matches!(
        store.delete(&first).await,
        Err(StoreError::Conflict)
    ));
    store.delete(&second).await.unwrap();
    assert_eq!(store.get(&first.tenant, first.id).await.unwrap(), None);
}

/// The public copy bookkeeping (`published`) is written without a new version (nothing a
/// client sees changes), so the compare-and-swap covers it too: a writer that read the record
/// before the copy was recorded cannot write that record back over it.
async fn a_write_cannot_lose_which_public_copy_exists(store: Arc<dyn MetadataStore>) {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let read = record("acme");
    store
        .insert(&read, &Admission::unlimited(&read), now)
        .await
        .unwrap();
    // The publish step records its copy, keeping the version.
    let mut published = read.clone();
    published.published = Some("files/acme/x/1".into());
    store.replace(&read, &published, now).await.unwrap();
    // A writer that read the record before that, at the same version, loses its swap.
    let mut renamed = read.clone();
    renamed.version = read.version + 1;
    assert!(matches!(
        store.replace(&read, &renamed, now).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(&read.tenant, read.id).await.unwrap(),
        Some(published.clone())
    );
    // From what is stored now it succeeds, and the bookkeeping stays.
    let mut renamed = published.clone();
    renamed.version = published.version + 1;
    store.replace(&published, &renamed, now).await.unwrap();
    let stored = store.get(&read.tenant, read.id).await.unwrap().unwrap();
    assert_eq!(stored.published.as_deref(), Some("files/acme/x/1"));
    // And withdrawing it is a swap from that value back to none.
    let mut withdrawn = stored.clone();
    withdrawn.published = None;
    store.replace(&stored, &withdrawn, now).await.unwrap();
    assert!(matches!(
        store.replace(&stored, &withdrawn, now).await,
        Err(StoreError::Conflict)
    ));
}

async fn external_ids_are_unique_among_live_records(store: Arc<dyn MetadataStore>) {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let mut a = record("acme");
    a.external_id = Some(ExternalId::parse("invoice-1").unwrap());
    store
        .insert(&a, &Admission::unlimited(&a), now)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_external_id(&a.tenant, "invoice-1", now)
            .await
            .unwrap(),
        Some(a.id)
    );

    let mut b = record("acme");
    b.external_id = a.external_id.clone();
    b.expires_at = None;
    assert!(matches!(
        store.insert(&b, &Admission::unlimited(&b), now).await,
        Err(StoreError::ExternalIdTaken(_))
    ));
    assert_eq!(
        store.get(&b.tenant, b.id).await.unwrap(),
        None,
        "nothing half-written"
    );

    // Another tenant may use the same externalId.
    let mut other = record("globex");
    other.external_id = a.external_id.clone();
    store
        .insert(&other, &Admission::unlimited(&other), now)
        .await
        .unwrap();

    // Once `a` has expired, its externalId is free again.
    let later = a.expires_at.unwrap().plus_seconds(1);
    assert_eq!(
        store
            .find_external_id(&a.tenant, "invoice-1", later)
            .await
            .unwrap(),
        None
    );
    store
        .insert(&b, &Admission::unlimited(&b), later)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_external_id(&b.tenant, "invoice-1", later)
            .await
            .unwrap(),
        Some(b.id)
    );

    // Renaming moves the claim.
    let mut renamed = b.clone();
    renamed.version = 2;
    renamed.external_id = Some(ExternalId::parse("invoice-2").unwrap());
    store.replace(&b, &renamed, later).await.unwrap();
    assert_eq!(
        store
            .find_external_id(&b.tenant, "invoice-1", later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_external_id(&b.tenant, "invoice-2", later)
            .await
            .unwrap(),
        Some(b.id)
    );
}

async fn indexes_list_newest_first_within_bounds(store: Arc<dyn MetadataStore>) {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let tenant = format!("t{}", ulid::Ulid::new());
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let mut r = record(&tenant);
        r.id = FileId::generate_at(now.plus_seconds(i));
        r.tags = Tags::parse(if i % 2 == 0 {
            vec!["even"]
        } else {
            vec!["odd"]
        })
        .unwrap();
        store
            .insert(&r, &Admission::unlimited(&r), now)
            .await
            .unwrap();
        ids.push(r.id);
    }
    let tenant = TenantId::parse(&tenant).unwrap();
    let read = |index: ListIndex, lowest: FileId, highest: FileId, limit: usize| {
        let store = store.clone();
        let tenant = tenant.clone();
        async move {
            store
                .list(IndexQuery {
                    tenant: &tenant,
                    index: &index,
                    lowest,
                    highest,
                    limit,
                    ascending: false,
                })
                .await
                .unwrap()
        }
    };
    let all = read(ListIndex::Recent, FileId::MIN, FileId::MAX, 10).await;
    let got: Vec<FileId> = all.records.iter().map(|r| r.id).collect();
    assert_eq!(got, ids.iter().rev().copied().collect::<Vec<_>>());
    assert!(!all.more);

    let page = read(ListIndex::Recent, FileId::MIN, FileId::MAX, 2).await;
    assert_eq!(page.records.len(), 2);
    assert!(page.more);
    assert_eq!(page.last_id, Some(ids[3]));
    assert_eq!(page.items_read, 2);

    let even = read(ListIndex::Tag("even".into()), FileId::MIN, FileId::MAX, 10).await;
    let got: Vec<FileId> = even.records.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![ids[4], ids[2], ids[0]]);

    let bounded = read(ListIndex::Recent, ids[1], ids[3], 10).await;
    let got: Vec<FileId> = bounded.records.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![ids[3], ids[2], ids[1]]);

    let by_name = read(
        ListIndex::Name("résumé.pdf".into()),
        FileId::MIN,
        FileId::MAX,
        10,
    )
    .await;
    assert_eq!(by_name.records.len(), 5);
    let none = read(
        ListIndex::Name("other".into()),
        FileId::MIN,
        FileId::MAX,
        10,
    )
    .await;
    assert!(none.records.is_empty());

    // Oldest first, within bounds, paging past the last id.
    let oldest = store
        .list(IndexQuery {
            tenant: &tenant,
            index: &ListIndex::Tag("even".into()),
            lowest: ids[1],
            highest: FileId::MAX,
            limit: 1,
            ascending: true,
        })
        .await
        .unwrap();
    let got: Vec<FileId> = oldest.records.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![ids[2]]);
    assert!(oldest.more);
    assert_eq!(oldest.last_id, Some(ids[2]));

    // A name word's prefix finds every record with that word, accents and case folded.
    for prefix in ["r", "resume", "pdf"] {
        let found = read(ListIndex::Word(prefix.into()), FileId::MIN, FileId::MAX, 10).await;
        assert_eq!(found.records.len(), 5, "{prefix}");
    }
    let found = read(ListIndex::Word("sume".into()), FileId::MIN, FileId::MAX, 10).await;
    assert!(found.records.is_empty(), "prefixes of words, not infixes");
}

async fn records_read_in_name_order_within_a_folder(store: Arc<dyn MetadataStore>) {
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let tenant = format!("t{}", ulid::Ulid::new());
    let names = [
        "b.txt",
        "Alpha.txt",
        "Éclair.txt",
        "alpha.txt",
        "zed.txt",
        "c.txt",
    ];
    for (i, name) in names.iter().enumerate() {
        let mut r = record(&tenant);
        r.id = FileId::generate_at(now.plus_seconds(i as u64));
        r.name = stowage::model::FileName::parse(name).unwrap();
        r.directory = Some(
            stowage::model::DirectoryPath::parse(if *name == "c.txt" { "/other" } else { "/d" })
                .unwrap(),
        );
        store
            .insert(&r, &Admission::unlimited(&r), now)
            .await
            .unwrap();
    }
    let tenant = TenantId::parse(&tenant).unwrap();
    let scope = stowage::store::NameScope::Directory("/d".into());
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_by_name(stowage::store::NameQuery {
                tenant: &tenant,
                scope: &scope,
                after: after.as_deref(),
                descending: false,
                limit: 2,
            })
            .await
            .unwrap();
        seen.extend(page.records.iter().map(|r| r.name.to_string()));
        if !page.more {
            break;
        }
        after = page.last_key;
    }
    // Case and accents do not order; equal folded names keep the order of their ids.
    assert_eq!(
        seen,
        ["Alpha.txt", "alpha.txt", "b.txt", "Éclair.txt", "zed.txt"]
    );
    let reversed = store
        .list_by_name(stowage::store::NameQuery {
            tenant: &tenant,
            scope: &scope,
            after: None,
            descending: true,
            limit: 10,
        })
        .await
        .unwrap();
    let names: Vec<String> = reversed
        .records
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(
        names,
        ["zed.txt", "Éclair.txt", "b.txt", "alpha.txt", "Alpha.txt"]
    );
}

async fn dynamodb() -> Arc<dyn MetadataStore> {
    let sdk = stowage_tests::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!(
        "stowage-contract-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    stowage_tests::create_table_from_template(&client, &table).await;
    Arc::new(DynamoStore::new(client, table))
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn MetadataStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("m.sqlite3")).unwrap();
    (dir, Arc::new(store))
}

macro_rules! on_both_stores {
    ($($name:ident),*) => {
        mod dynamodb_store {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::dynamodb().await).await
            })*
        }
        mod embedded_store {
            $(#[tokio::test]
            async fn $name() {
                let (_dir, store) = super::sqlite();
                super::$name(store).await
            })*
        }
    };
}

on_both_stores!(
    contract,
    a_write_cannot_lose_which_public_copy_exists,
    external_ids_are_unique_among_live_records,
    indexes_list_newest_first_within_bounds,
    records_read_in_name_order_within_a_folder
);
