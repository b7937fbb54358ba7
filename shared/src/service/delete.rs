//! `DELETE /files/{id}` and `POST /files/delete`: the record goes through the write path, then
//! its bytes.

use futures_util::stream::{self, StreamExt};

use super::write::Plan;
use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::FileId;
use crate::store::MetadataStore;
use crate::validate::BatchDelete;

/// Deletes run this many at a time.
const DELETE_CONCURRENCY: usize = 16;

/// The answer to a batch delete, each list in request order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub deleted: Vec<FileId>,
    pub not_found: Vec<FileId>,
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
        self.modify(&who.tenant, id, if_match, |_, _| Ok(Plan::remove()))
            .await
            .map(|_| ())
    }

    /// Deletes up to 1000 records (and their bytes), reporting which were not found.
    pub async fn delete_many(
        &self,
        who: &Identity,
        batch: &BatchDelete,
    ) -> Result<Deleted, ApiError> {
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
}
