//! Reading records as clients see them: `GET /files/{id}` (repairing a record whose upload
//! arrived without its event), the `contentUrl`, and the download redirect.

use super::completion::{ObjectEvent, Outcome};
use super::public::in_step;
use super::{Service, View};
use crate::blob::ObjectStore;
use crate::blob::{content_disposition, safe_disposition, Disposition};
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::keys::public_key;
use crate::model::{FileId, FileRecord, FileStatus};
use crate::store::MetadataStore;

/// A record as a response shows it: with its `contentUrl`.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub record: FileRecord,
    pub content_url: Option<String>,
}

impl Shown {
    /// A record shown without a `contentUrl` (a new record, which has no content yet).
    pub(super) fn without_url(record: FileRecord) -> Self {
        Shown {
            record,
            content_url: None,
        }
    }
}

fn status_name(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Pending => "pending",
        FileStatus::Uploaded => "uploaded",
        FileStatus::Failed => "failed",
    }
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// `GET /files/{id}`: the record, repaired first if an upload is open but its object has
    /// already arrived (an S3 event that was lost or is late). Costs one `HeadObject` only
    /// while an upload is open.
    pub async fn get(&self, who: &Identity, id: FileId) -> Result<Shown, ApiError> {
        let record = self.read(who, id).await?;
        self.show(record).await
    }

    /// `GET /files/{id}?trashed=true`: a file in the trash (`404` for a live one).
    pub async fn get_trashed(&self, who: &Identity, id: FileId) -> Result<Shown, ApiError> {
        let record = self
            .load_for_in(View::Trashed, who, id, crate::model::Right::Read)
            .await?;
        self.show(record).await
    }

    /// The live record, repaired as [`Service::get`] describes.
    pub(super) async fn read(&self, who: &Identity, id: FileId) -> Result<FileRecord, ApiError> {
        let record = self.load_for(who, id, crate::model::Right::Read).await?;
        if !in_step(&record) {
            // A public copy that failed earlier: the read asks again, but never fails for it.
            if let Err(err) = self.request_publish(&record.tenant, record.id).await {
                tracing::warn!(tenant = %record.tenant, %id, error = ?err, "could not request a public copy");
            }
        }
        let Some(upload) = &record.upload else {
            return Ok(record);
        };
        let Some(info) = self.objects.head(&upload.key).await? else {
            return Ok(record);
        };
        tracing::info!(tenant = %who.tenant, %id, key = %upload.key, "repairing a record whose upload arrived without its event");
        let event = ObjectEvent {
            key: upload.key.clone(),
            size: info.size,
            etag: info.etag,
            sequencer: None,
            at: info.last_modified.unwrap_or_else(|| self.clock.now()),
        };
        match self.object_created(event).await? {
            Outcome::Updated(repaired) => Ok(*repaired),
            // Someone else finished it meanwhile, or it failed and went away: read again.
            _ => self.load(&who.tenant, id).await,
        }
    }

    /// `record` with its `contentUrl`: `None` until uploaded; for public files the stable
    /// public URL (when a public base URL is configured), else a presigned GET carrying the
    /// original name.
    pub(super) async fn show(&self, record: FileRecord) -> Result<Shown, ApiError> {
        let content_url = match (record.status, &record.content) {
            (FileStatus::Uploaded, Some(_)) => match &self.settings.public_base_url {
                Some(base) if !record.private_access && !record.is_trashed() => {
                    Some(format!("{base}/{}", public_key(&record.tenant, record.id)))
                }
                _ => Some(
                    self.download_url(&record, Disposition::Attachment, None)
                        .await?,
                ),
            },
            _ => None,
        };
        Ok(Shown {
            record,
            content_url,
        })
    }

    /// Every record with its `contentUrl`.
    pub(super) async fn show_all(&self, records: Vec<FileRecord>) -> Result<Vec<Shown>, ApiError> {
        let mut shown = Vec::with_capacity(records.len());
        for record in records {
            shown.push(self.show(record).await?);
        }
        Ok(shown)
    }

    /// A presigned GET of the record's content with `Content-Disposition: <disposition>` and
    /// the original name.
    pub(super) async fn download_url(
        &self,
        record: &FileRecord,
        disposition: Disposition,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, ApiError> {
        let Some(content) = &record.content else {
            return Err(ApiError::new(
                ProblemCode::NotUploaded,
                "the file has no content yet",
            ));
        };
        self.download_url_of(
            record,
            &content.key,
            record.mime_type.as_str(),
            disposition,
            expires_in,
        )
        .await
    }

    /// A presigned GET of `key`, one of `record`'s contents (current, or a version of type
    /// `mime_type`), presented as [`Service::download_url`] presents the current one.
    pub(super) async fn download_url_of(
        &self,
        record: &FileRecord,
        key: &str,
        mime_type: &str,
        disposition: Disposition,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, ApiError> {
        let now = self.clock.now();
        let mut lifetime = expires_in.unwrap_or(self.settings.download_url_expires_in);
        // No link outlives its record (a temp file's expiry).
        if let Some(expires_at) = record.expires_at {
            let left = u64::try_from(expires_at.millis().saturating_sub(now.millis())).unwrap_or(0);
            lifetime = lifetime.min(std::time::Duration::from_millis(left.max(1_000)));
        }
        let presigned = self
            .objects
            .presign_get(
                key,
                mime_type,
                &content_disposition(
                    safe_disposition(disposition, mime_type),
                    record.name.as_str(),
                ),
                now,
                lifetime,
            )
            .await?;
        Ok(presigned.url)
    }

    /// `GET /files/{id}/content`: where to redirect for the bytes.
    pub(crate) async fn content_redirect(
        &self,
        who: &Identity,
        id: FileId,
        disposition: Disposition,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, ApiError> {
        let record = self.read(who, id).await?;
        if record.status != FileStatus::Uploaded {
            return Err(ApiError::new(
                ProblemCode::NotUploaded,
                format!(
                    "the file is {}; it has no content to download",
                    status_name(record.status)
                ),
            ));
        }
        self.download_url(&record, disposition, expires_in).await
    }
}
