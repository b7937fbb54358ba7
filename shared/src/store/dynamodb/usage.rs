//! Collections, usage and limits in the table: the items [`super::schema`] lists. The counters
//! themselves, spread over shards, are [`super::counters`].

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{Delete, Put, Update};

use super::conditional::{Cancelled, Guard, Write};
use super::counters::{
    counted_of, counter_of, number, total, Counted, Drawn, BYTES, COLLECTION_VERSION,
    COUNTER_SHARDS, FILES, LIMITS_VERSION, USAGE_SK,
};
use super::schema::{
    backend, collection_sk, key, n, release_sk, s, tenant_pk, Item, COLLECTION_SK_PREFIX, PK, SK,
    TTL_ATTRIBUTE, VERSION,
};
use super::sdk::classify;
use super::DynamoStore;
use crate::model::{
    Admission, Collection, CollectionName, Counter, FileRecord, Limits, TenantId, Usage,
};
use crate::store::StoreError;

const MAX_BYTES: &str = "maxBytes";
const MAX_FILES: &str = "maxFiles";
/// How long an expiry release item is kept: longer than a stream record can be retried (24 h).
const RELEASE_KEPT_SECONDS: u64 = 3 * 86_400;
/// Times a write whose shard lacked room moves room and is sent again.
const REBALANCE_ROUNDS: u32 = 8;

/// What a batch of record changes adds to each collection's counters (zero ones left out).
pub(super) fn deltas<'a>(
    changes: impl IntoIterator<Item = (Option<&'a FileRecord>, Option<&'a FileRecord>)>,
) -> BTreeMap<CollectionName, Counter> {
    crate::model::collection_deltas(changes)
}

fn stored_limits(item: &Item) -> (Limits, u64) {
    let get = |attribute| number(item, attribute).and_then(|n| u64::try_from(n).ok());
    (
        Limits {
            max_bytes: get(MAX_BYTES),
            max_files: get(MAX_FILES),
        },
        get(LIMITS_VERSION).unwrap_or(0),
    )
}

fn collection_from_item(mut item: Item) -> Result<Collection, StoreError> {
    item.remove(PK);
    item.remove(SK);
    serde_dynamo::from_item(item).map_err(backend)
}

/// Sets `attribute` to `version` on every shard of `counted` (limits or a collection changed),
/// and freezes them: their allotments were of the old limits, so no write is admitted on them
/// until a rebalance has set them to the new ones.
fn version_on_shards(
    store: &DynamoStore,
    tenant: &TenantId,
    counted: &Counted,
    attribute: &str,
    version: u64,
) -> Result<Vec<(Write, Guard)>, StoreError> {
    (0..COUNTER_SHARDS)
        .map(|i| {
            Update::builder()
                .table_name(&store.table)
                .set_key(Some(store.shard_key(tenant, counted, i)))
                .update_expression("SET #v = :v, #fb = :yes, #ff = :yes")
                .expression_attribute_names("#v", attribute)
                .expression_attribute_names("#fb", super::counters::FROZEN_BYTES)
                .expression_attribute_names("#ff", super::counters::FROZEN_FILES)
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":yes", n(1))
                .build()
                .map(|u| (Write::Update(u), Guard::Counter))
                .map_err(backend)
        })
        .collect()
}

impl DynamoStore {
    /// Sends a record change's writes with its counter writes, on a shard drawn for each
    /// attempt; a shard without room gets it moved from the others (or the write is refused
    /// for the counter as a whole).
    pub(super) async fn write_counted(
        &self,
        tenant: &TenantId,
        writes: Vec<(Write, Guard)>,
        deltas: &BTreeMap<CollectionName, Counter>,
        admission: Option<&Admission>,
    ) -> Result<(), StoreError> {
        // Each counter's shard is drawn once; a shard without room is replaced by one with
        // it (conflicts with other transactions are retried inside `write_guarded`).
        let mut shards = Drawn::default();
        for round in 0..REBALANCE_ROUNDS {
            if round > 1 {
                // Others are moving room too: let them finish.
                let wait = 5 * u64::from(round) + u64::from(super::conditional::rand_below(20));
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            let mut all = writes.clone();
            all.extend(self.counter_writes(tenant, deltas, admission, &mut shards)?);
            let failed = match self.write_guarded(all).await {
                Ok(()) => return Ok(()),
                Err(Cancelled::Failed(StoreError::Busy)) => {
                    // Other writes kept holding these shards: draw others.
                    shards = Drawn::default();
                    continue;
                }
                Err(Cancelled::Failed(err)) => return Err(err),
                Err(Cancelled::Guard(Guard::Quota(counted))) => counted,
                Err(Cancelled::Guard(guard)) => {
                    return Err(match guard {
                        Guard::NewMarker(external_id) => StoreError::ExternalIdTaken(external_id),
                        Guard::Empty => StoreError::CollectionNotEmpty,
                        _ => StoreError::Conflict,
                    })
                }
            };
            let Some(admission) = admission else {
                return Err(StoreError::AdmissionStale);
            };
            let add = match &failed {
                Counted::Tenant => total(deltas),
                Counted::Collection(name) => deltas.get(name).copied().unwrap_or_default(),
            };
            let shard = shards.of(&failed);
            let next = self
                .rebalance(tenant, &failed, admission, shard, add)
                .await?;
            shards.set(&failed, next);
        }
        Err(StoreError::Busy)
    }

    /// Uncounts an expired record once: the release item is created with the counter changes.
    pub(super) async fn release(&self, record: &FileRecord) -> Result<(), StoreError> {
        let deltas = deltas([(Some(record), None)]);
        let expires = crate::model::Timestamp::from_datetime(chrono::Utc::now())
            .plus_seconds(RELEASE_KEPT_SECONDS);
        let mut item = key(tenant_pk(&record.tenant), release_sk(record));
        item.insert(TTL_ATTRIBUTE.to_owned(), n(expires.epoch_seconds_ceil()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(backend)?;
        let mut writes = vec![(Write::Put(put), Guard::Release)];
        writes.extend(self.counter_writes(&record.tenant, &deltas, None, &mut Drawn::default())?);
        match self.write_guarded(writes).await {
            Ok(()) | Err(Cancelled::Guard(Guard::Release)) => Ok(()),
            Err(Cancelled::Failed(err)) => Err(err),
            Err(Cancelled::Guard(_)) => Err(StoreError::Conflict),
        }
    }

    pub(super) async fn get_collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Collection>, StoreError> {
        self.get_item(key(tenant_pk(tenant), collection_sk(name.as_str())))
            .await?
            .map(collection_from_item)
            .transpose()
    }

    /// The collection item and the tenant's usage item, in one consistent `BatchGetItem`.
    pub(super) async fn read_admission(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<(Option<Collection>, Limits, u64), StoreError> {
        let collection_key = key(tenant_pk(tenant), collection_sk(name.as_str()));
        let usage_key = key(tenant_pk(tenant), USAGE_SK.to_owned());
        let found = self.get_items(vec![collection_key, usage_key]).await?;
        let mut collection = None;
        let mut limits = (Limits::default(), 0);
        for item in found {
            let sort = item.get(SK).and_then(|v| v.as_s().ok()).cloned();
            match sort.as_deref() {
                Some(USAGE_SK) => limits = stored_limits(&item),
                Some(_) => collection = Some(collection_from_item(item)?),
                None => {}
            }
        }
        Ok((collection, limits.0, limits.1))
    }

    /// Every item of the tenant's partition whose sort key starts with `prefix`.
    async fn query_prefix(&self, tenant: &TenantId, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(tenant_pk(tenant)))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    pub(super) async fn list_collections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Collection>, StoreError> {
        self.query_prefix(tenant, COLLECTION_SK_PREFIX)
            .await?
            .into_iter()
            .map(collection_from_item)
            .collect()
    }

    pub(super) async fn store_collection(
        &self,
        next: &Collection,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(next).map_err(backend)?;
        item.extend(key(
            tenant_pk(&next.tenant),
            collection_sk(next.name.as_str()),
        ));
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match expected {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":version", n(version)),
        };
        // Every shard of the collection's counter learns the new version: a write admitted on
        // the old rules fails on whichever shard it draws.
        let mut writes = vec![(Write::Put(put.build().map_err(backend)?), Guard::Record)];
        writes.extend(version_on_shards(
            self,
            &next.tenant,
            &Counted::Collection(next.name.clone()),
            COLLECTION_VERSION,
            next.version,
        )?);
        self.write(writes).await
    }

    pub(super) async fn remove_collection(
        &self,
        collection: &Collection,
    ) -> Result<(), StoreError> {
        let tenant = &collection.tenant;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(tenant),
                collection_sk(collection.name.as_str()),
            )))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":version", n(collection.version))
            .build()
            .map_err(backend)?;
        let counted = Counted::Collection(collection.name.clone());
        let (shards, base, base_item) = self.read_shards(tenant, &counted).await?;
        let files = shards.iter().fold(base, |sum, s| sum.plus(s.count)).files;
        if files != 0 {
            return Err(StoreError::CollectionNotEmpty);
        }
        let mut writes = vec![(Write::Delete(delete), Guard::Record)];
        // Each usage item goes if it still holds what was read (a file created or deleted
        // meanwhile changed one: the collection was not empty then).
        // Every shard, and the item from before sharding where there is one. A shard absent
        // when read must still be absent (one made meanwhile counts a write in it).
        let mut sorts: Vec<(String, Option<Counter>)> = shards
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sort = counted.shard_sk(u32::try_from(i).unwrap_or(0));
                (sort, s.exists.then_some(s.count))
            })
            .collect();
        if base_item.is_some() {
            sorts.push((counted.base_sk(), Some(base)));
        }
        for (sort, count) in sorts {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(tenant_pk(tenant), sort)));
            let delete = match count {
                Some(count) => delete
                    .condition_expression(
                        "(attribute_not_exists(#files) OR #files = :files) AND (attribute_not_exists(#bytes) OR #bytes = :bytes)",
                    )
                    .expression_attribute_names("#files", FILES)
                    .expression_attribute_names("#bytes", BYTES)
                    .expression_attribute_values(":files", n(count.files))
                    .expression_attribute_values(":bytes", n(count.bytes)),
                None => delete
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
            };
            writes.push((
                Write::Delete(delete.build().map_err(backend)?),
                Guard::Empty,
            ));
        }
        self.write(writes).await
    }

    /// The tenant's usage: every usage item (`U`, its shards, and each collection's), summed.
    pub(super) async fn read_usage(&self, tenant: &TenantId) -> Result<Usage, StoreError> {
        let mut usage = Usage::default();
        for item in self.query_prefix(tenant, USAGE_SK).await? {
            let Some(sort) = item.get(SK).and_then(|v| v.as_s().ok()) else {
                continue;
            };
            let Some((counted, shard)) = counted_of(sort) else {
                return Err(StoreError::Backend(
                    format!("a usage item with an unknown sort key: {sort}").into(),
                ));
            };
            match counted {
                Counted::Tenant => {
                    usage.total = usage.total.plus(counter_of(&item));
                    if shard.is_none() {
                        (usage.limits, usage.limits_version) = stored_limits(&item);
                    }
                }
                Counted::Collection(name) => {
                    let entry = usage.collections.entry(name).or_default();
                    *entry = entry.plus(counter_of(&item));
                }
            }
        }
        Ok(usage)
    }

    pub(super) async fn store_limits(
        &self,
        tenant: &TenantId,
        limits: Limits,
        expected: u64,
    ) -> Result<(), StoreError> {
        let mut set = vec!["#lv = :next"];
        let mut remove = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), USAGE_SK.to_owned())))
            .expression_attribute_names("#lv", LIMITS_VERSION)
            .expression_attribute_names("#mb", MAX_BYTES)
            .expression_attribute_names("#mf", MAX_FILES)
            .expression_attribute_values(":next", n(expected + 1));
        match limits.max_bytes {
            Some(max) => {
                set.push("#mb = :mb");
                update = update.expression_attribute_values(":mb", n(max));
            }
            None => remove.push("#mb"),
        }
        match limits.max_files {
            Some(max) => {
                set.push("#mf = :mf");
                update = update.expression_attribute_values(":mf", n(max));
            }
            None => remove.push("#mf"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update = update.update_expression(expression);
        update = if expected == 0 {
            update.condition_expression("attribute_not_exists(#lv)")
        } else {
            update
                .condition_expression("#lv = :expected")
                .expression_attribute_values(":expected", n(expected))
        };
        let update = update.build().map_err(backend)?;
        // Every shard of the tenant's counter learns the new version: a write admitted on the
        // old limits fails on whichever shard it draws.
        let mut writes = vec![(Write::Update(update), Guard::Record)];
        writes.extend(version_on_shards(
            self,
            tenant,
            &Counted::Tenant,
            LIMITS_VERSION,
            expected + 1,
        )?);
        self.write(writes).await
    }
}
