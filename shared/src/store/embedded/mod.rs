//! Embedded adapter for `stowage-local`: file records in one SQLite database file.
//!
//! SQLite (through `rusqlite`, with SQLite compiled in) rather than a key-value store because
//! the listing indexes are plain SQL indexes, every change is one real transaction, and one file
//! that any `sqlite3` shell can open is easy to inspect while building against Stowage. Its
//! semantics match the DynamoDB adapter: `insert` never overwrites, `replace`/`delete` are
//! compare-and-swaps on `version`, `externalId` is unique among live records, reads see every
//! committed write, and the same indexes (recent, name, purpose, directory, uploadedBy, tag)
//! answer listings in descending id order.

mod log;
mod requests;
mod rows;
mod usage;

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    folder_key, Change, IndexPage, IndexQuery, ListIndex, MetadataStore, NamePage, NameQuery,
    NameScope, PathSource, StoreError,
};
use crate::model::{
    Admission, Collection, CollectionName, FileId, FileRecord, Limits, TenantId, Timestamp, Usage,
};
use rows::{check_external_id, log_change, read, remove, write, SCHEMA};

/// File records in a SQLite database.
pub struct SqliteStore {
    // Each call is a few short statements on local disk, so a plain mutex serialises them
    // without holding anything across an await point.
    conn: Mutex<Connection>,
    /// Counts the calls that changed rows, so followers of the change log wake at once instead
    /// of at their next look ([`SqliteStore::watch_changes`]).
    changes: tokio::sync::watch::Sender<u64>,
    /// Each tenant's requests, counted exactly in memory (one process serves them all).
    requests: requests::Counts,
    /// Test hook: while set, every call fails as unavailable.
    #[cfg(any(test, feature = "test-util"))]
    outage: std::sync::atomic::AtomicBool,
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// SQLite's own error kinds: a busy or locked database is worth retrying later.
impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => StoreError::Unavailable(Box::new(err)),
            _ => StoreError::Backend(Box::new(err)),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A database that lives only in memory (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA)?;
        rows::migrate(&conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            changes: tokio::sync::watch::channel(0).0,
            requests: requests::Counts::default(),
            #[cfg(any(test, feature = "test-util"))]
            outage: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Test hook: while `down`, every call fails as unavailable (as a locked database would).
    #[cfg(any(test, feature = "test-util"))]
    pub fn set_outage(&self, down: bool) {
        self.outage.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        #[cfg(any(test, feature = "test-util"))]
        if self.outage.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected SQLite outage".into()));
        }
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("the SQLite connection lock is poisoned".into()))?;
        let before = conn.total_changes();
        let result = f(&mut conn);
        if conn.total_changes() != before {
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }

    /// A receiver that is marked changed whenever a call has changed rows (a record written,
    /// and with it the change log): a follower of the log waits on it between reads.
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.with(|conn| read(&conn.transaction()?, tenant, id))
    }

    async fn get_many(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(record) = read(&tx, tenant, *id)? {
                    found.push(record);
                }
            }
            Ok(found)
        })
    }

    async fn find_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<FileId>, StoreError> {
        let id: Option<String> = self.with(|conn| {
            conn.query_row(
                "SELECT id FROM files WHERE tenant = ?1 AND external_id = ?2
                 AND (expires_at IS NULL OR expires_at > ?3) LIMIT 1",
                params![tenant.as_str(), external_id, now.millis()],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::from)
        })?;
        Ok(id.and_then(|id| FileId::parse(&id).ok()))
    }

    async fn insert(
        &self,
        record: &FileRecord,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            check_external_id(&tx, record, now)?;
            write(&tx, record, None)?;
            usage::count(&tx, &[(None, Some(record))], Some(admission))?;
            log_change(&tx, None, Some(record), false)?;
            Ok(tx.commit()?)
        })
    }

    async fn replace_many(
        &self,
        changes: &[Change<'_>],
        admission: Option<&Admission>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            for change in changes {
                write(&tx, change.next, Some(change.previous))?;
                log_change(&tx, Some(change.previous), Some(change.next), false)?;
            }
            let counted: Vec<_> = changes
                .iter()
                .map(|c| (Some(c.previous), Some(c.next)))
                .collect();
            usage::count(&tx, &counted, admission)?;
            // Uniqueness is checked once every change is in, as DynamoDB's transaction would.
            for change in changes {
                check_external_id(&tx, change.next, now)?;
            }
            Ok(tx.commit()?)
        })
    }

    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let Some(current) = read(&tx, &record.tenant, record.id)? else {
                return Err(StoreError::Conflict);
            };
            if current.version != record.version {
                return Err(StoreError::Conflict);
            }
            remove(&tx, &record.tenant, record.id)?;
            usage::count(&tx, &[(Some(&current), None)], None)?;
            log_change(&tx, Some(&current), None, false)?;
            Ok(tx.commit()?)
        })
    }

    async fn release_expired(&self, _record: &FileRecord) -> Result<(), StoreError> {
        // `expire` uncounts in the transaction that removes the record.
        Ok(())
    }

    async fn begin_request(
        &self,
        tenant: &TenantId,
        limits: crate::store::RequestLimits,
        now: Timestamp,
    ) -> Result<crate::store::Admitted, StoreError> {
        Ok(self.requests.begin(tenant, limits, now))
    }

    async fn end_request(&self, ticket: &crate::store::RequestTicket) -> Result<(), StoreError> {
        self.requests.end(ticket);
        Ok(())
    }

    async fn collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Collection>, StoreError> {
        self.with(|conn| usage::read_collection(&conn.transaction()?, tenant, name.as_str()))
    }

    async fn admission_facts(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Option<Collection>, Limits, u64), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let stored = usage::read_collection(&tx, tenant, collection.as_str())?;
            let (limits, version) = usage::read_limits(&tx, tenant)?;
            Ok((stored, limits, version))
        })
    }

    async fn collections(&self, tenant: &TenantId) -> Result<Vec<Collection>, StoreError> {
        self.with(|conn| usage::list_collections(&conn.transaction()?, tenant))
    }

    async fn put_collection(
        &self,
        next: &Collection,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            usage::put_collection(&tx, next, expected)?;
            Ok(tx.commit()?)
        })
    }

    async fn delete_collection(&self, collection: &Collection) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            usage::delete_collection(&tx, collection)?;
            Ok(tx.commit()?)
        })
    }

    async fn usage(&self, tenant: &TenantId) -> Result<Usage, StoreError> {
        self.with(|conn| usage::usage(&conn.transaction()?, tenant))
    }

    async fn put_limits(
        &self,
        tenant: &TenantId,
        limits: Limits,
        expected: u64,
    ) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            usage::put_limits(&tx, tenant, limits, expected)?;
            Ok(tx.commit()?)
        })
    }

    async fn expired_public(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT record FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1
                   AND json_extract(record, '$.published') IS NOT NULL
                 ORDER BY expires_at LIMIT ?2",
            )?;
            let texts: Vec<String> = statement
                .query_map(
                    params![now.millis(), i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| row.get(0),
                )?
                .collect::<Result<_, _>>()?;
            texts
                .iter()
                .map(|text| serde_json::from_str(text).map_err(backend))
                .collect()
        })
    }

    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError> {
        let (column, value) = match query.index {
            ListIndex::Recent => (None, None),
            ListIndex::Name(v) => (Some("name"), Some(v.as_str())),
            ListIndex::Purpose(v) => (Some("purpose"), Some(v.as_str())),
            ListIndex::Directory(v) => (Some("directory"), Some(v.as_str())),
            ListIndex::UploadedBy(v) => (Some("uploaded_by"), Some(v.as_str())),
            ListIndex::Collection(v) => (Some("collection"), Some(v.as_str())),
            ListIndex::Tag(v) => (Some("tag"), Some(v.as_str())),
            ListIndex::Grantee(v) => (Some("principal"), Some(v.as_str())),
            ListIndex::Word(v) => (Some("prefix"), Some(v.as_str())),
        };
        let limit = query.limit.clamp(1, 1_000);
        let order = if query.ascending { "ASC" } else { "DESC" };
        // A pointer table (tags, grants, name words) joined to the records, or the records.
        let pointers = match query.index {
            ListIndex::Tag(_) => Some(("file_tags", "tag")),
            ListIndex::Grantee(_) => Some(("file_grants", "principal")),
            ListIndex::Word(_) => Some(("file_words", "prefix")),
            _ => None,
        };
        let sql = match (pointers, column) {
            (Some((table, key)), _) => format!(
                "SELECT f.id, f.record FROM {table} p
                 JOIN files f ON f.tenant = p.tenant AND f.id = p.id
                 WHERE p.tenant = ?1 AND p.{key} = ?2 AND p.id BETWEEN ?3 AND ?4
                 ORDER BY p.id {order} LIMIT ?5"
            ),
            (None, Some(column)) => format!(
                "SELECT id, record FROM files WHERE tenant = ?1 AND {column} = ?2
                 AND id BETWEEN ?3 AND ?4 ORDER BY id {order} LIMIT ?5"
            ),
            (None, None) => format!(
                "SELECT id, record FROM files WHERE tenant = ?1 AND ?2 IS NULL
                 AND id BETWEEN ?3 AND ?4 ORDER BY id {order} LIMIT ?5"
            ),
        };
        let rows: Vec<(String, String)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![
                    query.tenant.as_str(),
                    value,
                    query.lowest.to_string(),
                    query.highest.to_string(),
                    limit as i64
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })?;
        let more = rows.len() == limit;
        let last_id = rows.last().and_then(|(id, _)| FileId::parse(id).ok());
        let records = rows
            .iter()
            .map(|(_, text)| serde_json::from_str(text).map_err(backend))
            .collect::<Result<Vec<FileRecord>, _>>()?;
        Ok(IndexPage {
            items_read: records.len() as u64,
            records,
            last_id,
            more,
        })
    }

    async fn list_by_name(&self, query: NameQuery<'_>) -> Result<NamePage, StoreError> {
        let limit = query.limit.clamp(1, 1_000);
        let (column, value) = match query.scope {
            NameScope::Directory(d) => ("directory", d.as_str()),
            NameScope::Collection(c) => ("collection", c.as_str()),
        };
        let (compare, order) = if query.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let sql = format!(
            "SELECT name_order, record FROM files WHERE tenant = ?1 AND {column} = ?2
             AND (?3 IS NULL OR name_order {compare} ?3) ORDER BY name_order {order} LIMIT ?4"
        );
        let rows: Vec<(String, String)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![query.tenant.as_str(), value, query.after, limit as i64],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })?;
        let more = rows.len() == limit;
        let last_key = rows.last().map(|(key, _)| key.clone());
        let records = rows
            .iter()
            .map(|(_, text)| serde_json::from_str(text).map_err(backend))
            .collect::<Result<Vec<FileRecord>, _>>()?;
        Ok(NamePage {
            items_read: records.len() as u64,
            records,
            last_key,
            more,
        })
    }

    async fn first_path_key(
        &self,
        tenant: &TenantId,
        source: &PathSource,
        lo: &str,
        hi: &str,
    ) -> Result<Option<String>, StoreError> {
        let (sql, value) = match source {
            PathSource::All => (
                "SELECT path_order FROM files WHERE tenant = ?1 AND ?2 IS NULL
                 AND path_order >= ?3 AND path_order < ?4 ORDER BY path_order LIMIT 1",
                None,
            ),
            PathSource::Collection(c) => (
                "SELECT path_order FROM files WHERE tenant = ?1 AND collection = ?2
                 AND path_order >= ?3 AND path_order < ?4 ORDER BY path_order LIMIT 1",
                Some(c.as_str()),
            ),
            PathSource::Uploader(u) => (
                "SELECT path_order FROM files WHERE tenant = ?1 AND uploaded_by = ?2
                 AND path_order >= ?3 AND path_order < ?4 ORDER BY path_order LIMIT 1",
                Some(u.as_str()),
            ),
            PathSource::Grantee(p) => (
                "SELECT path_order FROM file_grants WHERE tenant = ?1 AND principal = ?2
                 AND path_order >= ?3 AND path_order < ?4 ORDER BY path_order LIMIT 1",
                Some(p.as_str()),
            ),
            PathSource::Explicit => (
                "SELECT key FROM folders WHERE tenant = ?1 AND ?2 IS NULL
                 AND key >= ?3 AND key < ?4 ORDER BY key LIMIT 1",
                None,
            ),
        };
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            Ok(statement
                .query_row(params![tenant.as_str(), value, lo, hi], |row| row.get(0))
                .optional()?)
        })
    }

    async fn records_below(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Option<FileRecord>)>, bool), StoreError> {
        let limit = limit.clamp(1, 1_000);
        let hi = super::folder_range_end(prefix);
        let rows: Vec<(String, String)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT path_order, record FROM files WHERE tenant = ?1 AND path_order >= ?2
                 AND path_order < ?3 AND (?4 IS NULL OR path_order > ?4)
                 ORDER BY path_order LIMIT ?5",
            )?;
            let rows = statement.query_map(
                params![tenant.as_str(), prefix, hi, after, limit as i64],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })?;
        let more = rows.len() == limit;
        let found = rows
            .into_iter()
            .map(|(key, text)| {
                serde_json::from_str(&text)
                    .map(|record| (key, Some(record)))
                    .map_err(backend)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((found, more))
    }

    async fn put_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            Ok(conn.execute(
                "INSERT INTO folders (tenant, key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![tenant.as_str(), folder_key(path)],
            )? == 1)
        })
    }

    async fn delete_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            Ok(conn.execute(
                "DELETE FROM folders WHERE tenant = ?1 AND key = ?2",
                params![tenant.as_str(), folder_key(path)],
            )? == 1)
        })
    }

    async fn folders_below(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = folder_key(path);
        let hi = super::folder_range_end(&prefix);
        let keys: Vec<String> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT key FROM folders WHERE tenant = ?1 AND key >= ?2 AND key < ?3
                 ORDER BY key",
            )?;
            let rows =
                statement.query_map(params![tenant.as_str(), prefix, hi], |row| row.get(0))?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })?;
        Ok(keys
            .into_iter()
            .map(|k| k.trim_end_matches('/').to_owned())
            .collect())
    }
}
