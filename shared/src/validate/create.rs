//! `POST /files` and the upload fields it shares with `POST /files/{id}/upload`.

use serde_json::Value;

use super::{
    wire_enum, Fields, DEFAULT_TTL_SECONDS, DEFAULT_UPLOAD_URL_EXPIRY_SECONDS, MAX_OBJECT_SIZE,
    MAX_TTL_SECONDS, MAX_URL_EXPIRY_SECONDS,
};
use crate::error::ApiError;
use crate::model::{
    Checksum, CollectionName, DirectoryPath, ExternalId, FileKind, FileName, MediaType, Metadata,
    Purpose, Source, Tags,
};

/// How the client sends the bytes of a single-request upload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UploadMethod {
    /// A presigned `PUT` (the default).
    #[default]
    Put,
    /// An S3 POST policy, for HTML forms and `curl -F`.
    Post,
}

/// What a new upload binds: the fields of an upload request, with their defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRequest {
    /// `uploadMethod`: `PUT` or `POST` (single-request uploads only).
    pub method: UploadMethod,
    /// The declared size (`size` or `expectedSize`).
    pub expected_size: Option<u64>,
    pub checksum_sha256: Option<Checksum>,
    /// Seconds the upload URLs live.
    pub url_expires_in: u64,
    /// Asks for a multipart upload whatever the size.
    pub multipart: bool,
    /// The client's wish for the part size; clamped to S3's rules.
    pub part_size: Option<u64>,
    /// Whether the body named `uploadUrlExpiresIn` (else a collection's default may apply).
    pub url_expires_in_named: bool,
}

impl Default for UploadRequest {
    fn default() -> Self {
        UploadRequest {
            method: UploadMethod::Put,
            expected_size: None,
            checksum_sha256: None,
            url_expires_in: DEFAULT_UPLOAD_URL_EXPIRY_SECONDS,
            multipart: false,
            part_size: None,
            url_expires_in_named: false,
        }
    }
}

/// The fields that describe an upload, in create and re-upload bodies alike.
const UPLOAD_FIELDS: &[&str] = &[
    "uploadMethod",
    "size",
    "expectedSize",
    "checksumSha256",
    "uploadUrlExpiresIn",
    "multipart",
    "partSize",
];

impl UploadRequest {
    /// Parses a `POST /files/{id}/upload` body (`None`: no body, every default).
    pub(crate) fn from_json(body: Option<Value>) -> Result<Self, ApiError> {
        let Some(body) = body else {
            return Ok(UploadRequest::default());
        };
        let mut f = Fields::new(body, UPLOAD_FIELDS)?;
        let request = Self::read(&mut f);
        f.finish()?;
        Ok(request)
    }

    /// Reads the upload fields out of a body.
    fn read(f: &mut Fields) -> Self {
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
        let method = match f.string("uploadMethod").as_deref() {
            None | Some("PUT") => UploadMethod::Put,
            Some("POST") => UploadMethod::Post,
            Some(_) => {
                f.error("uploadMethod", "must be \"PUT\" or \"POST\"");
                UploadMethod::Put
            }
        };
        if method == UploadMethod::Post && checksum_sha256.is_some() {
            f.error(
                "checksumSha256",
                "is only supported with uploadMethod PUT (a POST form cannot send it)",
            );
        }
        let url_expires_in_named =
            f.present("uploadUrlExpiresIn") && !f.is_null("uploadUrlExpiresIn");
        UploadRequest {
            url_expires_in_named,
            method,
            expected_size,
            checksum_sha256,
            url_expires_in: f
                .integer("uploadUrlExpiresIn", 1, MAX_URL_EXPIRY_SECONDS)
                .unwrap_or(DEFAULT_UPLOAD_URL_EXPIRY_SECONDS),
            multipart: f.boolean("multipart").unwrap_or(false),
            part_size: f.integer("partSize", 1, MAX_OBJECT_SIZE),
        }
    }
}

/// A validated `POST /files` body.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateFile {
    pub kind: FileKind,
    pub name: FileName,
    pub mime_type: MediaType,
    pub purpose: Option<Purpose>,
    pub tags: Tags,
    pub metadata: Metadata,
    pub external_id: Option<ExternalId>,
    pub directory: Option<DirectoryPath>,
    pub source: Option<Source>,
    pub private_access: bool,
    pub upload: UploadRequest,
    /// Temp files only: seconds from creation to expiry.
    pub ttl_seconds: Option<u64>,
    pub overwrite: bool,
    /// The collection the file goes in (`default` when not named).
    pub collection: CollectionName,
    /// The file's grants (collections with `fileSecurity` only).
    pub grants: Vec<crate::model::Grant>,
    /// The record fields the body names (with a value or `null`): what an overwrite changes.
    pub named: Vec<&'static str>,
}

impl CreateFile {
    /// Whether the body names `field` (its wire name).
    pub fn names(&self, field: &str) -> bool {
        self.named.contains(&field)
    }
}

const CREATE_FIELDS: &[&str] = &[
    "kind",
    "name",
    "mimeType",
    "purpose",
    "tags",
    "metadata",
    "externalId",
    "directory",
    "source",
    "privateAccess",
    "ttlSeconds",
    "overwrite",
    "collection",
    "grants",
];

impl CreateFile {
    /// Validates a create body; every problem is reported, not just the first.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let allowed: Vec<&str> = CREATE_FIELDS.iter().chain(UPLOAD_FIELDS).copied().collect();
        let mut f = Fields::new(body, &allowed)?;
        let named: Vec<&'static str> = CREATE_FIELDS
            .iter()
            .copied()
            .filter(|field| f.present(field))
            .collect();
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
        let upload = UploadRequest::read(&mut f);
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
        let collection = f
            .string("collection")
            .and_then(|v| f.check(CollectionName::parse_as("collection", &v)))
            .unwrap_or_default();
        let grants = f.grants("grants").unwrap_or_default();
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
                purpose,
                tags,
                metadata,
                external_id,
                directory,
                source,
                private_access,
                upload,
                ttl_seconds,
                overwrite,
                collection,
                grants,
                named,
            }),
            // finish() has already reported the missing or invalid field.
            _ => Err(ApiError::internal(
                "create body validated without name or mimeType",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::MAX_OBJECT_SIZE;
    use super::*;
    use crate::model::FieldError;
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
        assert_eq!(create.upload.url_expires_in, 1_800);
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
        assert_eq!(create.upload.expected_size, Some(10));
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
            assert_eq!(err.code(), crate::error::ProblemCode::InvalidBody);
        }
    }
}
