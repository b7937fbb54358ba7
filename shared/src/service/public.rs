//! Public files: the copy at `public/<tenant>/<id>` that the public URL serves, kept in step
//! with the record whatever fails on the way.
//!
//! A record remembers which content its public copy was made from (`published`). It is *in
//! step* when that is its content while it is public and uploaded, and nothing otherwise. Every
//! write checks it. A write that itself makes a small file public (or lands new content of a
//! public file) copies at once, so the public URL works when the answer arrives; anything else
//! out of step (a large file, a copy that failed, a record that was already out of step) is
//! handed to the publish worker by writing a job marker (`jobs/publish/<tenant>/<id>`), whose
//! S3 event runs [`Service::publish`] on AWS (the `publish-file` function) and in
//! `stowage-local` alike. Reads of an out-of-step record request the job again. The worker
//! copies objects of any size: `CopyObject` up to the inline limit, `UploadPartCopy` in
//! parallel parts above it (S3's 5 GiB copy limit does not apply). Every path converges: a
//! failed copy leaves the record out of step, and the next write, read, event retry or job
//! retry repairs it. A public file's thumbnails are copied beside its copy, and withdrawn with
//! it.
//!
//! Private means private, whatever is in flight: a write that makes a file private withdraws
//! its copy even when the record says none was made yet (one may be being made); a copy that
//! lands after the record moved on (made private, deleted, expired, or given new content) is
//! withdrawn or redone by the step that made it, which reads the record again; and the record
//! of which copy exists is part of every compare-and-swap, so no concurrent write loses it.

use super::Service;
use crate::blob::ObjectStore;
use crate::error::ApiError;
use crate::keys::{public_key, publish_job_key};
use crate::model::{FileId, FileRecord, FileStatus, TenantId};
use crate::store::MetadataStore;
use crate::store::StoreError;

/// S3's largest part, and so the largest piece of one `UploadPartCopy`.
const MAX_COPY_PART: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;
/// Attempts to record a finished copy against concurrent writers.
const MARK_ATTEMPTS: usize = 5;

/// The content key the public copy should be made from: the content of a public, uploaded
/// record; `None` for every other record.
fn wanted(record: &FileRecord) -> Option<&str> {
    match (&record.content, record.status, record.private_access) {
        // A trashed file is not served, public or not.
        _ if record.is_trashed() => None,
        (Some(content), FileStatus::Uploaded, false) => Some(content.key.as_str()),
        _ => None,
    }
}

/// Whether the public copy is what the record says it should be.
pub(super) fn in_step(record: &FileRecord) -> bool {
    wanted(record) == record.published.as_deref()
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Brings the public copy in step after a write from `previous` to `record`: at once when
    /// this write made the difference and the copy is small, through the worker otherwise.
    pub(super) async fn keep_public_in_step(
        &self,
        previous: &FileRecord,
        record: &FileRecord,
    ) -> Result<(), ApiError> {
        let caused_here = wanted(previous) != wanted(record);
        if in_step(record) {
            if caused_here && wanted(record).is_none() {
                // Made private (or its content withdrawn) while a copy may be in flight: the
                // copy's maker withdraws what lands later; this withdraws what is there now.
                if let Err(err) = self.withdraw(&record.tenant, record.id).await {
                    tracing::warn!(tenant = %record.tenant, id = %record.id, error = ?err, "withdrawing the public copy failed; the publish worker retries it");
                    self.request_publish(&record.tenant, record.id).await?;
                }
            }
            return Ok(());
        }
        // Withdrawing a copy is one delete; making one is quick only for small objects.
        let quick = wanted(record).is_none()
            || record
                .size
                .is_none_or(|size| size <= self.settings.inline_copy_limit);
        if caused_here && quick {
            match self.publish_record(record).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tracing::warn!(tenant = %record.tenant, id = %record.id, error = ?err, "the public copy failed; the publish worker retries it");
                }
            }
        }
        self.request_publish(&record.tenant, record.id).await
    }

    /// Asks the worker to bring a record's public copy in step.
    pub(super) async fn request_publish(
        &self,
        tenant: &TenantId,
        id: FileId,
    ) -> Result<(), ApiError> {
        self.objects.put_empty(&publish_job_key(tenant, id)).await?;
        Ok(())
    }

    /// Deletes a finished job's marker; a marker left behind only runs a job that finds nothing
    /// to do (and the bucket's lifecycle rule expires it).
    pub(crate) async fn job_done(&self, marker: &str) {
        if let Err(err) = self.objects.delete(marker).await {
            tracing::warn!(%marker, error = ?err, "could not delete a finished job's marker");
        }
    }

    /// The publish worker: brings the public copy of `id` in step, copying objects of any
    /// size. A record that is gone has its copy withdrawn; one that expired too, and records
    /// that it has none; one already in step needs nothing.
    pub async fn publish(&self, tenant: &TenantId, id: FileId) -> Result<(), ApiError> {
        let now = self.clock.now();
        let Some(record) = self.store.get(tenant, id).await? else {
            // Gone while the job waited: its copy, if any, goes too (the removal's cleanup
            // deletes it as well; deleting twice is harmless).
            return self.withdraw(tenant, id).await;
        };
        if record.is_expired(now) {
            // Expired, not yet removed (DynamoDB's TTL takes hours): nothing of it is served.
            self.withdraw(tenant, id).await?;
            return self.mark_published(&record, None).await;
        }
        // A private record's copy is withdrawn even when the record says there is none.
        if in_step(&record) && wanted(&record).is_some() {
            return Ok(());
        }
        self.publish_record(&record).await
    }

    /// The publish worker's sweep (every minute on AWS; each sweep of `stowage-local`): the
    /// public copies of records that expired are withdrawn at once, not when the store's own
    /// expiry removes the records (on DynamoDB, hours later). Returns how many; what fails is
    /// logged and found again by the next sweep.
    pub async fn withdraw_expired_public(&self) -> Result<usize, ApiError> {
        /// Records handled per sweep; the next sweep takes the rest.
        const PER_SWEEP: usize = 1_000;
        let now = self.clock.now();
        let mut withdrawn = 0;
        for record in self.store.expired_public(now, PER_SWEEP).await? {
            match self.publish(&record.tenant, record.id).await {
                Ok(()) => withdrawn += 1,
                Err(err) => {
                    tracing::warn!(tenant = %record.tenant, id = %record.id, error = ?err, "could not withdraw an expired file's public copy; the next sweep retries")
                }
            }
        }
        Ok(withdrawn)
    }

    /// Deletes the public copy of `id` and its thumbnails' copies.
    async fn withdraw(&self, tenant: &TenantId, id: FileId) -> Result<(), ApiError> {
        self.objects.delete(&public_key(tenant, id)).await?;
        self.withdraw_thumbnails(tenant, id).await
    }

    /// Copies (or withdraws) the public copy for `record`, then records what it reflects.
    async fn publish_record(&self, record: &FileRecord) -> Result<(), ApiError> {
        let alias = public_key(&record.tenant, record.id);
        match wanted(record) {
            Some(source) => {
                self.copy_object(source, &alias, record.size.unwrap_or(0))
                    .await?;
                // Thumbnails made later are copied by their maker (`thumbnail.rs`).
                self.publish_thumbnails(record, source).await?;
            }
            None => self.withdraw(&record.tenant, record.id).await?,
        }
        self.mark_published(record, wanted(record).map(str::to_owned))
            .await
    }

    /// Copies `from` (`size` bytes) to `to` in the bucket, any size: one `CopyObject` up to the
    /// inline copy limit, parallel `UploadPartCopy`s above it (S3's `CopyObject` stops at 5 GiB).
    pub(super) async fn copy_object(
        &self,
        from: &str,
        to: &str,
        size: u64,
    ) -> Result<(), ApiError> {
        let limit = self.settings.inline_copy_limit;
        if size <= limit {
            self.objects.copy(from, to).await?;
        } else {
            let part_size = limit.max(size.div_ceil(MAX_PARTS)).min(MAX_COPY_PART);
            self.objects
                .copy_in_parts(from, to, size, part_size)
                .await?;
        }
        Ok(())
    }

    /// Records that the public copy now reflects `source` (`None`: withdrawn), reading the
    /// record again: if it moved on meanwhile (made private, deleted, expired, or given other
    /// content), what this step did is undone or redone, so no copy outlives the record's
    /// wish. The version stays: nothing a client sees changes.
    async fn mark_published(
        &self,
        copied_for: &FileRecord,
        source: Option<String>,
    ) -> Result<(), ApiError> {
        let (tenant, id) = (&copied_for.tenant, copied_for.id);
        for _ in 0..MARK_ATTEMPTS {
            let now = self.clock.now();
            let Some(current) = self.store.get(tenant, id).await? else {
                if source.is_some() {
                    self.withdraw(tenant, id).await?;
                }
                return Ok(());
            };
            // An expired record wants no copy, and says so (so the sweep finds it no more).
            let wants = if current.is_expired(now) {
                None
            } else {
                wanted(&current).map(str::to_owned)
            };
            let recorded = if wants == source {
                source.clone()
            } else {
                // Moved on: undo (private now) or redo (other content) what this step did,
                // and record that no copy is known to be in step until that is done.
                match wants {
                    None => self.withdraw(tenant, id).await?,
                    Some(_) => self.request_publish(tenant, id).await?,
                }
                None
            };
            if current.published == recorded {
                return Ok(());
            }
            let mut marked = current.clone();
            marked.published = recorded;
            match self.store.replace(&current, &marked, now).await {
                Err(StoreError::Conflict) => continue,
                other => return Ok(other?),
            }
        }
        Ok(())
    }
}
