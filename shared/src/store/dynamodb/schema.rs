//! The table design: which items exist, their keys, and how a record becomes an item and back.
//! `template.yaml` (resource `FilesTable`) declares exactly these keys and indexes.
//!
//! `<t>` is the tenant written with [`encode_tenant`] (only `[A-Za-z0-9_-]`, never `#`), so no
//! value a tenant controls can reach into another tenant's keys.
//!
//! | item | `pk` | `sk` | other key attributes |
//! |------|------|------|----------------------|
//! | file record | `T#<t>` | `F#<ulid>` | `expiresAtEpoch` (TTL), `nameKey`, `purposeKey`, `directoryKey`, `uploadedByKey`, `collectionKey` (`<t>#<value>`, each present only when the field is set), `nameOrder` (folded name, `\u{1}`, ulid), `tenantKey` (`<t>`) and `pathOrder` (folder prefix, `\u{1}`, ulid; absent in the trash) |
//! | externalId marker | `T#<t>` | `X#<externalId>` | `fileId`, `expiresAtEpoch` and `expiresAtMillis` (the record's) |
//! | tag pointer | `G#<t>#<tag>` | `F#<ulid>` | — |
//! | grant pointer | `A#<t>#<principal>` (`user:<id>`, `group:<g>`) | `F#<ulid>` | `grantKey` (its `pk`) and `pathOrder` (the record's, while it has one) |
//! | name-word pointer | `W#<t>#<prefix>` (1–6 folded characters of a word of the name) | `F#<ulid>` | — |
//! | explicit folder | `T#<t>` | `D#<path>/` | — |
//! | collection | `T#<t>` | `C#<name>` | its rules, `version` |
//! | tenant usage | `T#<t>` | `U` | the stored limits `maxBytes`, `maxFiles`, `limitsVersion`; `bytes`, `files` counted before the counters were sharded |
//! | tenant usage shard | `T#<t>` | `U~<0..15>` | `bytes`, `files`, `freeBytes`, `freeFiles`, `allotBytes`, `allotFiles`, `limitsVersion`, `frozenBytes`/`frozenFiles` (see [`super::counters`]) |
//! | collection usage (before sharding) | `T#<t>` | `U#<name>` | `bytes`, `files` |
//! | collection usage shard | `T#<t>` | `U#<name>~<0..15>` | as the tenant's shards, with `collectionVersion` |
//! | expiry release | `T#<t>` | `R#<ulid>#<version>` | `expiresAtEpoch` (3 days on) |
//!
//! - `expiresAtEpoch` is the table's TTL attribute: epoch seconds, rounded up, present only while
//!   the item can expire. DynamoDB deletes late, so every read also checks `expiresAt`.
//! - ULIDs sort by creation time: `Query pk = T#<t>, sk BETWEEN F#<lo> AND F#<hi>`, newest first
//!   (`ScanIndexForward = false`), is the unfiltered listing and the `createdAfter`/`Before`
//!   range. The global secondary indexes ([`INDEXES`], hash `<field>Key`, range `sk`, all
//!   attributes projected) serve those filters the same way; `tag` is a `Query` on the tag's
//!   pointer partition followed by a consistent `BatchGetItem` of the records, and so is the
//!   listing of the files granted to one principal, and the name search (`q`), which reads the
//!   pointers of its longest word's prefix; `byDirectoryName` and `byCollectionName` (range
//!   `nameOrder`) give a folder's or a collection's files in name order; the four path indexes
//!   ([`PATH_INDEXES`], range `pathOrder`, keys only) find the first file below a folder for
//!   every file of the tenant, a collection's, an owner's and a grantee's, so listing subfolders
//!   reads one key per subfolder; `externalId` is a
//!   strongly consistent read of its marker. Every listing is a `Query` or key reads; nothing
//!   `Scan`s.
//! - The marker makes `externalId` unique per tenant: it is written in the same transaction as
//!   the record, on the condition that no live marker exists.
//! - Usage counters change in the same transaction as the record change that causes
//!   them: `ADD` of the change's difference to one shard of the tenant's counter and of the
//!   collection's, conditioned where the change adds on the shard's free room under its limit
//!   and on the limits and collection versions read ([`super::counters`] has the design). A TTL
//!   removal happens outside any transaction, so the stream function uncounts it in one of its
//!   own, together with an expiry-release item whose creation is conditional: a retried or
//!   duplicated stream record finds it and changes nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::keys::encode_tenant;
use crate::model::{FileId, FileRecord, TenantId};
use crate::store::{name_order_key, path_order_key, ListIndex, NameScope, PathSource, StoreError};

/// An item as the SDK sees it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The table's partition key attribute.
pub const PK: &str = "pk";
/// The table's sort key attribute.
pub const SK: &str = "sk";
/// The table's TTL attribute: epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAtEpoch";
/// The record attribute holding its version (the compare-and-swap guard).
pub(crate) const VERSION: &str = "version";
/// The record's public copy bookkeeping (`FileRecord::published`), part of every
/// compare-and-swap.
pub(crate) const PUBLISHED: &str = "published";
/// The marker attribute naming the record that owns an externalId.
pub(crate) const FILE_ID: &str = "fileId";
/// The marker attribute holding the owner's `expiresAt` in epoch milliseconds (the TTL
/// attribute is rounded to seconds; uniqueness needs the exact instant).
pub(crate) const EXPIRES_MILLIS: &str = "expiresAtMillis";

/// The sparse index of records that have a public copy and an expiry: hash
/// [`PUBLIC_EXPIRY_ATTRIBUTE`] (one of [`PUBLIC_EXPIRY_SHARDS`] values, so that no one
/// partition takes every such write), range the TTL attribute.
pub(crate) const PUBLIC_EXPIRY_INDEX: &str = "byPublicExpiry";
/// The hash key attribute of [`PUBLIC_EXPIRY_INDEX`]: `px#<shard>`.
pub(crate) const PUBLIC_EXPIRY_ATTRIBUTE: &str = "publicExpiryKey";
/// How many partitions [`PUBLIC_EXPIRY_INDEX`] spreads its items over.
pub(crate) const PUBLIC_EXPIRY_SHARDS: u32 = 8;

/// The [`PUBLIC_EXPIRY_INDEX`] partition of `id`.
pub(crate) fn public_expiry_shard(id: FileId) -> String {
    let hash = id
        .to_string()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    public_expiry_key(hash % PUBLIC_EXPIRY_SHARDS)
}

/// The value of [`PUBLIC_EXPIRY_ATTRIBUTE`] for `shard`.
pub(crate) fn public_expiry_key(shard: u32) -> String {
    format!("px#{shard}")
}

/// A global secondary index that serves one listing filter.
pub(crate) struct Index {
    /// The index name in the table definition.
    pub name: &'static str,
    /// The record attribute that is the index's hash key: `<t>#<value>`.
    pub attribute: &'static str,
    /// The record field whose value the attribute carries (absent: not in the index).
    value: fn(&FileRecord) -> Option<&str>,
}

/// `name = …` listings.
pub(crate) const BY_NAME: Index = Index {
    name: "byName",
    attribute: "nameKey",
    value: |r| Some(r.name.as_str()),
};
/// `purpose = …` listings.
pub(crate) const BY_PURPOSE: Index = Index {
    name: "byPurpose",
    attribute: "purposeKey",
    value: |r| r.purpose.as_ref().map(|p| p.as_str()),
};
/// `directory = …` listings (a record without a directory is in `/`).
pub(crate) const BY_DIRECTORY: Index = Index {
    name: "byDirectory",
    attribute: "directoryKey",
    value: |r| Some(r.directory.as_ref().map_or("/", |d| d.as_str())),
};
/// `collection = …` listings.
pub(crate) const BY_COLLECTION: Index = Index {
    name: "byCollection",
    attribute: "collectionKey",
    value: |r| Some(r.collection.as_str()),
};
/// `uploadedBy = …` listings.
pub(crate) const BY_UPLOADED_BY: Index = Index {
    name: "byUploadedBy",
    attribute: "uploadedByKey",
    value: |r| Some(r.uploaded_by.as_str()),
};
/// The attribute that orders records by name in [`NAME_INDEXES`].
pub(crate) const NAME_ORDER: &str = "nameOrder";
/// A folder's files in name order.
pub(crate) const BY_DIRECTORY_NAME: &str = "byDirectoryName";
/// A collection's files in name order.
pub(crate) const BY_COLLECTION_NAME: &str = "byCollectionName";
/// The name-ordered indexes, with the hash key attribute each shares with an id-ordered one.
pub(crate) const NAME_INDEXES: [(&str, &str); 2] = [
    (BY_DIRECTORY_NAME, BY_DIRECTORY.attribute),
    (BY_COLLECTION_NAME, BY_COLLECTION.attribute),
];

/// The attribute that places a record (and its grant pointers) in the folder tree.
pub(crate) const PATH_ORDER: &str = "pathOrder";
/// The record attribute holding the tenant alone: the hash key of [`BY_PATH`].
pub(crate) const TENANT_KEY: &str = "tenantKey";
/// The grant pointer attribute holding its own partition key: the hash key of
/// [`BY_GRANT_PATH`].
pub(crate) const GRANT_KEY: &str = "grantKey";
/// Every file of a tenant, in path order.
pub(crate) const BY_PATH: &str = "byPath";
/// A collection's files in path order.
pub(crate) const BY_COLLECTION_PATH: &str = "byCollectionPath";
/// An owner's files in path order.
pub(crate) const BY_UPLOADER_PATH: &str = "byUploaderPath";
/// The grant pointers of one principal in path order.
pub(crate) const BY_GRANT_PATH: &str = "byGrantPath";
/// The path-ordered indexes, with their hash key attributes.
pub(crate) const PATH_INDEXES: [(&str, &str); 4] = [
    (BY_PATH, TENANT_KEY),
    (BY_COLLECTION_PATH, BY_COLLECTION.attribute),
    (BY_UPLOADER_PATH, BY_UPLOADED_BY.attribute),
    (BY_GRANT_PATH, GRANT_KEY),
];

/// The index, hash key attribute and value a folder walk of `source` reads (`None`: the
/// explicit folders, in the table's tenant partition).
pub(crate) fn path_partition(
    tenant: &TenantId,
    source: &PathSource,
) -> Option<(&'static str, &'static str, String)> {
    match source {
        PathSource::All => Some((BY_PATH, TENANT_KEY, encode_tenant(tenant))),
        PathSource::Collection(c) => Some((
            BY_COLLECTION_PATH,
            BY_COLLECTION.attribute,
            index_key(tenant, c),
        )),
        PathSource::Uploader(u) => Some((
            BY_UPLOADER_PATH,
            BY_UPLOADED_BY.attribute,
            index_key(tenant, u),
        )),
        PathSource::Grantee(p) => Some((BY_GRANT_PATH, GRANT_KEY, grant_pk(tenant, p))),
        PathSource::Explicit => None,
    }
}

/// How an explicit folder's sort key starts.
pub(crate) const FOLDER_SK_PREFIX: &str = "D#";

/// The name-ordered index and hash key value of a scope.
pub(crate) fn name_partition(
    tenant: &TenantId,
    scope: &NameScope,
) -> (&'static str, &'static str, String) {
    match scope {
        NameScope::Directory(d) => (
            BY_DIRECTORY_NAME,
            BY_DIRECTORY.attribute,
            index_key(tenant, d),
        ),
        NameScope::Collection(c) => (
            BY_COLLECTION_NAME,
            BY_COLLECTION.attribute,
            index_key(tenant, c),
        ),
    }
}

/// Every global secondary index of the table.
pub(crate) const INDEXES: [&Index; 5] = [
    &BY_NAME,
    &BY_PURPOSE,
    &BY_DIRECTORY,
    &BY_UPLOADED_BY,
    &BY_COLLECTION,
];

/// Where one listing reads: the key attribute and value it queries, and the index (`None`: the
/// table itself).
pub(crate) struct Partition {
    pub attribute: &'static str,
    pub value: String,
    pub index: Option<&'static str>,
}

impl Partition {
    /// The partition a listing index reads for `tenant`.
    pub(crate) fn of(tenant: &TenantId, index: &ListIndex) -> Self {
        let on = |index: &Index, value: &str| Partition {
            attribute: index.attribute,
            value: index_key(tenant, value),
            index: Some(index.name),
        };
        match index {
            ListIndex::Recent => Partition {
                attribute: PK,
                value: tenant_pk(tenant),
                index: None,
            },
            ListIndex::Tag(tag) => Partition {
                attribute: PK,
                value: tag_pk(tenant, tag),
                index: None,
            },
            ListIndex::Grantee(principal) => Partition {
                attribute: PK,
                value: grant_pk(tenant, principal),
                index: None,
            },
            ListIndex::Word(prefix) => Partition {
                attribute: PK,
                value: word_pk(tenant, prefix),
                index: None,
            },
            ListIndex::Name(v) => on(&BY_NAME, v),
            ListIndex::Purpose(v) => on(&BY_PURPOSE, v),
            ListIndex::Directory(v) => on(&BY_DIRECTORY, v),
            ListIndex::UploadedBy(v) => on(&BY_UPLOADED_BY, v),
            ListIndex::Collection(v) => on(&BY_COLLECTION, v),
        }
    }
}

/// How the partition key of a tenant's records and markers starts (tag pointers: `G#`).
pub(crate) const TENANT_PK_PREFIX: &str = "T#";
/// How the sort key of a file record, and of each of its tag pointers, starts.
pub(crate) const FILE_SK_PREFIX: &str = "F#";

/// The partition key of a tenant's records and markers.
pub(crate) fn tenant_pk(tenant: &TenantId) -> String {
    format!("{TENANT_PK_PREFIX}{}", encode_tenant(tenant))
}

/// The sort key of a file record (and of its tag pointers).
pub(crate) fn file_sk(id: FileId) -> String {
    format!("{FILE_SK_PREFIX}{id}")
}

/// The sort key of an externalId marker.
pub(crate) fn external_id_sk(external_id: &str) -> String {
    format!("X#{external_id}")
}

/// The sort key of a stored collection.
pub(crate) fn collection_sk(name: &str) -> String {
    format!("{COLLECTION_SK_PREFIX}{name}")
}

/// How a stored collection's sort key starts.
pub(crate) const COLLECTION_SK_PREFIX: &str = "C#";

/// The sort key of the item that says an expired record was uncounted.
pub(crate) fn release_sk(record: &FileRecord) -> String {
    format!("R#{}#{}", record.id, record.version)
}

/// The partition key of a tenant's pointers for one tag.
pub(crate) fn tag_pk(tenant: &TenantId, tag: &str) -> String {
    format!("G#{}#{tag}", encode_tenant(tenant))
}

/// The partition of the pointers to the files granted to `principal` (its wire form).
pub(crate) fn grant_pk(tenant: &TenantId, principal: &str) -> String {
    format!("A#{}#{principal}", encode_tenant(tenant))
}

/// The partition of the pointers to the files with a name word starting with `prefix`.
pub(crate) fn word_pk(tenant: &TenantId, prefix: &str) -> String {
    format!("W#{}#{prefix}", encode_tenant(tenant))
}

/// The partition keys of every pointer `record` has: one per tag, one per grantee, one per
/// prefix of a word of its name.
pub(crate) fn pointer_pks(record: &FileRecord) -> std::collections::BTreeSet<String> {
    let tags = record
        .tags
        .as_slice()
        .iter()
        .map(|t| tag_pk(&record.tenant, t));
    let grantees = record
        .grants
        .iter()
        .map(|g| grant_pk(&record.tenant, &g.principal.to_wire()));
    let words = crate::model::words::prefixes(record.name.as_str())
        .into_iter()
        .map(|prefix| word_pk(&record.tenant, &prefix));
    tags.chain(grantees).chain(words).collect()
}

/// The value of an index key attribute (`nameKey`, …) for one field value.
fn index_key(tenant: &TenantId, value: &str) -> String {
    format!("{}#{value}", encode_tenant(tenant))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A primary key.
pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The primary key of a file record.
pub(crate) fn record_key(tenant: &TenantId, id: FileId) -> Item {
    key(tenant_pk(tenant), file_sk(id))
}

/// The primary key of an externalId marker.
pub(crate) fn marker_key(tenant: &TenantId, external_id: &str) -> Item {
    key(tenant_pk(tenant), external_id_sk(external_id))
}

/// The primary key of a pointer to `record` in partition `pk` (a tag's or a grantee's).
pub(crate) fn pointer_key(record: &FileRecord, pk: &str) -> Item {
    key(pk.to_owned(), file_sk(record.id))
}

/// Whether `pk` is a grant pointer's partition (which carries the record's path).
pub(crate) fn is_grant_pk(pk: &str) -> bool {
    pk.starts_with("A#")
}

/// The pointer item to `record` in partition `pk`: its key, and for a grant pointer its own
/// partition and the record's path key (so that a grantee's folders are found by path).
pub(crate) fn pointer_item(record: &FileRecord, pk: &str) -> Item {
    let mut item = pointer_key(record, pk);
    if is_grant_pk(pk) {
        if let Some(path) = path_order_key(record) {
            item.insert(GRANT_KEY.to_owned(), s(pk));
            item.insert(PATH_ORDER.to_owned(), s(path));
        }
    }
    item
}

fn ttl_value(record: &FileRecord) -> Option<AttributeValue> {
    record.expires_at.map(|at| n(at.epoch_seconds_ceil()))
}

pub(crate) fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// The record's item: its fields (through `serde_dynamo`), keys, TTL and index attributes.
pub(crate) fn record_item(record: &FileRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(backend)?;
    item.extend(record_key(&record.tenant, record.id));
    if let Some(ttl) = ttl_value(record) {
        item.insert(TTL_ATTRIBUTE.to_owned(), ttl);
    }
    for index in INDEXES {
        if let Some(value) = (index.value)(record) {
            item.insert(
                index.attribute.to_owned(),
                s(index_key(&record.tenant, value)),
            );
        }
    }
    item.insert(NAME_ORDER.to_owned(), s(name_order_key(record)));
    item.insert(TENANT_KEY.to_owned(), s(encode_tenant(&record.tenant)));
    if let Some(path) = path_order_key(record) {
        item.insert(PATH_ORDER.to_owned(), s(path));
    }
    if record.published.is_some() && record.expires_at.is_some() {
        item.insert(
            PUBLIC_EXPIRY_ATTRIBUTE.to_owned(),
            s(public_expiry_shard(record.id)),
        );
    }
    Ok(item)
}

/// Decodes a record item (keys and index attributes are derived, so they are dropped).
pub(crate) fn record_from_item(mut item: Item) -> Result<FileRecord, StoreError> {
    for attribute in [
        PK,
        SK,
        TTL_ATTRIBUTE,
        PUBLIC_EXPIRY_ATTRIBUTE,
        NAME_ORDER,
        TENANT_KEY,
        PATH_ORDER,
    ] {
        item.remove(attribute);
    }
    for index in INDEXES {
        item.remove(index.attribute);
    }
    serde_dynamo::from_item(item).map_err(backend)
}

/// The marker that gives `record` its `external_id`.
pub(crate) fn marker_item(record: &FileRecord, external_id: &str) -> Item {
    let mut item = marker_key(&record.tenant, external_id);
    item.insert(FILE_ID.to_owned(), s(record.id.to_string()));
    if let Some(ttl) = ttl_value(record) {
        item.insert(TTL_ATTRIBUTE.to_owned(), ttl);
    }
    if let Some(at) = record.expires_at {
        item.insert(EXPIRES_MILLIS.to_owned(), n(at.millis()));
    }
    item
}

/// The file id in an item's `F#<id>` sort key: a record's or a tag pointer's.
pub(crate) fn file_id_of(item: &Item) -> Option<FileId> {
    item.get(SK)?
        .as_s()
        .ok()?
        .strip_prefix(FILE_SK_PREFIX)
        .and_then(|id| FileId::parse(id).ok())
}
