//! Finding room for a write whose counter shard had none: the verdict on the whole counter,
//! a shard that has the room, room moved between shards, or every allotment set anew
//! ([`super::counters`] has the design).

use std::collections::BTreeMap;

use super::conditional::{rand_below, Guard, Write};
use super::counters::{
    admitted, limit_name, Counted, Expression, Measure, Shard, COUNTER_SHARDS, LIMITS_VERSION,
    MEASURES, USAGE_SK,
};
use super::schema::{key, tenant_pk};
use super::DynamoStore;
use crate::model::{Admission, Counter, Limits, TenantId};
use crate::store::StoreError;

impl DynamoStore {
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
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            let target = max - measure.of(base);
            let allotted: i64 = shards.iter().map(|s| measure.of(s.allot)).sum();
            let free: i64 = shards.iter().map(|s| measure.of(s.free)).sum();
            let room: i64 = shards.iter().map(|s| measure.of(s.free).max(0)).sum();
            // Frozen, or allotted for another limit than this one.
            let stale = shards
                .iter()
                .any(|s| measure.has(s.frozen) || measure.allotted_for(s) != Some(max));
            if allotted != target || room != free || stale {
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
        // The stored limits or collection moved on (or went): the write re-reads them.
        let mut writes = vec![(Write::Update(check), Guard::Stale)];
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
                // The limit these allotments are for: writes are admitted under it only.
                let allot_for = expression.name(measure.allot_for());
                let limit = expression.value(i64::try_from(max).unwrap_or(i64::MAX));
                sets.push(format!("{allot_for} = {limit}"));
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
}
