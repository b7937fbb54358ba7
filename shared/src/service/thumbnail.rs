//! Thumbnails: `GET /files/{id}/thumbnail`, which answers from the thumbnails' state
//! in the bucket (waiting up to `wait` seconds for it), and — with the `thumbnails` feature —
//! [`Service::make_thumbnails`], which makes them when an image's upload has landed (the
//! `make-thumbnails` function on AWS, in-process in `stowage-local`).
//!
//! A content revision's thumbnails and their state are written under `thumbs/<content key>/`
//! (state last); a public file's are also copied beside its public copy by the public-copy
//! machinery (`public.rs`). They go with their content: cleanup that deletes a content object
//! deletes its thumbnails, and a removal deletes the public ones.

use std::time::Duration;

use super::public::in_step;
use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::keys::{
    public_thumbnail_key, thumbnail_attempt_key, thumbnail_key, thumbnail_state_key,
};
use crate::model::{FileId, FileRecord, FileStatus, TenantId};
use crate::store::MetadataStore;
use crate::thumbnails::{refusal, ThumbnailState, MAX_STATE_BYTES, SIZES};
use crate::validate::ThumbnailRequest;

/// How often a waiting request looks for the thumbnails.
const POLL: Duration = Duration::from_millis(200);

/// The answer of `GET /files/{id}/thumbnail`.
#[derive(Debug, PartialEq, Eq)]
pub enum ThumbnailAnswer {
    /// Where the thumbnail is (`302`).
    Ready(String),
    /// Not made yet (`202`); ask again after this many seconds.
    Pending { retry_after: u64 },
}

fn no_thumbnail(reason: impl Into<String>) -> ApiError {
    ApiError::new(ProblemCode::NoThumbnail, reason)
}

/// Every object key of a content revision's thumbnails, state last.
pub(crate) fn thumbnail_keys(content_key: &str) -> Vec<String> {
    let mut keys: Vec<String> = SIZES
        .iter()
        .map(|&size| thumbnail_key(content_key, size))
        .collect();
    keys.push(thumbnail_state_key(content_key));
    keys.push(thumbnail_attempt_key(content_key));
    keys
}

/// The keys of a public file's thumbnail copies.
pub(crate) fn public_thumbnail_keys(tenant: &TenantId, id: FileId) -> Vec<String> {
    SIZES
        .iter()
        .map(|&size| public_thumbnail_key(tenant, id, size))
        .collect()
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The state of the thumbnails of the content at `content_key`; `None` until it is written.
    pub(super) async fn thumbnail_state(
        &self,
        content_key: &str,
    ) -> Result<Option<ThumbnailState>, ApiError> {
        let Some(bytes) = self
            .objects
            .get_bytes(&thumbnail_state_key(content_key), MAX_STATE_BYTES)
            .await?
        else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(state) => Ok(Some(state)),
            Err(err) => {
                // Only this code writes it; an unreadable one is as good as none (and is made
                // again by the next generation).
                tracing::error!(%content_key, error = %err, "unreadable thumbnail state");
                Ok(None)
            }
        }
    }

    /// `GET /files/{id}/thumbnail?size=&wait=`.
    pub async fn thumbnail(
        &self,
        who: &Identity,
        id: FileId,
        request: ThumbnailRequest,
    ) -> Result<ThumbnailAnswer, ApiError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(request.wait);
        let record = self.read(who, id).await?;
        if record.status != FileStatus::Uploaded {
            return Err(ApiError::new(
                ProblemCode::NotUploaded,
                "the file has no content yet; its thumbnails are made when its upload lands",
            ));
        }
        if let Some(reason) = refusal(&record) {
            return Err(no_thumbnail(reason));
        }
        let Some(content) = &record.content else {
            return Err(ApiError::new(
                ProblemCode::NotUploaded,
                "the file has no content yet",
            ));
        };
        loop {
            match self.thumbnail_state(&content.key).await? {
                Some(ThumbnailState::Ready { format, .. }) => {
                    let url = self
                        .thumbnail_url(&record, &content.key, request.size, format.content_type())
                        .await?;
                    return Ok(ThumbnailAnswer::Ready(url));
                }
                Some(ThumbnailState::None { reason } | ThumbnailState::Failed { reason }) => {
                    return Err(no_thumbnail(reason))
                }
                None if tokio::time::Instant::now() + POLL > deadline => {
                    return Ok(ThumbnailAnswer::Pending { retry_after: 1 })
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// The public URL of a public file's thumbnail once its copy is in place, else a presigned
    /// GET.
    async fn thumbnail_url(
        &self,
        record: &FileRecord,
        content_key: &str,
        size: u32,
        content_type: &str,
    ) -> Result<String, ApiError> {
        if let Some(base) = &self.settings.public_base_url {
            if !record.private_access && in_step(record) {
                return Ok(format!(
                    "{base}/{}",
                    public_thumbnail_key(&record.tenant, record.id, size)
                ));
            }
        }
        let presigned = self
            .objects
            .presign_get(
                &thumbnail_key(content_key, size),
                content_type,
                "inline",
                self.clock.now(),
                self.settings.download_url_expires_in,
            )
            .await?;
        Ok(presigned.url)
    }

    /// Copies the ready thumbnails of `content_key` beside the public copy; nothing if there
    /// are none (yet).
    pub(super) async fn publish_thumbnails(
        &self,
        record: &FileRecord,
        content_key: &str,
    ) -> Result<(), ApiError> {
        if let Some(ThumbnailState::Ready { .. }) = self.thumbnail_state(content_key).await? {
            for size in SIZES {
                self.objects
                    .copy(
                        &thumbnail_key(content_key, size),
                        &public_thumbnail_key(&record.tenant, record.id, size),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Deletes a public file's thumbnail copies (deleting what is not there succeeds).
    pub(super) async fn withdraw_thumbnails(
        &self,
        tenant: &TenantId,
        id: FileId,
    ) -> Result<(), ApiError> {
        for key in public_thumbnail_keys(tenant, id) {
            self.objects.delete(&key).await?;
        }
        Ok(())
    }
}

#[cfg(feature = "thumbnails")]
mod make {
    use super::*;
    use crate::thumbnails::render::{render, RenderError};
    use crate::thumbnails::{wants_thumbnails, MAX_BYTES};

    /// How long an attempt may be running before its marker means it died: the
    /// make-thumbnails function's `Timeout` in `template.yaml` (60 s), and some slack.
    pub(crate) const ATTEMPT_LIFETIME_MS: i64 = 75_000;

    impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
        /// Makes the thumbnails of file `id`'s current content, if it should have them and they
        /// are not made yet; answers their state (`None`: the file is gone, or is not an
        /// uploaded image). An image that is over the limits, or does not decode, gets a
        /// `none` or `failed` state and is not tried again; a storage failure is an error, to be
        /// retried.
        pub async fn make_thumbnails(
            &self,
            tenant: &TenantId,
            id: FileId,
        ) -> Result<Option<ThumbnailState>, ApiError> {
            let Some(record) = self.current(tenant, id).await? else {
                return Ok(None);
            };
            if !wants_thumbnails(&record) {
                return Ok(None);
            }
            let Some(content) = record.content.clone() else {
                return Ok(None);
            };
            if let Some(state) = self.thumbnail_state(&content.key).await? {
                return Ok(Some(state));
            }
            let started = std::time::Instant::now();
            // An attempt that began and never finished died with its process: a decoder that
            // aborted (Lambda builds use panic = "abort"), ran out of memory or out of time.
            // The image is not tried a third time: its state becomes `failed`. One that began
            // within the function's time limit may still be running: try again later.
            let attempt_key = thumbnail_attempt_key(&content.key);
            let now = self.clock.now();
            let begun = self
                .objects
                .get_bytes(&attempt_key, 64)
                .await?
                .and_then(|b| String::from_utf8(b).ok()?.trim().parse::<i64>().ok());
            let state = match begun {
                Some(begun) if now.millis() - begun < ATTEMPT_LIFETIME_MS => {
                    return Err(ApiError::Unavailable(
                        "another attempt is making these thumbnails; try again later".into(),
                    ));
                }
                Some(_) => ThumbnailState::Failed {
                    reason: "an earlier attempt to decode the image never finished".into(),
                },
                None => {
                    let Some(bytes) = self.objects.get_bytes(&content.key, MAX_BYTES).await? else {
                        return Ok(None);
                    };
                    self.objects
                        .put_bytes(
                            &attempt_key,
                            now.millis().to_string().into_bytes(),
                            "text/plain",
                        )
                        .await?;
                    let made = self.render_and_store(&content.key, bytes).await;
                    if made.is_err() {
                        // A storage failure, not the image's: the next attempt starts afresh.
                        if let Err(err) = self.objects.delete(&attempt_key).await {
                            tracing::warn!(error = ?err, "could not remove the attempt marker");
                        }
                    }
                    made?
                }
            };
            self.objects
                .put_bytes(
                    &thumbnail_state_key(&content.key),
                    state.to_json(),
                    "application/json",
                )
                .await?;
            // With the state written, the attempt is over (a marker left behind is removed
            // with the thumbnails).
            if let Err(err) = self.objects.delete(&attempt_key).await {
                tracing::warn!(error = ?err, "could not remove the attempt marker");
            }
            tracing::info!(%tenant, %id, elapsed_ms = started.elapsed().as_millis() as u64, state = ?std::mem::discriminant(&state), "thumbnails made");
            self.settle_thumbnails(&record, &content.key).await?;
            Ok(Some(state))
        }

        /// Decodes `bytes` (the content at `content_key`) and stores its thumbnails; answers the
        /// state to record. Only storage failures are errors.
        async fn render_and_store(
            &self,
            content_key: &str,
            bytes: Vec<u8>,
        ) -> Result<ThumbnailState, ApiError> {
            // Decoding is CPU work: off the async threads. A panic in a decoder is contained
            // where panics unwind (stowage-local, the tests); on Lambda (panic = "abort") it ends
            // the process, and the attempt marker turns the retry into `failed`.
            let rendered =
                tokio::task::spawn_blocking(move || std::panic::catch_unwind(|| render(&bytes)))
                    .await;
            let state = match rendered {
                Ok(Ok(Ok(rendered))) => {
                    for thumbnail in &rendered.thumbnails {
                        self.objects
                            .put_bytes(
                                &thumbnail_key(content_key, thumbnail.size),
                                thumbnail.bytes.clone(),
                                rendered.format.content_type(),
                            )
                            .await?;
                    }
                    ThumbnailState::Ready {
                        format: rendered.format,
                        sizes: rendered
                            .thumbnails
                            .iter()
                            .map(|t| (t.size.to_string(), [t.width, t.height]))
                            .collect(),
                    }
                }
                Ok(Ok(Err(RenderError::TooManyPixels { width, height }))) => ThumbnailState::None {
                    reason: RenderError::TooManyPixels { width, height }.to_string(),
                },
                Ok(Ok(Err(RenderError::Unreadable(reason)))) => ThumbnailState::Failed { reason },
                Ok(Err(_)) | Err(_) => ThumbnailState::Failed {
                    reason: "the image could not be decoded".into(),
                },
            };
            Ok(state)
        }

        /// After making thumbnails for `made_for`: if the file moved on meanwhile (deleted, new
        /// content), the thumbnails are removed again; if it is public with its copy in place,
        /// they are copied beside it (and removed again if it stopped being public meanwhile).
        async fn settle_thumbnails(
            &self,
            made_for: &FileRecord,
            content_key: &str,
        ) -> Result<(), ApiError> {
            let same_content = |record: &FileRecord| {
                record.content.as_ref().map(|c| c.key.as_str()) == Some(content_key)
            };
            let Some(current) = self
                .current(&made_for.tenant, made_for.id)
                .await?
                .filter(|r| same_content(r))
            else {
                for key in thumbnail_keys(content_key) {
                    self.objects.delete(&key).await?;
                }
                return Ok(());
            };
            let published =
                |r: &FileRecord| !r.private_access && r.published.as_deref() == Some(content_key);
            if published(&current) {
                self.publish_thumbnails(&current, content_key).await?;
                let still = self.current(&current.tenant, current.id).await?;
                if !still
                    .as_ref()
                    .is_some_and(|r| published(r) && same_content(r))
                {
                    self.withdraw_thumbnails(&current.tenant, current.id)
                        .await?;
                }
            }
            Ok(())
        }

        /// The record as stored, if it exists and has not expired.
        async fn current(
            &self,
            tenant: &TenantId,
            id: FileId,
        ) -> Result<Option<FileRecord>, ApiError> {
            let now = self.clock.now();
            Ok(self
                .store
                .get(tenant, id)
                .await?
                .filter(|record| !record.is_expired(now)))
        }
    }
}
