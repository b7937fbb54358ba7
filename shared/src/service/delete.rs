//! `DELETE /files/{id}` and `POST /files/delete`: the record goes through the write path, then
//! its bytes.

use futures_util::stream::{self, StreamExt};

use super::access::By;
use super::read::Shown;
use super::write::{Cleanup, Plan};
use super::{Service, View};
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{FileId, FileKind, FileRecord, Right, Timestamp};
use crate::store::MetadataStore;
use crate::validate::{BatchDelete, ListQuery};

/// Deletes run this many at a time.
const DELETE_CONCURRENCY: usize = 16;

/// The answer to a batch delete, each list in request order (by filter: newest first, and
/// where the next call goes on).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub deleted: Vec<FileId>,
    pub not_found: Vec<FileId>,
    /// A delete by filter: `Some(cursor)` while more files may match, `Some(None)` when done;
    /// `None` for a delete by ids.
    pub next_cursor: Option<Option<String>>,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Deletes the file: into the trash in a collection with `trashDays` (an uploaded client
    /// file, unless `permanent`), else the record and then its bytes. `permanent` also deletes
    /// a file that is in the trash. `404` if it is gone (or never was), `412` if `if_match` is
    /// not its version.
    pub async fn delete(
        &self,
        who: &Identity,
        id: FileId,
        if_match: Option<u64>,
        permanent: bool,
    ) -> Result<(), ApiError> {
        let view = if permanent { View::Any } else { View::Live };
        // Boxed: the change reads the collection's rules inside the write's retry loop, which
        // makes a large future for every caller that awaits a delete.
        Box::pin(self.modify_in(
            view,
            By::Caller(who, Right::Delete),
            id,
            if_match,
            |current, now| async move {
                let days = if permanent
                    || current.is_trashed()
                    || current.kind != FileKind::Client
                    || current.content.is_none()
                {
                    0
                } else {
                    // The rules as creates read them: remembered for 30 s by a warm function,
                    // so a delete costs no read of the collection beside its record's.
                    let (rules, _, _) = self
                        .admission_cached(&current.tenant, &current.collection)
                        .await?;
                    rules.trash_days_or(self.settings.default_trash_days)
                };
                if days == 0 {
                    return Ok((Plan::remove(), ()));
                }
                Ok((trash(current, now, days), ()))
            },
        ))
        .await
        .map(|_| ())
    }

    /// `POST /files/{id}/restore`: a file in the trash comes back as it was. `409 not_trashed`
    /// for a live file.
    pub async fn restore(&self, who: &Identity, id: FileId) -> Result<Shown, ApiError> {
        let (record, ()) = self
            .modify_in(
                View::Any,
                By::Caller(who, Right::Delete),
                id,
                None,
                |current, _| {
                    std::future::ready(if current.is_trashed() {
                        let mut next = current;
                        next.trashed_at = None;
                        next.expires_at = None;
                        Ok((Plan::write(next), ()))
                    } else {
                        Err(ApiError::new(
                            ProblemCode::NotTrashed,
                            format!("file {id} is not in the trash"),
                        ))
                    })
                },
            )
            .await?;
        self.show(record).await
    }

    /// Deletes up to 1000 records (and their bytes), reporting which were not found.
    pub async fn delete_many(
        &self,
        who: &Identity,
        batch: &BatchDelete,
    ) -> Result<Deleted, ApiError> {
        if !who.caller().app {
            // All or none of what the caller sees: a file it may read but not delete refuses
            // the whole batch before anything is deleted.
            let now = self.clock.now();
            for (at, id) in batch.ids.iter().enumerate() {
                let Some(record) = self.store.get(&who.tenant, *id).await? else {
                    continue;
                };
                if record.is_expired(now) || (record.is_trashed() && !batch.permanent) {
                    continue;
                }
                match self.permit(who, &record, Right::Delete).await {
                    Err(err) if err.is(ProblemCode::Forbidden) => {
                        return Err(ApiError::new(
                            ProblemCode::Forbidden,
                            format!("[{at}]: you may read file {id} but lack the right to delete; nothing was deleted"),
                        ))
                    }
                    _ => {}
                }
            }
        }
        let results: Vec<(FileId, Result<(), ApiError>)> = stream::iter(batch.ids.iter().copied())
            .map(|id| async move { (id, self.delete(who, id, None, batch.permanent).await) })
            .buffered(DELETE_CONCURRENCY)
            .collect()
            .await;
        let mut answer = Deleted::default();
        for (id, result) in results {
            match result {
                Ok(()) => answer.deleted.push(id),
                Err(err) if err.is(ProblemCode::NotFound) => answer.not_found.push(id),
                Err(other) => return Err(other),
            }
        }
        Ok(answer)
    }

    /// Deletes the files `query`'s filters match, one listing page (at most 1,000) a call,
    /// newest first; the answer's cursor goes on where this one stopped. A file deleted by
    /// someone else between the read and the delete is `notFound`.
    pub async fn delete_matching(
        &self,
        who: &Identity,
        query: &ListQuery,
        permanent: bool,
    ) -> Result<Deleted, ApiError> {
        let (records, next_cursor, _) = self.read_page(who, query).await?;
        let batch = BatchDelete {
            ids: records.iter().map(|r| r.id).collect(),
            permanent,
        };
        let mut answer = self.delete_many(who, &batch).await?;
        answer.next_cursor = Some(next_cursor);
        Ok(answer)
    }
}

/// `current` moved to the trash for `days`: hidden, purged at `expiresAt`, its open upload
/// (if any) given up. It keeps its content, versions, grants and its place in usage.
fn trash(current: FileRecord, now: Timestamp, days: u32) -> Plan {
    let mut next = current;
    next.trashed_at = Some(now);
    next.expires_at = Some(now.plus_seconds(u64::from(days) * 86_400));
    let abandoned = next.upload.take().and_then(|upload| {
        upload.multipart.map(|plan| Cleanup::AbortReplacedUpload {
            key: upload.key,
            upload_id: plan.upload_id,
        })
    });
    Plan::write(next).then(abandoned)
}
