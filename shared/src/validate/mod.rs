//! Parse, don't validate: every request body and query becomes a typed command here, at the
//! edge, with every field error collected at once. The service takes only these commands.
//!
//! - [`CreateFile`] (`POST /files`) and [`UploadRequest`] (the upload fields of create and
//!   `POST /files/{id}/upload`), in `create.rs`;
//! - [`FilePatch`] (`PATCH`/`PUT /files/{id}`), [`BatchUpdate`] and [`BatchDelete`], in
//!   `update.rs` and `batch.rs`;
//! - [`SignParts`] and [`CompleteParts`] (the multipart routes), in `parts.rs`;
//! - [`SignRequest`] (one S3 request a browser uploader wants signed), in `sign.rs`;
//! - [`ListQuery`] (`GET /files`), in `list.rs`;
//! - [`ThumbnailRequest`] (`GET /files/{id}/thumbnail`), in `thumbnail.rs`.

mod batch;
mod collection;
mod content;
mod copy;
mod create;
mod flags;
mod folders;
mod list;
mod parts;
mod sign;
mod thumbnail;
mod update;

use serde_json::{Map, Value};

use crate::error::{ApiError, ProblemCode};
use crate::model::FieldError;

pub(crate) use batch::MAX_BATCH_UPDATES;
pub use batch::{BatchDelete, BatchIds, BatchUpdate, DeleteFiles, UpdateFiles};
pub(crate) use collection::rules_json;
pub use collection::{LimitsRequest, NewCollection, RulesPatch};
pub use content::ContentRequest;
pub use copy::CopyRequest;
pub use create::CreateFile;
pub use create::{UploadMethod, UploadRequest};
pub use flags::{DeleteRequest, ShowRequest};
pub use folders::{FolderPathQuery, FolderQuery, MoveFolder, NewFolder};
pub use list::{ListQuery, Sort};
pub(crate) use parts::{ClaimedPart, CompleteParts, SignParts};
pub use sign::{S3Call, SignRequest};
pub(crate) use thumbnail::ThumbnailRequest;
pub(crate) use update::{FilePatch, MetadataChange, UpdateMode};

/// Largest object S3 stores (5 TiB); no declared size may exceed it.
pub(crate) const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Longest a presigned URL may live (S3's limit): 7 days.
pub(crate) const MAX_URL_EXPIRY_SECONDS: u64 = 604_800;
/// Default life of an upload URL.
pub(crate) const DEFAULT_UPLOAD_URL_EXPIRY_SECONDS: u64 = 1_800;
/// Longest life of a temp file.
pub(crate) const MAX_TTL_SECONDS: u64 = 604_800;
/// Default life of a temp file: one day.
pub(crate) const DEFAULT_TTL_SECONDS: u64 = 86_400;

/// Fields of the file record that only the server writes.
const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "extension",
    "status",
    "failureReason",
    "uploadedBy",
    "createdAt",
    "updatedAt",
    "uploadedAt",
    "expiresAt",
    "version",
    "contentUrl",
];

/// Parses an enum from its wire name (`"pending"`, `"temp"`, …) through its serde form.
fn wire_enum<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_value(Value::String(value.to_owned())).ok()
}

/// A query flag: `true` or `false`.
fn flag(name: &str, value: &str) -> Result<bool, FieldError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FieldError::new(name, "must be true or false")),
    }
}

/// `400 invalid_body` for a body of the wrong JSON shape.
fn invalid_body(detail: &str) -> ApiError {
    ApiError::new(ProblemCode::InvalidBody, detail)
}

/// Reads typed fields out of a JSON object, remembering every problem.
struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// The body as an object whose keys are all in `allowed`: `400 invalid_body` if it is not
    /// an object; every other key is a field error.
    fn new(body: Value, allowed: &[&str]) -> Result<Self, ApiError> {
        let Value::Object(map) = body else {
            return Err(invalid_body("the request body must be a JSON object"));
        };
        let mut fields = Fields {
            map,
            errors: Vec::new(),
        };
        fields.refuse_unknown(allowed);
        Ok(fields)
    }

    fn refuse_unknown(&mut self, allowed: &[&str]) {
        for key in self.map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let message = if READ_ONLY_FIELDS.contains(&key.as_str()) {
                "is read-only"
            } else {
                "is not a known field; put custom data in metadata"
            };
            self.errors.push(FieldError::new(key.clone(), message));
        }
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|e| self.errors.push(e)).ok()
    }

    fn present(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    fn is_null(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(Value::is_null)
    }

    /// The field's value; `null` counts as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.take(field)? {
            Value::String(s) => Some(s),
            _ => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    fn required_string(&mut self, field: &str) -> Option<String> {
        if !self.present(field) || self.is_null(field) {
            self.error(field, "is required");
        }
        self.string(field)
    }

    fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.take(field)? {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    fn integer(&mut self, field: &str, min: u64, max: u64) -> Option<u64> {
        let value = self.take(field)?;
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(field, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    fn string_array(&mut self, field: &str) -> Option<Vec<String>> {
        let Value::Array(items) = self.take(field)? else {
            self.error(field, "must be an array of strings");
            return None;
        };
        let strings: Option<Vec<String>> = items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect();
        if strings.is_none() {
            self.error(field, "must be an array of strings");
        }
        strings
    }

    fn array(&mut self, field: &str) -> Option<Vec<Value>> {
        match self.take(field)? {
            Value::Array(items) => Some(items),
            _ => {
                self.error(field, "must be an array");
                None
            }
        }
    }

    /// A file's `grants`: at most [`crate::model::MAX_GRANTS`] objects of exactly
    /// `principal` (`user:<id>` or `group:<name>`) and `role` (`reader` or `writer`), each
    /// principal once. `None` (with errors) if anything is wrong, or if absent.
    fn grants(&mut self, field: &str) -> Option<Vec<crate::model::Grant>> {
        use crate::model::{Grant, Principal, Role, MAX_GRANTS};
        let items = self.array(field)?;
        if items.len() > MAX_GRANTS {
            self.error(field, format!("a file has at most {MAX_GRANTS} grants"));
            return None;
        }
        let before = self.errors.len();
        let mut grants: Vec<Grant> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let Value::Object(map) = item else {
                self.error(&at, "must be an object with principal and role");
                continue;
            };
            if let Some(key) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "principal" | "role"))
            {
                self.error(&format!("{at}.{key}"), "is not a field of a grant");
            }
            let principal_field = format!("{at}.principal");
            let principal = match map.get("principal").and_then(Value::as_str) {
                Some(text) => self.check(Principal::parse(&principal_field, text)),
                None => {
                    self.error(
                        &principal_field,
                        "is required: \"user:<id>\" or \"group:<name>\"",
                    );
                    None
                }
            };
            let role = match map.get("role").and_then(Value::as_str) {
                Some("reader") => Some(Role::Reader),
                Some("writer") => Some(Role::Writer),
                _ => {
                    self.error(&format!("{at}.role"), "must be \"reader\" or \"writer\"");
                    None
                }
            };
            if let Some(principal) = &principal {
                if grants.iter().any(|g| &g.principal == principal) {
                    self.error(&principal_field, "is granted twice");
                }
            }
            if let (Some(principal), Some(role)) = (principal, role) {
                grants.push(Grant { principal, role });
            }
        }
        (self.errors.len() == before).then_some(grants)
    }

    fn object(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.take(field)? {
            Value::Object(map) => Some(map),
            _ => {
                self.error(field, "must be a JSON object");
                None
            }
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
