//! The change log: the embedded store's stand-in for DynamoDB's table stream. Every write of a
//! record appends its change in the same transaction; readers (the removal cleanup, the event
//! publisher) each keep their own position and move it only past what they have handled, so a
//! failure or a restart loses nothing. Expiry (DynamoDB TTL's stand-in) deletes expired records
//! and logs their removal as expired.

use rusqlite::params;

use super::rows::{log_change, remove};
use super::{backend, SqliteStore};
use crate::model::{FileRecord, Timestamp};
use crate::store::{RecordChange, StoreError};

/// Rows kept in the log once every reader is past them: none. The log is pruned as readers
/// advance.
const PRUNE_BATCH: i64 = 10_000;

impl SqliteStore {
    /// Deletes up to `limit` records whose `expiresAt` has passed, logging each removal as
    /// expired; returns how many it deleted.
    pub fn expire(&self, now: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let texts: Vec<String> = {
                let mut statement = tx.prepare(
                    "SELECT record FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1
                     ORDER BY expires_at LIMIT ?2",
                )?;
                let rows =
                    statement.query_map(params![now.millis(), limit as i64], |row| row.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for text in &texts {
                let record: FileRecord = serde_json::from_str(text).map_err(backend)?;
                remove(&tx, &record.tenant, record.id)?;
                super::usage::count(&tx, &[(Some(&record), None)], None)?;
                log_change(&tx, Some(&record), None, true)?;
            }
            tx.commit()?;
            Ok(texts.len())
        })
    }

    /// Registers `reader` so the log keeps every change from now on for it, starting after the
    /// last change logged so far (a webhook added today is not sent yesterday's changes). A
    /// reader that is already registered keeps its position, so nothing is lost across
    /// restarts. Register readers before serving requests.
    pub fn register_reader(&self, reader: &str) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO readers (name, seq)
                 VALUES (?1, (SELECT coalesce(max(seq), 0) FROM changes))
                 ON CONFLICT DO NOTHING",
                params![reader],
            )?;
            Ok(())
        })
    }

    /// Forgets the readers whose names start with `prefix`, except those in `keep`.
    pub fn drop_readers_except(&self, prefix: &str, keep: &[String]) -> Result<(), StoreError> {
        self.with(|conn| {
            let names: Vec<String> = {
                let mut statement = conn
                    .prepare("SELECT name FROM readers WHERE substr(name, 1, length(?1)) = ?1")?;
                let rows = statement.query_map(params![prefix], |row| row.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for name in names.iter().filter(|name| !keep.contains(name)) {
                conn.execute("DELETE FROM readers WHERE name = ?1", params![name])?;
            }
            Ok(())
        })
    }

    /// Up to `limit` changes that `reader` has not handled yet, oldest first. A reader never
    /// registered starts at the beginning of the log.
    pub fn unread_changes(
        &self,
        reader: &str,
        limit: usize,
    ) -> Result<Vec<RecordChange>, StoreError> {
        type Row = (i64, Option<String>, Option<String>, bool, Option<i64>);
        let rows: Vec<Row> = self.with(|conn| {
            conn.execute(
                "INSERT INTO readers (name, seq) VALUES (?1, 0) ON CONFLICT DO NOTHING",
                params![reader],
            )?;
            let mut statement = conn.prepare_cached(
                "SELECT c.seq, c.old, c.new, c.expired, c.at FROM changes c
                 JOIN readers r ON r.name = ?1 WHERE c.seq > r.seq ORDER BY c.seq LIMIT ?2",
            )?;
            let rows = statement.query_map(params![reader, limit as i64], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        let decode = |text: Option<String>| {
            text.map(|t| serde_json::from_str::<FileRecord>(&t).map_err(backend))
                .transpose()
        };
        rows.into_iter()
            .map(|(seq, old, new, expired, at)| {
                Ok(RecordChange {
                    sequence_number: seq.to_string(),
                    old: decode(old)?,
                    new: decode(new)?,
                    expired,
                    at: at.map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    /// Records that `reader` has handled every change up to `sequence_number`, and drops the
    /// changes every reader has handled.
    pub fn mark_read(&self, reader: &str, sequence_number: &str) -> Result<(), StoreError> {
        let seq: i64 = sequence_number.parse().map_err(backend)?;
        self.with(|conn| {
            conn.execute(
                "INSERT INTO readers (name, seq) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![reader, seq],
            )?;
            conn.execute(
                "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes
                 WHERE seq <= (SELECT min(seq) FROM readers) ORDER BY seq LIMIT ?1)",
                params![PRUNE_BATCH],
            )?;
            Ok(())
        })
    }
}
