//! Collections, usage counters and limits in SQLite. Counters change in the
//! same SQLite transaction as the record change that causes them, so they are exact by
//! construction; limits are checked against the counters inside that transaction.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::backend;
use crate::model::{
    Admission, Collection, CollectionName, Counter, FileRecord, Limits, TenantId, Usage,
};
use crate::store::StoreError;

/// The usage row of the tenant's total (collection rows use the collection's name).
const TOTAL: &str = "";

pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS collections (
        tenant  TEXT    NOT NULL,
        name    TEXT    NOT NULL,
        version INTEGER NOT NULL,
        body    TEXT    NOT NULL,
        PRIMARY KEY (tenant, name)
    ) WITHOUT ROWID;
    -- Counters: collection '' is the tenant's total.
    CREATE TABLE IF NOT EXISTS usage (
        tenant     TEXT    NOT NULL,
        collection TEXT    NOT NULL,
        bytes      INTEGER NOT NULL,
        files      INTEGER NOT NULL,
        PRIMARY KEY (tenant, collection)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS limits (
        tenant    TEXT    PRIMARY KEY,
        max_bytes INTEGER,
        max_files INTEGER,
        version   INTEGER NOT NULL
    ) WITHOUT ROWID;
";

fn counter(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    collection: &str,
) -> Result<Counter, StoreError> {
    Ok(tx
        .query_row(
            "SELECT bytes, files FROM usage WHERE tenant = ?1 AND collection = ?2",
            params![tenant.as_str(), collection],
            |row| {
                Ok(Counter {
                    bytes: row.get(0)?,
                    files: row.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

fn add(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    collection: &str,
    delta: Counter,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO usage (tenant, collection, bytes, files) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant, collection) DO UPDATE
         SET bytes = bytes + excluded.bytes, files = files + excluded.files",
        params![tenant.as_str(), collection, delta.bytes, delta.files],
    )?;
    Ok(())
}

pub(super) fn read_collection(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<Collection>, StoreError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM collections WHERE tenant = ?1 AND name = ?2",
            params![tenant.as_str(), name],
            |row| row.get(0),
        )
        .optional()?;
    body.map(|b| serde_json::from_str(&b).map_err(backend))
        .transpose()
}

pub(super) fn read_limits(
    tx: &Transaction<'_>,
    tenant: &TenantId,
) -> Result<(Limits, u64), StoreError> {
    let row: Option<(Option<i64>, Option<i64>, i64)> = tx
        .query_row(
            "SELECT max_bytes, max_files, version FROM limits WHERE tenant = ?1",
            params![tenant.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((max_bytes, max_files, version)) = row else {
        return Ok((Limits::default(), 0));
    };
    let as_u64 = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
    Ok((
        Limits {
            max_bytes: as_u64(max_bytes),
            max_files: as_u64(max_files),
        },
        u64::try_from(version).unwrap_or(0),
    ))
}

/// Applies the counter changes of these record changes, within `admission` if given.
pub(super) fn count(
    tx: &Transaction<'_>,
    changes: &[(Option<&FileRecord>, Option<&FileRecord>)],
    admission: Option<&Admission>,
) -> Result<(), StoreError> {
    let Some(tenant) = changes
        .iter()
        .find_map(|(a, b)| b.or(*a).map(|r| r.tenant.clone()))
    else {
        return Ok(());
    };
    let deltas: BTreeMap<CollectionName, Counter> =
        crate::model::collection_deltas(changes.iter().copied());
    let sum = deltas.values().fold(Counter::default(), |s, c| s.plus(*c));
    if let Some(admission) = admission {
        let stored = read_collection(tx, &tenant, admission.collection.as_str())?;
        let (_, limits_version) = read_limits(tx, &tenant)?;
        if stored.map(|c| c.version) != admission.collection_version
            || limits_version != admission.tenant_limits_version
        {
            return Err(StoreError::AdmissionStale);
        }
        let here = deltas
            .get(&admission.collection)
            .copied()
            .unwrap_or_default();
        let far = Counter {
            bytes: i64::MIN / 2,
            files: i64::MIN / 2,
        };
        let passed = admission
            .first_passed(sum, counter(tx, &tenant, TOTAL)?, far)
            .or(admission.first_passed(
                here,
                far,
                counter(tx, &tenant, admission.collection.as_str())?,
            ));
        if let Some(limit) = passed {
            return Err(StoreError::QuotaExceeded(limit));
        }
    }
    if !sum.is_zero() {
        add(tx, &tenant, TOTAL, sum)?;
    }
    for (collection, delta) in &deltas {
        add(tx, &tenant, collection.as_str(), *delta)?;
    }
    Ok(())
}

pub(super) fn list_collections(
    tx: &Transaction<'_>,
    tenant: &TenantId,
) -> Result<Vec<Collection>, StoreError> {
    let mut statement =
        tx.prepare("SELECT body FROM collections WHERE tenant = ?1 ORDER BY name")?;
    let bodies = statement.query_map(params![tenant.as_str()], |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for body in bodies {
        out.push(serde_json::from_str(&body?).map_err(backend)?);
    }
    Ok(out)
}

pub(super) fn put_collection(
    tx: &Transaction<'_>,
    next: &Collection,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let stored = read_collection(tx, &next.tenant, next.name.as_str())?.map(|c| c.version);
    if stored != expected {
        return Err(StoreError::Conflict);
    }
    let body = serde_json::to_string(next).map_err(backend)?;
    let version = i64::try_from(next.version).map_err(backend)?;
    tx.execute(
        "INSERT INTO collections (tenant, name, version, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant, name) DO UPDATE SET version = excluded.version, body = excluded.body",
        params![next.tenant.as_str(), next.name.as_str(), version, body],
    )?;
    Ok(())
}

pub(super) fn delete_collection(
    tx: &Transaction<'_>,
    collection: &Collection,
) -> Result<(), StoreError> {
    let tenant = &collection.tenant;
    let stored = read_collection(tx, tenant, collection.name.as_str())?.map(|c| c.version);
    if stored != Some(collection.version) {
        return Err(StoreError::Conflict);
    }
    if counter(tx, tenant, collection.name.as_str())?.files != 0 {
        return Err(StoreError::CollectionNotEmpty);
    }
    tx.execute(
        "DELETE FROM collections WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), collection.name.as_str()],
    )?;
    tx.execute(
        "DELETE FROM usage WHERE tenant = ?1 AND collection = ?2",
        params![tenant.as_str(), collection.name.as_str()],
    )?;
    Ok(())
}

pub(super) fn usage(tx: &Transaction<'_>, tenant: &TenantId) -> Result<Usage, StoreError> {
    let mut out = Usage::default();
    (out.limits, out.limits_version) = read_limits(tx, tenant)?;
    let mut statement =
        tx.prepare("SELECT collection, bytes, files FROM usage WHERE tenant = ?1")?;
    let rows = statement.query_map(params![tenant.as_str()], |row| {
        Ok((
            row.get::<_, String>(0)?,
            Counter {
                bytes: row.get(1)?,
                files: row.get(2)?,
            },
        ))
    })?;
    for row in rows {
        let (collection, counter) = row?;
        if collection == TOTAL {
            out.total = counter;
        } else {
            let name = CollectionName::parse_as("collection", &collection).map_err(|e| {
                StoreError::Backend(format!("a usage row names no collection: {e}").into())
            })?;
            out.collections.insert(name, counter);
        }
    }
    Ok(out)
}

pub(super) fn put_limits(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    limits: Limits,
    expected: u64,
) -> Result<(), StoreError> {
    let (_, version) = read_limits(tx, tenant)?;
    if version != expected {
        return Err(StoreError::Conflict);
    }
    let as_i64 = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO limits (tenant, max_bytes, max_files, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes,
             max_files = excluded.max_files, version = excluded.version",
        params![
            tenant.as_str(),
            as_i64(limits.max_bytes),
            as_i64(limits.max_files),
            i64::try_from(expected + 1).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}

/// Recounts every tenant's usage from its records (a database written before counters).
pub(super) fn recount(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("DELETE FROM usage", [])?;
    let texts: Vec<String> = {
        let mut statement = tx.prepare("SELECT record FROM files")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for text in texts {
        let record: FileRecord = serde_json::from_str(&text).map_err(backend)?;
        count(tx, &[(None, Some(&record))], None)?;
    }
    Ok(())
}
