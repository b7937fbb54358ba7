//! Conditional writes: a record put or delete guarded by its version, and the externalId
//! markers that change with it. One write is sent alone as `PutItem`/`DeleteItem`; several go
//! in one transaction, whose cancellation is explained by what each write guarded.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::schema::{
    backend, marker_item, marker_key, n, record_item, record_key, s, EXPIRES_MILLIS, FILE_ID, PK,
    PUBLISHED, VERSION,
};
use super::sdk::classify;
use super::DynamoStore;
use crate::model::{FileRecord, Timestamp};
use crate::store::StoreError;

/// DynamoDB's limit on the operations of one transaction.
pub(super) const MAX_TRANSACTION_ITEMS: usize = 100;
/// Sends of one transaction that keeps colliding with others before it gives up.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// A pseudo-random number below `n` (retry jitter, counter shards; not for anything secret).
/// Each call hashes a process-wide counter with a freshly keyed `RandomState` (keys from the
/// OS, per thread), so draws are uniform whatever the clock's resolution.
pub(super) fn rand_below(n: u32) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    static DRAWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(DRAWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    u32::try_from(hasher.finish() % u64::from(n.max(1))).unwrap_or(0)
}

/// One conditional write, before it is sent alone or in a transaction.
#[derive(Clone)]
pub(super) enum Write {
    Put(Put),
    Delete(Delete),
    /// Only in transactions (counter changes never go alone).
    Update(Update),
}

/// What a write guards, to explain a cancelled transaction.
#[derive(Clone)]
pub(super) enum Guard {
    /// The record's version (or its absence, for an insert).
    Record,
    /// A marker that must be free for this externalId.
    NewMarker(String),
    /// The record's own marker.
    OwnMarker,
    /// A counter shard's room under its limits, and the version of the limits (or collection)
    /// it was admitted under.
    Quota(super::counters::Counted),
    /// A counter change without a condition.
    Counter,
    /// The expiry release item is new (else the record was uncounted already).
    Release,
    /// A collection's usage item says it holds no file.
    Empty,
    /// What a write was admitted by (stored limits, a collection) is still the one read.
    Stale,
}

/// How a cancelled transaction is explained: which guard failed.
pub(super) enum Cancelled {
    Failed(StoreError),
    /// The guard at this position failed.
    Guard(Guard),
}

impl DynamoStore {
    /// Puts `next` if the stored record is still `previous` (or, without one, absent): the same
    /// version, and the same public copy bookkeeping (`published`, which the publish step
    /// records without a new version), so that a write never loses which copy exists.
    pub(super) fn put_record(
        &self,
        previous: Option<&FileRecord>,
        next: &FileRecord,
    ) -> Result<Write, StoreError> {
        let builder = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_item(next)?))
            .expression_attribute_names("#pk", PK);
        let builder = match previous {
            None => builder.condition_expression("attribute_not_exists(#pk)"),
            Some(previous) => {
                let builder = builder
                    .expression_attribute_names("#version", VERSION)
                    .expression_attribute_values(":expected", n(previous.version))
                    .expression_attribute_names("#published", PUBLISHED);
                match &previous.published {
                    None => builder.condition_expression(
                        "attribute_exists(#pk) AND #version = :expected AND attribute_not_exists(#published)",
                    ),
                    Some(published) => builder
                        .condition_expression(
                            "attribute_exists(#pk) AND #version = :expected AND #published = :published",
                        )
                        .expression_attribute_values(":published", s(published.clone())),
                }
            }
        };
        builder.build().map(Write::Put).map_err(backend)
    }

    /// Deletes the record if its stored version is still `record.version`.
    pub(super) fn delete_record(&self, record: &FileRecord) -> Result<Write, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(record_key(&record.tenant, record.id)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":expected", n(record.version))
            .build()
            .map(Write::Delete)
            .map_err(backend)
    }

    /// Claims `external_id` for `record`: no marker, or only an expired one, may exist.
    pub(super) fn put_new_marker(
        &self,
        record: &FileRecord,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Write, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker_item(record, external_id)))
            // Free, or held by a record that has expired (TTL deletes late).
            .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_MILLIS)
            .expression_attribute_values(":now", n(now.millis()))
            .build()
            .map(Write::Put)
            .map_err(backend)
    }

    /// Rewrites the record's own marker (its expiry follows the record's).
    pub(super) fn put_own_marker(
        &self,
        record: &FileRecord,
        external_id: &str,
    ) -> Result<Write, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker_item(record, external_id)))
            .condition_expression("#file = :id")
            .expression_attribute_names("#file", FILE_ID)
            .expression_attribute_values(":id", s(record.id.to_string()))
            .build()
            .map(Write::Put)
            .map_err(backend)
    }

    /// Deletes the record's own marker (not one a newer record owns).
    pub(super) fn delete_own_marker(
        &self,
        record: &FileRecord,
        external_id: &str,
    ) -> Result<Write, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(marker_key(&record.tenant, external_id)))
            .condition_expression("#file = :id")
            .expression_attribute_names("#file", FILE_ID)
            .expression_attribute_values(":id", s(record.id.to_string()))
            .build()
            .map(Write::Delete)
            .map_err(backend)
    }

    /// Sends the writes: one alone as a conditional `PutItem`/`DeleteItem`, several as one
    /// transaction. A failed condition becomes the error its guard stands for.
    pub(super) async fn write(&self, writes: Vec<(Write, Guard)>) -> Result<(), StoreError> {
        match self.write_guarded(writes).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Failed(err)) => Err(err),
            Err(Cancelled::Guard(guard)) => Err(match guard {
                Guard::NewMarker(external_id) => StoreError::ExternalIdTaken(external_id),
                Guard::Empty => StoreError::CollectionNotEmpty,
                Guard::Stale => StoreError::AdmissionStale,
                // Explained by the caller, which knows what it added (see `usage.rs`).
                Guard::Quota(_) => StoreError::AdmissionStale,
                Guard::Record | Guard::OwnMarker | Guard::Counter | Guard::Release => {
                    StoreError::Conflict
                }
            }),
        }
    }

    /// [`DynamoStore::write`], answering the guard that failed. A transaction that only
    /// collided with another one on the same items (a hot usage item) is sent again, a few
    /// times, before it counts as a conflict.
    pub(super) async fn write_guarded(&self, writes: Vec<(Write, Guard)>) -> Result<(), Cancelled> {
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(Cancelled::Failed(StoreError::TooLarge(writes.len())));
        }
        if writes.len() == 1 && matches!(writes[0].0, Write::Put(_) | Write::Delete(_)) {
            let (write, guard) = writes.into_iter().next().expect("one write");
            let result = match write {
                Write::Put(put) => self.send_put(put).await,
                Write::Delete(delete) => self.send_delete(delete).await,
                Write::Update(_) => unreachable!("matched above"),
            };
            return match result {
                Err(StoreError::Conflict) => Err(Cancelled::Guard(guard)),
                Err(other) => Err(Cancelled::Failed(other)),
                Ok(()) => Ok(()),
            };
        }
        let (items, mut guards): (Vec<_>, Vec<_>) = writes
            .into_iter()
            .map(|(write, guard)| {
                let item = match write {
                    Write::Put(put) => TransactWriteItem::builder().put(put),
                    Write::Delete(delete) => TransactWriteItem::builder().delete(delete),
                    Write::Update(update) => TransactWriteItem::builder().update(update),
                };
                (item.build(), guard)
            })
            .unzip();
        for attempt in 0..TRANSACTION_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(rand_below(20));
                tokio::time::sleep(std::time::Duration::from_millis(
                    10 * u64::from(attempt) + jitter,
                ))
                .await;
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(service))
                    if service.err().is_transaction_canceled_exception() =>
                {
                    let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                        service.err()
                    else {
                        return Err(Cancelled::Failed(StoreError::Backend(
                            "transaction cancelled".into(),
                        )));
                    };
                    let reasons = cancelled.cancellation_reasons();
                    let failed = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if let Some(at) = failed.filter(|&at| at < guards.len()) {
                        return Err(Cancelled::Guard(guards.swap_remove(at)));
                    }
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        // Another transaction on the same items: send it again.
                        continue;
                    }
                    return Err(Cancelled::Failed(StoreError::Unavailable(Box::new(
                        SdkError::ServiceError(service),
                    ))));
                }
                Err(err) => return Err(Cancelled::Failed(classify(err))),
            }
        }
        // Other transactions kept holding these items: not a lost compare-and-swap (the
        // caller would retry it at once, or call it a version mismatch), but a busy store.
        Err(Cancelled::Failed(StoreError::Busy))
    }

    async fn send_put(&self, put: Put) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn send_delete(&self, delete: Delete) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(delete.table_name())
            .set_key(Some(delete.key().clone()))
            .set_condition_expression(delete.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(delete.expression_attribute_names().cloned())
            .set_expression_attribute_values(delete.expression_attribute_values().cloned())
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
