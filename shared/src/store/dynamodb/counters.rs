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
//! any item that every write touches. When the drawn shard lacks room, [`DynamoStore::rebalance`]
//! reads every shard (one `BatchGetItem`) and either refuses (the whole counter has no room:
//! `409`), moves free room from the shards that have most to the one that needs it (a small
//! transaction; each donor conditioned on still having it, so room is never spent twice), or,
//! when the allotments do not add up to the limit in force (a new or changed limit, the
//! deployment's default met for the first time) or the counter is over its limit, sets every
//! shard's allotment at once, conditioned on each one's allotment and free room as read.
//! A counter over its limit (a lowered limit) is *frozen*: its shards carry `frozen`, and no
//! write is admitted on them until a rebalance finds room again.
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
    fn version_attribute(&self) -> &'static str {
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

fn number(item: &Item, attribute: &str) -> Option<i64> {
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
    count: Counter,
    free: Counter,
    allot: Counter,
    /// Whether the item has `allotBytes`/`allotFiles` (absent: `0`).
    has_allot: (bool, bool),
    /// Whether the item has `freeBytes`/`freeFiles` (absent: never written).
    has_free: (bool, bool),
    /// Whether the measure is frozen (over its limit).
    frozen: (bool, bool),
    /// The limits or collection version the shard was last set to.
    version: Option<u64>,
    exists: bool,
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
            version: number(item, version_attribute).and_then(|v| u64::try_from(v).ok()),
            exists: true,
        }
    }

    /// What the shard counts.
    pub(super) fn count(&self) -> Counter {
        self.count
    }

    /// Whether the item exists.
    pub(super) fn exists(&self) -> bool {
        self.exists
    }
}

/// One of the two measures a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Measure {
    Bytes,
    Files,
}

impl Measure {
    fn of(self, c: Counter) -> i64 {
        match self {
            Measure::Bytes => c.bytes,
            Measure::Files => c.files,
        }
    }

    fn limit(self, limits: Limits) -> Option<u64> {
        match self {
            Measure::Bytes => limits.max_bytes,
            Measure::Files => limits.max_files,
        }
    }

    fn free(self) -> &'static str {
        match self {
            Measure::Bytes => FREE_BYTES,
            Measure::Files => FREE_FILES,
        }
    }

    fn allot(self) -> &'static str {
        match self {
            Measure::Bytes => ALLOT_BYTES,
            Measure::Files => ALLOT_FILES,
        }
    }

    fn frozen(self) -> &'static str {
        match self {
            Measure::Bytes => FROZEN_BYTES,
            Measure::Files => FROZEN_FILES,
        }
    }

    fn has(self, flags: (bool, bool)) -> bool {
        match self {
            Measure::Bytes => flags.0,
            Measure::Files => flags.1,
        }
    }
}

const MEASURES: [Measure; 2] = [Measure::Bytes, Measure::Files];

/// The limits, the version and the name a counter's admission applies.
fn admitted(admission: &Admission, counted: &Counted) -> (Limits, Option<u64>) {
    match counted {
        Counted::Tenant => (
            admission.tenant_limits,
            Some(admission.tenant_limits_version).filter(|v| *v > 0),
        ),
        Counted::Collection(_) => (admission.collection_limits, admission.collection_version),
    }
}

fn limit_name(counted: &Counted, measure: Measure, max: u64) -> LimitName {
    match (counted, measure) {
        (Counted::Tenant, Measure::Bytes) => LimitName::TenantBytes(max),
        (Counted::Tenant, Measure::Files) => LimitName::TenantFiles(max),
        (Counted::Collection(c), Measure::Bytes) => LimitName::CollectionBytes(c.clone(), max),
        (Counted::Collection(c), Measure::Files) => LimitName::CollectionFiles(c.clone(), max),
    }
}

/// Builds an `Update` with numbered placeholders.
struct Expression {
    names: Vec<(String, String)>,
    values: Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>,
    conditions: Vec<String>,
}

impl Expression {
    fn new() -> Self {
        Expression {
            names: Vec::new(),
            values: Vec::new(),
            conditions: Vec::new(),
        }
    }

    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.push((placeholder.clone(), attribute.to_owned()));
        placeholder
    }

    fn value(&mut self, value: i64) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), n(value)));
        placeholder
    }

    /// `attribute = version`, or absent for none.
    fn version_is(&mut self, attribute: &str, version: Option<u64>) {
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

    fn update(self, table: &str, key: Item, update: String) -> Result<Update, StoreError> {
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
                    expression.conditions.push(format!(
                        "{free} >= {needed} AND attribute_not_exists({frozen})"
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

    /// Finds room for `add` on `counted` after its shard `shard` had none, or says why there
    /// is none: `QuotaExceeded` if the counter as a whole has no room for it under
    /// `admission`'s limits. `Ok(shard)`: the shard to send the write to again (one that had
    /// the room when read, or `shard` with room moved to it).
    pub(super) async fn rebalance(
        &self,
        tenant: &TenantId,
        counted: &Counted,
        admission: &Admission,
        shard: u32,
        add: Counter,
    ) -> Result<u32, StoreError> {
        let (limits, version) = admitted(admission, counted);
        let (shards, base, _) = self.read_shards(tenant, counted).await?;
        let count = shards.iter().fold(base, |sum, s| sum.plus(s.count));
        let drawn = &shards[shard as usize];
        if drawn.version != version {
            if drawn.version.is_none()
                && version.is_some()
                && !shards.iter().any(|s| s.version.is_some())
            {
                // Limits or a collection stored before the counters were sharded: the shards
                // take their version, if it is still the one read.
                self.adopt_version(tenant, counted, version.unwrap_or(0))
                    .await?;
                return Ok(shard);
            }
            // The limits or the collection changed since they were read.
            return Err(StoreError::AdmissionStale);
        }
        if add.bytes <= 0 && add.files <= 0 {
            return Ok(shard);
        }
        // The verdict on the whole counter: exact, from every shard.
        for measure in MEASURES {
            let a = measure.of(add);
            if let Some(max) = measure.limit(limits).filter(|_| a > 0) {
                if measure.of(count).saturating_add(a) > i64::try_from(max).unwrap_or(i64::MAX) {
                    return Err(StoreError::QuotaExceeded(limit_name(counted, measure, max)));
                }
            }
        }
        let mut whole = false;
        for measure in MEASURES {
            let Some(max) = measure.limit(limits) else {
                continue;
            };
            let target = i64::try_from(max).unwrap_or(i64::MAX) - measure.of(base);
            let allotted: i64 = shards.iter().map(|s| measure.of(s.allot)).sum();
            let free: i64 = shards.iter().map(|s| measure.of(s.free)).sum();
            let room: i64 = shards.iter().map(|s| measure.of(s.free).max(0)).sum();
            let frozen = shards.iter().any(|s| measure.has(s.frozen));
            if allotted != target || room != free || frozen {
                whole = true;
            }
        }
        if whole {
            self.reallot(tenant, counted, &shards, base, limits, version, shard, add)
                .await?;
            return Ok(shard);
        }
        // A shard that has the room: the write goes there (one drawn at random among them, so
        // that writers do not all pick the same one).
        let fits = |s: &Shard| {
            MEASURES.iter().all(|&m| {
                let a = m.of(add);
                a <= 0 || m.limit(limits).is_none() || m.of(s.free) >= a
            })
        };
        let roomy: Vec<u32> = shards
            .iter()
            .enumerate()
            .filter(|(_, s)| fits(s))
            .map(|(i, _)| u32::try_from(i).unwrap_or(0))
            .collect();
        if roomy.contains(&shard) {
            return Ok(shard);
        }
        if !roomy.is_empty() {
            return Ok(roomy[rand_below(u32::try_from(roomy.len()).unwrap_or(1)) as usize]);
        }
        // Room moves from the shards with most to `shard`.
        let mut writes = Vec::new();
        let mut moves: BTreeMap<u32, Counter> = BTreeMap::new();
        for measure in MEASURES {
            let a = measure.of(add);
            if measure.limit(limits).is_none() || a <= 0 {
                continue;
            }
            let have = measure.of(shards[shard as usize].free);
            if have >= a {
                continue;
            }
            let room: i64 = shards.iter().map(|s| measure.of(s.free).max(0)).sum();
            // What it needs, and its even share of the rest besides.
            let mut wanted = (a - have) + (room - (a - have)).max(0) / i64::from(COUNTER_SHARDS);
            let mut donors: Vec<(u32, i64)> = shards
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 != shard)
                .map(|(i, s)| (i as u32, measure.of(s.free)))
                .filter(|(_, free)| *free > 0)
                .collect();
            donors.sort_by_key(|(_, free)| std::cmp::Reverse(*free));
            for (i, free) in donors {
                if wanted <= 0 {
                    break;
                }
                let take = free.min(wanted);
                wanted -= take;
                let entry = moves.entry(i).or_default();
                match measure {
                    Measure::Bytes => entry.bytes -= take,
                    Measure::Files => entry.files -= take,
                }
                let entry = moves.entry(shard).or_default();
                match measure {
                    Measure::Bytes => entry.bytes += take,
                    Measure::Files => entry.files += take,
                }
            }
        }
        if moves.is_empty() {
            // Another writer moved room here meanwhile.
            return Ok(shard);
        }
        for (i, change) in moves {
            let mut expression = Expression::new();
            let mut parts = Vec::new();
            for measure in MEASURES {
                let moved = measure.of(change);
                if moved == 0 {
                    continue;
                }
                let (allot, free) = (
                    expression.name(measure.allot()),
                    expression.name(measure.free()),
                );
                let v = expression.value(moved);
                parts.push(format!("{allot} {v}, {free} {v}"));
                if moved < 0 {
                    // A donor gives only room it still has.
                    let needed = expression.value(-moved);
                    expression.conditions.push(format!("{free} >= {needed}"));
                }
            }
            if parts.is_empty() {
                continue;
            }
            let update = expression.update(
                &self.table,
                self.shard_key(tenant, counted, i),
                format!("ADD {}", parts.join(", ")),
            )?;
            writes.push((Write::Update(update), Guard::Counter));
        }
        self.write(writes).await.or_else(moved_meanwhile)?;
        Ok(shard)
    }

    /// Sets `version` on every shard of `counted` that has none, with a check that the stored
    /// limits (or the collection) still have it.
    async fn adopt_version(
        &self,
        tenant: &TenantId,
        counted: &Counted,
        version: u64,
    ) -> Result<(), StoreError> {
        let (sort, attribute) = match counted {
            Counted::Tenant => (USAGE_SK.to_owned(), LIMITS_VERSION),
            Counted::Collection(name) => (
                super::schema::collection_sk(name.as_str()),
                super::schema::VERSION,
            ),
        };
        // The check that the version is still the stored one, as a write that changes nothing
        // (the functions that admit writes update items; none needs `ConditionCheckItem`).
        let mut expression = Expression::new();
        expression.version_is(attribute, Some(version));
        let name = expression.name(attribute);
        let value = expression.value(i64::try_from(version).unwrap_or(i64::MAX));
        let check = expression.update(
            &self.table,
            key(tenant_pk(tenant), sort),
            format!("SET {name} = {value}"),
        )?;
        let mut writes = vec![(Write::Update(check), Guard::Counter)];
        for i in 0..COUNTER_SHARDS {
            let mut expression = Expression::new();
            let name = expression.name(counted.version_attribute());
            let value = expression.value(i64::try_from(version).unwrap_or(i64::MAX));
            expression
                .conditions
                .push(format!("attribute_not_exists({name})"));
            let update = expression.update(
                &self.table,
                self.shard_key(tenant, counted, i),
                format!("SET {name} = {value}"),
            )?;
            writes.push((Write::Update(update), Guard::Counter));
        }
        self.write(writes).await.or_else(moved_meanwhile)
    }

    /// Sets every shard's allotment of `counted` at once: to the limit in force, its free room
    /// spread evenly (`shard` getting at least `add`), each shard conditioned on its allotment
    /// and free room as read (room spent meanwhile would be spent twice). A measure over its
    /// limit is frozen on every shard instead, until a later reallotment finds room.
    #[allow(clippy::too_many_arguments)]
    async fn reallot(
        &self,
        tenant: &TenantId,
        counted: &Counted,
        shards: &[Shard],
        base: Counter,
        limits: Limits,
        version: Option<u64>,
        shard: u32,
        add: Counter,
    ) -> Result<(), StoreError> {
        // Per shard: its expression, and the ADD, SET and REMOVE clauses of its update.
        type Clauses = (Expression, Vec<String>, Vec<String>, Vec<String>);
        let mut expressions: Vec<Clauses> = shards
            .iter()
            .map(|_| {
                let mut expression = Expression::new();
                expression.version_is(counted.version_attribute(), version);
                (expression, Vec::new(), Vec::new(), Vec::new())
            })
            .collect();
        for measure in MEASURES {
            let Some(max) = measure.limit(limits) else {
                continue;
            };
            let target = i64::try_from(max).unwrap_or(i64::MAX) - measure.of(base);
            let allotted: i64 = shards.iter().map(|s| measure.of(s.allot)).sum();
            let counted_now: i64 = shards.iter().map(|s| measure.of(s.count)).sum();
            let room = target - counted_now;
            let shares = spread(room.max(0), shard, measure.of(add));
            for (i, s) in shards.iter().enumerate() {
                let (expression, adds, sets, removes) = &mut expressions[i];
                let free_now = measure.of(s.free);
                let moved = if room < 0 {
                    // Over the limit: only the allotments' sum is set right (on shard 0).
                    if i == 0 {
                        target - allotted
                    } else {
                        0
                    }
                } else {
                    shares[i] - free_now
                };
                let allot = expression.name(measure.allot());
                if measure.has(s.has_allot) {
                    let v = expression.value(measure.of(s.allot));
                    expression.conditions.push(format!("{allot} = {v}"));
                } else {
                    expression
                        .conditions
                        .push(format!("attribute_not_exists({allot})"));
                }
                let free = expression.name(measure.free());
                if measure.has(s.has_free) {
                    let v = expression.value(free_now);
                    expression.conditions.push(format!("{free} >= {v}"));
                } else {
                    expression
                        .conditions
                        .push(format!("attribute_not_exists({free})"));
                }
                let v = expression.value(moved);
                adds.push(format!("{allot} {v}, {free} {v}"));
                let frozen = expression.name(measure.frozen());
                if room < 0 {
                    let yes = expression.value(1);
                    sets.push(format!("{frozen} = {yes}"));
                } else {
                    removes.push(frozen);
                }
            }
        }
        let mut writes = Vec::new();
        for (i, (expression, adds, sets, removes)) in expressions.into_iter().enumerate() {
            let mut update = format!("ADD {}", adds.join(", "));
            if !sets.is_empty() {
                update.push_str(&format!(" SET {}", sets.join(", ")));
            }
            if !removes.is_empty() {
                update.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            let i = u32::try_from(i).unwrap_or(0);
            let update =
                expression.update(&self.table, self.shard_key(tenant, counted, i), update)?;
            writes.push((Write::Update(update), Guard::Counter));
        }
        self.write(writes).await.or_else(moved_meanwhile)
    }
}

/// A rebalance that lost to another write (a condition, or every retry of its conflicts): the
/// caller reads again and retries.
fn moved_meanwhile(err: StoreError) -> Result<(), StoreError> {
    match err {
        StoreError::Conflict | StoreError::Busy => Ok(()),
        other => Err(other),
    }
}

/// `room` (at least 0) spread over the shards: over all of them evenly when it holds a write of
/// `need` on each, else over as many as it fills with such a write (from `first` on), so that
/// room is not cut into pieces too small for the writes that ask for it.
fn spread(room: i64, first: u32, need: i64) -> Vec<i64> {
    let shards = i64::from(COUNTER_SHARDS);
    let over = if need > 0 {
        (room / need).clamp(1, shards)
    } else {
        shards
    };
    let mut shares = vec![0; COUNTER_SHARDS as usize];
    for k in 0..over {
        let i = (i64::from(first) + k) % shards;
        shares[i as usize] = room / over;
    }
    shares[first as usize] += room % over;
    shares
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
    fn spread_adds_up_and_serves_the_first() {
        for (room, first, need) in [
            (1_000, 3, 10),
            (1_000, 0, 900),
            (17, 15, 17),
            (0, 2, 5),
            (5, 1, 9),
            (1_000, 9, 100),
            (1_000_000, 4, 0),
        ] {
            let shares = spread(room, first, need);
            assert_eq!(shares.iter().sum::<i64>(), room, "{room} {first} {need}");
            assert!(shares.iter().all(|s| *s >= 0), "{shares:?}");
            assert!(shares[first as usize] >= need.min(room), "{shares:?}");
            // No piece too small for the write that asked, unless there is less room than it.
            let pieces = shares.iter().filter(|s| **s > 0).count() as i64;
            assert!(
                shares
                    .iter()
                    .all(|s| *s == 0 || *s >= need.min(room / pieces.max(1))),
                "{shares:?}"
            );
        }
        assert_eq!(
            spread(1_000, 9, 100).iter().filter(|s| **s == 100).count(),
            10
        );
    }

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
