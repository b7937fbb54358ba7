//! `PATCH /files/{id}`, `PUT /files/{id}` and the all-or-nothing `PATCH /files`.

use std::collections::HashSet;

use serde_json::Value;

use super::{check_version, Service};
use crate::error::{ApiError, FieldError};
use crate::identity::Identity;
use crate::model::{FileId, FileRecord};
use crate::store::{Change, StoreError};
use crate::validate::{apply_update, UpdateMode};

/// Most changes in one batch update (one DynamoDB transaction).
pub const MAX_BATCH_UPDATES: usize = 100;
/// Attempts when a write races another writer and no `If-Match` was given.
const MAX_ATTEMPTS: usize = 3;

impl Service {
    /// Applies a merge patch (`PATCH`) or a replacement (`PUT`) to one record. Without
    /// `If-Match`, a concurrent change is merged by re-applying the body to the fresh record.
    pub async fn update(
        &self,
        who: &Identity,
        id: FileId,
        body: Value,
        mode: UpdateMode,
        if_match: Option<u64>,
    ) -> Result<FileRecord, ApiError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let now = self.clock.now();
            let current = self.load(&who.tenant, id).await?;
            check_version(&current, if_match)?;
            let mut next = apply_update(&current, body.clone(), mode)?;
            if next == current {
                return Ok(current);
            }
            next.version += 1;
            next.updated_at = now;
            match self.write(&current, &next, now).await {
                Ok(()) => {
                    self.sync_public(&current, &next).await?;
                    return Ok(next);
                }
                Err(ApiError::PreconditionFailed)
                    if if_match.is_none() && attempt < MAX_ATTEMPTS =>
                {
                    continue
                }
                Err(err) => return Err(err),
            }
        }
        Err(ApiError::PreconditionFailed)
    }

    /// Applies merge patches to up to 100 records, all or none. Each element is the record's
    /// `id` plus its changes; `externalId` cannot change in a batch.
    pub async fn update_many(
        &self,
        who: &Identity,
        body: Value,
    ) -> Result<Vec<FileRecord>, ApiError> {
        let Value::Array(elements) = body else {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the request body must be a JSON array of {id, …changes}",
            ));
        };
        if elements.is_empty() || elements.len() > MAX_BATCH_UPDATES {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!(
                    "a batch holds 1 to {MAX_BATCH_UPDATES} changes, not {}",
                    elements.len()
                ),
            ));
        }
        let mut errors = Vec::new();
        let mut targets = Vec::with_capacity(elements.len());
        let mut seen = HashSet::new();
        for (at, element) in elements.into_iter().enumerate() {
            let Value::Object(mut changes) = element else {
                errors.push(FieldError::new(
                    format!("[{at}]"),
                    "must be an object with an id",
                ));
                continue;
            };
            let id = match changes.remove("id") {
                Some(Value::String(text)) => match FileId::parse(&text) {
                    Ok(id) => id,
                    Err(e) => {
                        errors.push(FieldError::new(format!("[{at}].id"), e.message));
                        continue;
                    }
                },
                _ => {
                    errors.push(FieldError::new(
                        format!("[{at}].id"),
                        "is required: a file id",
                    ));
                    continue;
                }
            };
            if !seen.insert(id) {
                errors.push(FieldError::new(
                    format!("[{at}].id"),
                    "appears more than once",
                ));
            }
            if changes.contains_key("externalId") {
                errors.push(FieldError::new(
                    format!("[{at}].externalId"),
                    "cannot change in a batch; use PATCH /files/{id}",
                ));
            }
            targets.push((at, id, Value::Object(changes)));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        for attempt in 1..=MAX_ATTEMPTS {
            let now = self.clock.now();
            let mut pairs = Vec::with_capacity(targets.len());
            let mut errors = Vec::new();
            for (at, id, changes) in &targets {
                let current = self.load(&who.tenant, *id).await.map_err(|err| match err {
                    ApiError::NotFound => {
                        ApiError::NotFoundDetail(format!("[{at}].id: no file with id {id}"))
                    }
                    other => other,
                })?;
                match apply_update(&current, changes.clone(), UpdateMode::Merge) {
                    Ok(mut next) => {
                        if next != current {
                            next.version += 1;
                            next.updated_at = now;
                        }
                        pairs.push((current, next));
                    }
                    Err(ApiError::Validation(field_errors)) => errors.extend(
                        field_errors
                            .into_iter()
                            .map(|e| FieldError::new(format!("[{at}].{}", e.field), e.message)),
                    ),
                    Err(other) => return Err(other),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let changes: Vec<Change<'_>> = pairs
                .iter()
                .filter(|(previous, next)| previous != next)
                .map(|(previous, next)| Change { previous, next })
                .collect();
            if !changes.is_empty() {
                match self.store.replace_many(&changes, now).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) if attempt < MAX_ATTEMPTS => continue,
                    Err(StoreError::Conflict) => return Err(ApiError::PreconditionFailed),
                    Err(StoreError::TooLarge(n)) => {
                        return Err(ApiError::bad_request(
                            "batch_too_large",
                            format!("the batch needs {n} operations; one transaction allows 100"),
                        ))
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            for (previous, next) in &pairs {
                self.sync_public(previous, next).await?;
            }
            return Ok(pairs.into_iter().map(|(_, next)| next).collect());
        }
        Err(ApiError::PreconditionFailed)
    }
}
