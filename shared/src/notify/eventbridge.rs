//! File events to Amazon EventBridge: one `PutEvents` call per batch, on the bus named by
//! `STOWAGE_EVENT_BUS`.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{EventSink, FileEvent, SinkError, SOURCE};

/// An EventBridge bus.
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventSink for EventBridgeSink {
    async fn put(&self, events: &[&FileEvent]) -> Result<Vec<bool>, SinkError> {
        let entries = events
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(event.detail_type())
                    .detail(event.detail_json())
                    .time(aws_smithy_types::DateTime::from_millis(
                        event.detail.occurred_at.millis(),
                    ))
                    .build()
            })
            .collect::<Vec<_>>();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| {
                SinkError(format!(
                    "PutEvents: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(&err)
                ))
            })?;
        // Entries come back in request order; a failed one carries an error code.
        let results = output.entries();
        Ok((0..events.len())
            .map(|i| {
                results.get(i).is_some_and(|entry| {
                    if let Some(code) = entry.error_code() {
                        tracing::warn!(
                            event_id = events[i].event_id(),
                            code,
                            message = entry.error_message().unwrap_or_default(),
                            "EventBridge refused an event"
                        );
                        false
                    } else {
                        true
                    }
                })
            })
            .collect())
    }
}
