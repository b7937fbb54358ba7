//! `POST /collections`, `PATCH /collections/{name}` and `PUT /usage/limits`:
//! a collection's rules, and the tenant's limits.

use serde_json::{Map, Value};

use super::{wire_enum, Fields, MAX_OBJECT_SIZE, MAX_TTL_SECONDS, MAX_URL_EXPIRY_SECONDS};
use crate::error::ApiError;
use crate::model::{
    AccessEntry, CollectionAccess, CollectionName, CreateDefaults, FieldError, FileKind, Limits,
    MimePattern, Overwrite, PublicFiles, Rules, MAX_ACCESS_ENTRIES, MAX_LIMIT, MAX_TRASH_DAYS,
    MAX_VERSIONS,
};

/// The rule names a collection body may carry.
const RULE_FIELDS: &[&str] = &[
    "allowedMimeTypes",
    "maxFileSize",
    "requireSize",
    "defaults",
    "maxUploadUrlExpiresIn",
    "maxBytes",
    "maxFiles",
    "access",
    "fileSecurity",
    "overwrite",
    "publicFiles",
    "versions",
    "trashDays",
];
/// The lists `access` may carry.
const ACCESS_FIELDS: &[&str] = &["read", "write", "delete"];
/// The names `defaults` may carry.
const DEFAULT_FIELDS: &[&str] = &["privateAccess", "kind", "ttlSeconds", "uploadUrlExpiresIn"];
/// Most entries of `allowedMimeTypes`.
const MAX_MIME_PATTERNS: usize = 64;

/// A validated `POST /collections` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCollection {
    pub name: CollectionName,
    pub rules: Rules,
}

impl NewCollection {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let allowed: Vec<&str> = std::iter::once("name")
            .chain(RULE_FIELDS.iter().copied())
            .collect();
        let mut f = fields(body, &allowed)?;
        let name = f
            .required_string("name")
            .and_then(|v| f.check(CollectionName::parse_as("name", &v)));
        let rules = read_rules(&mut f);
        f.finish()?;
        match name {
            Some(name) => Ok(NewCollection { name, rules }),
            None => Err(ApiError::internal("collection validated without a name")),
        }
    }
}

/// A validated `PATCH /collections/{name}` body: a JSON merge patch of the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct RulesPatch(Map<String, Value>);

impl RulesPatch {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let Value::Object(map) = body else {
            return Err(super::invalid_body(
                "the request body must be a JSON object",
            ));
        };
        // Shape checks now (unknown names, name is read-only); values once merged.
        let mut errors = Vec::new();
        for key in map.keys() {
            if key == "name" {
                errors.push(FieldError::new(
                    "name",
                    "is read-only (a collection keeps its name)",
                ));
            } else if !RULE_FIELDS.contains(&key.as_str()) {
                errors.push(unknown_rule(key));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let patch = RulesPatch(map);
        // Every value must stand on its own too (a patch onto no rules).
        patch.apply(&Rules::default())?;
        Ok(patch)
    }

    /// `current` with this patch merged in (RFC 7396), validated as a whole.
    pub(crate) fn apply(&self, current: &Rules) -> Result<Rules, ApiError> {
        let mut merged = Value::Object(rules_json(current));
        merge(&mut merged, &Value::Object(self.0.clone()));
        let mut f = fields(merged, RULE_FIELDS)?;
        let rules = read_rules(&mut f);
        f.finish()?;
        Ok(rules)
    }
}

/// A validated `PUT /usage/limits` body: `0` is no limit, an absent or `null` one the
/// deployment's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsRequest(pub Limits);

impl LimitsRequest {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(body, &["maxBytes", "maxFiles"])?;
        let limits = Limits {
            max_bytes: f.integer("maxBytes", 0, MAX_LIMIT),
            max_files: f.integer("maxFiles", 0, MAX_LIMIT),
        };
        f.finish()?;
        Ok(LimitsRequest(limits))
    }
}

fn unknown_rule(key: &str) -> FieldError {
    FieldError::new(
        key,
        format!(
            "is not a collection rule (rules: {})",
            RULE_FIELDS.join(", ")
        ),
    )
}

/// `Fields` over a collection body, with unknown names reported as rules.
fn fields(body: Value, allowed: &[&str]) -> Result<Fields, ApiError> {
    let Value::Object(map) = body else {
        return Err(super::invalid_body(
            "the request body must be a JSON object",
        ));
    };
    let errors = map
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| unknown_rule(k))
        .collect();
    Ok(Fields { map, errors })
}

fn read_rules(f: &mut Fields) -> Rules {
    let allowed_mime_types = f.string_array("allowedMimeTypes").and_then(|patterns| {
        if patterns.is_empty() || patterns.len() > MAX_MIME_PATTERNS {
            f.error(
                "allowedMimeTypes",
                format!("must hold 1 to {MAX_MIME_PATTERNS} types (null allows every type)"),
            );
            return None;
        }
        let mut parsed: Vec<MimePattern> = Vec::new();
        for pattern in &patterns {
            let p = f.check(MimePattern::parse("allowedMimeTypes", pattern))?;
            if !parsed.contains(&p) {
                parsed.push(p);
            }
        }
        Some(parsed)
    });
    let max_file_size = f.integer("maxFileSize", 1, MAX_OBJECT_SIZE);
    let require_size = f.boolean("requireSize").unwrap_or(false);
    let max_upload_url_expires_in = f.integer("maxUploadUrlExpiresIn", 1, MAX_URL_EXPIRY_SECONDS);
    let limits = Limits {
        max_bytes: f.integer("maxBytes", 1, MAX_LIMIT),
        max_files: f.integer("maxFiles", 1, MAX_LIMIT),
    };
    let defaults = match f.object("defaults") {
        None => CreateDefaults::default(),
        Some(map) => {
            let mut errors = Vec::new();
            let defaults = read_defaults(map, &mut errors);
            f.errors.extend(errors);
            defaults
        }
    };
    if let (Some(default), Some(cap)) = (defaults.upload_url_expires_in, max_upload_url_expires_in)
    {
        if default > cap {
            f.error(
                "defaults.uploadUrlExpiresIn",
                format!("must not exceed maxUploadUrlExpiresIn ({cap})"),
            );
        }
    }
    let access = match f.object("access") {
        None => CollectionAccess::default(),
        Some(map) => read_access(f, map),
    };
    let file_security = f.boolean("fileSecurity").unwrap_or(false);
    let overwrite = match f.string("overwrite") {
        None => Overwrite::default(),
        Some(text) => Overwrite::parse(&text).unwrap_or_else(|| {
            f.error("overwrite", "must be \"writers\", \"owner\" or \"apps\"");
            Overwrite::default()
        }),
    };
    let public_files = match f.string("publicFiles") {
        None => PublicFiles::default(),
        Some(text) => PublicFiles::parse(&text).unwrap_or_else(|| {
            f.error("publicFiles", "must be \"owners\", \"apps\" or \"never\"");
            PublicFiles::default()
        }),
    };
    if public_files == PublicFiles::Never && defaults.private_access == Some(false) {
        f.error(
            "defaults.privateAccess",
            "cannot be false in a collection whose publicFiles is \"never\"",
        );
    }
    let versions = f.integer("versions", 0, MAX_VERSIONS).unwrap_or(0) as u32;
    let trash_days = f.integer("trashDays", 0, MAX_TRASH_DAYS).map(|n| n as u32);
    Rules {
        allowed_mime_types,
        max_file_size,
        require_size,
        defaults,
        max_upload_url_expires_in,
        limits,
        access,
        file_security,
        overwrite,
        public_files,
        versions,
        trash_days,
    }
}

/// `access`: `read`, `write` and `delete`, each a list of `"tenant"`, `"user:<id>"` and
/// `"group:<name>"` (absent or `null`: `["tenant"]`; `[]`: only owners and apps).
fn read_access(f: &mut Fields, map: Map<String, Value>) -> CollectionAccess {
    let mut access = CollectionAccess::default();
    for (key, value) in map {
        let field = format!("access.{key}");
        let list = match key.as_str() {
            "read" => &mut access.read,
            "write" => &mut access.write,
            "delete" => &mut access.delete,
            _ => {
                f.error(
                    &field,
                    format!(
                        "is not an access list (lists: {})",
                        ACCESS_FIELDS.join(", ")
                    ),
                );
                continue;
            }
        };
        let items = match value {
            Value::Null => continue,
            Value::Array(items) => items,
            _ => {
                f.error(
                    &field,
                    "must be an array of \"tenant\", \"user:<id>\" or \"group:<name>\"",
                );
                continue;
            }
        };
        if items.len() > MAX_ACCESS_ENTRIES {
            f.error(
                &field,
                format!("must hold at most {MAX_ACCESS_ENTRIES} entries"),
            );
            continue;
        }
        let mut entries: Vec<AccessEntry> = Vec::new();
        for item in items {
            let parsed = match &item {
                Value::String(text) => AccessEntry::parse(&field, text),
                _ => Err(FieldError::new(
                    &field,
                    "must be an array of \"tenant\", \"user:<id>\" or \"group:<name>\"",
                )),
            };
            match parsed {
                Ok(entry) if !entries.contains(&entry) => entries.push(entry),
                Ok(_) => {}
                Err(e) => f.errors.push(e),
            }
        }
        *list = entries;
    }
    access
}

fn read_defaults(map: Map<String, Value>, errors: &mut Vec<FieldError>) -> CreateDefaults {
    let mut defaults = CreateDefaults::default();
    for (key, value) in map {
        let field = format!("defaults.{key}");
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "privateAccess" => match value {
                Value::Bool(b) => defaults.private_access = Some(b),
                _ => errors.push(FieldError::new(field, "must be true or false")),
            },
            "kind" => match value.as_str().and_then(wire_enum::<FileKind>) {
                Some(kind) => defaults.kind = Some(kind),
                None => errors.push(FieldError::new(field, "must be \"client\" or \"temp\"")),
            },
            "ttlSeconds" => match value.as_u64().filter(|n| (1..=MAX_TTL_SECONDS).contains(n)) {
                Some(n) => defaults.ttl_seconds = Some(n),
                None => errors.push(FieldError::new(
                    field,
                    format!("must be an integer from 1 to {MAX_TTL_SECONDS}"),
                )),
            },
            "uploadUrlExpiresIn" => match value
                .as_u64()
                .filter(|n| (1..=MAX_URL_EXPIRY_SECONDS).contains(n))
            {
                Some(n) => defaults.upload_url_expires_in = Some(n),
                None => errors.push(FieldError::new(
                    field,
                    format!("must be an integer from 1 to {MAX_URL_EXPIRY_SECONDS}"),
                )),
            },
            _ => errors.push(FieldError::new(
                field,
                format!("is not a default (defaults: {})", DEFAULT_FIELDS.join(", ")),
            )),
        }
    }
    defaults
}

/// The rules as their wire object (what a collection answers, and what a merge patch merges
/// onto).
pub(crate) fn rules_json(rules: &Rules) -> Map<String, Value> {
    let mut map = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        map.insert(key.to_owned(), value.unwrap_or(Value::Null));
    };
    put(
        "allowedMimeTypes",
        rules.allowed_mime_types.as_ref().map(|patterns| {
            Value::Array(
                patterns
                    .iter()
                    .map(|p| Value::String(p.as_str().to_owned()))
                    .collect(),
            )
        }),
    );
    put("maxFileSize", rules.max_file_size.map(Value::from));
    put("requireSize", Some(Value::Bool(rules.require_size)));
    let mut defaults = Map::new();
    let d = &rules.defaults;
    if let Some(v) = d.private_access {
        defaults.insert("privateAccess".into(), Value::Bool(v));
    }
    if let Some(v) = d.kind {
        defaults.insert("kind".into(), Value::String(v.as_str().to_owned()));
    }
    if let Some(v) = d.ttl_seconds {
        defaults.insert("ttlSeconds".into(), Value::from(v));
    }
    if let Some(v) = d.upload_url_expires_in {
        defaults.insert("uploadUrlExpiresIn".into(), Value::from(v));
    }
    put("defaults", Some(Value::Object(defaults)));
    put(
        "maxUploadUrlExpiresIn",
        rules.max_upload_url_expires_in.map(Value::from),
    );
    put("maxBytes", rules.limits.max_bytes.map(Value::from));
    put("maxFiles", rules.limits.max_files.map(Value::from));
    let list = |entries: &[AccessEntry]| {
        Value::Array(entries.iter().map(|e| Value::String(e.to_wire())).collect())
    };
    let mut access = Map::new();
    access.insert("read".into(), list(&rules.access.read));
    access.insert("write".into(), list(&rules.access.write));
    access.insert("delete".into(), list(&rules.access.delete));
    put("access", Some(Value::Object(access)));
    put("fileSecurity", Some(Value::Bool(rules.file_security)));
    put(
        "overwrite",
        Some(Value::String(rules.overwrite.as_str().to_owned())),
    );
    put(
        "publicFiles",
        Some(Value::String(rules.public_files.as_str().to_owned())),
    );
    put("versions", Some(Value::from(rules.versions)));
    put("trashDays", rules.trash_days.map(Value::from));
    map
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_of(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_collection_body_is_read_whole() {
        let c = NewCollection::from_json(json!({
            "name": "avatars",
            "allowedMimeTypes": ["image/*", "image/*"],
            "maxFileSize": 5_000_000,
            "requireSize": true,
            "defaults": {"privateAccess": false, "uploadUrlExpiresIn": 600},
            "maxUploadUrlExpiresIn": 900,
            "maxBytes": 1_000_000_000,
            "maxFiles": 10
        }))
        .unwrap();
        assert_eq!(c.name.as_str(), "avatars");
        assert_eq!(c.rules.allowed_mime_types.as_ref().unwrap().len(), 1);
        assert_eq!(c.rules.defaults.private_access, Some(false));
        assert_eq!(c.rules.limits.max_files, Some(10));
        let round = RulesPatch::from_json(json!({}))
            .unwrap()
            .apply(&c.rules)
            .unwrap();
        assert_eq!(round, c.rules);
    }

    #[test]
    fn bad_rules_name_their_field() {
        let bad = NewCollection::from_json(json!({
            "name": "Avatars",
            "allowedMimeTypes": ["image/"],
            "maxFileSize": MAX_OBJECT_SIZE + 1,
            "sizeLimit": 3,
            "defaults": {"kind": "forever", "colour": "red"},
            "maxBytes": 0,
            "requireSize": "yes"
        }));
        let mut got = fields_of(bad);
        got.sort();
        assert_eq!(
            got,
            [
                "allowedMimeTypes",
                "defaults.colour",
                "defaults.kind",
                "maxBytes",
                "maxFileSize",
                "name",
                "requireSize",
                "sizeLimit"
            ]
        );
        assert_eq!(
            fields_of(NewCollection::from_json(
                json!({"allowedMimeTypes": ["*/*"]})
            )),
            ["name", "allowedMimeTypes"]
        );
        assert_eq!(
            fields_of(NewCollection::from_json(json!({"name": "a/b"}))),
            ["name"]
        );
        assert!(matches!(
            NewCollection::from_json(json!([1])),
            Err(ApiError::Problem { .. })
        ));
        assert_eq!(
            fields_of(NewCollection::from_json(json!({
                "name": "x", "maxUploadUrlExpiresIn": 60, "defaults": {"uploadUrlExpiresIn": 61}
            }))),
            ["defaults.uploadUrlExpiresIn"]
        );
    }

    #[test]
    fn a_patch_merges_and_null_removes() {
        let rules = NewCollection::from_json(json!({
            "name": "a", "maxFileSize": 10, "defaults": {"privateAccess": false, "kind": "temp"}
        }))
        .unwrap()
        .rules;
        let patch = RulesPatch::from_json(json!({
            "maxFileSize": null, "defaults": {"kind": null}, "maxFiles": 3
        }))
        .unwrap();
        let next = patch.apply(&rules).unwrap();
        assert_eq!(next.max_file_size, None);
        assert_eq!(next.defaults.kind, None);
        assert_eq!(next.defaults.private_access, Some(false));
        assert_eq!(next.limits.max_files, Some(3));
        assert_eq!(
            fields_of(RulesPatch::from_json(json!({"name": "b"}))),
            ["name"]
        );
        assert_eq!(
            fields_of(RulesPatch::from_json(json!({"colour": {}}))),
            ["colour"]
        );
        assert_eq!(
            fields_of(RulesPatch::from_json(json!({"maxFiles": -1}))),
            ["maxFiles"]
        );
    }

    #[test]
    fn limits_take_zero_as_none_and_refuse_the_rest() {
        let l = LimitsRequest::from_json(json!({"maxBytes": 0, "maxFiles": 5})).unwrap();
        assert_eq!(l.0.max_bytes, Some(0));
        assert_eq!(
            fields_of(LimitsRequest::from_json(json!({"maxBytes": "1"}))),
            ["maxBytes"]
        );
        assert_eq!(
            fields_of(LimitsRequest::from_json(json!({"max": 1}))),
            ["max"]
        );
    }
}
