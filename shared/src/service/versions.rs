//! A file's versions: the earlier contents a collection with `versions` keeps. Listing them,
//! downloading one, restoring one (a server-side copy that lands as a new upload, so the
//! content it replaces becomes a version in turn), deleting one.

use super::access::By;
use super::completion::{ObjectEvent, Outcome};
use super::read::Shown;
use super::write::{Cleanup, Plan};
use super::Service;
use crate::blob::{Disposition, ObjectStore};
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::keys::ObjectKey;
use crate::model::{ContentVersion, FileId, FileRecord, OpenUpload, Right};
use crate::store::MetadataStore;

/// One entry of `GET /files/{id}/versions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub version: ContentVersion,
    pub current: bool,
}

fn version_not_found(id: FileId, version: u32) -> ApiError {
    ApiError::new(
        ProblemCode::VersionNotFound,
        format!("file {id} has no version {version}"),
    )
}

fn current_version(id: FileId, version: u32) -> ApiError {
    ApiError::new(
        ProblemCode::CurrentVersion,
        format!("version {version} is file {id}'s current content"),
    )
}

/// The kept version `version` of `record`: `409 current_version` for its current content,
/// `404 version_not_found` for a number it does not keep.
fn kept(record: &FileRecord, version: u32) -> Result<&ContentVersion, ApiError> {
    if record
        .current_version()
        .is_some_and(|c| c.version == version)
    {
        return Err(current_version(record.id, version));
    }
    record
        .versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| version_not_found(record.id, version))
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// `GET /files/{id}/versions`: the current content first, then the kept ones, newest
    /// first (empty for a file with no content yet).
    pub async fn versions(
        &self,
        who: &Identity,
        id: FileId,
    ) -> Result<Vec<VersionEntry>, ApiError> {
        let record = self.load_for(who, id, Right::Read).await?;
        let current = record.current_version().map(|version| VersionEntry {
            version,
            current: true,
        });
        Ok(current
            .into_iter()
            .chain(record.versions.iter().cloned().map(|version| VersionEntry {
                version,
                current: false,
            }))
            .collect())
    }

    /// `GET /files/{id}/versions/{version}/content`: where to redirect for that version's
    /// bytes (the current one's too).
    pub async fn version_redirect(
        &self,
        who: &Identity,
        id: FileId,
        version: u32,
        disposition: Disposition,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, ApiError> {
        let record = self.load_for(who, id, Right::Read).await?;
        let entry = match record.current_version().filter(|c| c.version == version) {
            Some(current) => current,
            None => record
                .versions
                .iter()
                .find(|v| v.version == version)
                .cloned()
                .ok_or_else(|| version_not_found(id, version))?,
        };
        self.download_url_of(
            &record,
            &entry.key,
            entry.mime_type.as_str(),
            disposition,
            expires_in,
        )
        .await
    }

    /// `DELETE /files/{id}/versions/{version}`: the version and its bytes (and thumbnails) go.
    pub async fn delete_version(
        &self,
        who: &Identity,
        id: FileId,
        version: u32,
    ) -> Result<(), ApiError> {
        self.modify(By::Caller(who, Right::Delete), id, None, |current, _| {
            let key = kept(current, version)?.key.clone();
            let mut next = current.clone();
            next.versions.retain(|v| v.version != version);
            Ok(Plan::write(next).then([Cleanup::DeleteObject(key)]))
        })
        .await
        .map(|_| ())
    }

    /// `POST /files/{id}/versions/{version}/restore`: the version's bytes are copied (in S3,
    /// any size) to a new upload of the file, which then lands as an upload does: the
    /// content it replaces becomes a version (if the collection keeps any), and events,
    /// thumbnails and the public copy follow. Needs the right to upload the file.
    pub async fn restore_version(
        &self,
        who: &Identity,
        id: FileId,
        version: u32,
    ) -> Result<Shown, ApiError> {
        // Boxed: a write, a copy and a completion make a large future, and the table of every
        // route's handler (`http::handle`) is as large as its largest.
        Box::pin(self.restore_version_now(who, id, version)).await
    }

    async fn restore_version_now(
        &self,
        who: &Identity,
        id: FileId,
        version: u32,
    ) -> Result<Shown, ApiError> {
        // 1. The record expects the copy at a new key before it exists, so that the copy's
        //    own S3 event finds its upload and not an orphan.
        let (opened, source) = self
            .modify_with(
                By::Caller(who, Right::Upload),
                id,
                None,
                move |current, now| async move {
                    let source = kept(&current, version)?.clone();
                    let (rules, admission) =
                        self.admission(&current.tenant, &current.collection).await?;
                    let revision = current.revision + 1;
                    let key = ObjectKey {
                        kind: current.kind,
                        tenant: current.tenant.clone(),
                        id: current.id,
                        revision,
                    }
                    .render();
                    let replaced = current.upload.as_ref().and_then(|upload| {
                        upload
                            .multipart
                            .as_ref()
                            .map(|plan| Cleanup::AbortReplacedUpload {
                                key: upload.key.clone(),
                                upload_id: plan.upload_id.clone(),
                            })
                    });
                    let mut next = current.clone();
                    next.revision = revision;
                    next.mime_type = source.mime_type.clone();
                    next.checksum_sha256 = source.checksum_sha256.clone();
                    next.expected_size = Some(source.size);
                    next.upload = Some(OpenUpload {
                        revision,
                        key,
                        url_expires_at: now.plus_seconds(3_600),
                        multipart: None,
                        max_size: None,
                        opened_by: Some(who.user.clone()),
                        keep_versions: rules.versions,
                        restoring: Some(version),
                    });
                    Ok((Plan::write(next).within(admission).then(replaced), source))
                },
            )
            .await?;
        let target = opened
            .upload
            .as_ref()
            .map(|u| u.key.clone())
            .expect("the restore's upload was just written");
        // 2. The copy. A copy that fails leaves the upload open, to expire like any other;
        //    the file keeps its content. 3. It lands now rather than when S3's event arrives.
        let record = self
            .copy_and_land(&source.key, &target, source.size)
            .await?;
        let record = match record {
            Some(record) => record,
            // Its S3 event got there first.
            None => self.load(&who.tenant, id).await?,
        };
        self.show(record).await
    }

    /// Copies `from` (`size` bytes) to `to` in the bucket (any size: `UploadPartCopy`s above
    /// the inline copy limit), then lands it on the record whose open upload is `to`, as its
    /// S3 event would (which then changes nothing). `None`: the event got there first.
    pub(super) async fn copy_and_land(
        &self,
        from: &str,
        to: &str,
        size: u64,
    ) -> Result<Option<FileRecord>, ApiError> {
        self.copy_object(from, to, size).await?;
        let info = self
            .objects
            .head(to)
            .await?
            .ok_or_else(|| ApiError::internal(format!("the copy {to} is not in the bucket")))?;
        let event = ObjectEvent {
            key: to.to_owned(),
            size: info.size,
            etag: info.etag,
            sequencer: None,
            at: self.clock.now(),
        };
        Ok(match self.object_created(event).await? {
            Outcome::Updated(record) => Some(*record),
            _ => None,
        })
    }
}
