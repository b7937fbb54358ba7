//! The metadata-store port and its adapters.
//!
//! Every backend gives the same guarantees: reads by key are strongly consistent, `insert` never
//! overwrites, `replace`/`delete` are compare-and-swaps on `version`, `externalId` is unique per
//! tenant among live records, and `replace_many` is all-or-nothing. Expiry is judged by the
//! service from `expiresAt`; a store only keeps expired records out of the uniqueness check.
//! Listing reads one index in id order (newest or oldest first), or a folder's or collection's
//! files in name order; filtering is the service's job, so both backends filter identically.

pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub(crate) mod requests;

pub use requests::{
    Admitted, RequestLimits, RequestTicket, REQUEST_SHARDS, REQUEST_WINDOW_SECONDS,
};

use async_trait::async_trait;

use crate::model::{
    Admission, Collection, CollectionName, FileId, FileRecord, LimitName, Limits, TenantId,
    Timestamp, Usage,
};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: the item exists (`insert`) or its version moved on
    /// (`replace`, `delete`).
    #[error("the stored item changed or already exists")]
    Conflict,
    /// Another live record of the tenant has this `externalId`.
    #[error("another file of this tenant has externalId {0:?}")]
    ExternalIdTaken(String),
    /// The write would pass a limit; nothing was written.
    #[error("the write would pass {0}")]
    QuotaExceeded(LimitName),
    /// What the write was admitted by (the collection, or the tenant's limits) changed or went
    /// away since it was read: read again and retry.
    #[error("the collection or the tenant's limits changed since they were read")]
    AdmissionStale,
    /// A collection that still holds files cannot be deleted.
    #[error("the collection still holds files")]
    CollectionNotEmpty,
    /// The change needs more operations than one transaction allows.
    #[error("the change needs {0} operations; one transaction allows 100")]
    TooLarge(usize),
    /// Throttled or unreachable; worth retrying later.
    #[error("the metadata store is unavailable")]
    Unavailable(#[source] Source),
    /// Other transactions kept holding the items the write needs (DynamoDB's
    /// `TransactionConflict`, every retry): worth retrying later.
    #[error("other writes kept holding the items this write needs")]
    Busy,
    /// Anything else, including an item that does not decode.
    #[error("metadata store error")]
    Backend(#[source] Source),
}

/// Which index a listing reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListIndex {
    /// All of the tenant's records.
    Recent,
    Name(String),
    Purpose(String),
    Directory(String),
    UploadedBy(String),
    Tag(String),
    Collection(String),
    /// The files granted to one principal (its wire form, `user:<id>` or `group:<g>`).
    Grantee(String),
    /// The files with a name word that starts with this folded prefix
    /// ([`crate::model::words::prefixes`]).
    Word(String),
}

/// One read of an index: ids from `lowest` to `highest` (both inclusive), newest first (oldest
/// first if `ascending`), at most `limit` records.
#[derive(Clone, Debug)]
pub struct IndexQuery<'a> {
    pub tenant: &'a TenantId,
    pub index: &'a ListIndex,
    pub lowest: FileId,
    pub highest: FileId,
    pub limit: usize,
    pub ascending: bool,
}

/// What one index read returned.
#[derive(Clone, Debug, Default)]
pub struct IndexPage {
    /// Records in the read's id order (expired ones included; the service drops them).
    pub records: Vec<FileRecord>,
    /// The last id the read reached (the next read continues past it).
    pub last_id: Option<FileId>,
    /// Whether the index may hold more records past `last_id`.
    pub more: bool,
    /// Items the backend read to answer (DynamoDB's `ScannedCount`, plus fetched records).
    pub items_read: u64,
}

/// Whose files a name-ordered read walks: one folder's (exactly that `directory`) or one
/// collection's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameScope {
    Directory(String),
    Collection(String),
}

/// One read in name order: records whose [`name_order_key`] is past `after` (in the read's
/// direction), at most `limit`.
#[derive(Clone, Debug)]
pub struct NameQuery<'a> {
    pub tenant: &'a TenantId,
    pub scope: &'a NameScope,
    pub after: Option<&'a str>,
    pub descending: bool,
    pub limit: usize,
}

/// What one name-ordered read returned.
#[derive(Clone, Debug, Default)]
pub struct NamePage {
    pub records: Vec<FileRecord>,
    /// The key of the last record read (the next read continues past it).
    pub last_key: Option<String>,
    pub more: bool,
    pub items_read: u64,
}

/// The key a record is ordered by in a name-ordered read: its folded name (cut to 400 bytes),
/// then its id, so that equal names keep a stable order. No name holds a control character,
/// so `\u{1}` sorts a name before every longer name it starts.
pub fn name_order_key(record: &FileRecord) -> String {
    let mut key = String::new();
    for c in crate::model::words::order_key(record.name.as_str()).chars() {
        if key.len() + c.len_utf8() > 400 {
            break;
        }
        key.push(c);
    }
    format!("{key}\u{1}{}", record.id)
}

/// Where a folder walk reads path keys: every file of the tenant, the files one reader key
/// makes visible (a collection read whole, an owner, a grantee), or the explicitly created
/// folders.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSource {
    All,
    Collection(String),
    Uploader(String),
    /// A principal's wire form (`user:<id>`, `group:<g>`).
    Grantee(String),
    Explicit,
}

/// How a folder's path starts every key below it: `/` for the top, `/a/b/` for `/a/b`.
pub fn folder_prefix(path: &str) -> String {
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// The key that places a record in the folder tree: its folder's prefix, `\u{1}`, its id
/// (`/a/b/\u{1}01J…` for a file in `/a/b`; a file without a directory is in `/`). `None` for a
/// record in the trash, which no folder shows. Keys of the files at or below `/a/b` start with
/// `/a/b/`; a direct file's key sorts before every subfolder's.
pub fn path_order_key(record: &FileRecord) -> Option<String> {
    if record.is_trashed() {
        return None;
    }
    let directory = record.directory.as_ref().map_or("/", |d| d.as_str());
    Some(format!("{}\u{1}{}", folder_prefix(directory), record.id))
}

/// The end (exclusive) of the keys at or below the folder with prefix `prefix` (`/a/` → `/a0`:
/// `0` is the character after `/`; `/` → `0`).
pub fn folder_range_end(prefix: &str) -> String {
    format!("{}0", prefix.strip_suffix('/').unwrap_or(prefix))
}

/// The key of an explicitly created folder: its prefix (`/a/b/`).
pub fn folder_key(path: &str) -> String {
    folder_prefix(path)
}

/// One record change of an all-or-nothing batch.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub previous: &'a FileRecord,
    pub next: &'a FileRecord,
}

/// One change of one file record, as a table stream reports it: DynamoDB's stream on AWS, the
/// embedded store's change log in `stowage-local`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordChange {
    /// Where the change sits in its stream; a partial batch failure names it.
    pub sequence_number: String,
    /// The record before the change (`None` for an insert).
    pub old: Option<FileRecord>,
    /// The record after the change (`None` for a removal).
    pub new: Option<FileRecord>,
    /// A removal by expiry (DynamoDB TTL, or the local sweep) rather than by a request.
    pub expired: bool,
    /// When the change was made, as its stream stamps it (DynamoDB: to the second), if known.
    pub at: Option<Timestamp>,
}

/// A changed item that looks like a file record but does not decode: a change to retry (and,
/// failing that, for a person to look at), never one to skip.
#[derive(Debug, thiserror::Error)]
#[error("change {position} does not decode as a file record")]
pub struct UndecodableChange {
    /// Where the change is in its log (a stream record's sequence number).
    pub position: String,
    #[source]
    pub source: StoreError,
}

/// Where file records live.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Opens the connection a first request would open, with a read that finds nothing (a cold
    /// start calls it before the first request); any answer will do, and errors are ignored.
    async fn warm(&self) {}

    /// The record, expired or not; `None` if there is none.
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError>;

    /// The records with these ids (at most 100), expired or not, in the order of `ids`;
    /// missing ones are left out. One round trip where the store has a batch read.
    async fn get_many(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.get(tenant, *id).await? {
                found.push(record);
            }
        }
        Ok(found)
    }

    /// The id of the live record with this `externalId`, if any.
    async fn find_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<FileId>, StoreError>;

    /// Stores a new record and counts it in the usage within `admission`'s limits;
    /// `Conflict` if one with that id exists, `ExternalIdTaken` if a live record of the tenant
    /// has its `externalId`, `QuotaExceeded` if it would pass a limit, `AdmissionStale` if
    /// the collection or limits are no longer the ones admission read.
    async fn insert(
        &self,
        record: &FileRecord,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Replaces `previous` with `next` if the stored version is still `previous.version`.
    /// Counters follow the change; no limit is checked (see [`MetadataStore::replace_within`]).
    async fn replace(
        &self,
        previous: &FileRecord,
        next: &FileRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.replace_many(&[Change { previous, next }], None, now)
            .await
    }

    /// [`MetadataStore::replace`] for a change that may reserve more (a new upload), within
    /// `admission`'s limits.
    async fn replace_within(
        &self,
        previous: &FileRecord,
        next: &FileRecord,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.replace_many(&[Change { previous, next }], Some(admission), now)
            .await
    }

    /// Applies every change or none, counters with them (within `admission`, if given: every
    /// change must then be in its collection).
    async fn replace_many(
        &self,
        changes: &[Change<'_>],
        admission: Option<&Admission>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes the record if its stored version is still `record.version`, and uncounts it.
    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError>;

    /// Uncounts a record that its expiry removed (DynamoDB's TTL), exactly once however often
    /// it is called for that record. A store whose own expiry uncounts (the embedded one)
    /// does nothing.
    async fn release_expired(&self, record: &FileRecord) -> Result<(), StoreError>;

    /// Counts a request of `tenant` against `limits` (at least one of them set): admitted with
    /// a ticket to end it with, or refused (nothing counted). See [`requests`].
    async fn begin_request(
        &self,
        tenant: &TenantId,
        limits: RequestLimits,
        now: Timestamp,
    ) -> Result<Admitted, StoreError>;

    /// The request of `ticket` was answered: it no longer counts as running.
    async fn end_request(&self, ticket: &RequestTicket) -> Result<(), StoreError>;

    /// The stored collection `name` (`None`: not stored; for `default`, untouched).
    async fn collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Collection>, StoreError>;

    /// What a create (or new upload) in `collection` is checked against, in one read: the
    /// stored collection and the tenant's stored limits with their version.
    async fn admission_facts(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Option<Collection>, Limits, u64), StoreError>;

    /// Every stored collection of the tenant, by name.
    async fn collections(&self, tenant: &TenantId) -> Result<Vec<Collection>, StoreError>;

    /// Stores `next` if the stored collection's version is still `expected` (`None`: none is
    /// stored); `Conflict` otherwise.
    async fn put_collection(
        &self,
        next: &Collection,
        expected: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Deletes the collection if its version is still `collection.version` (`Conflict`) and it
    /// holds no file (`CollectionNotEmpty`).
    async fn delete_collection(&self, collection: &Collection) -> Result<(), StoreError>;

    /// The tenant's counters, stored limits and each collection's counters.
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, StoreError>;

    /// Stores the tenant's limits if their version is still `expected` (`0`: none stored);
    /// the new version is `expected + 1`.
    async fn put_limits(
        &self,
        tenant: &TenantId,
        limits: Limits,
        expected: u64,
    ) -> Result<(), StoreError>;

    /// Reads one index.
    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError>;

    /// Reads one folder's or collection's records in name order.
    async fn list_by_name(&self, query: NameQuery<'_>) -> Result<NamePage, StoreError>;

    /// The first key of `source` from `lo` (inclusive) to `hi` (exclusive), if any: one
    /// item read, however many keys the range holds.
    async fn first_path_key(
        &self,
        tenant: &TenantId,
        source: &PathSource,
        lo: &str,
        hi: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Up to `limit` path keys that start with `prefix` and sort after `after` (if given), in
    /// path order, each with its record (`None`: gone since the key was read); and whether
    /// more may follow.
    async fn records_below(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Option<FileRecord>)>, bool), StoreError>;

    /// Stores the explicitly created folder `path`; `false` if it was stored already.
    async fn put_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError>;

    /// Deletes the explicitly created folder `path`; `false` if none was stored.
    async fn delete_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError>;

    /// The explicitly created folders at or below `path`, in path order.
    async fn folders_below(&self, tenant: &TenantId, path: &str)
        -> Result<Vec<String>, StoreError>;

    /// Up to `limit` records, of any tenant, whose expiry has passed by `now` while they still
    /// record a public copy (`published`): what the publish worker's sweep withdraws, long
    /// before the store's own expiry removes them. A `Query` of a sparse index, never a `Scan`.
    async fn expired_public(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// Removes the secondary items of a record that is already gone (deleted by TTL, say), if
    /// the store keeps any. Idempotent.
    async fn forget(&self, record: &FileRecord) -> Result<(), StoreError> {
        let _ = record;
        Ok(())
    }
}
