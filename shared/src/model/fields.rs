//! Parsed field types: each `parse` applies one rule of the file record's fields, so a value of
//! these types is valid by construction.
//!
//! Besides each field's type and length: no string field accepts control characters; a file
//! name may not contain `/` or `\` and may not be `.` or `..`; a directory is
//! normalised-only (no empty, `.` or `..` segments, no trailing `/` except the root).

use std::collections::BTreeSet;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::FieldError;

fn reject_control(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn char_len_within(field: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
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

text_newtype!(
    /// A file's name: 1–255 bytes of UTF-8, no control characters, no path separators.
    FileName
);

/// Longest file name, in UTF-8 bytes.
pub(crate) const MAX_NAME_BYTES: usize = 255;

impl FileName {
    /// Applies the name rules.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.is_empty() || value.len() > MAX_NAME_BYTES {
            return Err(FieldError::new("name", "must be 1 to 255 bytes of UTF-8"));
        }
        reject_control("name", value)?;
        if value.contains(['/', '\\']) {
            return Err(FieldError::new("name", "must not contain '/' or '\\'"));
        }
        if value == "." || value == ".." {
            return Err(FieldError::new("name", "must not be '.' or '..'"));
        }
        Ok(FileName(value.to_owned()))
    }

    /// The extension derived from the name: `".png"` for `photo.PNG`, `""` for `README` or
    /// `.bashrc`. Lower-cased so that filters match regardless of how the name was typed.
    pub fn extension(&self) -> String {
        match self.0.rfind('.') {
            Some(at) if at > 0 && at + 1 < self.0.len() => self.0[at..].to_lowercase(),
            _ => String::new(),
        }
    }
}

text_newtype!(
    /// A media type such as `image/png` or `text/plain; charset=utf-8`; no wildcards.
    MediaType
);

impl MediaType {
    /// Parses with the `mime` crate and keeps the client's exact text (trimmed), because the
    /// upload's `Content-Type` header must equal it byte for byte.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let trimmed = value.trim();
        let bad = || FieldError::new("mimeType", "must be a media type such as 'image/png'");
        if trimmed.is_empty() || trimmed.len() > 255 || trimmed.chars().any(char::is_control) {
            return Err(bad());
        }
        let parsed: mime::Mime = trimmed.parse().map_err(|_| bad())?;
        if parsed.type_().as_str().is_empty() || parsed.subtype().as_str().is_empty() {
            return Err(bad());
        }
        if parsed.type_() == mime::STAR || parsed.subtype() == mime::STAR {
            return Err(FieldError::new("mimeType", "must not contain wildcards"));
        }
        if !trimmed.is_ascii() {
            return Err(bad());
        }
        // The `mime` crate is lenient about the type and subtype; RFC 6838 (4.2) is not:
        // each is a restricted-name of 1–127 characters starting with a letter or digit.
        let essence = trimmed.split(';').next().unwrap_or_default().trim_end();
        let restricted = |name: &str| {
            (1..=127).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        match essence.split_once('/') {
            Some((kind, sub)) if restricted(kind) && restricted(sub) => {}
            _ => return Err(bad()),
        }
        Ok(MediaType(trimmed.to_owned()))
    }
}

text_newtype!(
    /// An optional category, at most 64 characters.
    Purpose
);

impl Purpose {
    /// Applies the purpose rules.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        char_len_within("purpose", value, 1, 64)?;
        reject_control("purpose", value)?;
        Ok(Purpose(value.to_owned()))
    }
}

text_newtype!(
    /// The client's own id for a file, at most 255 characters; unique per tenant.
    ExternalId
);

impl ExternalId {
    /// Applies the externalId rules.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        char_len_within("externalId", value, 1, 255)?;
        reject_control("externalId", value)?;
        Ok(ExternalId(value.to_owned()))
    }
}

text_newtype!(
    /// Where the file came from, at most 128 characters.
    Source
);

impl Source {
    /// Applies the source rules.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        char_len_within("source", value, 1, 128)?;
        reject_control("source", value)?;
        Ok(Source(value.to_owned()))
    }
}

text_newtype!(
    /// An absolute unix-style directory path such as `/invoices/2026`, at most 512 characters.
    DirectoryPath
);

/// Most bytes a directory holds in UTF-8 (its 512 characters may take up to 2,048).
pub(crate) const MAX_DIRECTORY_BYTES: usize = 960;

impl DirectoryPath {
    /// Accepts `/` or `/a/b` (normalised: no empty, `.` or `..` segments, no trailing `/`).
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        char_len_within("directory", value, 1, 512)?;
        reject_control("directory", value)?;
        if value.len() > MAX_DIRECTORY_BYTES {
            // The folder tree's keys hold the path, and a DynamoDB sort key holds 1,024 bytes.
            return Err(FieldError::new(
                "directory",
                format!("must be at most {MAX_DIRECTORY_BYTES} bytes in UTF-8"),
            ));
        }
        if !value.starts_with('/') {
            return Err(FieldError::new(
                "directory",
                "must be an absolute path starting with '/'",
            ));
        }
        if value != "/" {
            let normal = value[1..]
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
            if !normal {
                return Err(FieldError::new(
                    "directory",
                    "must be a normalised path: no empty, '.' or '..' segments and no trailing '/'",
                ));
            }
        }
        Ok(DirectoryPath(value.to_owned()))
    }
}

text_newtype!(
    /// A base64 SHA-256 digest that S3 checks the uploaded bytes against.
    Checksum
);

impl Checksum {
    /// Accepts standard base64 (with padding) of exactly 32 bytes.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| FieldError::new("checksumSha256", "must be base64"))?;
        if bytes.len() != 32 {
            return Err(FieldError::new(
                "checksumSha256",
                "must be the base64 of a 32-byte SHA-256 digest",
            ));
        }
        Ok(Checksum(value.to_owned()))
    }
}

/// Most tags a file may carry.
pub(crate) const MAX_TAGS: usize = 60;

/// A file's tags: at most 60, each 1–256 characters, de-duplicated in first-seen order.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Applies the tag rules; duplicates are dropped before the count is checked.
    pub fn parse<I, S>(values: I) -> Result<Self, FieldError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut seen = BTreeSet::new();
        let mut tags = Vec::new();
        for value in values {
            let value = value.as_ref();
            char_len_within("tags", value, 1, 256)
                .map_err(|_| FieldError::new("tags", "each tag must be 1 to 256 characters"))?;
            reject_control("tags", value)?;
            if seen.insert(value.to_owned()) {
                tags.push(value.to_owned());
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(FieldError::new(
                "tags",
                "must hold at most 60 distinct tags",
            ));
        }
        Ok(Tags(tags))
    }

    /// The tags in order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn name_accepts_unicode_up_to_255_bytes() {
        assert!(FileName::parse("résumé final.pdf").is_ok());
        assert!(FileName::parse(&"a".repeat(255)).is_ok());
        // 128 two-byte characters are 256 bytes.
        assert!(FileName::parse(&"é".repeat(128)).is_err());
    }

    #[test]
    fn name_rejects_empty_control_characters_separators_and_dot_names() {
        for bad in [
            "",
            "a\nb",
            "tab\there",
            "nul\0",
            "../etc",
            "a/b",
            "a\\b",
            ".",
            "..",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn extension_is_lowercased_with_dot_or_empty() {
        let ext = |n: &str| FileName::parse(n).unwrap().extension();
        assert_eq!(ext("photo.PNG"), ".png");
        assert_eq!(ext("archive.tar.gz"), ".gz");
        assert_eq!(ext("README"), "");
        assert_eq!(ext(".bashrc"), "");
        assert_eq!(ext("trailing."), "");
    }

    #[test]
    fn media_type_accepts_types_with_parameters_and_keeps_the_text() {
        assert_eq!(MediaType::parse("image/png").unwrap().as_str(), "image/png");
        assert_eq!(
            MediaType::parse(" text/plain; charset=utf-8 ")
                .unwrap()
                .as_str(),
            "text/plain; charset=utf-8"
        );
        assert!(MediaType::parse("application/vnd.api+json").is_ok());
    }

    #[test]
    fn media_type_rejects_garbage_wildcards_and_control_characters() {
        for bad in [
            "",
            "png",
            "image/",
            "/png",
            "image/*",
            "*/*",
            "image/png\r\nx: y",
            "a b/c",
            "0/0*",
            "image/png*",
            "image/.png",
            "text/plain/x",
            "text/{}",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn purpose_source_external_id_enforce_their_lengths() {
        assert!(Purpose::parse(&"p".repeat(64)).is_ok());
        assert!(Purpose::parse(&"p".repeat(65)).is_err());
        assert!(Purpose::parse("").is_err());
        assert!(Source::parse(&"s".repeat(128)).is_ok());
        assert!(Source::parse(&"s".repeat(129)).is_err());
        assert!(ExternalId::parse(&"ü".repeat(255)).is_ok());
        assert!(ExternalId::parse(&"x".repeat(256)).is_err());
        assert!(ExternalId::parse("a\u{7}").is_err());
    }

    #[test]
    fn directory_must_be_absolute_and_normalised() {
        for good in ["/", "/a", "/invoices/2026", "/ünï côdé"] {
            assert!(
                DirectoryPath::parse(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        for bad in ["", "a/b", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/a\n"] {
            assert!(
                DirectoryPath::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(DirectoryPath::parse(&format!("/{}", "d".repeat(511))).is_ok());
        assert!(DirectoryPath::parse(&format!("/{}", "d".repeat(512))).is_err());
        // 512 characters at most, and 960 bytes: a folder tree key holds the path.
        assert!(DirectoryPath::parse(&format!("/{}", "é".repeat(479))).is_ok());
        assert!(DirectoryPath::parse(&format!("/{}", "é".repeat(480))).is_err());
    }

    #[test]
    fn checksum_must_be_base64_of_32_bytes() {
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(Checksum::parse(&good).is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        assert!(Checksum::parse(&short).is_err());
        assert!(Checksum::parse("not base64!").is_err());
    }

    #[test]
    fn tags_are_deduplicated_in_order_and_limited() {
        let tags = Tags::parse(["b", "a", "b"]).unwrap();
        assert_eq!(tags.as_slice(), ["b", "a"]);
        let sixty: Vec<String> = (0..60).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&sixty).is_ok());
        let mut sixty_one = sixty.clone();
        sixty_one.push("extra".into());
        assert!(Tags::parse(&sixty_one).is_err());
        // Duplicates do not count against the limit.
        let mut with_dupes = sixty;
        with_dupes.push("t0".into());
        assert!(Tags::parse(&with_dupes).is_ok());
        assert!(Tags::parse([""]).is_err());
        assert!(Tags::parse(["x".repeat(256)]).is_ok());
        assert!(Tags::parse(["x".repeat(257)]).is_err());
    }
}
