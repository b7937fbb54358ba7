//! Identifiers: file ids (canonical ULIDs), and the tenant and user ids that come from the
//! identity claims.

use serde::{Deserialize, Serialize};

use super::{FieldError, Timestamp};

/// Server-generated file id: a ULID, URL-safe and time-sortable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileId(#[serde(with = "ulid_text")] ulid::Ulid);

impl FileId {
    /// A new id for a record created now.
    pub fn generate() -> Self {
        FileId(ulid::Ulid::new())
    }

    /// A new id whose time part is `at`, so that the id sorts with `createdAt`.
    pub fn generate_at(at: Timestamp) -> Self {
        let millis = u64::try_from(at.millis()).unwrap_or(0);
        FileId(ulid::Ulid::from_parts(millis, ulid::Ulid::new().random()))
    }

    /// The smallest id whose time part is `at` or later.
    pub(crate) fn lowest_at(at: Timestamp) -> Self {
        FileId(ulid::Ulid::from_parts(
            u64::try_from(at.millis()).unwrap_or(0),
            0,
        ))
    }

    /// The id just below this one, or `None` for the smallest.
    pub(crate) fn predecessor(self) -> Option<Self> {
        u128::from(self.0)
            .checked_sub(1)
            .map(|n| FileId(ulid::Ulid::from(n)))
    }

    /// The id just above this one, or `None` for the largest.
    pub(crate) fn successor(self) -> Option<Self> {
        u128::from(self.0)
            .checked_add(1)
            .map(|n| FileId(ulid::Ulid::from(n)))
    }

    /// The smallest id.
    pub const MIN: FileId = FileId(ulid::Ulid(0));
    /// The largest id.
    pub const MAX: FileId = FileId(ulid::Ulid(u128::MAX));

    /// Parses the canonical form only: 26 upper-case Crockford base32 characters, the first
    /// `0`–`7`. (The `ulid` crate also takes lower case and lets a first character above `7`
    /// overflow, so several strings would name one file.)
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("id", "must be a 26-character ULID in upper case");
        if value.len() != 26 {
            return Err(invalid());
        }
        let id = ulid::Ulid::from_string(value).map_err(|_| invalid())?;
        if id.to_string() != value {
            return Err(invalid());
        }
        Ok(FileId(id))
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

mod ulid_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(id: &ulid::Ulid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ulid::Ulid, D::Error> {
        let text = String::deserialize(d)?;
        ulid::Ulid::from_string(&text).map_err(serde::de::Error::custom)
    }
}

/// Longest tenant or user id accepted from the identity claims, in bytes.
pub(crate) const MAX_PRINCIPAL_BYTES: usize = 256;

macro_rules! principal {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to 256 bytes without control characters.
            pub fn parse(value: &str) -> Result<Self, FieldError> {
                if value.is_empty() || value.len() > MAX_PRINCIPAL_BYTES {
                    return Err(FieldError::new($field, "must be 1 to 256 bytes"));
                }
                if value.chars().any(char::is_control) {
                    return Err(FieldError::new($field, "must not contain control characters"));
                }
                Ok($name(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

principal!(
    /// The tenant a request acts for; the first part of every storage key.
    TenantId,
    "tenant"
);
principal!(
    /// The user a request acts as.
    UserId,
    "user"
);
