//! `DELETE /files/{id}` and `POST /files/delete`: the record goes through the write path, then
//! its bytes.

use futures_util::stream::{self, StreamExt};

use super::access::By;
use super::write::Plan;
use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{FileId, Right};
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
    /// Deletes the record, then its bytes. `404` if it is gone (or never was), `412` if
    /// `if_match` is not its version.
    pub async fn delete(
        &self,
        who: &Identity,
        id: FileId,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.modify(By::Caller(who, Right::Delete), id, if_match, |_, _| {
            Ok(Plan::remove())
        })
        .await
        .map(|_| ())
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
                if record.is_expired(now) {
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
            .map(|id| async move { (id, self.delete(who, id, None).await) })
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
    ) -> Result<Deleted, ApiError> {
        let (records, next_cursor, _) = self.read_page(who, query).await?;
        let batch = BatchDelete {
            ids: records.iter().map(|r| r.id).collect(),
        };
        let mut answer = self.delete_many(who, &batch).await?;
        answer.next_cursor = Some(next_cursor);
        Ok(answer)
    }
}
