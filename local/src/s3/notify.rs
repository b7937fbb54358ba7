//! The S3 event notifications of the embedded endpoint: what S3 sends when an object is stored,
//! delivered in-process to the same handlers the Lambda functions run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use serde_json::json;
use stowage::App;

/// Where completed uploads are reported.
#[derive(Clone)]
pub struct Notifier {
    app: Arc<App>,
    bucket: String,
    sequencer: Arc<AtomicU64>,
    enabled: bool,
}

impl Notifier {
    /// Reports the objects of `bucket` to `app`; `enabled: false` turns the
    /// notifications off (the behaviour suite delivers its own events, as with moto).
    pub fn new(app: Arc<App>, bucket: &str, enabled: bool) -> Self {
        // Sequencers must grow across restarts too: start from the clock.
        let start = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0) << 12;
        Notifier {
            app,
            bucket: bucket.to_owned(),
            sequencer: Arc::new(AtomicU64::new(start)),
            enabled,
        }
    }

    /// Sends `ObjectCreated:<event_name>` for `key` (of `size` bytes) in the background, as S3 does, retrying
    /// like Lambda's asynchronous invocation (3 attempts). A record left pending by a failure
    /// is repaired by the next `GET /files/{id}`.
    pub(super) fn object_created(
        &self,
        event_name: &str,
        bucket: &str,
        key: &str,
        size: u64,
        etag: &str,
    ) {
        if !self.enabled || bucket != self.bucket {
            return;
        }
        let sequencer = format!("{:016X}", self.sequencer.fetch_add(1, Ordering::SeqCst));
        let event = object_created_event(&self.bucket, event_name, key, size, etag, &sequencer);
        let app = self.app.clone();
        let key = key.to_owned();
        // As the bucket's notification configuration routes them on AWS: job markers to the
        // publish worker, uploads to on-object-created.
        let job = key.starts_with(stowage::keys::PUBLISH_JOBS);
        tokio::spawn(async move {
            for attempt in 1..=3u64 {
                let result = if job {
                    stowage::events::on_publish_requested(&app, event.clone())
                        .await
                        .map(|_| ())
                } else {
                    let handled = stowage::events::on_object_created(&app, event.clone()).await;
                    stowage::metrics::object_events(
                        "on-object-created",
                        handled.as_ref().map(Vec::as_slice).unwrap_or_default(),
                        handled.as_ref().err().map_or(0, |e| e.failed),
                        false,
                    )
                    .record();
                    handled.map(|_| ())
                };
                match result {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::warn!(%key, attempt, error = %err, "object event failed");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                }
            }
            tracing::error!(%key, "object event failed 3 times; GET /files/{{id}} will repair the record");
        });
    }
}

/// The S3 notification S3 itself would send for one stored object.
pub fn object_created_event(
    bucket: &str,
    event_name: &str,
    key: &str,
    size: u64,
    etag: &str,
    sequencer: &str,
) -> S3Event {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let event = json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": now,
        "eventName": format!("ObjectCreated:{event_name}"),
        "userIdentity": {"principalId": "stowage-local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "stowage-local",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "stowage-local"},
                "arn": format!("arn:aws:s3:::{bucket}")
            },
            "object": {
                "key": stowage::keys::encode_event_key(key),
                "size": size,
                "eTag": etag,
                "sequencer": sequencer
            }
        }
    }]});
    serde_json::from_value(event).expect("the event has the shape aws_lambda_events expects")
}
