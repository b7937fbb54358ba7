//! File events: each change of a file record, as the table's stream (or, in
//! `stowage-local`, the change log) reports it, becomes at most one event, published at least
//! once. Events are made from the stream, never inline, so a write that succeeded always
//! yields its event, even if the process that made it dies right after.
//!
//! - An insert is `stowage.file.created`; a change of the record's `version` is
//!   `stowage.file.uploaded` or `stowage.file.failed` when the status became that, else
//!   `stowage.file.updated`; a removal is `stowage.file.expired` when TTL (or the local sweep)
//!   removed it, else `stowage.file.deleted`. Writes that leave `version` alone (bookkeeping such
//!   as the public copy's marker) are not changes a client can see, and yield nothing.
//! - `eventId` is `<file id>.<version>.<type>`: the same change always has the same id, so a
//!   consumer drops duplicates by it.
//!
//! [`publish`] sends events to an [`EventSink`] (EventBridge on AWS, see `eventbridge`) in
//! batches, retrying what the sink refused, and says from which change on it failed, so the
//! stream can deliver the rest again.

#[cfg(feature = "realtime-publish")]
pub mod appsync;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::model::{FileRecord, FileStatus, TenantId, Timestamp};
use crate::store::RecordChange;

/// The events' `source`.
pub(crate) const SOURCE: &str = "stowage";

/// The largest event EventBridge takes (its entry, not counting the bus name).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Entries per `PutEvents` call, and bytes per call, as EventBridge allows.
const MAX_BATCH_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Attempts at an entry the sink refused, before the change is reported as failed.
const ATTEMPTS: u32 = 4;

/// What happened to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Uploaded,
    Failed,
    Updated,
    Deleted,
    Expired,
    Trashed,
    Restored,
    VersionRestored,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::Created,
        EventKind::Uploaded,
        EventKind::Failed,
        EventKind::Updated,
        EventKind::Deleted,
        EventKind::Expired,
        EventKind::Trashed,
        EventKind::Restored,
        EventKind::VersionRestored,
    ];

    /// The short name (`uploaded`), as in the event id.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Uploaded => "uploaded",
            EventKind::Failed => "failed",
            EventKind::Updated => "updated",
            EventKind::Deleted => "deleted",
            EventKind::Expired => "expired",
            EventKind::Trashed => "trashed",
            EventKind::Restored => "restored",
            EventKind::VersionRestored => "version_restored",
        }
    }

    /// EventBridge's `DetailType` (`stowage.file.uploaded`).
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::Created => "stowage.file.created",
            EventKind::Uploaded => "stowage.file.uploaded",
            EventKind::Failed => "stowage.file.failed",
            EventKind::Updated => "stowage.file.updated",
            EventKind::Deleted => "stowage.file.deleted",
            EventKind::Expired => "stowage.file.expired",
            EventKind::Trashed => "stowage.file.trashed",
            EventKind::Restored => "stowage.file.restored",
            EventKind::VersionRestored => "stowage.file.version_restored",
        }
    }
}

/// The record's status and version before the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Previous {
    pub status: FileStatus,
    pub version: u64,
}

/// An event's `Detail` (documented by `events.schema.json`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    pub event_id: String,
    pub tenant: TenantId,
    /// The record as the API shows it, without `contentUrl` (a URL that expires is no use in an
    /// event).
    pub file: serde_json::Value,
    pub previous: Option<Previous>,
    /// Who made the change (`null`: S3, an expiry, or Stowage itself).
    pub actor: Option<crate::model::Actor>,
    pub occurred_at: Timestamp,
}

/// One event about one file.
#[derive(Clone, Debug)]
pub struct FileEvent {
    pub kind: EventKind,
    pub detail: Detail,
    /// The record the event is about (the old one for a removal): who may read it decides who
    /// receives the event in realtime.
    pub record: FileRecord,
}

impl FileEvent {
    /// The event a change of a file record yields, if any.
    pub fn of(change: &RecordChange) -> Option<FileEvent> {
        let (kind, record, previous) = match (&change.old, &change.new) {
            (None, Some(new)) => (EventKind::Created, new, None),
            (Some(old), Some(new)) => {
                if new.version == old.version || new.deleting {
                    // No change the API shows, or the step that names a deleter.
                    return None;
                }
                let restored_version = old.upload.as_ref().is_some_and(|upload| {
                    upload.restoring.is_some()
                        && new.content.as_ref().is_some_and(|c| c.key == upload.key)
                });
                let kind = match new.status {
                    _ if !old.is_trashed() && new.is_trashed() => EventKind::Trashed,
                    _ if old.is_trashed() && !new.is_trashed() => EventKind::Restored,
                    _ if restored_version => EventKind::VersionRestored,
                    status if status == old.status => EventKind::Updated,
                    FileStatus::Uploaded => EventKind::Uploaded,
                    FileStatus::Failed => EventKind::Failed,
                    FileStatus::Pending => EventKind::Updated,
                };
                (kind, new, Some(old))
            }
            (Some(old), None) => {
                // A file purged from the trash is gone for good: deleted, by no one.
                let kind = if change.expired && !old.is_trashed() {
                    EventKind::Expired
                } else {
                    EventKind::Deleted
                };
                (kind, old, Some(old))
            }
            (None, None) => return None,
        };
        let occurred_at = match kind {
            // The record's own time of the change: the same on every delivery.
            EventKind::Created
            | EventKind::Uploaded
            | EventKind::Failed
            | EventKind::Updated
            | EventKind::Trashed
            | EventKind::Restored
            | EventKind::VersionRestored => record.updated_at,
            // The removal's time, as the stream stamps it.
            EventKind::Deleted | EventKind::Expired => change
                .at
                .or(record.expires_at.filter(|_| change.expired))
                .unwrap_or(record.updated_at),
        };
        Some(FileEvent {
            kind,
            detail: Detail {
                event_id: format!("{}.{}.{}", record.id, record.version, kind.name()),
                tenant: record.tenant.clone(),
                file: file_json(record),
                previous: previous.map(|old| Previous {
                    status: old.status,
                    version: old.version,
                }),
                actor: if change.expired {
                    None
                } else {
                    record.actor.clone()
                },
                occurred_at,
            },
            record: record.clone(),
        })
    }

    pub fn event_id(&self) -> &str {
        &self.detail.event_id
    }

    pub fn detail_type(&self) -> &'static str {
        self.kind.detail_type()
    }

    /// The `Detail` as JSON text.
    pub(crate) fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).expect("a detail serializes")
    }

    /// The event as EventBridge delivers it to a target (and `stowage-local` to a webhook): the
    /// envelope around the detail. `id` is the event id here; EventBridge sets its own.
    pub fn delivered(&self, account: &str, region: &str) -> serde_json::Value {
        serde_json::json!({
            "version": "0",
            "id": self.detail.event_id,
            "detail-type": self.detail_type(),
            "source": SOURCE,
            "account": account,
            "time": self.detail.occurred_at.to_rfc3339_seconds(),
            "region": region,
            "resources": [],
            "detail": self.detail,
        })
    }

    /// The size EventBridge counts for the entry: source, detail type and detail.
    pub(crate) fn entry_size(&self) -> usize {
        SOURCE.len() + self.detail_type().len() + self.detail_json().len()
    }
}

fn file_json(record: &FileRecord) -> serde_json::Value {
    let mut file = serde_json::to_value(crate::wire::FileView::of(record, None))
        .expect("a record view serializes");
    if let Some(fields) = file.as_object_mut() {
        fields.remove("contentUrl");
    }
    file
}

/// Where events go.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Sends a batch (at most 10 events, at most 256 KB); answers, per event, whether the sink
    /// took it. An error means none was taken.
    async fn put(&self, events: &[&FileEvent]) -> Result<Vec<bool>, SinkError>;
}

/// The sink could not be reached, or refused the whole call.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Publishes `events` (in stream order, each with its change's sequence number) in batches,
/// retrying entries the sink refused. Answers `Err` with the sequence number of the first
/// change whose event could not be published, having sent nothing after its batch: the stream
/// delivers again from there (events of that batch that were taken are then sent twice, with
/// the same ids).
pub async fn publish(
    sink: &dyn EventSink,
    events: &[(String, FileEvent)],
) -> Result<usize, String> {
    let mut start = 0;
    while start < events.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < events.len() && end - start < MAX_BATCH_ENTRIES {
            let size = events[end].1.entry_size();
            if end > start && bytes + size > MAX_BATCH_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        if let Some(offset) = put_with_retries(sink, &events[start..end]).await.first() {
            // Nothing after it is sent now: a file's events stay in order, and the stream
            // delivers them all again from this change.
            return Err(events[start + offset].0.clone());
        }
        start = end;
    }
    Ok(events.len())
}

/// Sends one batch, retrying the entries the sink refused; answers the offsets (within the
/// batch) of the events still not taken.
async fn put_with_retries(sink: &dyn EventSink, batch: &[(String, FileEvent)]) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << (2 * (attempt - 1)))).await;
        }
        let entries: Vec<&FileEvent> = pending.iter().map(|&i| &batch[i].1).collect();
        match sink.put(&entries).await {
            Ok(taken) => {
                pending = pending
                    .iter()
                    .zip(taken.iter().chain(std::iter::repeat(&false)))
                    .filter(|(_, ok)| !**ok)
                    .map(|(&i, _)| i)
                    .collect();
                if pending.is_empty() {
                    return pending;
                }
                tracing::warn!(
                    refused = pending.len(),
                    attempt,
                    "the event bus refused some events; retrying them"
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, attempt, "could not publish events; retrying");
            }
        }
    }
    pending
}

#[cfg(test)]
mod tests;
