//! DynamoDB adapter: records go through `serde_dynamo`, keys and indexes follow [`schema`], and
//! every write is conditional (a transaction where a record and its externalId marker change
//! together, a single conditional put or delete otherwise).

mod batch;
mod conditional;
mod counters;
mod folders;
mod rebalance;
mod requests;
mod schema;
mod sdk;
pub mod stream;
mod usage;

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{
    Change, IndexPage, IndexQuery, ListIndex, MetadataStore, NamePage, NameQuery, PathSource,
    StoreError,
};
use crate::model::{
    Admission, Collection, CollectionName, FileId, FileRecord, Limits, TenantId, Timestamp, Usage,
};
use conditional::{Guard, MAX_TRANSACTION_ITEMS};
use schema::{
    file_id_of, file_sk, marker_key, record_from_item, record_key, s, Item, Partition,
    EXPIRES_MILLIS, FILE_ID,
};
use sdk::classify;

pub use schema::{PK, SK, TTL_ATTRIBUTE};

/// Every global secondary index the code reads, as `(index name, hash key attribute)`; the
/// template's table must declare exactly these.
pub fn indexes() -> Vec<(&'static str, &'static str)> {
    schema::INDEXES
        .iter()
        .map(|index| (index.name, index.attribute))
        .chain(schema::NAME_INDEXES)
        .chain(schema::PATH_INDEXES)
        .chain([(schema::PUBLIC_EXPIRY_INDEX, schema::PUBLIC_EXPIRY_ATTRIBUTE)])
        .collect()
}

/// File records in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The partitions of `record`'s pointers (tags, grantees, name words).
fn tags_of(record: &FileRecord) -> BTreeSet<String> {
    schema::pointer_pks(record)
}

impl DynamoStore {
    /// A store on `table`, using a client built once at start-up.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// The consistent read of one item by key.
    pub(super) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
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

/// The key the cold start's `warm` read asks for: no record or marker has it.
const WARM_KEY: &str = ".prime";

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn warm(&self) {
        let key: Item = [(PK.to_owned(), s(WARM_KEY)), (SK.to_owned(), s(WARM_KEY))].into();
        let answer = self.get_item(key).await;
        tracing::debug!(ok = answer.is_ok(), "warmed DynamoDB");
    }

    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.get_item(record_key(tenant, id))
            .await?
            .map(record_from_item)
            .transpose()
    }

    async fn get_many(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.get_records(tenant, ids).await
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

    async fn insert(
        &self,
        record: &FileRecord,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Pointers first: a pointer without its record is skipped by readers; a record without
        // its pointer would be missing from tag listings.
        self.write_pointers(record, &tags_of(record), false).await?;
        let mut writes = vec![(self.put_record(None, record)?, Guard::Record)];
        if let Some(external_id) = &record.external_id {
            writes.push((
                self.put_new_marker(record, external_id.as_str(), now)?,
                Guard::NewMarker(external_id.to_string()),
            ));
        }
        let deltas = usage::deltas([(None, Some(record))]);
        self.write_counted(&record.tenant, writes, &deltas, Some(admission))
            .await
    }

    async fn replace_many(
        &self,
        changes: &[Change<'_>],
        admission: Option<&Admission>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
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
        let deltas = usage::deltas(changes.iter().map(|c| (Some(c.previous), Some(c.next))));
        let counters =
            usize::from(!deltas.is_empty()) + deltas.len() + usize::from(admission.is_some());
        if writes.len() + counters > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(writes.len() + counters));
        }
        for Change { previous, next } in changes {
            let (old, new) = (tags_of(previous), tags_of(next));
            self.write_pointers(next, new.difference(&old), false)
                .await?;
        }
        match changes.first() {
            Some(first) if counters > 0 => {
                self.write_counted(&first.next.tenant, writes, &deltas, admission)
                    .await?
            }
            _ => self.write(writes).await?,
        }
        for Change { previous, next } in changes {
            let (old, new) = (tags_of(previous), tags_of(next));
            self.write_pointers(next, old.difference(&new), true)
                .await?;
            // A grant pointer carries the record's place in the folder tree: a record that
            // moved (or went to the trash, or came back) moves its grant pointers with it.
            if crate::store::path_order_key(previous) != crate::store::path_order_key(next) {
                let kept = old.intersection(&new).filter(|pk| schema::is_grant_pk(pk));
                self.write_pointers(next, kept, false).await?;
            }
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
        let deltas = usage::deltas([(Some(record), None)]);
        self.write_counted(&record.tenant, writes, &deltas, None)
            .await?;
        self.write_pointers(record, &tags_of(record), true).await
    }

    async fn release_expired(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.release(record).await
    }

    async fn begin_request(
        &self,
        tenant: &TenantId,
        limits: crate::store::RequestLimits,
        now: Timestamp,
    ) -> Result<crate::store::Admitted, StoreError> {
        self.count_request(tenant, limits, now).await
    }

    async fn end_request(&self, ticket: &crate::store::RequestTicket) -> Result<(), StoreError> {
        self.end_counted_request(ticket).await
    }

    async fn collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Collection>, StoreError> {
        self.get_collection(tenant, name).await
    }

    async fn admission_facts(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Option<Collection>, Limits, u64), StoreError> {
        self.read_admission(tenant, collection).await
    }

    async fn collections(&self, tenant: &TenantId) -> Result<Vec<Collection>, StoreError> {
        self.list_collections(tenant).await
    }

    async fn put_collection(
        &self,
        next: &Collection,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.store_collection(next, expected).await
    }

    async fn delete_collection(&self, collection: &Collection) -> Result<(), StoreError> {
        self.remove_collection(collection).await
    }

    async fn usage(&self, tenant: &TenantId) -> Result<Usage, StoreError> {
        self.read_usage(tenant).await
    }

    async fn put_limits(
        &self,
        tenant: &TenantId,
        limits: Limits,
        expected: u64,
    ) -> Result<(), StoreError> {
        self.store_limits(tenant, limits, expected).await
    }

    async fn forget(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.write_pointers(record, &tags_of(record), true).await?;
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

    async fn expired_public(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut records = Vec::new();
        for shard in 0..schema::PUBLIC_EXPIRY_SHARDS {
            let left = limit.saturating_sub(records.len());
            if left == 0 {
                break;
            }
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::PUBLIC_EXPIRY_INDEX)
                .key_condition_expression("#px = :px AND #ttl <= :now")
                .expression_attribute_names("#px", schema::PUBLIC_EXPIRY_ATTRIBUTE)
                .expression_attribute_names("#ttl", schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":px", s(schema::public_expiry_key(shard)))
                .expression_attribute_values(":now", schema::n(now.millis().div_euclid(1_000)))
                .limit(i32::try_from(left).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(classify)?;
            for item in output.items.unwrap_or_default() {
                let record = record_from_item(item)?;
                // The index is rounded to seconds and eventually consistent: the record decides.
                if record.is_expired(now) && record.published.is_some() {
                    records.push(record);
                }
            }
        }
        Ok(records)
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
            .scan_index_forward(query.ascending)
            // Global secondary indexes are eventually consistent; the table is read consistently.
            .consistent_read(partition.index.is_none())
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let items = output.items.unwrap_or_default();
        let mut items_read = u64::try_from(output.scanned_count).unwrap_or(0);
        let last_id = items.last().and_then(file_id_of);
        let records =
            if let ListIndex::Tag(_) | ListIndex::Grantee(_) | ListIndex::Word(_) = query.index {
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

    async fn list_by_name(&self, query: NameQuery<'_>) -> Result<NamePage, StoreError> {
        let limit = i32::try_from(query.limit.clamp(1, 1_000)).unwrap_or(1_000);
        let (index, attribute, value) = schema::name_partition(query.tenant, query.scope);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#h", attribute)
            .expression_attribute_values(":h", s(value))
            .scan_index_forward(!query.descending)
            .limit(limit);
        request = match query.after {
            Some(after) => request
                .key_condition_expression(if query.descending {
                    "#h = :h AND #o < :after"
                } else {
                    "#h = :h AND #o > :after"
                })
                .expression_attribute_names("#o", schema::NAME_ORDER)
                .expression_attribute_values(":after", s(after)),
            None => request.key_condition_expression("#h = :h"),
        };
        let output = request.send().await.map_err(classify)?;
        let items = output.items.unwrap_or_default();
        let last_key = items
            .last()
            .and_then(|item| item.get(schema::NAME_ORDER))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let records = items
            .into_iter()
            .map(record_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NamePage {
            items_read: u64::try_from(output.scanned_count).unwrap_or(0),
            records,
            last_key,
            more: output.last_evaluated_key.is_some(),
        })
    }

    async fn first_path_key(
        &self,
        tenant: &TenantId,
        source: &PathSource,
        lo: &str,
        hi: &str,
    ) -> Result<Option<String>, StoreError> {
        self.first_key(tenant, source, lo, hi).await
    }

    async fn records_below(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Option<FileRecord>)>, bool), StoreError> {
        self.below(tenant, prefix, after, limit).await
    }

    async fn put_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.store_folder(tenant, path).await
    }

    async fn delete_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.remove_folder(tenant, path).await
    }

    async fn folders_below(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.explicit_below(tenant, path).await
    }
}
