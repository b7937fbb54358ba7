//! Turning request bodies into typed commands, collecting every field error at once.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};
use crate::model::{
    Checksum, DirectoryPath, ExternalId, FileKind, FileName, MediaType, Metadata, Purpose, Source,
    Tags,
};

/// Largest object S3 stores (5 TiB); no declared size may exceed it.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Longest a presigned URL may live (S3's limit): 7 days.
pub const MAX_URL_EXPIRY_SECONDS: u64 = 604_800;
/// Default life of an upload URL.
pub const DEFAULT_UPLOAD_URL_EXPIRY_SECONDS: u64 = 1_800;
/// Longest and default life of a temp file.
pub const MAX_TTL_SECONDS: u64 = 604_800;
/// Default life of a temp file: one day.
pub const DEFAULT_TTL_SECONDS: u64 = 86_400;

/// Fields of the file record that only the server writes.
pub const READ_ONLY_FIELDS: &[&str] = &[
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

/// A validated `POST /files` body.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateFile {
    pub kind: FileKind,
    pub name: FileName,
    pub mime_type: MediaType,
    pub expected_size: Option<u64>,
    pub checksum_sha256: Option<Checksum>,
    pub purpose: Option<Purpose>,
    pub tags: Tags,
    pub metadata: Metadata,
    pub external_id: Option<ExternalId>,
    pub directory: Option<DirectoryPath>,
    pub source: Option<Source>,
    pub private_access: bool,
    pub multipart: bool,
    pub part_size: Option<u64>,
    pub upload_url_expires_in: u64,
    pub ttl_seconds: Option<u64>,
    pub overwrite: bool,
}

const CREATE_FIELDS: &[&str] = &[
    "kind",
    "name",
    "mimeType",
    "size",
    "expectedSize",
    "checksumSha256",
    "purpose",
    "tags",
    "metadata",
    "externalId",
    "directory",
    "source",
    "privateAccess",
    "multipart",
    "partSize",
    "uploadUrlExpiresIn",
    "ttlSeconds",
    "overwrite",
];

impl CreateFile {
    /// Validates a create body; every problem is reported, not just the first.
    pub fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(body, CREATE_FIELDS)?;
        let kind = match f.string("kind").as_deref() {
            None | Some("client") => FileKind::Client,
            Some("temp") => FileKind::Temp,
            Some(_) => {
                f.error("kind", "must be \"client\" or \"temp\"");
                FileKind::Client
            }
        };
        let name = f
            .required_string("name")
            .and_then(|v| f.check(FileName::parse(&v)));
        let mime_type = f
            .required_string("mimeType")
            .and_then(|v| f.check(MediaType::parse(&v)));
        let size = f.integer("size", 0, MAX_OBJECT_SIZE);
        let declared = f.integer("expectedSize", 0, MAX_OBJECT_SIZE);
        let expected_size = match (size, declared) {
            (Some(a), Some(b)) if a != b => {
                f.error("size", "must equal expectedSize when both are given");
                None
            }
            (a, b) => a.or(b),
        };
        let checksum_sha256 = f
            .string("checksumSha256")
            .and_then(|v| f.check(Checksum::parse(&v)));
        let purpose = f
            .string("purpose")
            .and_then(|v| f.check(Purpose::parse(&v)));
        let tags = f
            .string_array("tags")
            .and_then(|v| f.check(Tags::parse(v)))
            .unwrap_or_default();
        let metadata = f
            .object("metadata")
            .and_then(|v| f.check(Metadata::parse(v)))
            .unwrap_or_default();
        let external_id = f
            .string("externalId")
            .and_then(|v| f.check(ExternalId::parse(&v)));
        let directory = f
            .string("directory")
            .and_then(|v| f.check(DirectoryPath::parse(&v)));
        let source = f.string("source").and_then(|v| f.check(Source::parse(&v)));
        let private_access = f.boolean("privateAccess").unwrap_or(true);
        let multipart = f.boolean("multipart").unwrap_or(false);
        let part_size = f.integer("partSize", 1, MAX_OBJECT_SIZE);
        let upload_url_expires_in = f
            .integer("uploadUrlExpiresIn", 1, MAX_URL_EXPIRY_SECONDS)
            .unwrap_or(DEFAULT_UPLOAD_URL_EXPIRY_SECONDS);
        let ttl = f.integer("ttlSeconds", 1, MAX_TTL_SECONDS);
        let ttl_seconds = match (kind, ttl) {
            (FileKind::Temp, ttl) => Some(ttl.unwrap_or(DEFAULT_TTL_SECONDS)),
            (FileKind::Client, Some(_)) => {
                f.error("ttlSeconds", "is only allowed with kind \"temp\"");
                None
            }
            (FileKind::Client, None) => None,
        };
        let overwrite = f.boolean("overwrite").unwrap_or(false);
        if overwrite && external_id.is_none() && !f.has_error("externalId") {
            f.error("overwrite", "requires externalId");
        }
        f.finish()?;
        match (name, mime_type) {
            (Some(name), Some(mime_type)) => Ok(CreateFile {
                kind,
                name,
                mime_type,
                expected_size,
                checksum_sha256,
                purpose,
                tags,
                metadata,
                external_id,
                directory,
                source,
                private_access,
                multipart,
                part_size,
                upload_url_expires_in,
                ttl_seconds,
                overwrite,
            }),
            // finish() has already reported the missing or invalid field.
            _ => Err(ApiError::internal(
                "create body validated without name or mimeType",
            )),
        }
    }
}

/// Reads typed fields out of a JSON object, remembering every problem.
struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    fn new(body: Value, allowed: &[&str]) -> Result<Self, ApiError> {
        let Value::Object(map) = body else {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the request body must be a JSON object",
            ));
        };
        let mut errors = Vec::new();
        for key in map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let message = if READ_ONLY_FIELDS.contains(&key.as_str()) {
                "is read-only"
            } else {
                "is not a known field; put custom data in metadata"
            };
            errors.push(FieldError::new(key.clone(), message));
        }
        Ok(Fields { map, errors })
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
        let present = self.map.get(field).is_some_and(|v| !v.is_null());
        if !present {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(body: Value) -> Vec<FieldError> {
        match CreateFile::from_json(body) {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn fields(body: Value) -> Vec<String> {
        errors(body).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn minimal_body_gets_the_defaults() {
        let create =
            CreateFile::from_json(json!({"name": "a.png", "mimeType": "image/png"})).unwrap();
        assert_eq!(create.kind, FileKind::Client);
        assert!(create.private_access);
        assert_eq!(create.upload_url_expires_in, 1_800);
        assert_eq!(create.ttl_seconds, None);
        assert!(create.tags.as_slice().is_empty());
    }

    #[test]
    fn temp_files_default_to_one_day() {
        let create = CreateFile::from_json(
            json!({"name": "a.png", "mimeType": "image/png", "kind": "temp"}),
        )
        .unwrap();
        assert_eq!(create.ttl_seconds, Some(86_400));
    }

    #[test]
    fn every_field_is_read() {
        let create = CreateFile::from_json(json!({
            "kind": "temp", "name": "a.png", "mimeType": "image/png", "size": 10,
            "expectedSize": 10, "checksumSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "purpose": "avatar", "tags": ["x", "x", "y"], "metadata": {"k": [1]},
            "externalId": "ext-1", "directory": "/a/b", "source": "web",
            "privateAccess": false, "uploadUrlExpiresIn": 60, "ttlSeconds": 5,
            "overwrite": true, "multipart": false, "partSize": 5242880
        }))
        .unwrap();
        assert_eq!(create.expected_size, Some(10));
        assert_eq!(create.tags.as_slice(), ["x", "y"]);
        assert_eq!(create.ttl_seconds, Some(5));
        assert!(!create.private_access && create.overwrite);
        assert_eq!(create.directory.unwrap().as_str(), "/a/b");
    }

    #[test]
    fn missing_required_fields_are_each_named() {
        assert_eq!(fields(json!({})), ["name", "mimeType"]);
        assert_eq!(
            fields(json!({"name": null, "mimeType": "image/png"})),
            ["name"]
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let got = fields(json!({
            "name": 5, "mimeType": ["image/png"], "size": "10", "tags": "x",
            "metadata": [], "privateAccess": "yes", "purpose": 1
        }));
        for field in [
            "name",
            "mimeType",
            "size",
            "tags",
            "metadata",
            "privateAccess",
            "purpose",
        ] {
            assert!(
                got.contains(&field.to_string()),
                "{field} missing from {got:?}"
            );
        }
        assert_eq!(
            fields(json!({"name": "a", "mimeType": "a/b", "tags": ["ok", 3]})),
            ["tags"]
        );
    }

    #[test]
    fn unknown_and_read_only_fields_are_rejected() {
        let errs =
            errors(json!({"name": "a", "mimeType": "a/b", "color": "red", "status": "uploaded"}));
        let find = |f: &str| errs.iter().find(|e| e.field == f).unwrap().message.clone();
        assert!(find("color").contains("not a known field"));
        assert_eq!(find("status"), "is read-only");
    }

    #[test]
    fn numeric_limits_are_enforced() {
        let base = |extra: Value| {
            let mut body = json!({"name": "a", "mimeType": "a/b"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        assert_eq!(fields(base(json!({"size": -1}))), ["size"]);
        assert_eq!(fields(base(json!({"size": 1.5}))), ["size"]);
        assert_eq!(fields(base(json!({"size": MAX_OBJECT_SIZE + 1}))), ["size"]);
        assert_eq!(
            fields(base(json!({"uploadUrlExpiresIn": 0}))),
            ["uploadUrlExpiresIn"]
        );
        assert_eq!(
            fields(base(json!({"uploadUrlExpiresIn": 604_801}))),
            ["uploadUrlExpiresIn"]
        );
        assert!(CreateFile::from_json(base(json!({"uploadUrlExpiresIn": 604_800}))).is_ok());
        assert_eq!(
            fields(base(json!({"kind": "temp", "ttlSeconds": 604_801}))),
            ["ttlSeconds"]
        );
        assert_eq!(fields(base(json!({"ttlSeconds": 5}))), ["ttlSeconds"]);
        assert_eq!(
            fields(base(json!({"size": 1, "expectedSize": 2}))),
            ["size"]
        );
        assert_eq!(fields(base(json!({"kind": "forever"}))), ["kind"]);
        assert_eq!(fields(base(json!({"overwrite": true}))), ["overwrite"]);
    }

    #[test]
    fn field_rules_surface_as_field_errors() {
        let got = fields(json!({
            "name": "a/b", "mimeType": "nope", "tags": [""], "directory": "rel",
            "checksumSha256": "abc", "externalId": "", "source": "", "purpose": "p".repeat(65)
        }));
        assert_eq!(
            got,
            [
                "name",
                "mimeType",
                "checksumSha256",
                "purpose",
                "tags",
                "externalId",
                "directory",
                "source"
            ]
        );
    }

    #[test]
    fn non_objects_are_bad_requests() {
        for body in [json!([]), json!("x"), json!(1), Value::Null] {
            let err = CreateFile::from_json(body).unwrap_err();
            assert_eq!(err.code(), "invalid_body");
        }
    }
}
