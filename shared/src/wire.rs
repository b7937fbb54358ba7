//! The shapes clients read, as `openapi.yaml` writes them (camelCase JSON, nulls written out),
//! each converted from the domain value it shows: the file record (also the `file` of every
//! event), the upload instructions, and every other answer of the HTTP API. The domain types,
//! the service's results and the ports carry no serde of their own for the wire; what a client
//! reads is decided here and nowhere else. (Requests are read field by field into the typed
//! commands of `crate::validate`.)

use std::collections::BTreeMap;

use serde::Serialize;

use crate::blob::{PresignedPost, PresignedRequest, UploadedPart};
use crate::model::{
    Checksum, Collection, CollectionName, Counter, DirectoryPath, ExternalId, FileId, FileKind,
    FileName, FileRecord, FileStatus, MediaType, Metadata, Purpose, Source, Tags, Timestamp,
    UserId,
};
use crate::service::{
    Created, Deleted, ListPage, MultipartInstructions, PartUrl, Shown, SignedParts, SignedRequest,
    UploadInstructions, UploadLimits, UsageReport,
};

/// The file record as clients see it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileView<'a> {
    pub id: FileId,
    pub collection: &'a CollectionName,
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
    /// Who else may read or write the file (collections with `fileSecurity`).
    pub grants: &'a [crate::model::Grant],
    pub uploaded_by: &'a UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub uploaded_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// When the file went to the trash (only for a file in the trash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Timestamp>,
    /// When a file in the trash is deleted for good.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<Timestamp>,
    pub version: u64,
    pub content_url: Option<String>,
}

impl<'a> FileView<'a> {
    /// `record` as clients see it, with the given `contentUrl`.
    pub(crate) fn of(record: &'a FileRecord, content_url: Option<String>) -> Self {
        FileView {
            id: record.id,
            collection: &record.collection,
            kind: record.kind,
            name: &record.name,
            extension: &record.extension,
            mime_type: &record.mime_type,
            size: record.size,
            expected_size: record.expected_size,
            checksum_sha256: record.checksum_sha256.as_ref(),
            status: record.status,
            failure_reason: record.failure_reason.as_deref(),
            purpose: record.purpose.as_ref(),
            tags: &record.tags,
            metadata: &record.metadata,
            external_id: record.external_id.as_ref(),
            directory: record.directory.as_ref(),
            source: record.source.as_ref(),
            private_access: record.private_access,
            grants: &record.grants,
            uploaded_by: &record.uploaded_by,
            created_at: record.created_at,
            updated_at: record.updated_at,
            uploaded_at: record.uploaded_at,
            // A trashed file's expiry is its purge.
            expires_at: record.expires_at.filter(|_| !record.is_trashed()),
            trashed_at: record.trashed_at,
            purge_at: record.expires_at.filter(|_| record.is_trashed()),
            version: record.version,
            content_url,
        }
    }
}

impl<'a> From<&'a Shown> for FileView<'a> {
    fn from(shown: &'a Shown) -> Self {
        FileView::of(&shown.record, shown.content_url.clone())
    }
}

/// How to upload the bytes: `method` tells a `PUT` from a form; only a multipart plan has an
/// `uploadId` (and no `method`).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Upload<'a> {
    Single(SinglePut<'a>),
    Form(PostForm<'a>),
    Multipart(MultipartUpload<'a>),
}

impl<'a> From<&'a UploadInstructions> for Upload<'a> {
    fn from(instructions: &'a UploadInstructions) -> Self {
        match instructions {
            UploadInstructions::Single(put) => Upload::Single(SinglePut::from(put)),
            UploadInstructions::Form(form) => Upload::Form(PostForm::from(form)),
            UploadInstructions::Multipart(plan) => Upload::Multipart(MultipartUpload::from(plan)),
        }
    }
}

/// One presigned `PUT`: send exactly `headers`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SinglePut<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

impl<'a> From<&'a PresignedRequest> for SinglePut<'a> {
    fn from(put: &'a PresignedRequest) -> Self {
        SinglePut {
            method: &put.method,
            url: &put.url,
            headers: &put.headers,
            expires_at: put.expires_at,
        }
    }
}

/// An S3 POST policy form: post `fields`, then the file (the last field, `file`), to `url`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostForm<'a> {
    pub method: &'static str,
    pub url: &'a str,
    pub fields: &'a BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

impl<'a> From<&'a PresignedPost> for PostForm<'a> {
    fn from(form: &'a PresignedPost) -> Self {
        PostForm {
            method: "POST",
            url: &form.url,
            fields: &form.fields,
            expires_at: form.expires_at,
        }
    }
}

/// A multipart plan with presigned `PUT`s for (up to 100 of) its parts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MultipartUpload<'a> {
    pub upload_id: &'a str,
    pub part_size: u64,
    pub part_count: u32,
    pub parts: Vec<Part<'a>>,
    pub expires_at: Timestamp,
}

impl<'a> From<&'a MultipartInstructions> for MultipartUpload<'a> {
    fn from(plan: &'a MultipartInstructions) -> Self {
        MultipartUpload {
            upload_id: &plan.upload_id,
            part_size: plan.part_size,
            part_count: plan.part_count,
            parts: plan.parts.iter().map(Part::from).collect(),
            expires_at: plan.expires_at,
        }
    }
}

/// Where to `PUT` one part, and how many bytes it must hold.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part<'a> {
    pub part_number: u32,
    pub url: &'a str,
    pub size: u64,
}

impl<'a> From<&'a PartUrl> for Part<'a> {
    fn from(part: &'a PartUrl) -> Self {
        Part {
            part_number: part.part_number,
            url: &part.url,
            size: part.size,
        }
    }
}

/// `{"file", "upload"}` of a create or a re-upload.
#[derive(Serialize)]
pub(crate) struct FileWithUpload<'a> {
    pub file: FileView<'a>,
    pub upload: Upload<'a>,
}

impl<'a> From<&'a Created> for FileWithUpload<'a> {
    fn from(created: &'a Created) -> Self {
        FileWithUpload {
            file: FileView::from(&created.file),
            upload: Upload::from(&created.upload),
        }
    }
}

/// A page of a listing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<'a> {
    pub items: Vec<FileView<'a>>,
    pub next_cursor: Option<&'a str>,
}

impl<'a> From<&'a ListPage> for Page<'a> {
    fn from(page: &'a ListPage) -> Self {
        Page {
            items: page.items.iter().map(FileView::from).collect(),
            next_cursor: page.next_cursor.as_deref(),
        }
    }
}

/// The records a batch update wrote.
#[derive(Serialize)]
pub(crate) struct Items<'a> {
    pub items: Vec<FileView<'a>>,
}

impl<'a> From<&'a [Shown]> for Items<'a> {
    fn from(updated: &'a [Shown]) -> Self {
        Items {
            items: updated.iter().map(FileView::from).collect(),
        }
    }
}

/// A batch delete's answer, each list in request order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteAnswer<'a> {
    pub deleted: &'a [FileId],
    pub not_found: &'a [FileId],
    /// Deletes by filter only: where the next call goes on (`null`: nothing more matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Option<&'a str>>,
}

impl<'a> From<&'a Deleted> for DeleteAnswer<'a> {
    fn from(deleted: &'a Deleted) -> Self {
        DeleteAnswer {
            deleted: &deleted.deleted,
            not_found: &deleted.not_found,
            next_cursor: deleted.next_cursor.as_ref().map(|c| c.as_deref()),
        }
    }
}

/// A part S3 holds for an open multipart upload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeldPart<'a> {
    pub part_number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: &'a str,
}

/// The parts S3 holds for an open multipart upload.
#[derive(Serialize)]
pub(crate) struct Parts<'a> {
    pub parts: Vec<HeldPart<'a>>,
}

impl<'a> From<&'a [UploadedPart]> for Parts<'a> {
    fn from(parts: &'a [UploadedPart]) -> Self {
        Parts {
            parts: parts
                .iter()
                .map(|part| HeldPart {
                    part_number: part.part_number,
                    size: part.size,
                    etag: &part.etag,
                })
                .collect(),
        }
    }
}

/// Fresh part URLs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartUrls<'a> {
    pub parts: Vec<Part<'a>>,
    pub expires_at: Timestamp,
}

impl<'a> From<&'a SignedParts> for PartUrls<'a> {
    fn from(signed: &'a SignedParts) -> Self {
        PartUrls {
            parts: signed.parts.iter().map(Part::from).collect(),
            expires_at: signed.expires_at,
        }
    }
}

/// One signed S3 request of the open upload (Uppy's `signRequest` answer).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Signed<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub key: &'a str,
    pub expires_at: Timestamp,
}

impl<'a> From<&'a SignedRequest> for Signed<'a> {
    fn from(signed: &'a SignedRequest) -> Self {
        Signed {
            method: &signed.method,
            url: &signed.url,
            headers: &signed.headers,
            key: &signed.key,
            expires_at: signed.expires_at,
        }
    }
}

/// `GET /files/limits` (all sizes in bytes).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Limits {
    pub multipart_threshold: u64,
    pub default_part_size: u64,
    pub min_part_size: u64,
    pub max_part_size: u64,
    pub max_parts: u64,
    pub max_object_size: u64,
    pub max_url_expires_in: u64,
}

impl From<&UploadLimits> for Limits {
    fn from(limits: &UploadLimits) -> Self {
        Limits {
            multipart_threshold: limits.multipart_threshold,
            default_part_size: limits.default_part_size,
            min_part_size: limits.min_part_size,
            max_part_size: limits.max_part_size,
            max_parts: limits.max_parts,
            max_object_size: limits.max_object_size,
            max_url_expires_in: limits.max_url_expires_in,
        }
    }
}

/// A thumbnail that is not made yet (`202`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThumbnailPending {
    pub status: &'static str,
    pub retry_after: u64,
}

/// A collection: its name, rules, version and times.
pub(crate) fn collection(collection: &Collection) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("name".into(), collection.name.as_str().into());
    map.extend(crate::validate::rules_json(&collection.rules));
    map.insert("version".into(), collection.version.into());
    let time = |at: Timestamp| serde_json::Value::String(at.to_rfc3339());
    // `default` untouched has never been written: no times.
    let written = collection.version > 0;
    map.insert(
        "createdAt".into(),
        if written {
            time(collection.created_at)
        } else {
            serde_json::Value::Null
        },
    );
    map.insert(
        "updatedAt".into(),
        if written {
            time(collection.updated_at)
        } else {
            serde_json::Value::Null
        },
    );
    serde_json::Value::Object(map)
}

/// `{"items": [collection, ...]}`.
pub(crate) fn collections(collections: &[Collection]) -> serde_json::Value {
    serde_json::json!({ "items": collections.iter().map(collection).collect::<Vec<_>>() })
}

/// Bytes and files.
#[derive(Serialize)]
pub(crate) struct CounterView {
    pub bytes: i64,
    pub files: i64,
}

impl From<Counter> for CounterView {
    fn from(c: Counter) -> Self {
        CounterView {
            bytes: c.bytes,
            files: c.files,
        }
    }
}

/// The limits in force (`null`: none).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LimitsView {
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
}

/// `GET /usage`.
#[derive(Serialize)]
pub(crate) struct UsageView<'a> {
    pub bytes: i64,
    pub files: i64,
    pub limits: LimitsView,
    pub collections: BTreeMap<&'a str, CounterView>,
}

impl<'a> From<&'a UsageReport> for UsageView<'a> {
    fn from(report: &'a UsageReport) -> Self {
        UsageView {
            bytes: report.total.bytes,
            files: report.total.files,
            limits: LimitsView {
                max_bytes: report.limits.max_bytes,
                max_files: report.limits.max_files,
            },
            collections: report
                .collections
                .iter()
                .map(|(name, c)| (name.as_str(), CounterView::from(*c)))
                .collect(),
        }
    }
}

/// One entry of `GET /files/{id}/versions`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionView<'a> {
    pub version: u32,
    pub current: bool,
    pub size: u64,
    pub mime_type: &'a MediaType,
    pub checksum_sha256: Option<&'a Checksum>,
    pub uploaded_at: Timestamp,
    pub uploaded_by: &'a UserId,
}

impl<'a> From<&'a crate::service::VersionEntry> for VersionView<'a> {
    fn from(entry: &'a crate::service::VersionEntry) -> Self {
        let v = &entry.version;
        VersionView {
            version: v.version,
            current: entry.current,
            size: v.size,
            mime_type: &v.mime_type,
            checksum_sha256: v.checksum_sha256.as_ref(),
            uploaded_at: v.uploaded_at,
            uploaded_by: &v.uploaded_by,
        }
    }
}
