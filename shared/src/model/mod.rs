//! The file record and the domain types it is made of.
//!
//! `FileRecord` is what the metadata store keeps (internal fields included); its public JSON
//! shape is `crate::wire::FileView`. Every client-supplied value arrives as a parsed newtype
//! from [`fields`], so a record can only hold values that passed the rules.

mod access;
mod collection;
mod error;
mod fields;
mod ids;
mod metadata;
mod sequencer;
mod time;
pub mod words;

use serde::{Deserialize, Serialize};

pub use access::{
    valid_principal_name, AccessEntry, Caller, CollectionAccess, FileFacts, Grant, Overwrite,
    Policy, Principal, PublicFiles, Right, Role, MAX_ACCESS_ENTRIES, MAX_GRANTS, MAX_GROUPS,
};
pub use collection::{
    charge_change, collection_deltas, Admission, Collection, CollectionName, Counter,
    CreateDefaults, LimitName, Limits, MimePattern, Rules, Usage, DEFAULT_COLLECTION, MAX_LIMIT,
    MAX_TRASH_DAYS, MAX_VERSIONS,
};
pub use error::FieldError;
pub use fields::{Checksum, DirectoryPath, ExternalId, FileName, MediaType, Purpose, Source, Tags};
pub use ids::{FileId, TenantId, UserId};
pub use metadata::Metadata;
pub use metadata::MetadataPatch;
pub use sequencer::Sequencer;
pub use time::Timestamp;

/// `client` files live until deleted; `temp` files expire after `ttlSeconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    #[default]
    Client,
    Temp,
}

impl FileKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Client => "client",
            FileKind::Temp => "temp",
        }
    }
}

/// Where the record's bytes stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Pending,
    Uploaded,
    Failed,
}

/// The object that holds a record's current content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// The S3 event sequencer that set this state; `None` when the state came from a
    /// `HeadObject` repair rather than an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<Sequencer>,
    /// What the content was when it landed (kept so that it can become a version): its media
    /// type, checksum, when it landed and who uploaded it. `None` on records written before
    /// these were kept: the record's own fields then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<Landed>,
}

/// The facts of a piece of content from when it landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Landed {
    pub mime_type: MediaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<Checksum>,
    pub uploaded_at: Timestamp,
    pub uploaded_by: UserId,
}

/// Earlier content of a file, kept in a collection with `versions`: its bytes stay at `key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentVersion {
    /// The upload revision that made it (its key carries it): the version's number.
    pub version: u32,
    pub key: String,
    pub size: u64,
    pub mime_type: MediaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<Checksum>,
    pub uploaded_at: Timestamp,
    pub uploaded_by: UserId,
}

/// An upload handed out to a client and not finished yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenUpload {
    pub revision: u32,
    pub key: String,
    pub url_expires_at: Timestamp,
    /// Present for a multipart upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartPlan>,
    /// The collection's `maxFileSize` when the upload opened: bytes that land larger make the
    /// upload fail (a single `PUT` cannot bind its size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Who opened it: only they (or an app) may sign its requests, list its parts or abort
    /// it. Records written before this was kept have `None`: the file's owner then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_by: Option<UserId>,
    /// How many earlier contents the collection keeps (its `versions` when the upload
    /// opened): the content this upload replaces becomes one of them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keep_versions: u32,
    /// Set when the upload is a server-side copy of this version (a restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How a multipart upload is cut: every part but the last is `part_size` bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartPlan {
    /// S3's id of the open multipart upload; never accepted from clients.
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
}

impl MultipartPlan {
    /// The size part `number` (1-based) must have for a total of `total` bytes.
    pub(crate) fn part_len(&self, number: u32, total: u64) -> u64 {
        if number < self.part_count {
            self.part_size
        } else {
            total.saturating_sub(self.part_size * u64::from(self.part_count - 1))
        }
    }
}

/// A file record as stored: the public fields plus the bookkeeping that ties it to S3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    pub tenant: TenantId,
    pub id: FileId,
    /// The collection the file is in, fixed at create (records written before collections
    /// existed are in `default`).
    #[serde(default)]
    pub collection: CollectionName,
    pub kind: FileKind,
    pub name: FileName,
    pub extension: String,
    pub mime_type: MediaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<Checksum>,
    pub status: FileStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    #[serde(default)]
    pub tags: Tags,
    /// Stored as JSON text: DynamoDB maps cap nesting at 32 levels and reject some keys that
    /// are valid JSON, and nothing queries inside metadata.
    #[serde(default, with = "metadata::as_text")]
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    pub private_access: bool,
    pub uploaded_by: UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Lifetime of a temp file, counted from `createdAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    pub version: u64,
    /// The last upload revision handed out; object keys carry it.
    pub revision: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<StoredObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<OpenUpload>,
    /// The content key the public copy was last made from (`None`: there is no public copy);
    /// see `service/public.rs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Who else may read or write the file (counted only in collections with
    /// `fileSecurity`). In the order given, one per principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Who made the last change (the file event's `actor`): `None` for changes the system makes
    /// (an S3 event, a publish job, a repair) and for records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// Set on the write that names who deletes the record, just before the delete (so the
    /// stream's removal carries the deleter); that write yields no event of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    /// Earlier contents kept by the collection's `versions`, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ContentVersion>,
    /// When the file was moved to the trash (its collection's `trashDays`); it is purged at
    /// `expiresAt`. Trashed files are hidden from every read but the trash's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Timestamp>,
}

/// Who made a change: a user of the tenant, and whether its token was an app's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: UserId,
    pub app: bool,
}

#[cfg(any(test, feature = "test-util"))]
impl FileRecord {
    /// The one record fixture of the tests: a pending client file `a.txt` (`text/plain`) of
    /// `tenant`, created at `at` by `alice`, version 1, with no tags, metadata, expiry, content
    /// or open upload. Each test changes the fields it is about.
    pub fn fixture(tenant: &str, id: FileId, at: Timestamp) -> FileRecord {
        FileRecord {
            tenant: TenantId::parse(tenant).expect("a valid tenant"),
            id,
            collection: CollectionName::default_collection(),
            kind: FileKind::Client,
            name: FileName::parse("a.txt").expect("a valid name"),
            extension: ".txt".into(),
            mime_type: MediaType::parse("text/plain").expect("a valid type"),
            size: None,
            expected_size: None,
            checksum_sha256: None,
            status: FileStatus::Pending,
            failure_reason: None,
            purpose: None,
            tags: Tags::default(),
            metadata: Metadata::default(),
            external_id: None,
            directory: None,
            source: None,
            private_access: true,
            uploaded_by: UserId::parse("alice").expect("a valid user"),
            created_at: at,
            updated_at: at,
            uploaded_at: None,
            expires_at: None,
            ttl_seconds: None,
            version: 1,
            revision: 1,
            content: None,
            upload: None,
            published: None,
            grants: Vec::new(),
            actor: None,
            deleting: false,
            versions: Vec::new(),
            trashed_at: None,
        }
    }
}

impl FileRecord {
    /// True once `expiresAt` has passed: the record is gone for every reader, whether or not
    /// DynamoDB's TTL has removed it yet.
    pub(crate) fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the file is in the trash.
    pub fn is_trashed(&self) -> bool {
        self.trashed_at.is_some()
    }

    /// The facts of the current content as a version (the record's own fields for content
    /// that landed before they were kept).
    pub(crate) fn current_version(&self) -> Option<ContentVersion> {
        let content = self.content.as_ref()?;
        let landed = content.landed.clone().unwrap_or_else(|| Landed {
            mime_type: self.mime_type.clone(),
            checksum_sha256: self.checksum_sha256.clone(),
            uploaded_at: self.uploaded_at.unwrap_or(self.created_at),
            uploaded_by: self.uploaded_by.clone(),
        });
        Some(ContentVersion {
            version: crate::keys::ObjectKey::parse(&content.key)
                .map_or(self.revision, |k| k.revision),
            key: content.key.clone(),
            size: content.size,
            mime_type: landed.mime_type,
            checksum_sha256: landed.checksum_sha256,
            uploaded_at: landed.uploaded_at,
            uploaded_by: landed.uploaded_by,
        })
    }
}
