//! The object-store port: presigned URLs for clients, and the few direct calls the service makes.

#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod s3;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::Timestamp;

/// An object store call failed.
#[derive(Debug, thiserror::Error)]
#[error("object store error: {context}")]
pub struct BlobError {
    context: String,
    /// Throttled or unreachable: worth retrying later.
    unavailable: bool,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl BlobError {
    /// Wraps `source`, saying what was being done.
    pub fn new(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        BlobError {
            context: context.into(),
            unavailable: false,
            source: source.into(),
        }
    }

    /// The store throttled the call or could not be reached.
    pub fn unavailable(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        BlobError {
            unavailable: true,
            ..Self::new(context, source)
        }
    }

    /// Whether retrying later may succeed.
    pub(crate) fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}

/// A request a client can make without credentials: a URL plus the headers it must send exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

/// A presigned POST form (S3's browser-based upload): the URL to post to and the form fields to
/// send before the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedPost {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

/// What a POST policy binds besides the key.
#[derive(Clone, Copy, Debug)]
pub struct PostConditions<'a> {
    /// The exact `Content-Type` field the form must carry.
    pub content_type: &'a str,
    /// The smallest and largest file the form may carry, in bytes.
    pub min_size: u64,
    pub max_size: u64,
}

/// An S3 call on a multipart upload that a client (a browser uploader) makes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadCall<'a> {
    /// `CreateMultipartUpload` of an object of this content type.
    Create {
        content_type: &'a str,
    },
    ListParts {
        upload_id: &'a str,
    },
    Complete {
        upload_id: &'a str,
    },
    Abort {
        upload_id: &'a str,
    },
}

/// What S3 holds at a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<Timestamp>,
}

/// A part S3 holds for an open multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
}

/// What a presigned PUT binds besides the key.
#[derive(Clone, Copy, Debug)]
pub struct PutConditions<'a> {
    /// The exact `Content-Type` the upload must carry.
    pub content_type: &'a str,
    /// Base64 SHA-256 the bytes must hash to, checked by S3.
    pub checksum_sha256: Option<&'a str>,
}

/// Where the bytes live.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Opens the connection a first request would open, with a read of an object no upload
    /// makes (a cold start calls it before the first request); any answer will do.
    async fn warm(&self) {}

    /// A presigned single-part PUT of `key`, valid for `expires_in` from `now`.
    async fn presign_put(
        &self,
        key: &str,
        conditions: PutConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;

    /// A presigned GET of `key` whose response carries `content_type` and `disposition`.
    async fn presign_get(
        &self,
        key: &str,
        content_type: &str,
        disposition: &str,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;

    /// The object's size and ETag, or `None` if there is no object at `key`.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, BlobError>;

    /// Opens a multipart upload of `key`; returns S3's upload id.
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, BlobError>;

    /// A presigned PUT of one part of an open multipart upload.
    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;

    /// A presigned POST form that uploads `key` under `conditions`.
    async fn presign_post(
        &self,
        key: &str,
        conditions: PostConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedPost, BlobError>;

    /// A presigned request for one call on a multipart upload of `key`, made by the client.
    async fn presign_upload_call(
        &self,
        key: &str,
        call: UploadCall<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;

    /// Every part S3 holds for the upload, sorted by number (paged through S3 as needed);
    /// `None` if there is no such upload (completed or aborted).
    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, BlobError>;

    /// Completes the upload from `parts` (number and ETag, in order); returns the object's ETag.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<String, BlobError>;

    /// Aborts the upload and drops its parts; aborting a finished upload succeeds.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError>;

    /// Copies the object at `from` to `to`, inside the bucket (one `CopyObject`: up to 5 GiB).
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError>;

    /// Copies the `size`-byte object at `from` to `to` as a multipart upload of server-side
    /// part copies of `part_size` bytes (any size S3 stores); an upload left by a failure is
    /// aborted.
    async fn copy_in_parts(
        &self,
        from: &str,
        to: &str,
        size: u64,
        part_size: u64,
    ) -> Result<(), BlobError>;

    /// Stores an empty object at `key` (a marker whose event starts a job).
    async fn put_empty(&self, key: &str) -> Result<(), BlobError>;

    /// Stores `bytes` at `key` (a thumbnail, a small state document).
    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError>;

    /// The object's bytes, or `None` if there is no object at `key`; an error if it holds more
    /// than `max_bytes`.
    async fn get_bytes(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, BlobError>;

    /// Deletes the object at `key`; deleting a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// How a download asks the browser to treat the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Disposition {
    /// Show it in the browser if it can.
    Inline,
    /// Save it under its name (the default).
    #[default]
    Attachment,
}

impl Disposition {
    /// Parses the `disposition` query parameter's value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "inline" => Some(Disposition::Inline),
            "attachment" => Some(Disposition::Attachment),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Disposition::Inline => "inline",
            Disposition::Attachment => "attachment",
        }
    }
}

/// A media type without its parameters, lower-cased: `"Text/HTML; charset=utf-8"` → `"text/html"`.
pub fn media_type_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether a browser would run script in content of this type if it rendered it: HTML, XHTML,
/// SVG and other XML (XSLT), and JavaScript. Stowage never lets such content show inline: a
/// download of it is always an attachment, and `stowage-local` serves public copies of it as
/// attachments (a member must not act as another through a file). Every object and
/// public response also carries `Content-Security-Policy: sandbox` and `nosniff`.
pub fn is_active_content(mime_type: &str) -> bool {
    let essence = media_type_essence(mime_type);
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/xsl"
            | "application/xslt+xml"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "text/ecmascript"
            | "application/ecmascript"
            | "multipart/x-mixed-replace"
    ) || essence.ends_with("+xml")
}

/// The security headers every object and public-copy response carries, as (name, value):
/// the content runs in a sandbox (an opaque origin, no script, no access to the console's
/// storage) and is never sniffed into an active type.
pub const CONTENT_SECURITY_HEADERS: [(&str, &str); 2] = [
    ("content-security-policy", "sandbox"),
    ("x-content-type-options", "nosniff"),
];

/// The disposition a download gets: `inline` only for content that cannot run script.
pub fn safe_disposition(requested: Disposition, mime_type: &str) -> Disposition {
    if is_active_content(mime_type) {
        Disposition::Attachment
    } else {
        requested
    }
}

/// A `Content-Disposition` value for `name` (RFC 6266): a plain ASCII `filename` fallback and,
/// when the name is not plain ASCII, a UTF-8 `filename*`.
pub fn content_disposition(disposition: Disposition, name: &str) -> String {
    let kind = disposition.as_str();
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    if fallback == name {
        return format!("{kind}; filename=\"{name}\"");
    }
    const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_never_inline() {
        for active in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/rss+xml",
            "text/xml",
            "application/javascript",
            "text/javascript",
        ] {
            assert!(is_active_content(active), "{active}");
            assert_eq!(
                safe_disposition(Disposition::Inline, active),
                Disposition::Attachment
            );
        }
        for passive in [
            "image/png",
            "text/plain",
            "application/pdf",
            "application/json",
            "video/mp4",
        ] {
            assert!(!is_active_content(passive), "{passive}");
            assert_eq!(
                safe_disposition(Disposition::Inline, passive),
                Disposition::Inline
            );
        }
    }

    #[test]
    fn ascii_names_get_a_plain_filename() {
        assert_eq!(
            content_disposition(Disposition::Attachment, "report 2026.pdf"),
            "attachment; filename=\"report 2026.pdf\""
        );
    }

    #[test]
    fn other_names_get_a_fallback_and_an_encoded_filename_star() {
        assert_eq!(
            content_disposition(Disposition::Inline, "résumé \"v2\".pdf"),
            "inline; filename=\"r_sum_ _v2_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
    }
}
