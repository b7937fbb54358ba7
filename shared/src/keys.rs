//! The S3 key design: how a tenant and a file id become object keys, and how an S3 event's key
//! is read back. (The DynamoDB table design lives with its adapter, `store::dynamodb`.)
//!
//! # S3
//!
//! `files/<t>/<id>/<revision>` for client files and `temp/<t>/<id>/<revision>` for temp files (a
//! lifecycle rule on `temp/` is the backstop for expiry). The user's file name is never part of
//! a key, and every key uses only `[A-Za-z0-9/_-]`, so it needs no URL-encoding in S3 events.
//! Each new upload of a record gets a new revision, so a re-upload never overwrites the bytes
//! that readers are being served. `public/<t>/<id>` holds the copy of a public file's content
//! that the public URL serves, and `jobs/publish/<t>/<id>` is an empty marker whose S3 event asks
//! the publish worker to bring that copy in step.
//!
//! Thumbnails belong to one content revision: `thumbs/<content key>/<size>` (64, 256, 1024)
//! and `thumbs/<content key>/state`, written last, which says whether they are ready, none
//! (not an image we make thumbnails of) or failed. A public file's are copied next to its
//! public copy, at `public/<t>/<id>-thumbnail-<size>`.

use crate::model::{FileId, FileKind, TenantId};

/// The key of the public copy of a file's content.
pub(crate) fn public_key(tenant: &TenantId, id: FileId) -> String {
    format!("public/{}/{id}", encode_tenant(tenant))
}

/// The key of one thumbnail of the content at `content_key`.
pub(crate) fn thumbnail_key(content_key: &str, size: u32) -> String {
    format!("{THUMBNAILS}{content_key}/{size}")
}

/// The key of the thumbnails' state for the content at `content_key`.
pub(crate) fn thumbnail_state_key(content_key: &str) -> String {
    format!("{THUMBNAILS}{content_key}/state")
}

/// The key of the marker a thumbnail attempt leaves while it runs (its start, in Unix
/// milliseconds), for the content at `content_key`.
pub(crate) fn thumbnail_attempt_key(content_key: &str) -> String {
    format!("{THUMBNAILS}{content_key}/attempt")
}

/// The key of a public file's thumbnail, beside its public copy.
pub(crate) fn public_thumbnail_key(tenant: &TenantId, id: FileId, size: u32) -> String {
    format!("{}-thumbnail-{size}", public_key(tenant, id))
}

/// The marker that asks the publish worker to bring a file's public copy in step.
pub(crate) fn publish_job_key(tenant: &TenantId, id: FileId) -> String {
    format!("{PUBLISH_JOBS}{}/{id}", encode_tenant(tenant))
}

/// Where publish job markers live; the bucket sends their events to the publish worker.
pub const PUBLISH_JOBS: &str = "jobs/publish/";

/// The object a cold start's `warm` read asks for under `files/` (every function that calls S3
/// may read there), which no upload makes: ids are ULIDs, never `.prime`.
pub const WARM_KEY: &str = "files/.prime";

/// Where thumbnails live.
pub const THUMBNAILS: &str = "thumbs/";

/// The file a publish job marker names; `None` for any other key.
pub(crate) fn parse_publish_job(key: &str) -> Option<(TenantId, FileId)> {
    let rest = key.strip_prefix(PUBLISH_JOBS)?;
    let (tenant, id) = rest.split_once('/')?;
    let tenant = decode_tenant(tenant)?;
    let id = FileId::parse(id).ok()?;
    (publish_job_key(&tenant, id) == key).then_some((tenant, id))
}

/// Writes a tenant id using only `[A-Za-z0-9_-]`: ASCII letters, digits and `-` stand for
/// themselves, every other byte of the UTF-8 form becomes `_` and two upper-case hex digits.
pub(crate) fn encode_tenant(tenant: &TenantId) -> String {
    let mut out = String::with_capacity(tenant.as_str().len());
    for byte in tenant.as_str().bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

/// Reverses [`encode_tenant`]; `None` for text it cannot have produced.
pub(crate) fn decode_tenant(encoded: &str) -> Option<TenantId> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'_' {
            let hex = encoded.get(at + 1..at + 3)?;
            if !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
            {
                return None;
            }
            let value = u8::from_str_radix(hex, 16).ok()?;
            if value.is_ascii_alphanumeric() || value == b'-' {
                return None; // never escaped by encode_tenant: not canonical
            }
            out.push(value);
            at += 3;
        } else if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(byte);
            at += 1;
        } else {
            return None;
        }
    }
    TenantId::parse(&String::from_utf8(out).ok()?).ok()
}

/// What an object key says about the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectKey {
    pub(crate) kind: FileKind,
    pub(crate) tenant: TenantId,
    pub(crate) id: FileId,
    pub(crate) revision: u32,
}

impl ObjectKey {
    /// The S3 key.
    pub(crate) fn render(&self) -> String {
        let prefix = match self.kind {
            FileKind::Client => "files",
            FileKind::Temp => "temp",
        };
        format!(
            "{prefix}/{}/{}/{}",
            encode_tenant(&self.tenant),
            self.id,
            self.revision
        )
    }

    /// Parses a key made by [`ObjectKey::render`]; `None` for any other key.
    pub(crate) fn parse(key: &str) -> Option<Self> {
        let mut parts = key.split('/');
        let kind = match parts.next()? {
            "files" => FileKind::Client,
            "temp" => FileKind::Temp,
            _ => return None,
        };
        let tenant = decode_tenant(parts.next()?)?;
        let id = FileId::parse(parts.next()?).ok()?;
        let revision_text = parts.next()?;
        if parts.next().is_some()
            || revision_text.is_empty()
            || !revision_text.bytes().all(|b| b.is_ascii_digit())
            || revision_text.starts_with('0')
        {
            return None;
        }
        let revision = revision_text.parse().ok()?;
        let parsed = ObjectKey {
            kind,
            tenant,
            id,
            revision,
        };
        // Only canonical keys (e.g. upper-case ids) count as ours.
        (parsed.render() == key).then_some(parsed)
    }
}

/// Decodes an object key as S3 event notifications carry it: form-urlencoded, so `+` is a
/// space and `%2B` is a plus.
pub(crate) fn decode_event_key(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// Encodes a key the way S3 event notifications carry it (form encoding: space as `+`); the
/// inverse of [`decode_event_key`]. `stowage-local` uses it to build real S3 events.
pub fn encode_event_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[test]
    fn plain_tenants_are_kept_readable() {
        assert_eq!(encode_tenant(&tenant("acme-42")), "acme-42");
    }

    #[test]
    fn other_bytes_are_escaped_and_round_trip() {
        for t in ["a_b", "a/b", "a b+c", "ünïcödé", "..", "T#x", "%2F", "_41"] {
            let encoded = encode_tenant(&tenant(t));
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{encoded}"
            );
            assert_eq!(decode_tenant(&encoded), Some(tenant(t)), "{t}");
        }
        assert_eq!(encode_tenant(&tenant("a/b")), "a_2Fb");
    }

    #[test]
    fn non_canonical_tenant_encodings_are_rejected() {
        for bad in ["_41", "_2f", "_2", "a b", "a/b", "", "_FF"] {
            assert_eq!(decode_tenant(bad), None, "{bad}");
        }
    }

    #[test]
    fn object_keys_round_trip_and_separate_temp_files() {
        let id = FileId::generate();
        let key = ObjectKey {
            kind: FileKind::Temp,
            tenant: tenant("acme corp"),
            id,
            revision: 3,
        };
        let text = key.render();
        assert_eq!(text, format!("temp/acme_20corp/{id}/3"));
        assert_eq!(ObjectKey::parse(&text), Some(key.clone()));
        let client = ObjectKey {
            kind: FileKind::Client,
            ..key
        };
        assert!(client.render().starts_with("files/"));
    }

    #[test]
    fn foreign_and_malformed_keys_do_not_parse() {
        let id = FileId::generate();
        for bad in [
            "other/acme/x/1".to_string(),
            format!("files/acme/{id}"),
            format!("files/acme/{id}/1/extra"),
            format!("files/acme/{id}/01"),
            format!("files/acme/{id}/x"),
            format!("files/acme/{}/1", id.to_string().to_lowercase()),
            format!("files/ac me/{id}/1"),
            "files/acme/not-a-ulid/1".to_string(),
        ] {
            assert_eq!(ObjectKey::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn publish_job_keys_round_trip() {
        let id = FileId::generate();
        let key = publish_job_key(&tenant("acme corp"), id);
        assert_eq!(key, format!("jobs/publish/acme_20corp/{id}"));
        assert_eq!(parse_publish_job(&key), Some((tenant("acme corp"), id)));
        assert_eq!(
            parse_publish_job(&format!("jobs/publish/acme/{id}/x")),
            None
        );
        assert_eq!(parse_publish_job(&format!("files/acme/{id}/1")), None);
    }

    #[test]
    fn event_keys_decode_with_form_rules() {
        assert_eq!(decode_event_key("a+b").as_deref(), Some("a b"));
        assert_eq!(decode_event_key("a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(decode_event_key("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_event_key("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(
            decode_event_key("files/acme_20corp/01ARZ3NDEKTSV4RRFFQ69G5FAV/1").as_deref(),
            Some("files/acme_20corp/01ARZ3NDEKTSV4RRFFQ69G5FAV/1")
        );
        assert_eq!(decode_event_key("%FF"), None);
    }

    #[test]
    fn event_key_encoding_round_trips() {
        for key in [
            "a b+c",
            "files/acme/01ARZ3NDEKTSV4RRFFQ69G5FAV/1",
            "ünï cödé%/x",
            "+%2B",
        ] {
            let encoded = encode_event_key(key);
            assert!(!encoded.contains(' '));
            assert_eq!(
                decode_event_key(&encoded).as_deref(),
                Some(key),
                "{encoded}"
            );
        }
        assert_eq!(encode_event_key("a b+c"), "a+b%2Bc");
    }
}
