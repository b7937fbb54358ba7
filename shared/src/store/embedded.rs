//! Embedded adapter for `stowage-local`: file records in one SQLite database file.
//!
//! SQLite (through `rusqlite`, with SQLite compiled in) rather than a key-value store because
//! the listing filters to come are plain indexed SQL, and because one file that any `sqlite3`
//! shell can open is easy to inspect while building against Stowage. Its semantics match the
//! DynamoDB adapter: `insert` never overwrites, `replace` is a compare-and-swap on `version`,
//! reads see every committed write, and expiry is judged by the service from `expiresAt`.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::{MetadataStore, StoreError};
use crate::model::{FileId, FileRecord, TenantId};

/// File records in a SQLite database.
pub struct SqliteStore {
    // Each call is one short statement on local disk, so a plain mutex serialises them without
    // holding anything across an await point.
    conn: Mutex<Connection>,
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

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
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS files (
                 tenant     TEXT    NOT NULL,
                 id         TEXT    NOT NULL,
                 version    INTEGER NOT NULL,
                 expires_at INTEGER,
                 record     TEXT    NOT NULL,
                 PRIMARY KEY (tenant, id)
             ) WITHOUT ROWID;",
        )
        .map_err(backend)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("the SQLite connection lock is poisoned".into()))?;
        f(&conn)
    }
}

fn encode(record: &FileRecord) -> Result<(String, i64, Option<i64>), StoreError> {
    let text = serde_json::to_string(record).map_err(backend)?;
    let version = i64::try_from(record.version).map_err(backend)?;
    Ok((text, version, record.expires_at.map(|at| at.millis())))
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

    async fn insert(&self, record: &FileRecord) -> Result<(), StoreError> {
        let (text, version, expires_at) = encode(record)?;
        self.with(|conn| {
            match conn.execute(
                "INSERT INTO files (tenant, id, version, expires_at, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![record.tenant.as_str(), record.id.to_string(), version, expires_at, text],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Conflict)
                }
                Err(e) => Err(backend(e)),
            }
        })
    }

    async fn replace(&self, record: &FileRecord, expected_version: u64) -> Result<(), StoreError> {
        let (text, version, expires_at) = encode(record)?;
        let expected = i64::try_from(expected_version).map_err(backend)?;
        let changed = self.with(|conn| {
            conn.execute(
                "UPDATE files SET version = ?3, expires_at = ?4, record = ?5
                 WHERE tenant = ?1 AND id = ?2 AND version = ?6",
                params![
                    record.tenant.as_str(),
                    record.id.to_string(),
                    version,
                    expires_at,
                    text,
                    expected
                ],
            )
            .map_err(backend)
        })?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}
