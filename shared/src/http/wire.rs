//! The shapes of the HTTP API's responses, as `openapi.yaml` writes them (camelCase JSON, nulls
//! written out), each converted from the domain value it shows. Nothing else in the crate
//! decides what a client reads.

use serde::Serialize;

use crate::model::FileView;
use crate::service::{Created, ListPage, Shown, UploadInstructions};

/// `{"file", "upload"}` of a create or a re-upload.
#[derive(Serialize)]
pub(crate) struct FileWithUpload<'a> {
    pub file: FileView<'a>,
    pub upload: &'a UploadInstructions,
}

impl<'a> From<&'a Created> for FileWithUpload<'a> {
    fn from(created: &'a Created) -> Self {
        FileWithUpload {
            file: created.file.view(),
            upload: &created.upload,
        }
    }
}

/// A page of a listing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<'a> {
    pub items: Vec<FileView<'a>>,
    pub next_cursor: Option<&'a str>,
}

impl<'a> From<&'a ListPage> for Page<'a> {
    fn from(page: &'a ListPage) -> Self {
        Page {
            items: page.items.iter().map(Shown::view).collect(),
            next_cursor: page.next_cursor.as_deref(),
        }
    }
}

/// The records a batch update wrote.
#[derive(Serialize)]
pub(crate) struct Items<'a> {
    pub items: Vec<FileView<'a>>,
}

impl<'a> From<&'a [Shown]> for Items<'a> {
    fn from(updated: &'a [Shown]) -> Self {
        Items {
            items: updated.iter().map(Shown::view).collect(),
        }
    }
}

/// The parts S3 holds for an open multipart upload.
#[derive(Serialize)]
pub(crate) struct Parts<'a> {
    pub parts: &'a [crate::blob::UploadedPart],
}

/// A thumbnail that is not made yet (`202`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThumbnailPending {
    pub status: &'static str,
    pub retry_after: u64,
}
