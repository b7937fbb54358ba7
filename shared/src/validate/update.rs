//! `PATCH /files/{id}` (JSON merge patch) and `PUT /files/{id}` (replace every mutable field),
//! parsed into one [`FilePatch`] whose fields say "keep", "remove" or "set".

use serde_json::Value;

use super::{Fields, READ_ONLY_FIELDS};
use crate::error::ApiError;
use crate::model::{
    DirectoryPath, ExternalId, FileName, MediaType, Metadata, MetadataPatch, Purpose, Source, Tags,
};

/// How an update body applies to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpdateMode {
    /// `PATCH`: JSON merge patch (RFC 7396); absent fields stay, `null` removes.
    Merge,
    /// `PUT`: every mutable field is replaced; absent optional fields are removed.
    Replace,
}

/// What an update does to one optional field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Remove it (`null`, or absent from a `PUT`).
    Remove,
    /// Give it this value.
    Set(T),
}

impl<T: Clone> Patch<T> {
    /// The field's value after the patch.
    pub(crate) fn applied_to(&self, current: &Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current.clone(),
            Patch::Remove => None,
            Patch::Set(value) => Some(value.clone()),
        }
    }
}

/// What an update does to `metadata`.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataChange {
    /// The whole object (a `PUT`, or `null` in a `PATCH`).
    Replace(Metadata),
    /// A merge patch onto the current object (a `PATCH`).
    Merge(MetadataPatch),
}

/// A read-only (or fixed) field sent in an update: accepted only with its current value.
#[derive(Clone, Debug, PartialEq)]
pub struct Echo {
    /// The field's wire name.
    pub field: &'static str,
    value: Value,
}

impl Echo {
    /// True if the value sent is `current` (the field as the record shows it).
    pub fn matches(&self, current: Option<&Value>) -> bool {
        current == Some(&self.value)
    }
}

/// Fields a client may change after creation.
const MUTABLE_FIELDS: &[&str] = &[
    "name",
    "mimeType",
    "purpose",
    "tags",
    "metadata",
    "externalId",
    "directory",
    "source",
    "privateAccess",
    "grants",
    "collection",
];

/// Fields fixed after creation besides the read-only ones: accepted in an update only with
/// their current value. (`expectedSize` and `checksumSha256` change with a new upload.)
const FIXED_FIELDS: &[&str] = &["kind", "size", "expectedSize", "checksumSha256"];

/// A validated update of one record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilePatch {
    pub name: Option<FileName>,
    pub mime_type: Option<MediaType>,
    pub purpose: Patch<Purpose>,
    pub external_id: Patch<ExternalId>,
    pub directory: Patch<DirectoryPath>,
    pub source: Patch<Source>,
    pub private_access: Option<bool>,
    /// The new tags (`null` in a `PATCH`, or absent from a `PUT`: none).
    pub tags: Option<Tags>,
    pub metadata: Option<MetadataChange>,
    /// The new grants (`null` in a `PATCH`: none; absent: unchanged, in a `PUT` too, so that
    /// a replacement by someone who may not share keeps them).
    pub grants: Option<Vec<crate::model::Grant>>,
    /// The collection to move the file to (absent: where it is, in a `PUT` too).
    pub collection: Option<crate::model::CollectionName>,
    /// Read-only and fixed fields the body repeats; each must hold its current value.
    pub echoed: Vec<Echo>,
}

impl FilePatch {
    /// Parses an update body. `contentUrl`, which is re-signed on every read, may be echoed
    /// with any value.
    pub(crate) fn from_json(body: Value, mode: UpdateMode) -> Result<Self, ApiError> {
        let Value::Object(mut map) = body else {
            return Err(super::invalid_body(
                "the request body must be a JSON object",
            ));
        };
        let mut echoed = Vec::new();
        for field in READ_ONLY_FIELDS.iter().chain(FIXED_FIELDS) {
            if let Some(value) = map.remove(*field) {
                if *field != "contentUrl" {
                    echoed.push(Echo { field, value });
                }
            }
        }
        let mut f = Fields::new(Value::Object(map), MUTABLE_FIELDS)?;
        let replace = mode == UpdateMode::Replace;
        let mut patch = FilePatch {
            echoed,
            ..FilePatch::default()
        };
        for field in ["name", "mimeType"] {
            if f.is_null(field) || (replace && !f.present(field)) {
                f.error(field, "is required");
            }
        }
        patch.name = f.string("name").and_then(|v| f.check(FileName::parse(&v)));
        patch.mime_type = f
            .string("mimeType")
            .and_then(|v| f.check(MediaType::parse(&v)));
        if f.is_null("privateAccess") {
            f.error("privateAccess", "must be true or false");
        }
        patch.private_access = f.boolean("privateAccess").or(replace.then_some(true));
        patch.purpose = optional(&mut f, "purpose", replace, Purpose::parse);
        patch.external_id = optional(&mut f, "externalId", replace, ExternalId::parse);
        patch.directory = optional(&mut f, "directory", replace, DirectoryPath::parse);
        patch.source = optional(&mut f, "source", replace, Source::parse);

        let tags_given = f.present("tags");
        patch.tags = match f.string_array("tags") {
            Some(tags) => f.check(Tags::parse(tags)),
            None if replace || (tags_given && !f.has_error("tags")) => Some(Tags::default()),
            None => None,
        };
        let metadata_given = f.present("metadata");
        patch.metadata = match f.object("metadata") {
            Some(map) if replace => f.check(Metadata::parse(map)).map(MetadataChange::Replace),
            Some(map) => Some(MetadataChange::Merge(MetadataPatch::new(map))),
            None if replace || (metadata_given && !f.has_error("metadata")) => {
                Some(MetadataChange::Replace(Metadata::default()))
            }
            None => None,
        };
        if f.is_null("collection") {
            f.error("collection", "must be a collection name");
        }
        patch.collection = f
            .string("collection")
            .and_then(|v| f.check(crate::model::CollectionName::parse_as("collection", &v)));
        let grants_null = f.is_null("grants");
        patch.grants = match f.grants("grants") {
            Some(grants) => Some(grants),
            None if grants_null => Some(Vec::new()),
            None => None,
        };
        f.finish()?;
        Ok(patch)
    }
}

/// An optional text field: absent keeps it (removes it in a `PUT`), `null` removes it.
fn optional<T>(
    f: &mut Fields,
    field: &str,
    replace: bool,
    parse: impl Fn(&str) -> Result<T, crate::model::FieldError>,
) -> Patch<T> {
    let given = f.present(field);
    match f.string(field) {
        Some(v) => f.check(parse(&v)).map_or(Patch::Keep, Patch::Set),
        None if replace || given => Patch::Remove,
        None => Patch::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value, mode: UpdateMode) -> Vec<String> {
        match FilePatch::from_json(body, mode) {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_merge_patch_keeps_what_it_does_not_name() {
        let patch = FilePatch::from_json(json!({"purpose": "p"}), UpdateMode::Merge).unwrap();
        assert_eq!(patch.purpose, Patch::Set(Purpose::parse("p").unwrap()));
        assert_eq!(patch.source, Patch::Keep);
        assert_eq!(patch.tags, None);
        assert_eq!(patch.metadata, None);
        assert_eq!(patch.private_access, None);
    }

    #[test]
    fn null_removes_in_a_merge_patch() {
        let patch = FilePatch::from_json(
            json!({"purpose": null, "tags": null, "metadata": null}),
            UpdateMode::Merge,
        )
        .unwrap();
        assert_eq!(patch.purpose, Patch::Remove);
        assert_eq!(patch.tags, Some(Tags::default()));
        assert_eq!(
            patch.metadata,
            Some(MetadataChange::Replace(Metadata::default()))
        );
    }

    #[test]
    fn a_replacement_removes_what_it_does_not_name() {
        let patch = FilePatch::from_json(
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            UpdateMode::Replace,
        )
        .unwrap();
        assert_eq!(patch.purpose, Patch::Remove);
        assert_eq!(patch.external_id, Patch::Remove);
        assert_eq!(patch.private_access, Some(true));
        assert_eq!(patch.tags, Some(Tags::default()));
        assert_eq!(
            fields(json!({"purpose": "p"}), UpdateMode::Replace),
            ["name", "mimeType"]
        );
    }

    #[test]
    fn read_only_fields_are_kept_to_be_checked_and_content_url_is_ignored() {
        let patch = FilePatch::from_json(
            json!({"status": "uploaded", "kind": "temp", "contentUrl": "x"}),
            UpdateMode::Merge,
        )
        .unwrap();
        let named: Vec<&str> = patch.echoed.iter().map(|e| e.field).collect();
        assert_eq!(named, ["status", "kind"]);
        assert!(patch.echoed[0].matches(Some(&json!("uploaded"))));
        assert!(!patch.echoed[0].matches(Some(&json!("pending"))));
    }

    #[test]
    fn wrong_types_and_unknown_fields_are_named() {
        assert_eq!(
            fields(
                json!({"colour": "red", "name": null, "tags": "x", "privateAccess": null}),
                UpdateMode::Merge
            ),
            ["colour", "name", "privateAccess", "tags"]
        );
        assert!(FilePatch::from_json(json!([]), UpdateMode::Merge).is_err());
    }
}
