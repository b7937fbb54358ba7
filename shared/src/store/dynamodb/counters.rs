//! Usage counters without a hot item: each counter (the tenant's, and each collection's) is
//! spread over [`COUNTER_SHARDS`] items, and its limit over escrow allotments on them.
//!
//! A record change adds its difference to one shard, chosen at random for each attempt, in the
//! transaction that writes the record; two writes of a tenant meet on an item only when they
//! draw the same shard. Each shard keeps, besides its `bytes` and `files`:
//!
//! - `allotBytes`/`allotFiles`: its part of the limit. The parts of a counter's shards add up
//!   to the limit (less what a legacy unsharded item holds, see below).
//! - `freeBytes`/`freeFiles`: its allotment less its count. Every change adds `-delta` to it
//!   beside `delta` to the count, in the same `UpdateItem`, so `free = allot - count` on every
//!   shard at every moment, whether or not a limit is in force.
//! - `limitsVersion` (tenant shards) and `collectionVersion` (collection shards): the limits
//!   and rules they were written under; changing the limits or the collection sets them on
//!   every shard in one transaction, and a write admitted on older ones fails on its shard.
//!
//! An admitted write that adds `a` to a limited counter is conditioned on `free >= a` on its
//! shard: a shard never passes its allotment, so the counter never passes the limit, without
//! any item that every write touches. When the drawn shard lacks room, `rebalance.rs`
//! reads every shard (one `BatchGetItem`) and either refuses (the whole counter has no room:
//! `409`), moves free room from the shards that have most to the one that needs it (a small
//! transaction; each donor conditioned on still having it, so room is never spent twice), or,
//! when the allotments do not add up to the limit in force (a new or changed limit, the
//! deployment's default met for the first time) or the counter is over its limit, sets every
//! shard's allotment at once, conditioned on each one's allotment and free room as read.
//! A counter over its limit (a lowered limit) is *frozen*: its shards carry `frozenBytes` or
//! `frozenFiles`, and no write that adds is admitted until a rebalance finds room again. Each
//! shard also records the limit its allotment was set for (`allotForBytes`, `allotForFiles`),
//! and a write is admitted only under that limit.
//!
//! Items written before the counters were sharded (`U`, `U#<name>`) are kept as they are and
//! added to every sum; nothing writes them again.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::Update;

use super::conditional::{rand_below, Guard, Write};
use super::schema::{backend, key, n, tenant_pk, Item, SK};
use super::DynamoStore;
use crate::model::{Admission, CollectionName, Counter, LimitName, Limits, TenantId};
use crate::store::StoreError;

/// Items each counter is spread over.
pub(crate) const COUNTER_SHARDS: u32 = 16;

pub(super) const BYTES: &str = "bytes";
pub(super) const FILES: &str = "files";
const FREE_BYTES: &str = "freeBytes";
const FREE_FILES: &str = "freeFiles";
const ALLOT_BYTES: &str = "allotBytes";
const ALLOT_FILES: &str = "allotFiles";
/// The limit a shard's allotment was set for: a write is admitted on the shard only under
/// that limit (a changed limit, a deployment default met anew, a stale admission all find it
/// different, and the allotments are set again first).
const ALLOT_FOR_BYTES: &str = "allotForBytes";
const ALLOT_FOR_FILES: &str = "allotForFiles";
pub(super) const FROZEN_BYTES: &str = "frozenBytes";
pub(super) const FROZEN_FILES: &str = "frozenFiles";
pub(super) const LIMITS_VERSION: &str = "limitsVersion";
pub(super) const COLLECTION_VERSION: &str = "collectionVersion";

/// The sort key of the tenant's unsharded usage item (its stored limits, and what it counted
/// before the counters were sharded).
pub(crate) const USAGE_SK: &str = "U";

/// Which counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Counted {
    Tenant,
    Collection(CollectionName),
}

impl Counted {
    /// The unsharded item's sort key (`U`, `U#<name>`).
    pub(super) fn base_sk(&self) -> String {
        match self {
            Counted::Tenant => USAGE_SK.to_owned(),
            Counted::Collection(name) => format!("{USAGE_SK}#{name}"),
        }
    }

    /// A shard's sort key: the base's, `~`, the shard (`~` is in no collection name).
    pub(super) fn shard_sk(&self, shard: u32) -> String {
        format!("{}~{shard}", self.base_sk())
    }

    /// The attribute holding the version this counter's writes are admitted under.
    pub(super) fn version_attribute(&self) -> &'static str {
        match self {
            Counted::Tenant => LIMITS_VERSION,
            Counted::Collection(_) => COLLECTION_VERSION,
        }
    }
}

/// Where a usage item's sort key belongs: which counter, and whether it is a shard.
pub(super) fn counted_of(sort: &str) -> Option<(Counted, Option<u32>)> {
    let (base, shard) = match sort.split_once('~') {
        Some((base, shard)) => (base, Some(shard.parse().ok()?)),
        None => (sort, None),
    };
    if base == USAGE_SK {
        return Some((Counted::Tenant, shard));
    }
    let name = base.strip_prefix(&format!("{USAGE_SK}#"))?;
    let name = CollectionName::parse_as("collection", name).ok()?;
    Some((Counted::Collection(name), shard))
}

pub(super) fn number(item: &Item, attribute: &str) -> Option<i64> {
    item.get(attribute)?.as_n().ok()?.parse().ok()
}

/// A usage item's count.
pub(super) fn counter_of(item: &Item) -> Counter {
    Counter {
        bytes: number(item, BYTES).unwrap_or(0),
        files: number(item, FILES).unwrap_or(0),
    }
}

/// One shard as read.
#[derive(Clone, Debug, Default)]
pub(super) struct Shard {
    pub(super) count: Counter,
    pub(super) free: Counter,
    pub(super) allot: Counter,
    /// Whether the item has `allotBytes`/`allotFiles` (absent: `0`).
    pub(super) has_allot: (bool, bool),
    /// Whether the item has `freeBytes`/`freeFiles` (absent: never written).
    pub(super) has_free: (bool, bool),
    /// Whether the measure is frozen (over its limit).
    pub(super) frozen: (bool, bool),
    /// The limits its allotments were set for (bytes, files).
    pub(super) allot_for: (Option<i64>, Option<i64>),
    /// The limits or collection version the shard was last set to.
    pub(super) version: Option<u64>,
    pub(super) exists: bool,
}

impl Shard {
    fn of(item: &Item, version_attribute: &str) -> Shard {
        Shard {
            count: counter_of(item),
            free: Counter {
                bytes: number(item, FREE_BYTES).unwrap_or(0),
                files: number(item, FREE_FILES).unwrap_or(0),
            },
            allot: Counter {
                bytes: number(item, ALLOT_BYTES).unwrap_or(0),
                files: number(item, ALLOT_FILES).unwrap_or(0),
            },
            has_allot: (
                item.contains_key(ALLOT_BYTES),
                item.contains_key(ALLOT_FILES),
            ),
            has_free: (item.contains_key(FREE_BYTES), item.contains_key(FREE_FILES)),
            frozen: (
                item.contains_key(FROZEN_BYTES),
                item.contains_key(FROZEN_FILES),
            ),
            allot_for: (number(item, ALLOT_FOR_BYTES), number(item, ALLOT_FOR_FILES)),
            version: number(item, version_attribute).and_then(|v| u64::try_from(v).ok()),
            exists: true,
        }
    }
}

/// One of the two measures a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Measure {
    Bytes,
    Files,
}

impl Measure {
    pub(super) fn of(self, c: Counter) -> i64 {
        match self {
            Measure::Bytes => c.bytes,
            Measure::Files => c.files,
        }
    }

    pub(super) fn limit(self, limits: Limits) -> Option<u64> {
        match self {
            Measure::Bytes => limits.max_bytes,
            Measure::Files => limits.max_files,
        }
    }

    pub(super) fn free(self) -> &'static str {
        match self {
            Measure::Bytes => FREE_BYTES,
            Measure::Files => FREE_FILES,
        }
    }

    pub(super) fn allot(self) -> &'static str {
        match self {
            Measure::Bytes => ALLOT_BYTES,
            Measure::Files => ALLOT_FILES,
        }
    }

    pub(super) fn allot_for(self) -> &'static str {
        match self {
            Measure::Bytes => ALLOT_FOR_BYTES,
            Measure::Files => ALLOT_FOR_FILES,
        }
    }

    /// The limit `shard`'s allotment of this measure was set for.
    pub(super) fn allotted_for(self, shard: &Shard) -> Option<i64> {
        match self {
            Measure::Bytes => shard.allot_for.0,
            Measure::Files => shard.allot_for.1,
        }
    }

    pub(super) fn frozen(self) -> &'static str {
        match self {
            Measure::Bytes => FROZEN_BYTES,
            Measure::Files => FROZEN_FILES,
        }
    }

    pub(super) fn has(self, flags: (bool, bool)) -> bool {
        match self {
            Measure::Bytes => flags.0,
            Measure::Files => flags.1,
        }
    }
}

pub(super) const MEASURES: [Measure; 2] = [Measure::Bytes, Measure::Files];

/// The limits, the version and the name a counter's admission applies.
pub(super) fn admitted(admission: &Admission, counted: &Counted) -> (Limits, Option<u64>) {
    match counted {
        Counted::Tenant => (
            admission.tenant_limits,
            Some(admission.tenant_limits_version).filter(|v| *v > 0),
        ),
        Counted::Collection(_) => (admission.collection_limits, admission.collection_version),
    }
}

pub(super) fn limit_name(counted: &Counted, measure: Measure, max: u64) -> LimitName {
    match (counted, measure) {
        (Counted::Tenant, Measure::Bytes) => LimitName::TenantBytes(max),
        (Counted::Tenant, Measure::Files) => LimitName::TenantFiles(max),
        (Counted::Collection(c), Measure::Bytes) => LimitName::CollectionBytes(c.clone(), max),
        (Counted::Collection(c), Measure::Files) => LimitName::CollectionFiles(c.clone(), max),
    }
}

/// Builds an `Update` with numbered placeholders.
pub(super) struct Expression {
    pub(super) names: Vec<(String, String)>,
    pub(super) values: Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>,
    pub(super) conditions: Vec<String>,
}

impl Expression {
    pub(super) fn new() -> Self {
        Expression {
            names: Vec::new(),
            values: Vec::new(),
            conditions: Vec::new(),
        }
    }

    pub(super) fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.push((placeholder.clone(), attribute.to_owned()));
        placeholder
    }

    pub(super) fn value(&mut self, value: i64) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), n(value)));
        placeholder
    }

    /// `attribute = version`, or absent for none.
    pub(super) fn version_is(&mut self, attribute: &str, version: Option<u64>) {
        let name = self.name(attribute);
        match version {
            None => self
                .conditions
                .push(format!("attribute_not_exists({name})")),
            Some(v) => {
                let value = self.value(i64::try_from(v).unwrap_or(i64::MAX));
                self.conditions.push(format!("{name} = {value}"));
            }
        }
    }

    pub(super) fn update(
        self,
        table: &str,
        key: Item,
        update: String,
    ) -> Result<Update, StoreError> {
        let mut builder = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update);
        for (placeholder, attribute) in self.names {
            builder = builder.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, value) in self.values {
            builder = builder.expression_attribute_values(placeholder, value);
        }
        if !self.conditions.is_empty() {
            builder = builder.condition_expression(self.conditions.join(" AND "));
        }
        builder.build().map_err(backend)
    }
}

/// What a batch of record changes adds to the tenant's counter.
pub(super) fn total(deltas: &BTreeMap<CollectionName, Counter>) -> Counter {
    deltas
        .values()
        .fold(Counter::default(), |sum, c| sum.plus(*c))
}

impl DynamoStore {
    /// The key of one shard of `counted`.
    pub(super) fn shard_key(&self, tenant: &TenantId, counted: &Counted, shard: u32) -> Item {
        key(tenant_pk(tenant), counted.shard_sk(shard))
    }

    /// The counter writes for these deltas on the tenant's counter and each collection's (on
    /// the shard `shards` gives each), conditioned on `admission` where they add.
    /// `Err(QuotaExceeded)` if a delta alone passes a limit.
    pub(super) fn counter_writes(
        &self,
        tenant: &TenantId,
        deltas: &BTreeMap<CollectionName, Counter>,
        admission: Option<&Admission>,
        shards: &mut Drawn,
    ) -> Result<Vec<(Write, Guard)>, StoreError> {
        let mut writes = Vec::new();
        let mut counters: Vec<(Counted, Counter)> = vec![(Counted::Tenant, total(deltas))];
        counters.extend(
            deltas
                .iter()
                .map(|(name, delta)| (Counted::Collection(name.clone()), *delta)),
        );
        if let Some(admission) = admission {
            if !deltas.contains_key(&admission.collection) {
                // The collection is still the one whose rules were read, though this write
                // does not count in it: its shard is written with nothing added, on that
                // condition.
                counters.push((
                    Counted::Collection(admission.collection.clone()),
                    Counter::default(),
                ));
            }
        }
        for (counted, delta) in counters {
            let applied = admission.filter(|a| match &counted {
                Counted::Tenant => true,
                Counted::Collection(name) => *name == a.collection,
            });
            if delta.is_zero() && (applied.is_none() || counted == Counted::Tenant) {
                continue;
            }
            let mut expression = Expression::new();
            let mut guarded = false;
            if let Some(admission) = applied {
                let (limits, version) = admitted(admission, &counted);
                let adds = delta.bytes > 0 || delta.files > 0;
                if adds || matches!(counted, Counted::Collection(_)) {
                    expression.version_is(counted.version_attribute(), version);
                    guarded = true;
                }
                for measure in MEASURES {
                    let add = measure.of(delta);
                    let Some(max) = measure.limit(limits).filter(|_| add > 0) else {
                        continue;
                    };
                    if i64::try_from(max).unwrap_or(i64::MAX) < add {
                        return Err(StoreError::QuotaExceeded(limit_name(
                            &counted, measure, max,
                        )));
                    }
                    let free = expression.name(measure.free());
                    let needed = expression.value(add);
                    let frozen = expression.name(measure.frozen());
                    let allot_for = expression.name(measure.allot_for());
                    let limit = expression.value(i64::try_from(max).unwrap_or(i64::MAX));
                    expression.conditions.push(format!(
                        "{free} >= {needed} AND attribute_not_exists({frozen}) AND {allot_for} = {limit}"
                    ));
                }
            }
            let (count_b, count_f) = (expression.name(BYTES), expression.name(FILES));
            let (free_b, free_f) = (expression.name(FREE_BYTES), expression.name(FREE_FILES));
            let (db, df) = (expression.value(delta.bytes), expression.value(delta.files));
            let (nb, nf) = (
                expression.value(-delta.bytes),
                expression.value(-delta.files),
            );
            let update =
                format!("ADD {count_b} {db}, {count_f} {df}, {free_b} {nb}, {free_f} {nf}");
            let guard = if guarded {
                Guard::Quota(counted.clone())
            } else {
                Guard::Counter
            };
            let shard = shards.of(&counted);
            let update =
                expression.update(&self.table, self.shard_key(tenant, &counted, shard), update)?;
            writes.push((Write::Update(update), guard));
        }
        Ok(writes)
    }

    /// Every shard of `counted` (index = shard) and its unsharded item's count, in one
    /// consistent `BatchGetItem`.
    pub(super) async fn read_shards(
        &self,
        tenant: &TenantId,
        counted: &Counted,
    ) -> Result<(Vec<Shard>, Counter, Option<Item>), StoreError> {
        let mut keys: Vec<Item> = (0..COUNTER_SHARDS)
            .map(|i| self.shard_key(tenant, counted, i))
            .collect();
        keys.push(key(tenant_pk(tenant), counted.base_sk()));
        let mut shards = vec![Shard::default(); COUNTER_SHARDS as usize];
        let mut base = Counter::default();
        let mut base_item = None;
        for item in self.get_items(keys).await? {
            let Some(sort) = item.get(SK).and_then(|v| v.as_s().ok()) else {
                continue;
            };
            match counted_of(sort) {
                Some((_, Some(i))) if i < COUNTER_SHARDS => {
                    shards[i as usize] = Shard::of(&item, counted.version_attribute());
                }
                Some((_, None)) => {
                    base = counter_of(&item);
                    base_item = Some(item);
                }
                _ => {}
            }
        }
        Ok((shards, base, base_item))
    }
}

/// A fresh shard for one attempt of a write.
pub(super) fn draw_shard() -> u32 {
    rand_below(COUNTER_SHARDS)
}

/// The shard each counter of one write goes to: drawn at random when first asked, set by
/// [`DynamoStore::rebalance`] when that one had no room.
#[derive(Default)]
pub(super) struct Drawn(Vec<(Counted, u32)>);

impl Drawn {
    pub(super) fn of(&mut self, counted: &Counted) -> u32 {
        if let Some((_, shard)) = self.0.iter().find(|(c, _)| c == counted) {
            return *shard;
        }
        let shard = draw_shard();
        self.0.push((counted.clone(), shard));
        shard
    }

    pub(super) fn set(&mut self, counted: &Counted, shard: u32) {
        self.0.retain(|(c, _)| c != counted);
        self.0.push((counted.clone(), shard));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_name_their_counter() {
        let c = CollectionName::parse_as("c", "photos").unwrap();
        assert_eq!(counted_of("U"), Some((Counted::Tenant, None)));
        assert_eq!(counted_of("U~7"), Some((Counted::Tenant, Some(7))));
        assert_eq!(
            counted_of("U#photos"),
            Some((Counted::Collection(c.clone()), None))
        );
        assert_eq!(
            counted_of("U#photos~15"),
            Some((Counted::Collection(c.clone()), Some(15)))
        );
        assert_eq!(Counted::Collection(c).shard_sk(3), "U#photos~3");
        assert_eq!(counted_of("U#Bad"), None);
    }
}
