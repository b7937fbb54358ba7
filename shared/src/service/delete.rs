//! `DELETE /files/{id}`, `POST /files/delete`, and what happens to the bytes of a record that
//! is removed by any path (the API, DynamoDB TTL, the local expiry sweep).

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::{check_version, Service};
use crate::error::{ApiError, FieldError};
use crate::identity::Identity;
use crate::model::{FileId, FileRecord};
use crate::store::StoreError;

/// Most ids in one `POST /files/delete`.
pub const MAX_BATCH_DELETES: usize = 1_000;
/// Deletes run this many at a time.
const DELETE_CONCURRENCY: usize = 16;

/// The answer to a batch delete, each list in request order.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub deleted: Vec<FileId>,
    pub not_found: Vec<FileId>,
}

impl Service {
    /// Deletes the record, then its bytes. `404` if it is gone (or never was), `412` if
    /// `if_match` is not its version.
    pub async fn delete(
        &self,
        who: &Identity,
        id: FileId,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        for _ in 0..3 {
            let current = self.load(&who.tenant, id).await?;
            check_version(&current, if_match)?;
            match self.store.delete(&current).await {
                Ok(()) => {
                    self.removed(&current).await;
                    return Ok(());
                }
                Err(StoreError::Conflict) if if_match.is_none() => continue,
                Err(StoreError::Conflict) => return Err(ApiError::PreconditionFailed),
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::PreconditionFailed)
    }

    /// Deletes up to 1000 records (and their bytes), reporting which were not found.
    pub async fn delete_many(&self, who: &Identity, body: Value) -> Result<Deleted, ApiError> {
        let ids = match body {
            Value::Object(mut map) => {
                let extra: Vec<String> = map.keys().filter(|k| *k != "ids").cloned().collect();
                if let Some(field) = extra.first() {
                    return Err(ApiError::field(field.clone(), "is not a known field"));
                }
                map.remove("ids")
            }
            _ => None,
        };
        let Some(Value::Array(ids)) = ids else {
            return Err(ApiError::field("ids", "is required: an array of file ids"));
        };
        if ids.is_empty() || ids.len() > MAX_BATCH_DELETES {
            return Err(ApiError::field("ids", "must hold 1 to 1000 ids"));
        }
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(ids.len());
        for (at, id) in ids.iter().enumerate() {
            match id.as_str().map(FileId::parse) {
                Some(Ok(id)) if !parsed.contains(&id) => parsed.push(id),
                Some(Ok(_)) => {}
                _ => errors.push(FieldError::new(format!("ids[{at}]"), "must be a file id")),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let results: Vec<(FileId, Result<(), ApiError>)> = stream::iter(parsed)
            .map(|id| async move { (id, self.delete(who, id, None).await) })
            .buffered(DELETE_CONCURRENCY)
            .collect()
            .await;
        let mut answer = Deleted::default();
        for (id, result) in results {
            match result {
                Ok(()) => answer.deleted.push(id),
                Err(ApiError::NotFound) => answer.not_found.push(id),
                Err(other) => return Err(other),
            }
        }
        Ok(answer)
    }

    /// Cleans up after a record that is gone, however it went: its objects, and any secondary
    /// items the store keeps. Failures are logged; the S3 lifecycle rules are the last backstop.
    pub async fn removed(&self, record: &FileRecord) {
        if let Err(err) = self.remove_objects(record).await {
            tracing::error!(tenant = %record.tenant, id = %record.id, error = ?err, "could not delete a removed file's objects");
        }
        if let Err(err) = self.store.forget(record).await {
            tracing::error!(tenant = %record.tenant, id = %record.id, error = ?err, "could not delete a removed file's index items");
        }
    }
}
