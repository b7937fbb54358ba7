//! Turning request bodies into typed commands, collecting every field error at once.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};
use crate::model::{
    Checksum, DirectoryPath, ExternalId, FileKind, FileName, FileRecord, FileStatus, MediaType,
    Metadata, Purpose, Source, Tags, Timestamp,
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
        let kind = match f.string("kind") {
            None => FileKind::Client,
            Some(text) => wire_enum(&text).unwrap_or_else(|| {
                f.error("kind", "must be \"client\" or \"temp\"");
                FileKind::Client
            }),
        };
        let name = f
            .required_string("name")
            .and_then(|v| f.check(FileName::parse(&v)));
        let mime_type = f
            .required_string("mimeType")
            .and_then(|v| f.check(MediaType::parse(&v)));
        let crate::service::UploadRequest {
            expected_size,
            checksum_sha256,
            url_expires_in: upload_url_expires_in,
            multipart,
            part_size,
        } = f.upload();
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

/// Validates a `POST /files/{id}/upload` body: `size`/`expectedSize`, `checksumSha256`,
/// `uploadUrlExpiresIn`, `multipart`, `partSize`.
pub fn upload_request(body: Value) -> Result<crate::service::UploadRequest, ApiError> {
    let mut f = Fields::new(body, UPLOAD_FIELDS)?;
    let request = f.upload();
    f.finish()?;
    Ok(request)
}

/// The fields that describe an upload, in create and re-upload bodies alike.
const UPLOAD_FIELDS: &[&str] = &[
    "size",
    "expectedSize",
    "checksumSha256",
    "uploadUrlExpiresIn",
    "multipart",
    "partSize",
];

/// How an update body applies to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// `PATCH`: JSON merge patch (RFC 7396); absent fields stay, `null` removes.
    Merge,
    /// `PUT`: every mutable field is replaced; absent optional fields are removed.
    Replace,
}

/// Fields a client may change after creation.
pub const MUTABLE_FIELDS: &[&str] = &[
    "name",
    "mimeType",
    "purpose",
    "tags",
    "metadata",
    "externalId",
    "directory",
    "source",
    "privateAccess",
];

/// Fields fixed after creation besides the read-only ones: accepted in an update only with
/// their current value. (`expectedSize` and `checksumSha256` change with a new upload.)
const FIXED_FIELDS: &[&str] = &["kind", "size", "expectedSize", "checksumSha256"];

/// Applies an update body to `record`, returning the changed record (version and timestamps
/// untouched: the service sets them). Read-only and fixed fields are accepted only with their
/// current value (`contentUrl`, which is re-signed on every read, is ignored).
pub fn apply_update(
    record: &FileRecord,
    body: Value,
    mode: UpdateMode,
) -> Result<FileRecord, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body must be a JSON object",
        ));
    };
    let current = serde_json::to_value(record.view(None)).map_err(ApiError::internal)?;
    let mut read_only_errors = Vec::new();
    for field in READ_ONLY_FIELDS.iter().chain(FIXED_FIELDS) {
        let Some(given) = map.remove(*field) else {
            continue;
        };
        if *field != "contentUrl" && current.get(*field) != Some(&given) {
            read_only_errors.push(FieldError::new(
                *field,
                "is read-only; send it only with its current value",
            ));
        }
    }
    let mut f = Fields::new(Value::Object(map), MUTABLE_FIELDS)?;
    f.errors.extend(read_only_errors);
    let mut next = record.clone();
    let replace = mode == UpdateMode::Replace;
    let present = |f: &Fields, field: &str| f.map.contains_key(field);
    let is_null = |f: &Fields, field: &str| f.map.get(field).is_some_and(Value::is_null);

    for (field, required_message) in [("name", "is required"), ("mimeType", "is required")] {
        if is_null(&f, field) || (replace && !present(&f, field)) {
            f.error(field, required_message);
        }
    }
    if let Some(name) = f.string("name").and_then(|v| f.check(FileName::parse(&v))) {
        next.extension = name.extension();
        next.name = name;
    }
    if let Some(mime) = f
        .string("mimeType")
        .and_then(|v| f.check(MediaType::parse(&v)))
    {
        next.mime_type = mime;
    }
    if is_null(&f, "privateAccess") {
        f.error("privateAccess", "must be true or false");
    }
    match f.boolean("privateAccess") {
        Some(value) => next.private_access = value,
        None if replace => next.private_access = true,
        None => {}
    }
    macro_rules! optional_text {
        ($field:literal, $slot:ident, $parse:path) => {
            let given = present(&f, $field);
            match f.string($field) {
                Some(v) => {
                    if let Some(parsed) = f.check($parse(&v)) {
                        next.$slot = Some(parsed);
                    }
                }
                None if replace || given => next.$slot = None,
                None => {}
            }
        };
    }
    // A wrong type leaves the field as it was; the error is reported either way.
    optional_text!("purpose", purpose, Purpose::parse);
    optional_text!("externalId", external_id, ExternalId::parse);
    optional_text!("directory", directory, DirectoryPath::parse);
    optional_text!("source", source, Source::parse);

    let tags_given = present(&f, "tags");
    match f.string_array("tags") {
        Some(tags) => {
            if let Some(tags) = f.check(Tags::parse(tags)) {
                next.tags = tags;
            }
        }
        None if replace || (tags_given && !f.has_error("tags")) => next.tags = Tags::default(),
        None => {}
    }

    let metadata_given = present(&f, "metadata");
    match f.object("metadata") {
        Some(patch) => {
            let merged = if replace {
                patch
            } else {
                let mut target = Value::Object(record.metadata.as_map().clone());
                merge_patch(&mut target, Value::Object(patch));
                match target {
                    Value::Object(map) => map,
                    _ => Map::new(),
                }
            };
            if let Some(metadata) = f.check(Metadata::parse(merged)) {
                next.metadata = metadata;
            }
        }
        None if replace || (metadata_given && !f.has_error("metadata")) => {
            next.metadata = Metadata::default()
        }
        None => {}
    }
    f.finish()?;
    Ok(next)
}

/// RFC 7396 JSON merge patch of `patch` onto `target`.
pub fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(&key);
        } else {
            merge_patch(map.entry(key).or_insert(Value::Null), value);
        }
    }
}

/// Largest page a listing returns.
pub const MAX_LIST_LIMIT: usize = 1_000;
/// Page size when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: usize = 30;

/// A validated `GET /files` query (SPEC 4.2). All filters combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListQuery {
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub purpose: Option<String>,
    pub status: Option<FileStatus>,
    pub kind: Option<FileKind>,
    pub external_id: Option<String>,
    pub directory: Option<String>,
    pub directory_prefix: Option<String>,
    pub mime_type: Option<String>,
    pub uploaded_by: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Validates query parameters (each name with all its values, in order).
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut query = ListQuery {
            limit: DEFAULT_LIST_LIMIT,
            ..ListQuery::default()
        };
        let mut errors = Vec::new();
        for (name, values) in params {
            if name == "tag" {
                for tag in values {
                    match Tags::parse([tag]) {
                        Ok(_) => query.tags.push(tag.to_owned()),
                        Err(e) => errors.push(FieldError::new("tag", e.message)),
                    }
                }
                continue;
            }
            let [value] = values.as_slice() else {
                errors.push(FieldError::new(name, "must be given once"));
                continue;
            };
            let value = *value;
            let text = |max: usize| -> Result<Option<String>, FieldError> {
                if value.is_empty()
                    || value.chars().count() > max
                    || value.chars().any(char::is_control)
                {
                    Err(FieldError::new(
                        name,
                        format!("must be 1 to {max} characters without control characters"),
                    ))
                } else {
                    Ok(Some(value.to_owned()))
                }
            };
            let time = || {
                Timestamp::parse(value)
                    .map(Some)
                    .ok_or_else(|| FieldError::new(name, "must be an RFC 3339 time"))
            };
            let result = match name {
                "name" => text(255).map(|v| query.name = v),
                "purpose" => text(64).map(|v| query.purpose = v),
                "externalId" => text(255).map(|v| query.external_id = v),
                "directory" => text(512).map(|v| query.directory = v),
                "directoryPrefix" => text(512).map(|v| query.directory_prefix = v),
                "mimeType" => text(255).map(|v| query.mime_type = v),
                "uploadedBy" => text(256).map(|v| query.uploaded_by = v),
                "createdAfter" => time().map(|v| query.created_after = v),
                "createdBefore" => time().map(|v| query.created_before = v),
                "status" => wire_enum(value)
                    .map(|status| query.status = Some(status))
                    .ok_or_else(|| FieldError::new(name, "must be pending, uploaded or failed")),
                "kind" => wire_enum(value)
                    .map(|kind| query.kind = Some(kind))
                    .ok_or_else(|| FieldError::new(name, "must be client or temp")),
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) && !value.starts_with('+') => {
                        query.limit = n;
                        Ok(())
                    }
                    _ => Err(FieldError::new(name, "must be an integer from 1 to 1000")),
                },
                "cursor" => text(1024).map(|v| query.cursor = v),
                _ => Err(FieldError::new(name, "is not a known query parameter")),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// True if `record` passes every filter.
    pub fn matches(&self, record: &FileRecord) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        eq(&self.name, Some(record.name.as_str()))
            && eq(&self.purpose, record.purpose.as_ref().map(|p| p.as_str()))
            && eq(
                &self.external_id,
                record.external_id.as_ref().map(|e| e.as_str()),
            )
            && eq(
                &self.directory,
                record.directory.as_ref().map(|d| d.as_str()),
            )
            && eq(&self.mime_type, Some(record.mime_type.as_str()))
            && eq(&self.uploaded_by, Some(record.uploaded_by.as_str()))
            && self.status.is_none_or(|s| s == record.status)
            && self.kind.is_none_or(|k| k == record.kind)
            && self.directory_prefix.as_deref().is_none_or(|prefix| {
                record
                    .directory
                    .as_ref()
                    .is_some_and(|d| d.as_str().starts_with(prefix))
            })
            && self.tags.iter().all(|t| record.tags.as_slice().contains(t))
            && self.created_after.is_none_or(|at| record.created_at > at)
            && self.created_before.is_none_or(|at| record.created_at < at)
    }

    /// A fingerprint of the tenant and the filters (not `limit` or `cursor`), so a cursor is
    /// only honoured by the tenant and with the filters it was made for.
    pub fn fingerprint(&self, tenant: &str) -> u64 {
        let filters = ListQuery {
            limit: 0,
            cursor: None,
            ..self.clone()
        };
        // FNV-1a over a stable rendering: the same on every build and process.
        let text = format!("{tenant:?} {filters:?}");
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// Parses an enum from its wire name (`"pending"`, `"temp"`, …) through its serde form.
fn wire_enum<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_value(Value::String(value.to_owned())).ok()
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

    /// Reads the upload fields (`UPLOAD_FIELDS`).
    fn upload(&mut self) -> crate::service::UploadRequest {
        let size = self.integer("size", 0, MAX_OBJECT_SIZE);
        let declared = self.integer("expectedSize", 0, MAX_OBJECT_SIZE);
        let expected_size = match (size, declared) {
            (Some(a), Some(b)) if a != b => {
                self.error("size", "must equal expectedSize when both are given");
                None
            }
            (a, b) => a.or(b),
        };
        let checksum_sha256 = self
            .string("checksumSha256")
            .and_then(|v| self.check(Checksum::parse(&v)));
        crate::service::UploadRequest {
            expected_size,
            checksum_sha256,
            url_expires_in: self
                .integer("uploadUrlExpiresIn", 1, MAX_URL_EXPIRY_SECONDS)
                .unwrap_or(DEFAULT_UPLOAD_URL_EXPIRY_SECONDS),
            multipart: self.boolean("multipart").unwrap_or(false),
            part_size: self.integer("partSize", 1, MAX_OBJECT_SIZE),
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
