//! DynamoDB adapter: records go through `serde_dynamo`, keys and indexes follow `crate::keys`,
//! and every write is conditional (a transaction where a record and its externalId marker change
//! together).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::{Change, IndexPage, IndexQuery, ListIndex, MetadataStore, StoreError};
use crate::keys::{external_id_sk, file_sk, index_key, tag_pk, tenant_pk};
use crate::model::{FileId, FileRecord, TenantId, Timestamp};

/// The table's partition key attribute.
pub const PK: &str = "pk";
/// The table's sort key attribute.
pub const SK: &str = "sk";
/// The table's TTL attribute: epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAtEpoch";
/// The marker attribute naming the record that owns an externalId.
const FILE_ID: &str = "fileId";
/// The marker attribute holding the owner's `expiresAt` in epoch milliseconds (the TTL
/// attribute is rounded to seconds; uniqueness needs the exact instant).
const EXPIRES_MILLIS: &str = "expiresAtMillis";
/// The global secondary indexes, as `(index name, key attribute)`.
pub const INDEXES: [(&str, &str); 4] = [
    ("byName", "nameKey"),
    ("byPurpose", "purposeKey"),
    ("byDirectory", "directoryKey"),
    ("byUploadedBy", "uploadedByKey"),
];
/// DynamoDB's limit on the operations of one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// File records in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn record_key(tenant: &TenantId, id: FileId) -> Item {
    key(tenant_pk(tenant), file_sk(id))
}

fn ttl_value(record: &FileRecord) -> Option<AttributeValue> {
    record
        .expires_at
        .map(|at| AttributeValue::N(at.epoch_seconds_ceil().to_string()))
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

fn to_item(record: &FileRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(backend)?;
    item.extend(record_key(&record.tenant, record.id));
    if let Some(ttl) = ttl_value(record) {
        item.insert(TTL_ATTRIBUTE.to_owned(), ttl);
    }
    let values = [
        Some(record.name.as_str()),
        record.purpose.as_ref().map(|p| p.as_str()),
        record.directory.as_ref().map(|d| d.as_str()),
        Some(record.uploaded_by.as_str()),
    ];
    for ((_, attribute), value) in INDEXES.iter().zip(values) {
        if let Some(value) = value {
            item.insert((*attribute).to_owned(), s(index_key(&record.tenant, value)));
        }
    }
    Ok(item)
}

/// Decodes a record item (keys and index attributes are derived, so they are dropped).
pub fn from_item(mut item: Item) -> Result<FileRecord, StoreError> {
    for attribute in [PK, SK, TTL_ATTRIBUTE] {
        item.remove(attribute);
    }
    for (_, attribute) in INDEXES {
        item.remove(attribute);
    }
    serde_dynamo::from_item(item).map_err(backend)
}

fn marker_item(record: &FileRecord, external_id: &str) -> Item {
    let mut item = key(tenant_pk(&record.tenant), external_id_sk(external_id));
    item.insert(FILE_ID.to_owned(), s(record.id.to_string()));
    if let Some(ttl) = ttl_value(record) {
        item.insert(TTL_ATTRIBUTE.to_owned(), ttl);
    }
    if let Some(at) = record.expires_at {
        item.insert(
            EXPIRES_MILLIS.to_owned(),
            AttributeValue::N(at.millis().to_string()),
        );
    }
    item
}

fn tags_of(record: &FileRecord) -> BTreeSet<&str> {
    record.tags.as_slice().iter().map(String::as_str).collect()
}

/// Sorts an SDK failure into the store's error kinds by the SDK's typed metadata.
fn classify<E>(err: SdkError<E>, is_condition_failed: impl Fn(&E) -> bool) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) if is_condition_failed(service.err()) => {
            StoreError::Conflict
        }
        SdkError::ServiceError(service)
            if matches!(
                service.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                )
            ) =>
        {
            StoreError::Unavailable(Box::new(err))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(Box::new(err))
        }
        _ => StoreError::Backend(Box::new(err)),
    }
}

/// What a transaction's operation guards, to explain a cancellation.
enum Guard {
    Record,
    NewMarker(String),
    OwnMarker,
}

impl DynamoStore {
    /// A store on `table`, using a client built once at start-up.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    fn put_record(
        &self,
        previous: Option<&FileRecord>,
        next: &FileRecord,
    ) -> Result<Put, StoreError> {
        let builder = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(next)?))
            .expression_attribute_names("#pk", PK);
        let builder = match previous {
            None => builder.condition_expression("attribute_not_exists(#pk)"),
            Some(previous) => builder
                .condition_expression("attribute_exists(#pk) AND #version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::N(previous.version.to_string()),
                ),
        };
        builder.build().map_err(backend)
    }

    /// Claims `external_id` for `record`: no marker, or only an expired one, may exist.
    fn put_new_marker(
        &self,
        record: &FileRecord,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker_item(record, external_id)))
            // Free, or held by a record that has expired (TTL deletes late).
            .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_MILLIS)
            .expression_attribute_values(":now", AttributeValue::N(now.millis().to_string()))
            .build()
            .map_err(backend)
    }

    /// Rewrites the record's own marker (its expiry follows the record's).
    fn put_own_marker(&self, record: &FileRecord, external_id: &str) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker_item(record, external_id)))
            .condition_expression("#file = :id")
            .expression_attribute_names("#file", FILE_ID)
            .expression_attribute_values(":id", s(record.id.to_string()))
            .build()
            .map_err(backend)
    }

    fn delete_own_marker(
        &self,
        record: &FileRecord,
        external_id: &str,
    ) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(&record.tenant),
                external_id_sk(external_id),
            )))
            .condition_expression("#file = :id")
            .expression_attribute_names("#file", FILE_ID)
            .expression_attribute_values(":id", s(record.id.to_string()))
            .build()
            .map_err(backend)
    }

    async fn transact(&self, ops: Vec<(TransactWriteItem, Guard)>) -> Result<(), StoreError> {
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(ops.len()));
        }
        let (items, guards): (Vec<_>, Vec<_>) = ops.into_iter().unzip();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                    service.err()
                else {
                    unreachable!("matched above");
                };
                let failed = cancelled
                    .cancellation_reasons()
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed"));
                match failed.and_then(|at| guards.get(at)) {
                    Some(Guard::NewMarker(external_id)) => {
                        Err(StoreError::ExternalIdTaken(external_id.clone()))
                    }
                    Some(Guard::Record | Guard::OwnMarker) => Err(StoreError::Conflict),
                    None => Err(StoreError::Unavailable(Box::new(SdkError::ServiceError(
                        service,
                    )))),
                }
            }
            Err(err) => Err(classify(err, |_| false)),
        }
    }

    /// Writes (or deletes) tag pointers in batches of 25, retrying unprocessed ones.
    async fn write_pointers(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| classify(e, |_| false))?;
                pending = output.unprocessed_items.unwrap_or_default();
                if pending.values().all(Vec::is_empty) {
                    break;
                }
                if attempt == 8 {
                    return Err(StoreError::Unavailable(
                        "tag pointers stayed unprocessed".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    fn pointer_requests<'a>(
        record: &'a FileRecord,
        tags: impl IntoIterator<Item = &'a str>,
        delete: bool,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        tags.into_iter()
            .map(|tag| {
                let item = key(tag_pk(&record.tenant, tag), file_sk(record.id));
                let request = if delete {
                    WriteRequest::builder().delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(item))
                            .build()
                            .map_err(backend)?,
                    )
                } else {
                    WriteRequest::builder().put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(backend)?,
                    )
                };
                Ok(request.build())
            })
            .collect()
    }

    async fn get_records(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut found: HashMap<FileId, FileRecord> = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|id| record_key(tenant, *id)).collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| classify(e, |_| false))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let record = from_item(item)?;
                    found.insert(record.id, record);
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .filter(|left| !left.keys().is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(StoreError::Unavailable("records stayed unprocessed".into()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}

fn id_of_sk(item: &Item) -> Option<FileId> {
    item.get(SK)?
        .as_s()
        .ok()?
        .strip_prefix("F#")
        .and_then(|id| FileId::parse(id).ok())
}

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(record_key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, |_| false))?;
        output.item.map(from_item).transpose()
    }

    async fn find_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<FileId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), external_id_sk(external_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, |_| false))?;
        let Some(item) = output.item else {
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
        self.write_pointers(Self::pointer_requests(record, tags_of(record), false)?)
            .await?;
        let Some(external_id) = record.external_id.as_ref() else {
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_item(record)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, |e| e.is_conditional_check_failed_exception()));
        };
        self.transact(vec![
            (
                TransactWriteItem::builder()
                    .put(self.put_record(None, record)?)
                    .build(),
                Guard::Record,
            ),
            (
                TransactWriteItem::builder()
                    .put(self.put_new_marker(record, external_id.as_str(), now)?)
                    .build(),
                Guard::NewMarker(external_id.to_string()),
            ),
        ])
        .await
    }

    async fn replace_many(&self, changes: &[Change<'_>], now: Timestamp) -> Result<(), StoreError> {
        let mut ops = Vec::new();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for change in changes {
            let (previous, next) = (change.previous, change.next);
            ops.push((
                TransactWriteItem::builder()
                    .put(self.put_record(Some(previous), next)?)
                    .build(),
                Guard::Record,
            ));
            let before = previous.external_id.as_ref().map(|e| e.as_str());
            let after = next.external_id.as_ref().map(|e| e.as_str());
            match (before, after) {
                (Some(a), Some(b)) if a == b => {
                    if previous.expires_at != next.expires_at {
                        ops.push((
                            TransactWriteItem::builder()
                                .put(self.put_own_marker(next, b)?)
                                .build(),
                            Guard::OwnMarker,
                        ));
                    }
                }
                _ => {
                    if let Some(a) = before {
                        ops.push((
                            TransactWriteItem::builder()
                                .delete(self.delete_own_marker(previous, a)?)
                                .build(),
                            Guard::OwnMarker,
                        ));
                    }
                    if let Some(b) = after {
                        ops.push((
                            TransactWriteItem::builder()
                                .put(self.put_new_marker(next, b, now)?)
                                .build(),
                            Guard::NewMarker(b.to_owned()),
                        ));
                    }
                }
            }
            let (old_tags, new_tags) = (tags_of(previous), tags_of(next));
            added.extend(Self::pointer_requests(
                next,
                new_tags.difference(&old_tags).copied(),
                false,
            )?);
            removed.extend(Self::pointer_requests(
                next,
                old_tags.difference(&new_tags).copied(),
                true,
            )?);
        }
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(ops.len()));
        }
        self.write_pointers(added).await?;
        if let [(op, _)] = ops.as_slice() {
            // One record and no marker: a conditional put is cheaper than a transaction.
            let put = op.put().expect("a record put");
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .send()
                .await
                .map_err(|e| classify(e, |e| e.is_conditional_check_failed_exception()))?;
        } else {
            self.transact(ops).await?;
        }
        self.write_pointers(removed).await
    }

    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError> {
        let delete_record = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(record_key(&record.tenant, record.id)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(record.version.to_string()))
            .build()
            .map_err(backend)?;
        let mut ops = vec![(
            TransactWriteItem::builder().delete(delete_record).build(),
            Guard::Record,
        )];
        if let Some(external_id) = &record.external_id {
            ops.push((
                TransactWriteItem::builder()
                    .delete(self.delete_own_marker(record, external_id.as_str())?)
                    .build(),
                Guard::OwnMarker,
            ));
        }
        self.transact(ops).await?;
        self.write_pointers(Self::pointer_requests(record, tags_of(record), true)?)
            .await
    }

    async fn forget(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.write_pointers(Self::pointer_requests(record, tags_of(record), true)?)
            .await?;
        if let Some(external_id) = &record.external_id {
            let marker = self.delete_own_marker(record, external_id.as_str())?;
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(marker.key().clone()))
                .set_condition_expression(marker.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(marker.expression_attribute_names().cloned())
                .set_expression_attribute_values(marker.expression_attribute_values().cloned())
                .send()
                .await;
            match result.map_err(|e| classify(e, |e| e.is_conditional_check_failed_exception())) {
                // Already gone, or owned by a newer record: either way not ours to delete.
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError> {
        let limit = i32::try_from(query.limit.clamp(1, 1_000)).unwrap_or(1_000);
        let (pk_attribute, pk_value, index) = match query.index {
            ListIndex::Recent => (PK, tenant_pk(query.tenant), None),
            ListIndex::Tag(tag) => (PK, tag_pk(query.tenant, tag), None),
            ListIndex::Name(v) => (INDEXES[0].1, index_key(query.tenant, v), Some(INDEXES[0].0)),
            ListIndex::Purpose(v) => (INDEXES[1].1, index_key(query.tenant, v), Some(INDEXES[1].0)),
            ListIndex::Directory(v) => {
                (INDEXES[2].1, index_key(query.tenant, v), Some(INDEXES[2].0))
            }
            ListIndex::UploadedBy(v) => {
                (INDEXES[3].1, index_key(query.tenant, v), Some(INDEXES[3].0))
            }
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk_value))
            .expression_attribute_values(":lo", s(file_sk(query.lowest)))
            .expression_attribute_values(":hi", s(file_sk(query.highest)))
            .scan_index_forward(false)
            // Global secondary indexes are eventually consistent; the table is read consistently.
            .consistent_read(index.is_none())
            .limit(limit)
            .send()
            .await
            .map_err(|e| classify(e, |_| false))?;
        let items = output.items.unwrap_or_default();
        let mut items_read = u64::try_from(output.scanned_count).unwrap_or(0);
        let last_id = items.last().and_then(id_of_sk);
        let records = if let ListIndex::Tag(_) = query.index {
            let ids: Vec<FileId> = items.iter().filter_map(id_of_sk).collect();
            let records = self.get_records(query.tenant, &ids).await?;
            items_read += records.len() as u64;
            records
        } else {
            items.into_iter().map(from_item).collect::<Result<_, _>>()?
        };
        Ok(IndexPage {
            records,
            last_id,
            more: output.last_evaluated_key.is_some(),
            items_read,
        })
    }
}
