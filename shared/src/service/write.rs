//! The one write path for existing records. A change is a function from the current record to
//! a [`Plan`]; [`Service::modify`] loads the record, checks `If-Match`, applies the change,
//! writes it with a compare-and-swap on the version, retries on contention with one policy,
//! and then does what the change implies: keep the public copy in step (`public.rs`), delete
//! replaced objects, abort replaced uploads, clean up after a removed record.

use std::future::Future;
use std::time::Duration;

use super::access::By;
use super::public::in_step;
use super::thumbnail::{public_thumbnail_keys, thumbnail_keys};
use super::{Service, View};
use crate::blob::ObjectStore;
use crate::error::ApiError;
use crate::identity::Identity;
use crate::keys::{public_key, ObjectKey};
use crate::model::{FileId, FileRecord, Right, Timestamp};
use crate::store::MetadataStore;
use crate::store::{Change, StoreError};

/// Attempts of one write before a writer that keeps losing the race gives up with `412`.
pub(super) const WRITE_ATTEMPTS: u32 = 8;

/// What a change does to the record.
#[derive(Debug)]
pub(crate) enum Edit {
    /// Nothing to write.
    Keep,
    /// Store this record (its version and `updatedAt` are set by the write path).
    Write(Box<FileRecord>),
    /// Delete the record, and then its objects.
    Remove,
}

/// Object-store work that follows a successful write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cleanup {
    /// Delete an object the record no longer points at.
    DeleteObject(String),
    /// Abort a multipart upload the record no longer holds.
    AbortUpload { key: String, upload_id: String },
    /// Abort a multipart upload that a new one replaced; a failure is only logged (the
    /// bucket's lifecycle rule aborts incomplete uploads).
    AbortReplacedUpload { key: String, upload_id: String },
}

/// A change's decision: the edit, the cleanup that follows it, and the cleanup for work the
/// change did in preparation that is void if the write does not happen (a multipart upload it
/// opened, say).
#[derive(Debug)]
pub(crate) struct Plan {
    pub edit: Edit,
    pub cleanup: Vec<Cleanup>,
    pub abandon: Vec<Cleanup>,
    /// For a write that may reserve more (a new upload): the limits it must stay within.
    pub admission: Option<crate::model::Admission>,
}

impl Plan {
    /// Leave the record as it is.
    pub(crate) fn keep() -> Self {
        Plan {
            edit: Edit::Keep,
            cleanup: Vec::new(),
            abandon: Vec::new(),
            admission: None,
        }
    }

    /// Store `record`.
    pub(crate) fn write(record: FileRecord) -> Self {
        Plan {
            edit: Edit::Write(Box::new(record)),
            cleanup: Vec::new(),
            abandon: Vec::new(),
            admission: None,
        }
    }

    /// Delete the record.
    pub(crate) fn remove() -> Self {
        Plan {
            edit: Edit::Remove,
            cleanup: Vec::new(),
            abandon: Vec::new(),
            admission: None,
        }
    }

    /// The same plan, followed by `cleanup`.
    pub(crate) fn then(mut self, cleanup: impl IntoIterator<Item = Cleanup>) -> Self {
        self.cleanup.extend(cleanup);
        self
    }

    /// The same plan, written within `admission`'s limits.
    pub(crate) fn within(mut self, admission: crate::model::Admission) -> Self {
        self.admission = Some(admission);
        self
    }

    /// The same plan, with `cleanup` to run if its write does not happen.
    pub(crate) fn or_else(mut self, cleanup: impl IntoIterator<Item = Cleanup>) -> Self {
        self.abandon.extend(cleanup);
        self
    }
}

/// `412` unless `if_match` is absent or the record's version.
fn check_version(record: &FileRecord, if_match: Option<u64>) -> Result<(), ApiError> {
    match if_match {
        Some(version) if version != record.version => Err(ApiError::version_mismatch()),
        _ => Ok(()),
    }
}

/// A short pause before retrying a lost race, growing with each attempt.
pub(super) async fn back_off(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
    }
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Applies `change` to the live record `id` of `tenant` (see the module docs). `404` if it
    /// is gone, `412` if `if_match` is not its version.
    pub(crate) async fn modify(
        &self,
        by: By<'_>,
        id: FileId,
        if_match: Option<u64>,
        mut change: impl FnMut(&FileRecord, Timestamp) -> Result<Plan, ApiError>,
    ) -> Result<FileRecord, ApiError> {
        let (record, ()) = self
            .modify_with(by, id, if_match, |current, now| {
                std::future::ready(change(&current, now).map(|plan| (plan, ())))
            })
            .await?;
        Ok(record)
    }

    /// [`Service::modify`] for a change that does asynchronous work before it decides (asks
    /// the object store, presigns, opens an upload) and hands a result of its own back.
    pub(crate) async fn modify_with<F, Fut, T>(
        &self,
        by: By<'_>,
        id: FileId,
        if_match: Option<u64>,
        change: F,
    ) -> Result<(FileRecord, T), ApiError>
    where
        F: FnMut(FileRecord, Timestamp) -> Fut,
        Fut: Future<Output = Result<(Plan, T), ApiError>>,
    {
        self.modify_in(View::Live, by, id, if_match, change).await
    }

    /// [`Service::modify_with`] for the records `view` shows (the trash's routes, completion).
    pub(crate) async fn modify_in<F, Fut, T>(
        &self,
        view: View,
        by: By<'_>,
        id: FileId,
        if_match: Option<u64>,
        mut change: F,
    ) -> Result<(FileRecord, T), ApiError>
    where
        F: FnMut(FileRecord, Timestamp) -> Fut,
        Fut: Future<Output = Result<(Plan, T), ApiError>>,
    {
        for attempt in 0..WRITE_ATTEMPTS {
            back_off(attempt).await;
            let now = self.clock.now();
            let current = self.load_in(view, by.tenant(), id).await?;
            if let By::Caller(who, right) = by {
                // Before `If-Match`: a file the caller may not read answers like a missing one.
                self.permit(who, &current, right).await?;
            }
            check_version(&current, if_match)?;
            let (plan, output) = change(current.clone(), now).await?;
            let Plan {
                edit,
                cleanup,
                abandon,
                admission,
            } = plan;
            let written = match edit {
                Edit::Keep => Ok(None),
                Edit::Write(next) => {
                    let mut next = *next;
                    next.version = current.version + 1;
                    next.updated_at = now;
                    next.actor = by.actor();
                    let result = match &admission {
                        Some(admission) => {
                            self.store
                                .replace_within(&current, &next, admission, now)
                                .await
                        }
                        None => self.store.replace(&current, &next, now).await,
                    };
                    result.map(|()| Some(Edit::Write(Box::new(next))))
                }
                Edit::Remove => self
                    .remove_as(&current, by.actor(), now)
                    .await
                    .map(|()| Some(Edit::Remove)),
            };
            let record = match written {
                Ok(None) => {
                    if !in_step(&current) {
                        // Out of step since an earlier failure: this change repairs it.
                        self.request_publish(&current.tenant, current.id).await?;
                    }
                    current
                }
                Ok(Some(Edit::Write(next))) => {
                    self.keep_public_in_step(&current, &next).await?;
                    *next
                }
                Ok(Some(_)) => {
                    if let Err(err) = self.removed(&current).await {
                        // The record is gone; its change in the table stream (or the local
                        // change log) retries the cleanup until it succeeds.
                        tracing::warn!(tenant = %current.tenant, id = %current.id, error = ?err, "a deleted file's objects remain until the stream cleanup retries");
                    }
                    current
                }
                Err(err) => {
                    self.abandon(&abandon).await;
                    match err {
                        StoreError::Conflict | StoreError::AdmissionStale => continue,
                        other => return Err(other.into()),
                    }
                }
            };
            self.clean_up(&cleanup).await?;
            return Ok((record, output));
        }
        Err(ApiError::version_mismatch())
    }

    /// Deletes `current`. A caller's delete of a record whose last change was someone else's
    /// first writes the record naming the deleter (`deleting`, no event of its own), so the
    /// removal the table stream carries names who deleted it (the event's `actor`).
    async fn remove_as(
        &self,
        current: &FileRecord,
        actor: Option<crate::model::Actor>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if actor.is_none() || current.actor == actor {
            return self.store.delete(current).await;
        }
        let mut named = current.clone();
        named.version = current.version + 1;
        named.updated_at = now;
        named.actor = actor;
        named.deleting = true;
        self.store.replace(current, &named, now).await?;
        self.store.delete(&named).await
    }

    /// Applies `change` to several records of `tenant` at once, all or none (one transaction):
    /// the batch update. `change` gets each record's position and returns its new state, or
    /// `None` to leave it; field errors are collected from every record and named by position.
    pub(crate) async fn modify_many(
        &self,
        who: &Identity,
        ids: &[FileId],
        mut change: impl FnMut(usize, &FileRecord) -> Result<Option<FileRecord>, ApiError>,
    ) -> Result<Vec<FileRecord>, ApiError> {
        for attempt in 0..WRITE_ATTEMPTS {
            back_off(attempt).await;
            let now = self.clock.now();
            let mut pairs = Vec::with_capacity(ids.len());
            let mut errors = Vec::new();
            for (at, id) in ids.iter().enumerate() {
                let current = match self.load(&who.tenant, *id).await {
                    Ok(current) => self
                        .permit(who, &current, Right::Write)
                        .await
                        .map(|()| current),
                    Err(err) => Err(err),
                };
                let current = current.map_err(|err| {
                    if err.is(crate::error::ProblemCode::NotFound) {
                        ApiError::new(
                            crate::error::ProblemCode::NotFound,
                            format!("[{at}].id: no file with id {id}"),
                        )
                    } else {
                        err
                    }
                })?;
                match change(at, &current) {
                    Ok(next) => {
                        let next = next.map(|mut next| {
                            next.version = current.version + 1;
                            next.updated_at = now;
                            next.actor = Some(who.actor());
                            next
                        });
                        pairs.push((current, next));
                    }
                    Err(ApiError::Validation(field_errors)) => {
                        errors.extend(field_errors.into_iter().map(|e| {
                            crate::model::FieldError::new(format!("[{at}].{}", e.field), e.message)
                        }))
                    }
                    Err(other) => return Err(other),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let changes: Vec<Change<'_>> = pairs
                .iter()
                .filter_map(|(previous, next)| next.as_ref().map(|next| Change { previous, next }))
                .collect();
            if !changes.is_empty() {
                match self.store.replace_many(&changes, None, now).await {
                    Err(StoreError::Conflict) => continue,
                    other => other?,
                }
            }
            let mut records = Vec::with_capacity(pairs.len());
            for (previous, next) in pairs {
                match next {
                    Some(next) => {
                        self.keep_public_in_step(&previous, &next).await?;
                        records.push(next);
                    }
                    None => records.push(previous),
                }
            }
            return Ok(records);
        }
        Err(ApiError::version_mismatch())
    }

    /// Undoes what a change prepared for a write that did not happen; failures are logged (the
    /// bucket's lifecycle rule aborts incomplete uploads).
    pub(super) async fn abandon(&self, abandon: &[Cleanup]) {
        for step in abandon {
            let result = match step {
                Cleanup::DeleteObject(key) => self.objects.delete(key).await,
                Cleanup::AbortUpload { key, upload_id }
                | Cleanup::AbortReplacedUpload { key, upload_id } => {
                    self.objects.abort_multipart(key, upload_id).await
                }
            };
            if let Err(err) = result {
                tracing::warn!(?step, error = ?err, "could not undo the preparation of a write that did not happen");
            }
        }
    }

    /// Runs the cleanup that follows a write.
    async fn clean_up(&self, cleanup: &[Cleanup]) -> Result<(), ApiError> {
        for step in cleanup {
            match step {
                Cleanup::DeleteObject(key) => {
                    for key in with_thumbnails([key.clone()]) {
                        self.objects.delete(&key).await?;
                    }
                }
                Cleanup::AbortUpload { key, upload_id } => {
                    self.objects.abort_multipart(key, upload_id).await?
                }
                Cleanup::AbortReplacedUpload { key, upload_id } => {
                    if let Err(err) = self.objects.abort_multipart(key, upload_id).await {
                        tracing::warn!(%key, error = ?err, "could not abort a replaced multipart upload");
                    }
                }
            }
        }
        Ok(())
    }

    /// Uncounts a record its expiry removed (DynamoDB TTL), once however often it is called.
    pub async fn release_expired(&self, record: &FileRecord) -> Result<(), ApiError> {
        Ok(self.store.release_expired(record).await?)
    }

    /// Cleans up after a record that is gone, however it went (the API, DynamoDB TTL, the local
    /// expiry sweep): its objects, and any secondary items the store keeps. Idempotent: what is
    /// already gone counts as done, so a failed cleanup can simply run again.
    pub async fn removed(&self, record: &FileRecord) -> Result<(), ApiError> {
        self.remove_objects(record).await?;
        self.store.forget(record).await?;
        Ok(())
    }

    /// Deletes every object a removed record may have left: its content, an upload in flight,
    /// its public copy, and the thumbnails of each. Deleting what is already gone succeeds.
    async fn remove_objects(&self, record: &FileRecord) -> Result<(), ApiError> {
        let mut keys: Vec<String> = Vec::new();
        if let Some(content) = &record.content {
            keys.push(content.key.clone());
        }
        keys.extend(record.versions.iter().map(|v| v.key.clone()));
        if let Some(upload) = &record.upload {
            if let Some(plan) = &upload.multipart {
                self.objects
                    .abort_multipart(&upload.key, &plan.upload_id)
                    .await?;
            }
            keys.push(upload.key.clone());
        }
        keys.push(public_key(&record.tenant, record.id));
        keys.extend(public_thumbnail_keys(&record.tenant, record.id));
        for key in with_thumbnails(keys) {
            self.objects.delete(&key).await?;
        }
        Ok(())
    }
}

/// `keys`, each content key followed by its thumbnails' keys (content goes with its
/// thumbnails).
fn with_thumbnails(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all = Vec::new();
    for key in keys {
        let content = ObjectKey::parse(&key).is_some();
        all.push(key.clone());
        if content {
            all.extend(thumbnail_keys(&key));
        }
    }
    all
}
