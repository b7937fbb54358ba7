//! Collections and usage: the named filesets of a tenant with
//! their upload rules, and what a record counts against its tenant's and collection's limits.

use serde::{Deserialize, Serialize};

use super::{
    CollectionAccess, FieldError, FileKind, FileRecord, MediaType, Overwrite, Policy, PublicFiles,
    TenantId, Timestamp,
};

/// A collection's name: 1–64 of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CollectionName(String);

/// The collection every file is in unless its create names another.
pub const DEFAULT_COLLECTION: &str = "default";

impl CollectionName {
    /// Applies the name rules, reporting them against `field`.
    pub fn parse_as(field: &str, value: &str) -> Result<Self, FieldError> {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(CollectionName(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
            ))
        }
    }

    /// The `default` collection.
    pub fn default_collection() -> Self {
        CollectionName(DEFAULT_COLLECTION.to_owned())
    }

    /// Whether this is `default`.
    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_COLLECTION
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for CollectionName {
    fn default() -> Self {
        CollectionName::default_collection()
    }
}

impl std::fmt::Display for CollectionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of `allowedMimeTypes`: an exact media type (`image/png`) or a whole top-level
/// type (`image/*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MimePattern(String);

impl MimePattern {
    /// `type/subtype` or `type/*` (lower case kept as written for exact types; `*/*` and a
    /// missing subtype are refused: an absent rule already allows every type).
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                format!("{value:?} is not a media type ('image/png') or a 'type/*' pattern"),
            )
        };
        if let Some(kind) = value.strip_suffix("/*") {
            if kind == "*" {
                return Err(FieldError::new(
                    field,
                    "'*/*' allows every type: leave allowedMimeTypes out (or null) instead",
                ));
            }
            // The type alone must be a valid top-level type.
            MediaType::parse(&format!("{kind}/x")).map_err(|_| bad())?;
            if kind.contains([';', ' ']) {
                return Err(bad());
            }
            return Ok(MimePattern(value.to_ascii_lowercase()));
        }
        let parsed = MediaType::parse(value).map_err(|_| bad())?;
        if parsed.as_str().contains(';') {
            return Err(FieldError::new(
                field,
                format!("{value:?} has parameters; name the type alone"),
            ));
        }
        Ok(MimePattern(parsed.as_str().to_ascii_lowercase()))
    }

    /// Whether `mime_type` (parameters ignored, any case) matches.
    pub fn matches(&self, mime_type: &MediaType) -> bool {
        let essence = mime_type
            .as_str()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match self.0.strip_suffix("/*") {
            Some(kind) => essence.split_once('/').is_some_and(|(top, _)| top == kind),
            None => essence == self.0,
        }
    }

    /// The pattern as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a create in a collection gets when it leaves a field out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FileKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url_expires_in: Option<u64>,
}

impl CreateDefaults {
    /// True when no default is set.
    pub fn is_empty(&self) -> bool {
        *self == CreateDefaults::default()
    }
}

/// A collection's rules (each optional: absent means no rule).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_mime_types: Option<Vec<MimePattern>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(default)]
    pub require_size: bool,
    #[serde(default, skip_serializing_if = "CreateDefaults::is_empty")]
    pub defaults: CreateDefaults,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_url_expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Limits::is_none")]
    pub limits: Limits,
    /// Who may read, write and delete the collection's files.
    #[serde(default, skip_serializing_if = "CollectionAccess::is_default")]
    pub access: CollectionAccess,
    /// Whether files carry their own `grants`.
    #[serde(default)]
    pub file_security: bool,
    /// Who may start a new upload of an uploaded file.
    #[serde(default, skip_serializing_if = "Overwrite::is_default")]
    pub overwrite: Overwrite,
    /// Who may make the collection's files public.
    #[serde(default, skip_serializing_if = "PublicFiles::is_default")]
    pub public_files: PublicFiles,
    /// How many earlier contents of each file are kept (0: a new upload replaces the old).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub versions: u32,
    /// Days a deleted file stays in the trash (0: deletes are immediate; `None`: the
    /// deployment's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash_days: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Most earlier contents a collection may keep per file.
pub const MAX_VERSIONS: u64 = 100;
/// Most days a file may stay in the trash.
pub const MAX_TRASH_DAYS: u64 = 365;

impl Rules {
    /// What decides who may do what with the collection's files.
    pub fn policy(&self) -> Policy {
        Policy {
            access: self.access.clone(),
            file_security: self.file_security,
            overwrite: self.overwrite,
            public_files: self.public_files,
        }
    }

    /// Days a deleted file stays in the trash, given the deployment's default.
    pub fn trash_days_or(&self, default: u32) -> u32 {
        self.trash_days.unwrap_or(default)
    }

    /// Whether `mime_type` may be uploaded.
    pub fn allows(&self, mime_type: &MediaType) -> bool {
        self.allowed_mime_types
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| p.matches(mime_type)))
    }
}

/// Largest limit accepted (2^53 - 1: exact in every JSON client).
pub const MAX_LIMIT: u64 = 9_007_199_254_740_991;

/// A byte and a file limit (`None`: no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
}

impl Limits {
    /// Neither limit set.
    pub fn is_none(&self) -> bool {
        self.max_bytes.is_none() && self.max_files.is_none()
    }
}

/// A stored collection. `default` exists without being stored; once changed, it is stored too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    pub tenant: TenantId,
    pub name: CollectionName,
    #[serde(default)]
    pub rules: Rules,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Collection {
    /// `default` as it is before anyone changes it: no rules, version 0.
    pub fn untouched_default(tenant: &TenantId) -> Self {
        Collection {
            tenant: tenant.clone(),
            name: CollectionName::default_collection(),
            rules: Rules::default(),
            version: 0,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }
}

/// Bytes and files counted against a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub bytes: i64,
    pub files: i64,
}

impl Counter {
    /// What `record` counts against the limits: one file, its uploaded bytes and those of the
    /// earlier contents it keeps as versions, plus the bytes reserved by its open upload (the
    /// declared size; `0` when none was declared). A trashed file counts until it is purged.
    pub fn of(record: &FileRecord) -> Counter {
        let versions: u64 = record.versions.iter().map(|v| v.size).sum();
        let uploaded = record
            .content
            .as_ref()
            .map_or(0, |c| c.size)
            .saturating_add(versions);
        let reserved = if record.upload.is_some() {
            record.expected_size.unwrap_or(0)
        } else {
            0
        };
        Counter {
            bytes: i64::try_from(uploaded.saturating_add(reserved)).unwrap_or(i64::MAX),
            files: 1,
        }
    }

    /// `self - other`.
    pub fn minus(self, other: Counter) -> Counter {
        Counter {
            bytes: self.bytes - other.bytes,
            files: self.files - other.files,
        }
    }

    /// `self + other`.
    pub fn plus(self, other: Counter) -> Counter {
        Counter {
            bytes: self.bytes + other.bytes,
            files: self.files + other.files,
        }
    }

    /// `-self`.
    pub fn negated(self) -> Counter {
        Counter::default().minus(self)
    }

    /// Nothing counted.
    pub fn is_zero(self) -> bool {
        self.bytes == 0 && self.files == 0
    }
}

/// The change a record write makes to its collection's (and tenant's) counters.
pub fn charge_change(previous: Option<&FileRecord>, next: Option<&FileRecord>) -> Counter {
    let before = previous.map(Counter::of).unwrap_or_default();
    let after = next.map(Counter::of).unwrap_or_default();
    after.minus(before)
}

/// What a batch of record changes adds to each collection's counters (zero ones left out). A
/// record that changes collection leaves its whole count at the old one and brings it to the
/// new one.
pub fn collection_deltas<'a>(
    changes: impl IntoIterator<Item = (Option<&'a FileRecord>, Option<&'a FileRecord>)>,
) -> std::collections::BTreeMap<CollectionName, Counter> {
    let mut by_collection: std::collections::BTreeMap<CollectionName, Counter> =
        std::collections::BTreeMap::new();
    let mut add = |collection: &CollectionName, counter: Counter| {
        let entry = by_collection.entry(collection.clone()).or_default();
        *entry = entry.plus(counter);
    };
    for (previous, next) in changes {
        match (previous, next) {
            (Some(p), Some(n)) if p.collection != n.collection => {
                add(&p.collection, charge_change(Some(p), None));
                add(&n.collection, charge_change(None, Some(n)));
            }
            _ => {
                if let Some(record) = next.or(previous) {
                    add(&record.collection, charge_change(previous, next));
                }
            }
        }
    }
    by_collection.retain(|_, counter| !counter.is_zero());
    by_collection
}

/// Which limit a write would pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitName {
    TenantBytes(u64),
    TenantFiles(u64),
    CollectionBytes(CollectionName, u64),
    CollectionFiles(CollectionName, u64),
}

impl std::fmt::Display for LimitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitName::TenantBytes(n) => write!(f, "the tenant's maxBytes ({n})"),
            LimitName::TenantFiles(n) => write!(f, "the tenant's maxFiles ({n})"),
            LimitName::CollectionBytes(c, n) => write!(f, "collection {c}'s maxBytes ({n})"),
            LimitName::CollectionFiles(c, n) => write!(f, "collection {c}'s maxFiles ({n})"),
        }
    }
}

impl LimitName {
    /// The limit's wire name: `tenant.maxBytes`, `collection.maxFiles`, …
    pub fn wire(&self) -> &'static str {
        match self {
            LimitName::TenantBytes(_) => "tenant.maxBytes",
            LimitName::TenantFiles(_) => "tenant.maxFiles",
            LimitName::CollectionBytes(..) => "collection.maxBytes",
            LimitName::CollectionFiles(..) => "collection.maxFiles",
        }
    }
}

/// The limits a write that adds to the counters must stay within, as read just before it
/// (with the versions that say they have not changed since).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    pub collection: CollectionName,
    /// The collection's stored version (`None`: `default`, not stored); the write fails if it
    /// moved (rules changed, or the collection was deleted).
    pub collection_version: Option<u64>,
    pub collection_limits: Limits,
    /// The tenant's limits in force (stored, or the deployment's defaults).
    pub tenant_limits: Limits,
    /// The version of the tenant's stored limits (`0`: none stored).
    pub tenant_limits_version: u64,
}

impl Admission {
    /// An admission of `record` into its collection as an untouched `default` would admit it:
    /// no limits, no stored collection (tests that write records directly).
    #[cfg(any(test, feature = "test-util"))]
    pub fn unlimited(record: &FileRecord) -> Self {
        Admission {
            collection: record.collection.clone(),
            ..Admission::default()
        }
    }

    /// The first limit `add` would pass given `tenant` and `collection` usage (`None`: fits).
    pub fn first_passed(
        &self,
        add: Counter,
        tenant: Counter,
        collection: Counter,
    ) -> Option<LimitName> {
        let over = |limit: Option<u64>, used: i64, add: i64| {
            limit.filter(|&max| add > 0 && used.saturating_add(add) > max as i64)
        };
        if let Some(n) = over(self.tenant_limits.max_bytes, tenant.bytes, add.bytes) {
            return Some(LimitName::TenantBytes(n));
        }
        if let Some(n) = over(self.tenant_limits.max_files, tenant.files, add.files) {
            return Some(LimitName::TenantFiles(n));
        }
        if let Some(n) = over(
            self.collection_limits.max_bytes,
            collection.bytes,
            add.bytes,
        ) {
            return Some(LimitName::CollectionBytes(self.collection.clone(), n));
        }
        if let Some(n) = over(
            self.collection_limits.max_files,
            collection.files,
            add.files,
        ) {
            return Some(LimitName::CollectionFiles(self.collection.clone(), n));
        }
        None
    }

    /// Whether a byte limit applies (a create must then declare its size).
    pub fn bounds_bytes(&self) -> bool {
        self.tenant_limits.max_bytes.is_some() || self.collection_limits.max_bytes.is_some()
    }
}

/// A tenant's usage: its counters, its limits and each collection's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub total: Counter,
    /// Stored limits (`None` fields fall back to the deployment's defaults).
    pub limits: Limits,
    /// Whether the tenant has limits of its own, and their version.
    pub limits_version: u64,
    pub collections: std::collections::BTreeMap<CollectionName, Counter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_patterns_follow_the_rules() {
        assert!(CollectionName::parse_as("name", "avatars_2-x").is_ok());
        for bad in ["", "Avatars", "a/b", "a b", &"x".repeat(65), "é"] {
            assert!(CollectionName::parse_as("name", bad).is_err(), "{bad:?}");
        }
        let image = MimePattern::parse("allowedMimeTypes", "image/*").unwrap();
        let png = MimePattern::parse("allowedMimeTypes", "image/PNG").unwrap();
        let t = |s: &str| MediaType::parse(s).unwrap();
        assert!(image.matches(&t("image/png")) && image.matches(&t("Image/JPEG")));
        assert!(!image.matches(&t("text/plain")));
        assert!(png.matches(&t("image/png; q=1")) && !png.matches(&t("image/jpeg")));
        for bad in [
            "image/",
            "*/*",
            "image",
            "/png",
            "image/*/*",
            "text/plain; charset=x",
            "",
        ] {
            assert!(
                MimePattern::parse("allowedMimeTypes", bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_limit_is_passed_only_by_what_adds() {
        let admission = Admission {
            collection: CollectionName::parse_as("c", "avatars").unwrap(),
            tenant_limits: Limits {
                max_bytes: Some(100),
                max_files: None,
            },
            collection_limits: Limits {
                max_bytes: None,
                max_files: Some(2),
            },
            ..Admission::default()
        };
        let used = Counter {
            bytes: 90,
            files: 2,
        };
        let add = Counter {
            bytes: 10,
            files: 0,
        };
        assert_eq!(admission.first_passed(add, used, used), None);
        let add = Counter {
            bytes: 11,
            files: 0,
        };
        assert_eq!(
            admission.first_passed(add, used, used),
            Some(LimitName::TenantBytes(100))
        );
        let add = Counter { bytes: 0, files: 1 };
        assert!(matches!(
            admission.first_passed(add, used, used),
            Some(LimitName::CollectionFiles(_, 2))
        ));
        // Releasing never passes a limit, even above it.
        let add = Counter {
            bytes: -5,
            files: -1,
        };
        let over = Counter {
            bytes: 500,
            files: 9,
        };
        assert_eq!(admission.first_passed(add, over, over), None);
    }
}
