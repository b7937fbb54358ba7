//! Embedded adapter for `stowage-local`: file records in one SQLite database file.
//!
//! SQLite (through `rusqlite`, with SQLite compiled in) rather than a key-value store because
//! the listing indexes are plain SQL indexes, every change is one real transaction, and one file
//! that any `sqlite3` shell can open is easy to inspect while building against Stowage. Its
//! semantics match the DynamoDB adapter: `insert` never overwrites, `replace`/`delete` are
//! compare-and-swaps on `version`, `externalId` is unique among live records, reads see every
//! committed write, and the same indexes (recent, name, purpose, directory, uploadedBy, tag)
//! answer listings in descending id order.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{Change, IndexPage, IndexQuery, ListIndex, MetadataStore, StoreError};
use crate::model::{FileId, FileRecord, TenantId, Timestamp};

/// File records in a SQLite database.
pub struct SqliteStore {
    // Each call is a few short statements on local disk, so a plain mutex serialises them
    // without holding anything across an await point.
    conn: Mutex<Connection>,
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS files (
        tenant      TEXT    NOT NULL,
        id          TEXT    NOT NULL,
        version     INTEGER NOT NULL,
        expires_at  INTEGER,
        name        TEXT    NOT NULL,
        purpose     TEXT,
        directory   TEXT,
        external_id TEXT,
        uploaded_by TEXT    NOT NULL,
        record      TEXT    NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS files_by_name ON files (tenant, name, id);
    CREATE INDEX IF NOT EXISTS files_by_purpose ON files (tenant, purpose, id);
    CREATE INDEX IF NOT EXISTS files_by_directory ON files (tenant, directory, id);
    CREATE INDEX IF NOT EXISTS files_by_uploaded_by ON files (tenant, uploaded_by, id);
    CREATE INDEX IF NOT EXISTS files_by_external_id ON files (tenant, external_id);
    CREATE INDEX IF NOT EXISTS files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS file_tags (
        tenant TEXT NOT NULL,
        tag    TEXT NOT NULL,
        id     TEXT NOT NULL,
        PRIMARY KEY (tenant, tag, id)
    ) WITHOUT ROWID;
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).map_err(backend)?)
    }

    /// A database that lives only in memory (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("the SQLite connection lock is poisoned".into()))?;
        f(&mut conn)
    }

    /// Deletes up to `limit` records whose `expiresAt` has passed and returns them, so their
    /// bytes can be deleted too: the embedded stand-in for DynamoDB TTL and the stream Lambda.
    pub fn take_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(backend)?;
            let texts: Vec<String> = {
                let mut statement = tx
                    .prepare(
                        "SELECT record FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1
                         ORDER BY expires_at LIMIT ?2",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map(params![now.millis(), limit as i64], |row| row.get(0))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let mut records = Vec::with_capacity(texts.len());
            for text in texts {
                let record: FileRecord = serde_json::from_str(&text).map_err(backend)?;
                remove(&tx, &record.tenant, record.id)?;
                records.push(record);
            }
            tx.commit().map_err(backend)?;
            Ok(records)
        })
    }
}

fn remove(tx: &Transaction<'_>, tenant: &TenantId, id: FileId) -> Result<usize, StoreError> {
    let (tenant, id) = (tenant.as_str(), id.to_string());
    tx.execute(
        "DELETE FROM file_tags WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )
    .map_err(backend)?;
    tx.execute(
        "DELETE FROM files WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )
    .map_err(backend)
}

/// `ExternalIdTaken` if another live record of the tenant has `record`'s externalId.
fn check_external_id(
    tx: &Transaction<'_>,
    record: &FileRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(external_id) = &record.external_id else {
        return Ok(());
    };
    let taken: Option<String> = tx
        .query_row(
            "SELECT id FROM files WHERE tenant = ?1 AND external_id = ?2 AND id <> ?3
             AND (expires_at IS NULL OR expires_at > ?4) LIMIT 1",
            params![
                record.tenant.as_str(),
                external_id.as_str(),
                record.id.to_string(),
                now.millis()
            ],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    match taken {
        Some(_) => Err(StoreError::ExternalIdTaken(external_id.to_string())),
        None => Ok(()),
    }
}

/// Writes the record's row (insert or update) and its tag rows.
fn write(
    tx: &Transaction<'_>,
    record: &FileRecord,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(record).map_err(backend)?;
    let version = i64::try_from(record.version).map_err(backend)?;
    let values = params![
        record.tenant.as_str(),
        record.id.to_string(),
        version,
        record.expires_at.map(|at| at.millis()),
        record.name.as_str(),
        record.purpose.as_ref().map(|p| p.as_str()),
        record.directory.as_ref().map(|d| d.as_str()),
        record.external_id.as_ref().map(|e| e.as_str()),
        record.uploaded_by.as_str(),
        text,
    ];
    let changed = match expected {
        None => tx
            .execute(
                "INSERT INTO files (tenant, id, version, expires_at, name, purpose, directory,
                                    external_id, uploaded_by, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                values,
            )
            .map_err(backend)?,
        Some(expected) => {
            let expected = i64::try_from(expected).map_err(backend)?;
            tx.execute(
                "UPDATE files SET version = ?3, expires_at = ?4, name = ?5, purpose = ?6,
                        directory = ?7, external_id = ?8, uploaded_by = ?9, record = ?10
                 WHERE tenant = ?1 AND id = ?2 AND version = ?11",
                rusqlite::params_from_iter(
                    values
                        .iter()
                        .copied()
                        .chain(std::iter::once(&expected as &dyn rusqlite::ToSql)),
                ),
            )
            .map_err(backend)?
        }
    };
    if changed != 1 {
        return Err(StoreError::Conflict);
    }
    let (tenant, id) = (record.tenant.as_str(), record.id.to_string());
    tx.execute(
        "DELETE FROM file_tags WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )
    .map_err(backend)?;
    for tag in record.tags.as_slice() {
        tx.execute(
            "INSERT INTO file_tags (tenant, tag, id) VALUES (?1, ?2, ?3)",
            params![tenant, tag, id],
        )
        .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let text: Option<String> = self.with(|conn| {
            conn.query_row(
                "SELECT record FROM files WHERE tenant = ?1 AND id = ?2",
                params![tenant.as_str(), id.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })?;
        text.map(|t| serde_json::from_str(&t).map_err(backend))
            .transpose()
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
            .map_err(backend)
        })?;
        Ok(id.and_then(|id| FileId::parse(&id).ok()))
    }

    async fn insert(&self, record: &FileRecord, now: Timestamp) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(backend)?;
            check_external_id(&tx, record, now)?;
            write(&tx, record, None)?;
            tx.commit().map_err(backend)
        })
    }

    async fn replace_many(&self, changes: &[Change<'_>], now: Timestamp) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(backend)?;
            for change in changes {
                write(&tx, change.next, Some(change.previous.version))?;
            }
            // Uniqueness is checked once every change is in, as DynamoDB's transaction would.
            for change in changes {
                check_external_id(&tx, change.next, now)?;
            }
            tx.commit().map_err(backend)
        })
    }

    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(backend)?;
            let version = i64::try_from(record.version).map_err(backend)?;
            let current: Option<i64> = tx
                .query_row(
                    "SELECT version FROM files WHERE tenant = ?1 AND id = ?2",
                    params![record.tenant.as_str(), record.id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if current != Some(version) {
                return Err(StoreError::Conflict);
            }
            remove(&tx, &record.tenant, record.id)?;
            tx.commit().map_err(backend)
        })
    }

    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError> {
        let (column, value) = match query.index {
            ListIndex::Recent => (None, None),
            ListIndex::Name(v) => (Some("name"), Some(v.as_str())),
            ListIndex::Purpose(v) => (Some("purpose"), Some(v.as_str())),
            ListIndex::Directory(v) => (Some("directory"), Some(v.as_str())),
            ListIndex::UploadedBy(v) => (Some("uploaded_by"), Some(v.as_str())),
            ListIndex::Tag(v) => (Some("tag"), Some(v.as_str())),
        };
        let limit = query.limit.clamp(1, 1_000);
        let sql = match (query.index, column) {
            (ListIndex::Tag(_), _) => "SELECT f.id, f.record FROM file_tags t
                 JOIN files f ON f.tenant = t.tenant AND f.id = t.id
                 WHERE t.tenant = ?1 AND t.tag = ?2 AND t.id BETWEEN ?3 AND ?4
                 ORDER BY t.id DESC LIMIT ?5"
                .to_owned(),
            (_, Some(column)) => format!(
                "SELECT id, record FROM files WHERE tenant = ?1 AND {column} = ?2
                 AND id BETWEEN ?3 AND ?4 ORDER BY id DESC LIMIT ?5"
            ),
            (_, None) => "SELECT id, record FROM files WHERE tenant = ?1 AND ?2 IS NULL
                 AND id BETWEEN ?3 AND ?4 ORDER BY id DESC LIMIT ?5"
                .to_owned(),
        };
        let rows: Vec<(String, String)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
            let rows = statement
                .query_map(
                    params![
                        query.tenant.as_str(),
                        value,
                        query.lowest.to_string(),
                        query.highest.to_string(),
                        limit as i64
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
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
}
