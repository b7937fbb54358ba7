//! The SQLite schema and the row-level writes every store call is made of. Each write of a
//! record also appends its change to the change log (`changes`), in the same transaction, as
//! DynamoDB's stream records every change of the table.

use rusqlite::{params, OptionalExtension, Transaction};

use super::backend;
use crate::model::{FileId, FileRecord, TenantId, Timestamp};
use crate::store::{name_order_key, path_order_key, StoreError};

pub(super) const SCHEMA: &str = "
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
        collection  TEXT    NOT NULL DEFAULT 'default',
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
    -- One row per grantee of a file: the files granted to a principal, newest first.
    CREATE TABLE IF NOT EXISTS file_grants (
        tenant    TEXT NOT NULL,
        principal TEXT NOT NULL,
        id        TEXT NOT NULL,
        PRIMARY KEY (tenant, principal, id)
    ) WITHOUT ROWID;
    -- One row per prefix of a word of a file's name (name search), newest first.
    CREATE TABLE IF NOT EXISTS file_words (
        tenant TEXT NOT NULL,
        prefix TEXT NOT NULL,
        id     TEXT NOT NULL,
        PRIMARY KEY (tenant, prefix, id)
    ) WITHOUT ROWID;
    -- Explicitly created folders, by their key (`/a/b/`).
    CREATE TABLE IF NOT EXISTS folders (
        tenant TEXT NOT NULL,
        key    TEXT NOT NULL,
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID;
    -- Every change of a record, in order: old and new record as JSON (NULL when absent), and
    -- when it was made (milliseconds since the epoch; NULL in logs written before it was kept).
    CREATE TABLE IF NOT EXISTS changes (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        old     TEXT,
        new     TEXT,
        expired INTEGER NOT NULL DEFAULT 0,
        at      INTEGER
    );
    -- How far each reader of the change log has got.
    CREATE TABLE IF NOT EXISTS readers (
        name TEXT PRIMARY KEY,
        seq  INTEGER NOT NULL
    ) WITHOUT ROWID;
";

/// Brings a database made by an earlier version up to [`SCHEMA`].
pub(super) fn migrate(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let has_at: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('changes') WHERE name = 'at'",
        [],
        |row| row.get(0),
    )?;
    if !has_at {
        conn.execute_batch("ALTER TABLE changes ADD COLUMN at INTEGER")?;
    }
    let has_collection: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('files') WHERE name = 'collection'",
        [],
        |row| row.get(0),
    )?;
    if !has_collection {
        // Written before collections and counters: every file is in `default`, and usage is
        // counted once from the records.
        conn.execute_batch(
            "ALTER TABLE files ADD COLUMN collection TEXT NOT NULL DEFAULT 'default'",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS files_by_collection ON files (tenant, collection, id);",
    )?;
    conn.execute_batch(super::usage::SCHEMA)?;
    if !has_collection {
        let tx = conn.unchecked_transaction()?;
        super::usage::recount(&tx)?;
        tx.commit()?;
    }
    let has_name_order: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('files') WHERE name = 'name_order'",
        [],
        |row| row.get(0),
    )?;
    if !has_name_order {
        // Written before name search and name order: index every record once, in the same
        // transaction as the new column (a crash in between leaves neither).
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch("ALTER TABLE files ADD COLUMN name_order TEXT NOT NULL DEFAULT ''")?;
        let records: Vec<String> = tx
            .prepare("SELECT record FROM files")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for text in records {
            let record: FileRecord = serde_json::from_str(&text).map_err(backend)?;
            tx.execute(
                "UPDATE files SET name_order = ?3 WHERE tenant = ?1 AND id = ?2",
                params![
                    record.tenant.as_str(),
                    record.id.to_string(),
                    name_order_key(&record)
                ],
            )?;
            write_words(&tx, &record)?;
        }
        tx.commit()?;
    }
    let has_path_order: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('files') WHERE name = 'path_order'",
        [],
        |row| row.get(0),
    )?;
    if !has_path_order {
        // Written before folders: place every record, and its grant rows, in the tree once, in
        // the same transaction as the new columns.
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(
            "ALTER TABLE files ADD COLUMN path_order TEXT;
             ALTER TABLE file_grants ADD COLUMN path_order TEXT;
             UPDATE files SET directory = '/' WHERE directory IS NULL;",
        )?;
        let records: Vec<String> = tx
            .prepare("SELECT record FROM files")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for text in records {
            let record: FileRecord = serde_json::from_str(&text).map_err(backend)?;
            let path = path_order_key(&record);
            let (tenant, id) = (record.tenant.as_str(), record.id.to_string());
            tx.execute(
                "UPDATE files SET path_order = ?3 WHERE tenant = ?1 AND id = ?2",
                params![tenant, id, path],
            )?;
            tx.execute(
                "UPDATE file_grants SET path_order = ?3 WHERE tenant = ?1 AND id = ?2",
                params![tenant, id, path],
            )?;
        }
        tx.commit()?;
    }
    // A record's pointer rows are replaced and removed by its id: without these, each write
    // would scan the tenant's rows.
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS file_words_by_id ON file_words (tenant, id);
         CREATE INDEX IF NOT EXISTS file_tags_by_id ON file_tags (tenant, id);
         CREATE INDEX IF NOT EXISTS file_grants_by_id ON file_grants (tenant, id);",
    )?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS files_by_path ON files (tenant, path_order);
         CREATE INDEX IF NOT EXISTS files_by_collection_path
             ON files (tenant, collection, path_order);
         CREATE INDEX IF NOT EXISTS files_by_uploader_path
             ON files (tenant, uploaded_by, path_order);
         CREATE INDEX IF NOT EXISTS grants_by_path ON file_grants (tenant, principal, path_order);",
    )?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS files_by_directory_name
             ON files (tenant, directory, name_order);
         CREATE INDEX IF NOT EXISTS files_by_collection_name
             ON files (tenant, collection, name_order);",
    )?;
    Ok(())
}

/// Replaces the name-word rows of `record`.
fn write_words(tx: &Transaction<'_>, record: &FileRecord) -> Result<(), StoreError> {
    let (tenant, id) = (record.tenant.as_str(), record.id.to_string());
    tx.execute(
        "DELETE FROM file_words WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    for prefix in crate::model::words::prefixes(record.name.as_str()) {
        tx.execute(
            "INSERT INTO file_words (tenant, prefix, id) VALUES (?1, ?2, ?3)",
            params![tenant, prefix, id],
        )?;
    }
    Ok(())
}

/// Appends one change to the change log, stamped with the time it is made (as DynamoDB stamps
/// stream records).
pub(super) fn log_change(
    tx: &Transaction<'_>,
    old: Option<&FileRecord>,
    new: Option<&FileRecord>,
    expired: bool,
) -> Result<(), StoreError> {
    let text = |record: Option<&FileRecord>| {
        record
            .map(|r| serde_json::to_string(r).map_err(backend))
            .transpose()
    };
    tx.execute(
        "INSERT INTO changes (old, new, expired, at) VALUES (?1, ?2, ?3, ?4)",
        params![
            text(old)?,
            text(new)?,
            expired,
            Timestamp::from_datetime(chrono::Utc::now()).millis()
        ],
    )?;
    Ok(())
}

/// The stored record, if any.
pub(super) fn read(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: FileId,
) -> Result<Option<FileRecord>, StoreError> {
    let text: Option<String> = tx
        .query_row(
            "SELECT record FROM files WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), id.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(backend))
        .transpose()
}

/// Deletes a record's row and its tag rows.
pub(super) fn remove(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: FileId,
) -> Result<usize, StoreError> {
    let (tenant, id) = (tenant.as_str(), id.to_string());
    tx.execute(
        "DELETE FROM file_tags WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    tx.execute(
        "DELETE FROM file_grants WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    tx.execute(
        "DELETE FROM file_words WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    Ok(tx.execute(
        "DELETE FROM files WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?)
}

/// `ExternalIdTaken` if another live record of the tenant has `record`'s externalId.
pub(super) fn check_external_id(
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
        .optional()?;
    match taken {
        Some(_) => Err(StoreError::ExternalIdTaken(external_id.to_string())),
        None => Ok(()),
    }
}

/// Writes the record's row (insert, or update if the stored one is still `expected`: its
/// version and its `published`, which the publish step records without a new version) and its
/// tag rows; `Conflict` if the condition does not hold.
pub(super) fn write(
    tx: &Transaction<'_>,
    record: &FileRecord,
    expected: Option<&FileRecord>,
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
        // A record without a directory is in the top folder.
        record.directory.as_ref().map_or("/", |d| d.as_str()),
        record.external_id.as_ref().map(|e| e.as_str()),
        record.uploaded_by.as_str(),
        text,
        record.collection.as_str(),
        name_order_key(record),
        path_order_key(record),
    ];
    let changed = match expected {
        None => tx.execute(
            "INSERT INTO files (tenant, id, version, expires_at, name, purpose, directory,
                                external_id, uploaded_by, record, collection, name_order,
                                path_order)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT DO NOTHING",
            values,
        )?,
        Some(expected) => {
            let version = i64::try_from(expected.version).map_err(backend)?;
            let published = expected.published.as_deref();
            tx.execute(
                "UPDATE files SET version = ?3, expires_at = ?4, name = ?5, purpose = ?6,
                        directory = ?7, external_id = ?8, uploaded_by = ?9, record = ?10,
                        collection = ?11, name_order = ?12, path_order = ?13
                 WHERE tenant = ?1 AND id = ?2 AND version = ?14
                   AND json_extract(record, '$.published') IS ?15",
                rusqlite::params_from_iter(values.iter().copied().chain([
                    &version as &dyn rusqlite::ToSql,
                    &published as &dyn rusqlite::ToSql,
                ])),
            )?
        }
    };
    if changed != 1 {
        return Err(StoreError::Conflict);
    }
    let (tenant, id) = (record.tenant.as_str(), record.id.to_string());
    tx.execute(
        "DELETE FROM file_tags WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    for tag in record.tags.as_slice() {
        tx.execute(
            "INSERT INTO file_tags (tenant, tag, id) VALUES (?1, ?2, ?3)",
            params![tenant, tag, id],
        )?;
    }
    tx.execute(
        "DELETE FROM file_grants WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
    )?;
    let path = path_order_key(record);
    for grant in &record.grants {
        tx.execute(
            "INSERT INTO file_grants (tenant, principal, id, path_order) VALUES (?1, ?2, ?3, ?4)",
            params![tenant, grant.principal.to_wire(), id, path],
        )?;
    }
    if expected.is_none_or(|e| e.name != record.name) {
        write_words(tx, record)?;
    }
    Ok(())
}
