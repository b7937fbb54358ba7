//! Thumbnails: what gets them, their sizes and limits, and the state document that
//! says whether a content revision's thumbnails are ready. Making them (decoding, resizing,
//! encoding) is `render`, behind the `thumbnails` feature, so only the functions that make
//! them link an image library.
//!
//! The state lives beside the thumbnails in the bucket (`thumbs/<content key>/state`, see
//! `keys.rs`), written after them: a record write would race the public copy's bookkeeping, and
//! thumbnails follow their content revision anyway, so a re-upload starts from "not yet" and
//! the old revision's thumbnails go with its content.

#[cfg(feature = "thumbnails")]
pub mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{FileRecord, FileStatus};
use crate::store::RecordChange;

/// The boxes thumbnails fit in, in pixels.
pub(crate) const SIZES: [u32; 3] = [64, 256, 1024];
/// The largest image thumbnails are made of, in pixels (width × height).
#[cfg(feature = "thumbnails")]
pub(crate) const MAX_PIXELS: u64 = 50_000_000;
/// The largest file thumbnails are made of, in bytes (100 MB).
pub(crate) const MAX_BYTES: u64 = 100_000_000;
/// The longest `wait` of `GET /files/{id}/thumbnail`, in seconds.
pub(crate) const MAX_WAIT_SECONDS: u64 = 10;
/// The largest state document read.
pub(crate) const MAX_STATE_BYTES: u64 = 16 * 1024;

/// The media types thumbnails are made of: JPEG, PNG, WebP, GIF (first frame), BMP, TIFF.
pub(crate) fn is_image_type(media_type: &str) -> bool {
    let essence = crate::blob::media_type_essence(media_type);
    matches!(
        essence.as_str(),
        "image/jpeg"
            | "image/jpg"
            | "image/pjpeg"
            | "image/png"
            | "image/webp"
            | "image/gif"
            | "image/bmp"
            | "image/x-ms-bmp"
            | "image/tiff"
    )
}

/// Why a file gets no thumbnail, when its record alone says so (`None`: it should have them).
pub fn refusal(record: &FileRecord) -> Option<String> {
    if !is_image_type(record.mime_type.as_str()) {
        return Some(format!(
            "thumbnails are made of JPEG, PNG, WebP, GIF, BMP and TIFF images; this file is {}",
            record.mime_type.as_str()
        ));
    }
    match record.size {
        Some(size) if size > MAX_BYTES => Some(format!(
            "the file is {size} bytes; thumbnails are made of images up to {MAX_BYTES} bytes"
        )),
        _ => None,
    }
}

/// The record after `change`, if the change landed new content of an image: a first upload or
/// a re-upload (whose event is `stowage.file.updated`, the status staying `uploaded`).
pub fn landed_image(change: &RecordChange) -> Option<&FileRecord> {
    let new = change.new.as_ref()?;
    let key = |record: &FileRecord| record.content.as_ref().map(|c| c.key.clone());
    let landed = new.status == FileStatus::Uploaded
        && key(new).is_some()
        && change.old.as_ref().and_then(key) != key(new);
    (landed && is_image_type(new.mime_type.as_str())).then_some(new)
}

/// Whether a record's upload has landed with content thumbnails can be made of.
#[cfg(feature = "thumbnails")]
pub(crate) fn wants_thumbnails(record: &FileRecord) -> bool {
    record.status == FileStatus::Uploaded && record.content.is_some() && refusal(record).is_none()
}

/// The encoding of a content revision's thumbnails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThumbnailFormat {
    /// Opaque images.
    Jpeg,
    /// Images with transparency.
    Png,
}

impl ThumbnailFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ThumbnailFormat::Jpeg => "image/jpeg",
            ThumbnailFormat::Png => "image/png",
        }
    }
}

/// What became of a content revision's thumbnails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ThumbnailState {
    /// Made: one per size (keyed by the size in decimal: an internally tagged enum cannot
    /// read integer map keys back), each `[width, height]`.
    Ready {
        format: ThumbnailFormat,
        sizes: BTreeMap<String, [u32; 2]>,
    },
    /// The content gets none: over the limits.
    None { reason: String },
    /// The content could not be read as the image it claims to be.
    Failed { reason: String },
}

impl ThumbnailState {
    #[cfg(any(test, feature = "thumbnails"))]
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a thumbnail state serializes")
    }
}

/// The size to fit a `width` × `height` image in a `size` × `size` box, aspect ratio kept,
/// never upscaled (each side at least 1).
#[cfg(feature = "thumbnails")]
pub(crate) fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
    if width <= size && height <= size {
        return (width.max(1), height.max(1));
    }
    let (long, short) = (width.max(height) as u64, width.min(height) as u64);
    let scaled_short = ((short * size as u64 + long / 2) / long).max(1) as u32;
    if width >= height {
        (size, scaled_short)
    } else {
        (scaled_short, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "thumbnails")]
    fn images_fit_their_box_without_upscaling() {
        assert_eq!(fit(4000, 3000, 256), (256, 192));
        assert_eq!(fit(3000, 4000, 256), (192, 256));
        assert_eq!(fit(100, 50, 256), (100, 50), "never upscaled");
        assert_eq!(fit(1, 1, 64), (1, 1));
        assert_eq!(fit(20_000, 1, 64), (64, 1), "at least a pixel");
        assert_eq!(fit(1024, 1024, 1024), (1024, 1024));
    }

    #[test]
    fn only_the_supported_image_types_get_thumbnails() {
        for yes in [
            "image/jpeg",
            "IMAGE/PNG",
            "image/webp; q=1",
            "image/gif",
            "image/bmp",
            "image/tiff",
        ] {
            assert!(is_image_type(yes), "{yes}");
        }
        for no in [
            "image/svg+xml",
            "image/heic",
            "text/plain",
            "application/pdf",
            "image",
        ] {
            assert!(!is_image_type(no), "{no}");
        }
    }

    #[test]
    fn the_state_document_round_trips() {
        let ready = ThumbnailState::Ready {
            format: ThumbnailFormat::Jpeg,
            sizes: BTreeMap::from([("64".into(), [64, 48]), ("256".into(), [256, 192])]),
        };
        let text = String::from_utf8(ready.to_json()).unwrap();
        assert_eq!(
            text,
            r#"{"state":"ready","format":"jpeg","sizes":{"256":[256,192],"64":[64,48]}}"#
        );
        assert_eq!(
            serde_json::from_str::<ThumbnailState>(&text).unwrap(),
            ready
        );
        let none: ThumbnailState =
            serde_json::from_str(r#"{"state":"none","reason":"big"}"#).unwrap();
        assert_eq!(
            none,
            ThumbnailState::None {
                reason: "big".into()
            }
        );
    }
}
