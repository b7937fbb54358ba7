//! DynamoDB adapter: records go through `serde_dynamo`, keys and indexes follow [`schema`], and
//! every write is conditional (a transaction where a record and its externalId marker change
//! together, a single conditional put or delete otherwise).

mod schema;
mod sdk;
pub mod stream;

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::{Change, IndexPage, IndexQuery, ListIndex, MetadataStore, StoreError};
use crate::model::{FileId, FileRecord, TenantId, Timestamp};
use schema::{
    backend, file_id_of, file_sk, marker_item, marker_key, n, pointer_key, record_from_item,
    record_item, record_key, s, Item, Partition, EXPIRES_MILLIS, FILE_ID, VERSION,
};
use sdk::{classify, until_processed};

pub use schema::{PK, SK, TTL_ATTRIBUTE};

/// Every global secondary index the code reads, as `(index name, hash key attribute)`; the
/// template's table must declare exactly these.
pub fn indexes() -> Vec<(&'static str, &'static str)> {
    schema::INDEXES
        .iter()
        .map(|index| (index.name, index.attribute))
        .collect()
}

/// DynamoDB's limit on the operations of one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on the requests of one `BatchWriteItem`.
const MAX_BATCH_WRITE: usize = 25;
/// DynamoDB's limit on the keys of one `BatchGetItem`.
const MAX_BATCH_GET: usize = 100;

/// File records in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// One conditional write, before it is sent alone or in a transaction.
enum Write {
    Put(Put),
    Delete(Delete),
}

/// What a write guards, to explain a cancelled transaction.
enum Guard {
    /// The record's version (or its absence, for an insert).
    Record,
    /// A marker that must be free for this externalId.
    NewMarker(String),
    /// The record's own marker.
    OwnMarker,
}

fn tags_of(record: &FileRecord) -> BTreeSet<&str> {
    record.tags.as_slice().iter().map(String::as_str).collect()
}

impl DynamoStore {
    /// A store on `table`, using a client built once at start-up.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// Puts `next` if the stored record is still `previous` (or, without one, absent).
    fn put_record(
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
            Some(previous) => builder
                .condition_expression("attribute_exists(#pk) AND #version = :expected")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", n(previous.version)),
        };
        builder.build().map(Write::Put).map_err(backend)
    }

    /// Deletes the record if its stored version is still `record.version`.
    fn delete_record(&self, record: &FileRecord) -> Result<Write, StoreError> {
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
    fn put_new_marker(
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
    fn put_own_marker(&self, record: &FileRecord, external_id: &str) -> Result<Write, StoreError> {
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
    fn delete_own_marker(
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
    async fn write(&self, writes: Vec<(Write, Guard)>) -> Result<(), StoreError> {
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(writes.len()));
        }
        if writes.len() == 1 {
            let (write, guard) = writes.into_iter().next().expect("one write");
            let result = match write {
                Write::Put(put) => self.send_put(put).await,
                Write::Delete(delete) => self.send_delete(delete).await,
            };
            return match (result, guard) {
                (Err(StoreError::Conflict), Guard::NewMarker(external_id)) => {
                    Err(StoreError::ExternalIdTaken(external_id))
                }
                (result, _) => result,
            };
        }
        let (items, guards): (Vec<_>, Vec<_>) = writes
            .into_iter()
            .map(|(write, guard)| {
                let item = match write {
                    Write::Put(put) => TransactWriteItem::builder().put(put),
                    Write::Delete(delete) => TransactWriteItem::builder().delete(delete),
                };
                (item.build(), guard)
            })
            .unzip();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if service.err().is_transaction_canceled_exception() =>
            {
                let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                    service.err()
                else {
                    return Err(StoreError::Backend("transaction cancelled".into()));
                };
                let reasons = cancelled.cancellation_reasons();
                let failed = reasons
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed"));
                match failed.and_then(|at| guards.get(at)) {
                    Some(Guard::NewMarker(external_id)) => {
                        Err(StoreError::ExternalIdTaken(external_id.clone()))
                    }
                    Some(Guard::Record | Guard::OwnMarker) => Err(StoreError::Conflict),
                    // Another transaction on the same items: the caller retries on fresh state.
                    None if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict")) =>
                    {
                        Err(StoreError::Conflict)
                    }
                    None => Err(StoreError::Unavailable(Box::new(SdkError::ServiceError(
                        service,
                    )))),
                }
            }
            Err(err) => Err(classify(err)),
        }
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

    /// Writes (or deletes) the tag pointers of `record` for `tags`, 25 at a time.
    async fn write_pointers<'a>(
        &self,
        record: &FileRecord,
        tags: impl IntoIterator<Item = &'a str>,
        delete: bool,
    ) -> Result<(), StoreError> {
        let requests = tags
            .into_iter()
            .map(|tag| {
                let key = pointer_key(record, tag);
                let request = if delete {
                    let delete = DeleteRequest::builder().set_key(Some(key)).build();
                    WriteRequest::builder().delete_request(delete.map_err(backend)?)
                } else {
                    let put = PutRequest::builder().set_item(Some(key)).build();
                    WriteRequest::builder().put_request(put.map_err(backend)?)
                };
                Ok(request.build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for chunk in requests.chunks(MAX_BATCH_WRITE) {
            until_processed(chunk.to_vec(), Vec::is_empty, |pending| async move {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }

    /// The records with these ids (consistent reads), in the order of `ids`; missing ones are
    /// left out.
    async fn get_records(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        let found = std::sync::Mutex::new(HashMap::<FileId, FileRecord>::new());
        for chunk in ids.chunks(MAX_BATCH_GET) {
            let keys: Vec<Item> = chunk.iter().map(|id| record_key(tenant, *id)).collect();
            until_processed(keys, Vec::is_empty, |pending| {
                let found = &found;
                async move {
                    let request = KeysAndAttributes::builder()
                        .set_keys(Some(pending))
                        .consistent_read(true)
                        .build()
                        .map_err(backend)?;
                    let output = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(classify)?;
                    let items = output
                        .responses
                        .and_then(|mut by_table| by_table.remove(&self.table))
                        .unwrap_or_default();
                    for item in items {
                        let record = record_from_item(item)?;
                        found
                            .lock()
                            .map_err(|_| StoreError::Backend("poisoned".into()))?
                            .insert(record.id, record);
                    }
                    Ok(output
                        .unprocessed_keys
                        .and_then(|mut left| left.remove(&self.table))
                        .map(|left| left.keys)
                        .unwrap_or_default())
                }
            })
            .await?;
        }
        let mut found = found
            .into_inner()
            .map_err(|_| StoreError::Backend("poisoned".into()))?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// The consistent read of one item by key.
    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(output.item)
    }
}

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.get_item(record_key(tenant, id))
            .await?
            .map(record_from_item)
            .transpose()
    }

    async fn find_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<FileId>, StoreError> {
        let Some(item) = self.get_item(marker_key(tenant, external_id)).await? else {
            return Ok(None);
        };
        let expired = item
            .get(EXPIRES_MILLIS)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|at| at <= now.millis());
        if expired {
            return Ok(None);
        }
        Ok(item
            .get(FILE_ID)
            .and_then(|v| v.as_s().ok())
            .and_then(|id| FileId::parse(id).ok()))
    }

    async fn insert(&self, record: &FileRecord, now: Timestamp) -> Result<(), StoreError> {
        // Pointers first: a pointer without its record is skipped by readers; a record without
        // its pointer would be missing from tag listings.
        self.write_pointers(record, tags_of(record), false).await?;
        let mut writes = vec![(self.put_record(None, record)?, Guard::Record)];
        if let Some(external_id) = &record.external_id {
            writes.push((
                self.put_new_marker(record, external_id.as_str(), now)?,
                Guard::NewMarker(external_id.to_string()),
            ));
        }
        self.write(writes).await
    }

    async fn replace_many(&self, changes: &[Change<'_>], now: Timestamp) -> Result<(), StoreError> {
        let mut writes = Vec::new();
        for Change { previous, next } in changes {
            writes.push((self.put_record(Some(previous), next)?, Guard::Record));
            let before = previous.external_id.as_ref().map(|e| e.as_str());
            let after = next.external_id.as_ref().map(|e| e.as_str());
            match (before, after) {
                (Some(a), Some(b)) if a == b => {
                    if previous.expires_at != next.expires_at {
                        writes.push((self.put_own_marker(next, b)?, Guard::OwnMarker));
                    }
                }
                _ => {
                    if let Some(a) = before {
                        writes.push((self.delete_own_marker(previous, a)?, Guard::OwnMarker));
                    }
                    if let Some(b) = after {
                        writes.push((
                            self.put_new_marker(next, b, now)?,
                            Guard::NewMarker(b.to_owned()),
                        ));
                    }
                }
            }
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(writes.len()));
        }
        for Change { previous, next } in changes {
            let (old, new) = (tags_of(previous), tags_of(next));
            self.write_pointers(next, new.difference(&old).copied(), false)
                .await?;
        }
        self.write(writes).await?;
        for Change { previous, next } in changes {
            let (old, new) = (tags_of(previous), tags_of(next));
            self.write_pointers(next, old.difference(&new).copied(), true)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError> {
        let mut writes = vec![(self.delete_record(record)?, Guard::Record)];
        if let Some(external_id) = &record.external_id {
            writes.push((
                self.delete_own_marker(record, external_id.as_str())?,
                Guard::OwnMarker,
            ));
        }
        self.write(writes).await?;
        self.write_pointers(record, tags_of(record), true).await
    }

    async fn forget(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.write_pointers(record, tags_of(record), true).await?;
        if let Some(external_id) = &record.external_id {
            let marker = self.delete_own_marker(record, external_id.as_str())?;
            match self.write(vec![(marker, Guard::OwnMarker)]).await {
                // Already gone, or owned by a newer record: either way not ours to delete.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError> {
        let limit = i32::try_from(query.limit.clamp(1, 1_000)).unwrap_or(1_000);
        let partition = Partition::of(query.tenant, query.index);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(partition.index.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", partition.attribute)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(partition.value))
            .expression_attribute_values(":lo", s(file_sk(query.lowest)))
            .expression_attribute_values(":hi", s(file_sk(query.highest)))
            .scan_index_forward(false)
            // Global secondary indexes are eventually consistent; the table is read consistently.
            .consistent_read(partition.index.is_none())
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let items = output.items.unwrap_or_default();
        let mut items_read = u64::try_from(output.scanned_count).unwrap_or(0);
        let last_id = items.last().and_then(file_id_of);
        let records = if let ListIndex::Tag(_) = query.index {
            let ids: Vec<FileId> = items.iter().filter_map(file_id_of).collect();
            let records = self.get_records(query.tenant, &ids).await?;
            items_read += records.len() as u64;
            records
        } else {
            items
                .into_iter()
                .map(record_from_item)
                .collect::<Result<_, _>>()?
        };
        Ok(IndexPage {
            records,
            last_id,
            more: output.last_evaluated_key.is_some(),
            items_read,
        })
    }
}
