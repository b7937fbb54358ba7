//! Collections, usage counters and limits in the table: the items
//! [`super::schema`] lists, and the counter writes that go into a record change's transaction.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, Update};

use super::conditional::{Cancelled, Guard, Write};
use super::schema::{
    backend, collection_sk, collection_usage_sk, key, n, release_sk, s, tenant_pk, Item,
    COLLECTION_SK_PREFIX, PK, SK, TTL_ATTRIBUTE, USAGE_SK, VERSION,
};
use super::sdk::classify;
use super::DynamoStore;
use crate::model::{
    Admission, Collection, CollectionName, Counter, FileRecord, Limits, TenantId, Usage,
};
use crate::store::StoreError;

const BYTES: &str = "bytes";
const FILES: &str = "files";
const MAX_BYTES: &str = "maxBytes";
const MAX_FILES: &str = "maxFiles";
const LIMITS_VERSION: &str = "limitsVersion";
/// How long an expiry release item is kept: longer than a stream record can be retried (24 h).
const RELEASE_KEPT_SECONDS: u64 = 3 * 86_400;

/// What a batch of record changes adds to each collection's counters (zero ones left out).
pub(super) fn deltas<'a>(
    changes: impl IntoIterator<Item = (Option<&'a FileRecord>, Option<&'a FileRecord>)>,
) -> BTreeMap<CollectionName, Counter> {
    crate::model::collection_deltas(changes)
}

fn total(deltas: &BTreeMap<CollectionName, Counter>) -> Counter {
    deltas
        .values()
        .fold(Counter::default(), |sum, c| sum.plus(*c))
}

fn number(item: &Item, attribute: &str) -> Option<i64> {
    item.get(attribute)?.as_n().ok()?.parse().ok()
}

fn counter_of(item: &Item) -> Counter {
    Counter {
        bytes: number(item, BYTES).unwrap_or(0),
        files: number(item, FILES).unwrap_or(0),
    }
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

/// One limit as a condition on a usage item: its counter may take `add` more without passing
/// `max`. `Err` if `add` alone passes it.
fn limit_condition(
    parts: &mut Vec<String>,
    values: &mut Vec<(String, i64)>,
    attribute: &str,
    placeholder: &str,
    max: Option<u64>,
    add: i64,
) -> Result<(), ()> {
    let Some(max) = max.filter(|_| add > 0) else {
        return Ok(());
    };
    let room = i64::try_from(max).unwrap_or(i64::MAX) - add;
    if room < 0 {
        return Err(());
    }
    parts.push(format!(
        "(attribute_not_exists({attribute}) OR {attribute} <= {placeholder})"
    ));
    values.push((placeholder.to_owned(), room));
    Ok(())
}

/// Both limits of `limits` as conditions for a counter taking `add`; `Err(true)` if the byte
/// limit alone is passed by `add`, `Err(false)` the file limit.
fn limits_conditions(
    parts: &mut Vec<String>,
    values: &mut Vec<(String, i64)>,
    limits: Limits,
    add: Counter,
) -> Result<(), bool> {
    limit_condition(
        parts,
        values,
        "#bytes",
        ":maxb",
        limits.max_bytes,
        add.bytes,
    )
    .map_err(|()| true)?;
    limit_condition(
        parts,
        values,
        "#files",
        ":maxf",
        limits.max_files,
        add.files,
    )
    .map_err(|()| false)
}

impl DynamoStore {
    /// The counter writes for these deltas (tenant, then each collection), conditioned on
    /// `admission`'s limits where they add; `Err(None)` if a delta alone passes a limit.
    pub(super) fn counter_writes(
        &self,
        tenant: &TenantId,
        deltas: &BTreeMap<CollectionName, Counter>,
        admission: Option<&Admission>,
    ) -> Result<Vec<(Write, Guard)>, StoreError> {
        let mut writes = Vec::new();
        let sum = total(deltas);
        if let Some(admission) = admission {
            // The collection is still the one whose rules and limits were read.
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    tenant_pk(tenant),
                    collection_sk(admission.collection.as_str()),
                )));
            // DynamoDB refuses names the expression does not use: each branch names its own.
            let check = match admission.collection_version {
                None => check
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
                Some(version) => check
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", VERSION)
                    .expression_attribute_values(":version", n(version)),
            };
            writes.push((
                Write::Check(check.build().map_err(backend)?),
                Guard::Admission,
            ));
        }
        let passed = |limit| StoreError::QuotaExceeded(limit);
        if !sum.is_zero() {
            let mut parts = Vec::new();
            let mut values = Vec::new();
            let mut names = vec![("#bytes", BYTES), ("#files", FILES)];
            if let Some(admission) = admission {
                let limits = admission.tenant_limits;
                limits_conditions(&mut parts, &mut values, limits, sum).map_err(|bytes| {
                    passed(if bytes {
                        crate::model::LimitName::TenantBytes(limits.max_bytes.unwrap_or(0))
                    } else {
                        crate::model::LimitName::TenantFiles(limits.max_files.unwrap_or(0))
                    })
                })?;
                if sum.bytes > 0 || sum.files > 0 {
                    names.push(("#lv", LIMITS_VERSION));
                    if admission.tenant_limits_version == 0 {
                        parts.push("attribute_not_exists(#lv)".to_owned());
                    } else {
                        parts.push("#lv = :lv".to_owned());
                        values.push((
                            ":lv".to_owned(),
                            i64::try_from(admission.tenant_limits_version).unwrap_or(i64::MAX),
                        ));
                    }
                }
            }
            writes.push((
                self.counter_update(
                    key(tenant_pk(tenant), USAGE_SK.to_owned()),
                    sum,
                    &names,
                    &parts,
                    &values,
                )?,
                if parts.is_empty() {
                    Guard::Counter
                } else {
                    Guard::Quota
                },
            ));
        }
        for (collection, delta) in deltas {
            let mut parts = Vec::new();
            let mut values = Vec::new();
            if let Some(admission) = admission.filter(|a| &a.collection == collection) {
                let limits = admission.collection_limits;
                limits_conditions(&mut parts, &mut values, limits, *delta).map_err(|bytes| {
                    passed(if bytes {
                        crate::model::LimitName::CollectionBytes(
                            collection.clone(),
                            limits.max_bytes.unwrap_or(0),
                        )
                    } else {
                        crate::model::LimitName::CollectionFiles(
                            collection.clone(),
                            limits.max_files.unwrap_or(0),
                        )
                    })
                })?;
            }
            let key = key(tenant_pk(tenant), collection_usage_sk(collection.as_str()));
            let names = [("#bytes", BYTES), ("#files", FILES)];
            writes.push((
                self.counter_update(key, *delta, &names, &parts, &values)?,
                if parts.is_empty() {
                    Guard::Counter
                } else {
                    Guard::Quota
                },
            ));
        }
        Ok(writes)
    }

    fn counter_update(
        &self,
        key: Item,
        delta: Counter,
        names: &[(&str, &str)],
        conditions: &[String],
        values: &[(String, i64)],
    ) -> Result<Write, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("ADD #bytes :db, #files :df")
            .expression_attribute_values(":db", n(delta.bytes))
            .expression_attribute_values(":df", n(delta.files));
        for (placeholder, attribute) in names {
            update = update.expression_attribute_names(*placeholder, *attribute);
        }
        for (placeholder, value) in values {
            update = update.expression_attribute_values(placeholder.clone(), n(*value));
        }
        if !conditions.is_empty() {
            update = update.condition_expression(conditions.join(" AND "));
        }
        update.build().map(Write::Update).map_err(backend)
    }

    /// Sends a record change's writes with its counter writes; a failed limit is explained by
    /// reading the usage it met.
    pub(super) async fn write_counted(
        &self,
        tenant: &TenantId,
        mut writes: Vec<(Write, Guard)>,
        deltas: &BTreeMap<CollectionName, Counter>,
        admission: Option<&Admission>,
    ) -> Result<(), StoreError> {
        writes.extend(self.counter_writes(tenant, deltas, admission)?);
        match self.write_guarded(writes).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Failed(err)) => Err(err),
            Err(Cancelled::Guard(Guard::Quota)) => {
                let Some(admission) = admission else {
                    return Err(StoreError::AdmissionStale);
                };
                let (usage, in_collection) =
                    self.read_counters(tenant, &admission.collection).await?;
                if usage.limits_version != admission.tenant_limits_version {
                    // The limits changed since they were read: not a verdict on them.
                    return Err(StoreError::AdmissionStale);
                }
                let added = total(deltas);
                let added_here = deltas
                    .get(&admission.collection)
                    .copied()
                    .unwrap_or_default();
                let tenant_passed = admission.first_passed(
                    added,
                    usage.total,
                    Counter {
                        bytes: i64::MIN / 2,
                        files: i64::MIN / 2,
                    },
                );
                let collection_passed = admission.first_passed(
                    added_here,
                    Counter {
                        bytes: i64::MIN / 2,
                        files: i64::MIN / 2,
                    },
                    in_collection,
                );
                match tenant_passed.or(collection_passed) {
                    Some(limit) => Err(StoreError::QuotaExceeded(limit)),
                    // The limits moved between the write and this read: try again.
                    None => Err(StoreError::AdmissionStale),
                }
            }
            Err(Cancelled::Guard(guard)) => Err(match guard {
                Guard::NewMarker(external_id) => StoreError::ExternalIdTaken(external_id),
                Guard::Admission => StoreError::AdmissionStale,
                Guard::Empty => StoreError::CollectionNotEmpty,
                _ => StoreError::Conflict,
            }),
        }
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
        writes.extend(self.counter_writes(&record.tenant, &deltas, None)?);
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

    /// The tenant's usage item (its counter and limits, no collections') and `collection`'s
    /// counter, in one consistent `BatchGetItem`: what a refused admission is explained with.
    /// (Not [`Self::read_usage`]'s `Query`: the functions that admit uploads need no `Query`
    /// in their policies.)
    async fn read_counters(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Usage, Counter), StoreError> {
        let tenant_key = key(tenant_pk(tenant), USAGE_SK.to_owned());
        let collection_key = key(tenant_pk(tenant), collection_usage_sk(collection.as_str()));
        let mut usage = Usage::default();
        let mut in_collection = Counter::default();
        for item in self.get_items(vec![tenant_key, collection_key]).await? {
            match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(USAGE_SK) => {
                    usage.total = counter_of(&item);
                    (usage.limits, usage.limits_version) = stored_limits(&item);
                }
                Some(_) => in_collection = counter_of(&item),
                None => {}
            }
        }
        Ok((usage, in_collection))
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
        self.write(vec![(
            Write::Put(put.build().map_err(backend)?),
            Guard::Record,
        )])
        .await
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
        let usage = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(tenant),
                collection_usage_sk(collection.name.as_str()),
            )))
            .condition_expression("attribute_not_exists(#files) OR #files = :zero")
            .expression_attribute_names("#files", FILES)
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(backend)?;
        self.write(vec![
            (Write::Delete(delete), Guard::Record),
            (Write::Delete(usage), Guard::Empty),
        ])
        .await
    }

    pub(super) async fn read_usage(&self, tenant: &TenantId) -> Result<Usage, StoreError> {
        let mut usage = Usage::default();
        for item in self.query_prefix(tenant, USAGE_SK).await? {
            let sort = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sort == USAGE_SK {
                usage.total = counter_of(&item);
                (usage.limits, usage.limits_version) = stored_limits(&item);
            } else if let Some(name) = sort.strip_prefix(&format!("{USAGE_SK}#")) {
                let name = CollectionName::parse_as("collection", name).map_err(|e| {
                    StoreError::Backend(format!("a usage item names no collection: {e}").into())
                })?;
                usage.collections.insert(name, counter_of(&item));
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
        self.client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
