//! The one error type the API returns, and its `application/problem+json` rendering (RFC 9457).
//!
//! Every expected failure carries a [`ProblemCode`]: the stable machine-readable string clients
//! match on, which also fixes the HTTP status. `openapi.yaml` lists the same codes (a contract
//! test holds the two equal). Unexpected failures are `Internal`, which keeps its source for the
//! logs and shows the client only an opaque 500.

use serde::Serialize;

pub use crate::model::FieldError;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

macro_rules! problem_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal, $status:literal;)*) => {
        /// Every `code` a problem document can carry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($(#[$doc])* $variant,)*
        }

        impl ProblemCode {
            /// Every code, in the order `openapi.yaml` lists them.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant),*];

            /// The wire form, e.g. `"version_mismatch"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $text,)*
                }
            }

            /// The HTTP status a problem with this code has.
            pub const fn status(self) -> u16 {
                match self {
                    $(ProblemCode::$variant => $status,)*
                }
            }
        }
    };
}

problem_codes! {
    /// One or more fields broke their rules; `errors` names each.
    ValidationFailed = "validation_failed", 400;
    /// The body is JSON but not the expected shape (not an object, say).
    InvalidBody = "invalid_body", 400;
    /// The body is not JSON, is empty, or names a key twice.
    InvalidJson = "invalid_json", 400;
    /// A path id is not a canonical file id.
    InvalidId = "invalid_id", 400;
    /// A listing cursor that this API did not issue for this tenant and these filters.
    InvalidCursor = "invalid_cursor", 400;
    /// `If-Match` is not a file version.
    InvalidIfMatch = "invalid_if_match", 400;
    /// A batch needs more operations than one transaction allows.
    BatchTooLarge = "batch_too_large", 400;
    /// Completion: a part of the plan is not uploaded.
    MissingParts = "missing_parts", 400;
    /// Completion: a part is not its planned size.
    PartSizeMismatch = "part_size_mismatch", 400;
    /// Completion: the parts do not add up to `expectedSize`.
    SizeMismatch = "size_mismatch", 400;
    /// Completion: the client's part ETags are not those S3 holds.
    EtagMismatch = "etag_mismatch", 400;
    /// The collection does not take this media type (`allowedMimeTypes`).
    MimeTypeNotAllowed = "mime_type_not_allowed", 400;
    /// The collection (`requireSize`) or a byte limit needs a declared `size`/`expectedSize`.
    SizeRequired = "size_required", 400;
    /// No valid identity on the request.
    Unauthorized = "unauthorized", 401;
    /// The token lacks the scope the route needs (RFC 6750's name); nothing was read or written.
    InsufficientScope = "insufficient_scope", 403;
    /// The caller may read the file but lacks the right the request needs on it (the detail
    /// names the right); nothing was changed.
    Forbidden = "forbidden", 403;
    /// No such file for this tenant (also for other tenants' files).
    NotFound = "not_found", 404;
    /// The file has no earlier content with that version number.
    VersionNotFound = "version_not_found", 404;
    /// No such collection for this tenant.
    CollectionNotFound = "collection_not_found", 404;
    /// `DELETE /folders` of a folder that was never created explicitly.
    FolderNotFound = "folder_not_found", 404;
    /// The file gets no thumbnail: not an image thumbnails are made of, over the limits (50
    /// megapixels, 100 MB), or an image that does not decode.
    NoThumbnail = "no_thumbnail", 404;
    /// No route has this path (stowage-local only; API Gateway answers these itself).
    RouteNotFound = "route_not_found", 404;
    /// `GET /realtime` where the deployment has no realtime endpoint.
    RealtimeUnavailable = "realtime_unavailable", 404;
    /// A route has this path, but not this method.
    MethodNotAllowed = "method_not_allowed", 405;
    /// Another live file of the tenant has that `externalId`.
    ExternalIdConflict = "external_id_conflict", 409;
    /// `overwrite` would change a file's `kind`.
    KindMismatch = "kind_mismatch", 409;
    /// `POST /collections` with a name the tenant already has (`default` always exists).
    CollectionExists = "collection_exists", 409;
    /// A collection that holds files cannot be deleted.
    CollectionNotEmpty = "collection_not_empty", 409;
    /// The `default` collection cannot be deleted.
    DefaultCollection = "default_collection", 409;
    /// `overwrite` names another collection than the file's (fixed at create).
    CollectionMismatch = "collection_mismatch", 409;
    /// The write would pass a limit of the tenant or the collection (the detail names it).
    QuotaExceeded = "quota_exceeded", 409;
    /// An update by filter matches more than 100 files (one transaction's worth).
    TooManyMatches = "too_many_matches", 409;
    /// The file has no content to download.
    NotUploaded = "not_uploaded", 409;
    /// A multipart route on a file without an open multipart upload.
    NoMultipartUpload = "no_multipart_upload", 409;
    /// Abort on a file without an open upload.
    NoOpenUpload = "no_open_upload", 409;
    /// A sign request names a key, upload id or kind of upload that is not the file's open one.
    UploadMismatch = "upload_mismatch", 409;
    /// Restore of a file that is not in the trash.
    NotTrashed = "not_trashed", 409;
    /// Deleting or restoring the version that is the file's current content.
    CurrentVersion = "current_version", 409;
    /// Moving a file to another collection while an upload of it is open.
    UploadOpen = "upload_open", 409;
    /// Deleting a folder that still holds files or folders.
    FolderNotEmpty = "folder_not_empty", 409;
    /// `If-Match` is not the file's version (or a concurrent writer won every retry).
    VersionMismatch = "version_mismatch", 412;
    /// The body is over the size limit.
    PayloadTooLarge = "payload_too_large", 413;
    /// The declared size is above the collection's `maxFileSize`.
    FileTooLarge = "file_too_large", 413;
    /// The body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type", 415;
    /// The identity holds as many realtime connections as one may (stowage-local).
    TooManyConnections = "too_many_connections", 429;
    /// The tenant started as many requests as its limit allows in this window, or has as many
    /// running as it may (the deployment's per-tenant limits); retry after `Retry-After`.
    TooManyRequests = "too_many_requests", 429;
    /// A bug or an unexpected backend failure; the detail is logged, not returned.
    Internal = "internal", 500;
    /// A backend is throttling or unreachable; retry.
    Unavailable = "unavailable", 503;
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a route can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields broke their rules.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// An expected failure: its code fixes the status; the detail is shown to the client.
    #[error("{detail}")]
    Problem { code: ProblemCode, detail: String },
    /// A backend is throttling or unreachable; the client may retry.
    #[error("a storage backend is unavailable; retry later")]
    Unavailable(#[source] Source),
    /// The tenant is over a request limit; the client may retry after this many seconds.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u32 },
    /// Anything unexpected. The client sees only an opaque message.
    #[error("internal error")]
    Internal(#[source] Source),
}

impl ApiError {
    /// An expected failure with `code`.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        ApiError::Problem {
            code,
            detail: detail.into(),
        }
    }

    /// A 400 with a single field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// `401`: no valid identity.
    pub fn unauthorized() -> Self {
        Self::new(
            ProblemCode::Unauthorized,
            "the request carries no valid identity",
        )
    }

    /// `403`: the token lacks `scope`.
    pub fn insufficient_scope(scope: crate::identity::Scope) -> Self {
        Self::new(
            ProblemCode::InsufficientScope,
            format!("this request needs the scope {}", scope.as_str()),
        )
    }

    /// `404` for a file that does not exist, has expired, or is another tenant's.
    pub fn not_found() -> Self {
        Self::new(ProblemCode::NotFound, "no file with that id")
    }

    /// `403` for a file the caller may read but may not `right`.
    pub fn forbidden(right: crate::model::Right) -> Self {
        Self::new(
            ProblemCode::Forbidden,
            format!(
                "you may read this file but lack the right to {}",
                right.as_str()
            ),
        )
    }

    /// `412`: `If-Match` is not the record's version.
    pub fn version_mismatch() -> Self {
        Self::new(
            ProblemCode::VersionMismatch,
            "the file's version is not the one given in If-Match",
        )
    }

    /// `413` for a body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ProblemCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// Wraps an unexpected error.
    pub fn internal(source: impl Into<Source>) -> Self {
        ApiError::Internal(source.into())
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> ProblemCode {
        match self {
            ApiError::Validation(_) => ProblemCode::ValidationFailed,
            ApiError::Problem { code, .. } => *code,
            ApiError::Unavailable(_) => ProblemCode::Unavailable,
            ApiError::TooManyRequests { .. } => ProblemCode::TooManyRequests,
            ApiError::Internal(_) => ProblemCode::Internal,
        }
    }

    /// Seconds the client should wait before trying again (`Retry-After`), where it should.
    /// A `503` asks for one second: throttling and brief outages pass in about that long, and
    /// the clients' own backoff grows from there.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        }
    }

    /// True if this is the given code.
    pub fn is(&self, code: ProblemCode) -> bool {
        self.code() == code
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code().status()
    }

    /// The same error with every field name prefixed (`name` → `[3].name`), for batches.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            ApiError::Validation(errors) => ApiError::Validation(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(format!("{prefix}.{}", e.field), e.message))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem<'_> {
        let status = self.status();
        let detail = match self {
            ApiError::Validation(errors) if errors.len() == 1 => errors[0].to_string(),
            ApiError::Validation(errors) => format!("{} fields are invalid", errors.len()),
            other => other.to_string(),
        };
        let code = self.code().as_str();
        Problem {
            kind: format!("urn:stowage:problem:{code}"),
            title: title(status),
            status,
            detail,
            code,
            errors: match self {
                ApiError::Validation(errors) => Some(errors),
                _ => None,
            },
        }
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// An RFC 9457 problem document with Stowage's `code` and `errors` extensions.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Unavailable(source) => ApiError::Unavailable(source),
            StoreError::Busy => ApiError::Unavailable(Box::new(StoreError::Busy)),
            StoreError::ExternalIdTaken(external_id) => ApiError::new(
                ProblemCode::ExternalIdConflict,
                format!(
                    "another file of this tenant has externalId {external_id:?}; send overwrite: true to upload a new version of it"
                ),
            ),
            StoreError::TooLarge(n) => ApiError::new(
                ProblemCode::BatchTooLarge,
                format!("the batch needs {n} operations; one transaction allows 100"),
            ),
            // A lost compare-and-swap that the write path did not retry away.
            StoreError::Conflict => ApiError::version_mismatch(),
            StoreError::QuotaExceeded(limit) => ApiError::new(
                ProblemCode::QuotaExceeded,
                format!("this would pass {limit} (limit {}); nothing was written", limit.wire()),
            ),
            StoreError::CollectionNotEmpty => ApiError::new(
                ProblemCode::CollectionNotEmpty,
                "the collection still holds files; delete them first",
            ),
            // The collection or limits kept changing under the write.
            StoreError::AdmissionStale => {
                ApiError::Unavailable("the collection or limits kept changing; retry".into())
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<crate::blob::BlobError> for ApiError {
    fn from(err: crate::blob::BlobError) -> Self {
        if err.is_unavailable() {
            ApiError::Unavailable(Box::new(err))
        } else {
            ApiError::Internal(Box::new(err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_problem_lists_each_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("name", "is required"),
            FieldError::new("tags", "must be an array of strings"),
        ]);
        let doc = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(
            doc,
            json!({
                "type": "urn:stowage:problem:validation_failed",
                "title": "Bad Request",
                "status": 400,
                "detail": "2 fields are invalid",
                "code": "validation_failed",
                "errors": [
                    {"field": "name", "message": "is required"},
                    {"field": "tags", "message": "must be an array of strings"}
                ]
            })
        );
    }

    #[test]
    fn single_field_error_is_named_in_detail() {
        let doc = serde_json::to_value(ApiError::field("name", "is required").problem()).unwrap();
        assert_eq!(doc["detail"], "name: is required");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal("table stowage-prod is on fire");
        let doc = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(doc["status"], 500);
        assert_eq!(doc["detail"], "internal error");
        assert!(doc.get("errors").is_none());
    }

    #[test]
    fn statuses_and_codes_are_stable() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::unauthorized(), 401, "unauthorized"),
            (ApiError::not_found(), 404, "not_found"),
            (ApiError::version_mismatch(), 412, "version_mismatch"),
            (ApiError::payload_too_large(1), 413, "payload_too_large"),
            (
                ApiError::new(ProblemCode::UnsupportedMediaType, "x"),
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::new(ProblemCode::InvalidJson, "x"),
                400,
                "invalid_json",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.code().as_str()), (status, code));
            assert_eq!(err.problem().title, title(status));
        }
    }

    #[test]
    fn codes_are_snake_case_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            let text = code.as_str();
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(seen.insert(text), "{text} twice");
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn batch_errors_name_the_element() {
        let err = ApiError::field("name", "is required").within("[2]");
        let ApiError::Validation(errors) = err else {
            panic!("validation")
        };
        assert_eq!(errors[0].field, "[2].name");
    }
}
