//! The non-HTTP Lambda entry points: S3 `ObjectCreated` notifications, and the DynamoDB stream
//! that reports removed records (TTL expiry included) so their bytes can go too.

use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::s3::{S3Event, S3EventRecord};

use crate::error::ApiError;
use crate::keys::decode_event_key;
use crate::model::{Sequencer, Timestamp};
use crate::service::{ObjectEvent, Outcome};
use crate::store::dynamodb::stream::record_changes;
use crate::App;

/// Why an S3 notification could not be fully handled; Lambda retries the whole event, which is
/// safe because handling is idempotent.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} S3 event records failed; see the log for each")]
pub struct EventError {
    pub failed: usize,
    pub total: usize,
}

/// Handles every record of an S3 notification. Records for other buckets or other event types
/// are skipped; a record that fails is logged and makes the invocation fail after the rest
/// have been handled.
pub async fn on_object_created(app: &App, event: S3Event) -> Result<Vec<Outcome>, EventError> {
    let total = event.records.len();
    let mut failed = 0;
    let mut outcomes = Vec::with_capacity(total);
    for record in &event.records {
        let Some(object) = object_event(&app.service.settings().bucket, record) else {
            continue;
        };
        match app.service.object_created(object.clone()).await {
            Ok(outcome) => {
                tracing::info!(key = %object.key, size = object.size, outcome = outcome_name(&outcome), "object handled");
                outcomes.push(outcome);
            }
            Err(err) => {
                failed += 1;
                log_failure(&object.key, &err);
            }
        }
    }
    if failed > 0 {
        return Err(EventError { failed, total });
    }
    Ok(outcomes)
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Updated(_) => "updated",
        Outcome::Unchanged => "unchanged",
        Outcome::OrphanDeleted => "orphan_deleted",
    }
}

fn log_failure(key: &str, err: &ApiError) {
    tracing::error!(key, error = ?err, "object event failed; it will be retried");
}

/// The object event an S3 record describes, or `None` (logged) if it is not ours to handle.
fn object_event(bucket: &str, record: &S3EventRecord) -> Option<ObjectEvent> {
    let event_name = record.event_name.as_deref().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated:") {
        tracing::warn!(event_name, "skipping an S3 event that is not ObjectCreated");
        return None;
    }
    let record_bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
    if record_bucket != bucket {
        tracing::warn!(
            bucket = record_bucket,
            "skipping an S3 event for another bucket"
        );
        return None;
    }
    let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
    let Some(key) = decode_event_key(raw_key) else {
        tracing::warn!(raw_key, "skipping an S3 event whose key does not decode");
        return None;
    };
    let size = record
        .s3
        .object
        .size
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    Some(ObjectEvent {
        key,
        size,
        etag: record.s3.object.e_tag.clone().unwrap_or_default(),
        sequencer: record
            .s3
            .object
            .sequencer
            .as_deref()
            .and_then(Sequencer::parse),
        at: Timestamp::from_datetime(record.event_time),
    })
}

/// Handles a batch of table stream records: every removed file record (deleted through the API,
/// or expired by TTL) has its objects and index items deleted. Other changes, and items that
/// are not file records (markers, tag pointers), are skipped. Returns how many records were
/// cleaned up.
pub async fn on_records_removed(app: &App, event: StreamEvent) -> Result<usize, EventError> {
    let total = event.records.len();
    let mut cleaned = 0;
    for change in record_changes(&event) {
        match change {
            Ok(change) => {
                let (Some(file), None) = (&change.old, &change.new) else {
                    continue;
                };
                app.service.removed(file).await;
                tracing::info!(tenant = %file.tenant, id = %file.id, expired = change.expired, "cleaned up a removed file");
                cleaned += 1;
            }
            Err(err) => {
                // A record that does not decode cannot be cleaned up here; the S3 lifecycle
                // rules remain the backstop. Failing would only block the shard.
                tracing::error!(error = %err, "a removed item looks like a file record but does not decode");
            }
        }
    }
    tracing::debug!(total, cleaned, "stream batch handled");
    Ok(cleaned)
}
