//! The file record and the domain types it is made of.
//!
//! `FileRecord` is what the metadata store keeps (internal fields included); `FileView` is the
//! public JSON shape of SPEC section 3. Every client-supplied value arrives as a parsed newtype
//! from [`fields`], so a record can only hold values that passed the rules.

pub mod fields;
mod time;

use serde::{Deserialize, Serialize};

pub use fields::{
    Checksum, DirectoryPath, ExternalId, FileName, MediaType, Metadata, Purpose, Source, Tags,
};
pub use time::Timestamp;

use crate::error::FieldError;

/// Server-generated file id: a ULID, URL-safe and time-sortable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileId(#[serde(with = "ulid_text")] ulid::Ulid);

impl FileId {
    /// A new id for a record created now.
    pub fn generate() -> Self {
        FileId(ulid::Ulid::new())
    }

    /// A new id whose time part is `at`, so that the id sorts with `createdAt`.
    pub fn generate_at(at: Timestamp) -> Self {
        let millis = u64::try_from(at.millis()).unwrap_or(0);
        FileId(ulid::Ulid::from_parts(millis, ulid::Ulid::new().random()))
    }

    /// The smallest id whose time part is `at` or later.
    pub fn lowest_at(at: Timestamp) -> Self {
        FileId(ulid::Ulid::from_parts(
            u64::try_from(at.millis()).unwrap_or(0),
            0,
        ))
    }

    /// The id just below this one, or `None` for the smallest.
    pub fn predecessor(self) -> Option<Self> {
        u128::from(self.0)
            .checked_sub(1)
            .map(|n| FileId(ulid::Ulid::from(n)))
    }

    /// The id just above this one, or `None` for the largest.
    pub fn successor(self) -> Option<Self> {
        u128::from(self.0)
            .checked_add(1)
            .map(|n| FileId(ulid::Ulid::from(n)))
    }

    /// The smallest id.
    pub const MIN: FileId = FileId(ulid::Ulid(0));
    /// The largest id.
    pub const MAX: FileId = FileId(ulid::Ulid(u128::MAX));

    /// Parses the canonical form only: 26 upper-case Crockford base32 characters, the first
    /// `0`–`7`. (The `ulid` crate also takes lower case and lets a first character above `7`
    /// overflow, so several strings would name one file.)
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("id", "must be a 26-character ULID in upper case");
        if value.len() != 26 {
            return Err(invalid());
        }
        let id = ulid::Ulid::from_string(value).map_err(|_| invalid())?;
        if id.to_string() != value {
            return Err(invalid());
        }
        Ok(FileId(id))
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

mod ulid_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ulid::Ulid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ulid::Ulid, D::Error> {
        let text = String::deserialize(d)?;
        ulid::Ulid::from_string(&text).map_err(serde::de::Error::custom)
    }
}

/// Longest tenant or user id accepted from the identity claims, in bytes.
pub const MAX_PRINCIPAL_BYTES: usize = 256;

macro_rules! principal {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to 256 bytes without control characters.
            pub fn parse(value: &str) -> Result<Self, FieldError> {
                if value.is_empty() || value.len() > MAX_PRINCIPAL_BYTES {
                    return Err(FieldError::new($field, "must be 1 to 256 bytes"));
                }
                if value.chars().any(char::is_control) {
                    return Err(FieldError::new($field, "must not contain control characters"));
                }
                Ok($name(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

principal!(
    /// The tenant a request acts for; the first part of every storage key.
    TenantId,
    "tenant"
);
principal!(
    /// The user a request acts as.
    UserId,
    "user"
);

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
    /// The S3 event sequencer that set this state, normalised (see `keys::Sequencer`); `None`
    /// when the state came from a `HeadObject` repair rather than an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
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
    pub fn part_len(&self, number: u32, total: u64) -> u64 {
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
    #[serde(default, with = "fields::metadata_as_text")]
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
}

impl FileRecord {
    /// True once `expiresAt` has passed: the record is gone for every reader, whether or not
    /// DynamoDB's TTL has removed it yet.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The public JSON shape, with the given `contentUrl`.
    pub fn view(&self, content_url: Option<String>) -> FileView<'_> {
        FileView {
            id: self.id,
            kind: self.kind,
            name: &self.name,
            extension: &self.extension,
            mime_type: &self.mime_type,
            size: self.size,
            expected_size: self.expected_size,
            checksum_sha256: self.checksum_sha256.as_ref(),
            status: self.status,
            failure_reason: self.failure_reason.as_deref(),
            purpose: self.purpose.as_ref(),
            tags: &self.tags,
            metadata: &self.metadata,
            external_id: self.external_id.as_ref(),
            directory: self.directory.as_ref(),
            source: self.source.as_ref(),
            private_access: self.private_access,
            uploaded_by: &self.uploaded_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            uploaded_at: self.uploaded_at,
            expires_at: self.expires_at,
            version: self.version,
            content_url,
        }
    }
}

/// The file record as clients see it (SPEC section 3); nulls are written out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView<'a> {
    pub id: FileId,
    pub kind: FileKind,
    pub name: &'a FileName,
    pub extension: &'a str,
    pub mime_type: &'a MediaType,
    pub size: Option<u64>,
    pub expected_size: Option<u64>,
    pub checksum_sha256: Option<&'a Checksum>,
    pub status: FileStatus,
    pub failure_reason: Option<&'a str>,
    pub purpose: Option<&'a Purpose>,
    pub tags: &'a Tags,
    pub metadata: &'a Metadata,
    pub external_id: Option<&'a ExternalId>,
    pub directory: Option<&'a DirectoryPath>,
    pub source: Option<&'a Source>,
    pub private_access: bool,
    pub uploaded_by: &'a UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub uploaded_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub version: u64,
    pub content_url: Option<String>,
}
