//! The non-HTTP Lambda entry points: S3 `ObjectCreated` notifications, and the DynamoDB stream's
//! two readers: one cleans up after removed records (TTL expiry included) so their bytes go too,
//! the other publishes every change as a file event.

use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::s3::{S3Event, S3EventRecord};

use crate::blob::ObjectStore;
use crate::error::ApiError;
use crate::keys::decode_event_key;
use crate::model::{Sequencer, Timestamp};
use crate::notify::{EventSink, FileEvent};
use crate::service::{ObjectEvent, Outcome};
use crate::store::dynamodb::stream::record_changes;
use crate::store::{MetadataStore, RecordChange, UndecodableChange};
use crate::App;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

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
pub async fn on_object_created<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    event: S3Event,
) -> Result<Vec<Outcome>, EventError> {
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

/// Handles the S3 events of publish job markers (the `publish-file` function): brings each
/// named file's public copy in step, then deletes the marker. A failure fails the invocation,
/// so Lambda retries it and then sends it to the on-failure queue; reads and writes of the
/// file request the job again meanwhile.
pub async fn on_publish_requested<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    event: S3Event,
) -> Result<usize, EventError> {
    let total = event.records.len();
    let mut failed = 0;
    let mut done = 0;
    for record in &event.records {
        let Some(object) = object_event(&app.service.settings().bucket, record) else {
            continue;
        };
        let Some((tenant, id)) = crate::keys::parse_publish_job(&object.key) else {
            tracing::warn!(key = %object.key, "skipping an object that is not a publish job");
            continue;
        };
        match app.service.publish(&tenant, id).await {
            Ok(()) => {
                done += 1;
                app.service.job_done(&object.key).await;
                tracing::info!(%tenant, %id, "public copy in step");
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
    Ok(done)
}

/// What invokes the publish worker: the S3 events of job markers, or its schedule.
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum PublishTrigger {
    /// EventBridge's scheduled event (`detail-type: Scheduled Event`): the sweep of expired
    /// public copies.
    Schedule(ScheduledEvent),
    Jobs(S3Event),
}

/// The fields of an EventBridge scheduled event the worker reads.
#[derive(serde::Deserialize)]
pub struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
}

/// Runs the publish worker for `trigger`: its job markers, or (scheduled) the sweep of
/// expired files' public copies.
pub async fn on_publish_trigger<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    trigger: PublishTrigger,
) -> Result<usize, EventError> {
    match trigger {
        PublishTrigger::Jobs(event) => on_publish_requested(app, event).await,
        PublishTrigger::Schedule(event) => {
            tracing::debug!(source = %event.source, detail_type = %event.detail_type, "sweep");
            match app.service.withdraw_expired_public().await {
                Ok(withdrawn) => {
                    if withdrawn > 0 {
                        tracing::info!(withdrawn, "withdrew the public copies of expired files");
                    }
                    Ok(withdrawn)
                }
                Err(err) => {
                    tracing::error!(error = ?err, "the sweep of expired public copies failed");
                    Err(EventError {
                        failed: 1,
                        total: 1,
                    })
                }
            }
        }
    }
}

/// Cleans up after every removal among `changes` (a record deleted through the API, or
/// expired): its objects and index items. Returns the sequence numbers of the changes that
/// could not be handled, to be retried; other changes need nothing here.
pub async fn clean_up_removed<I, M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    changes: I,
) -> Vec<String>
where
    I: IntoIterator<Item = Result<RecordChange, UndecodableChange>>,
{
    let mut failed = Vec::new();
    for change in changes {
        let change = match change {
            Ok(change) => change,
            Err(err) => {
                // Retried, then parked in the on-failure queue for a person to look at.
                tracing::error!(error = %err, "a removed item looks like a file record but does not decode");
                failed.push(err.position);
                continue;
            }
        };
        let (Some(file), None) = (&change.old, &change.new) else {
            continue;
        };
        let released = if change.expired {
            // A TTL removal happened outside any transaction: uncount it (once) here.
            app.service.release_expired(file).await
        } else {
            Ok(())
        };
        match released.and(app.service.removed(file).await) {
            Ok(()) => {
                tracing::info!(tenant = %file.tenant, id = %file.id, expired = change.expired, "cleaned up a removed file")
            }
            Err(err) => {
                tracing::error!(tenant = %file.tenant, id = %file.id, error = ?err, "could not clean up a removed file; it will be retried");
                failed.push(change.sequence_number);
            }
        }
    }
    failed
}

/// Handles a batch of table stream records (the `on-records-removed` function): cleans up after
/// removed file records and reports the ones that failed as batch item failures, so Lambda
/// retries from there (and, after its retries, sends them to the on-failure queue).
pub async fn on_records_removed<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    event: StreamEvent,
) -> DynamoDbEventResponse {
    batch_failures(clean_up_removed(app, record_changes(&event)).await)
}

/// The events of `changes`, in stream order, up to the first change that does not decode
/// (whose sequence number comes second).
pub(crate) fn events_of<I>(changes: I) -> (Vec<(String, FileEvent)>, Option<String>)
where
    I: IntoIterator<Item = Result<RecordChange, UndecodableChange>>,
{
    let mut events = Vec::new();
    for change in changes {
        match change {
            Ok(change) => {
                if let Some(event) = FileEvent::of(&change) {
                    events.push((change.sequence_number, event));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "a changed item looks like a file record but does not decode");
                return (events, Some(err.position));
            }
        }
    }
    (events, None)
}

/// The file events a stream batch yields, each with its change's sequence number, in stream
/// order: what [`on_records_changed`] publishes (up to a change that does not decode).
pub fn file_events(event: &StreamEvent) -> Vec<(String, FileEvent)> {
    events_of(record_changes(event)).0
}

/// Handles a batch of table stream records (the `publish-events` function): publishes the
/// event of every file record change, in order, to each of `sinks` (EventBridge, and AppSync
/// Events where the stack has realtime). What could not be published to every sink is reported
/// as a batch item failure from its change on, so Lambda delivers it (and what follows) again:
/// nothing is lost, and a repeated event carries the same `eventId`.
pub async fn on_records_changed(
    sinks: &[&dyn EventSink],
    event: StreamEvent,
) -> DynamoDbEventResponse {
    publish_changes(sinks, event).await.0
}

/// [`on_records_changed`], also saying how many events were published to every sink and how
/// many were not (from the first failure on, delivered again by the stream).
pub async fn publish_changes(
    sinks: &[&dyn EventSink],
    event: StreamEvent,
) -> (DynamoDbEventResponse, Published) {
    let (events, undecodable) = events_of(record_changes(&event));
    let mut failed: Option<usize> = None;
    for sink in sinks {
        match crate::notify::publish(*sink, &events).await {
            Ok(count) => tracing::info!(count, "published file events"),
            Err(sequence_number) => {
                tracing::error!(%sequence_number, "could not publish file events; the stream delivers them again");
                let at = events
                    .iter()
                    .position(|(s, _)| *s == sequence_number)
                    .unwrap_or(0);
                failed = Some(failed.map_or(at, |f| f.min(at)));
            }
        }
    }
    let published = Published {
        published: failed.unwrap_or(events.len()),
        failed: failed.map_or(0, |at| events.len() - at),
    };
    let failed = match failed {
        Some(at) => Some(events[at].0.clone()),
        None => undecodable,
    };
    (batch_failures(failed), published)
}

/// What a stream batch's publishing came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Events every sink took.
    pub published: usize,
    /// Events left for the stream to deliver again.
    pub failed: usize,
}

fn batch_failures(sequence_numbers: impl IntoIterator<Item = String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = sequence_numbers
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}

/// Handles a `stowage.file.uploaded` event's `detail` (the `make-thumbnails` function): makes
/// the file's thumbnails. A storage failure fails the invocation, so Lambda retries it; an image
/// that does not decode is recorded as such and is not retried.
#[cfg(feature = "thumbnails")]
pub async fn on_image_uploaded<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    detail: &serde_json::Value,
) -> Result<Option<crate::thumbnails::ThumbnailState>, EventError> {
    let tenant = detail["tenant"]
        .as_str()
        .and_then(|t| crate::model::TenantId::parse(t).ok());
    let id = detail["file"]["id"]
        .as_str()
        .and_then(|id| crate::model::FileId::parse(id).ok());
    let (Some(tenant), Some(id)) = (tenant, id) else {
        tracing::warn!(%detail, "skipping an event that names no file");
        return Ok(None);
    };
    match app.service.make_thumbnails(&tenant, id).await {
        Ok(state) => {
            tracing::info!(%tenant, %id, ?state, "thumbnails");
            Ok(state)
        }
        Err(err) => {
            tracing::error!(%tenant, %id, error = ?err, "could not make thumbnails; Lambda retries");
            Err(EventError {
                failed: 1,
                total: 1,
            })
        }
    }
}
