//! Reading the table's stream: which stream records are file records, and what they held. Index
//! items (externalId markers, tag pointers) are not file records and are left out.

use aws_lambda_events::dynamodb::{Event, EventRecord};

use super::schema::{backend, FILE_SK_PREFIX, PK, SK, TENANT_PK_PREFIX};
use crate::model::{FileRecord, Timestamp};
use crate::store::{RecordChange, StoreError, UndecodableChange};

/// The principal DynamoDB names in the stream when TTL removes an item.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// Whether a stream record is a file record's, by its whole key: records live at
/// `pk = T#<tenant>`, `sk = F#<id>`. Tag pointers share the `F#` sort key (under `G#…`
/// partitions) and markers share the partition (under `X#…` sort keys); neither is a record.
fn is_file_record(record: &EventRecord) -> bool {
    let key = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    key(PK).is_some_and(|pk| pk.starts_with(TENANT_PK_PREFIX))
        && key(SK).is_some_and(|sk| sk.starts_with(FILE_SK_PREFIX))
}

fn image(item: &serde_dynamo::Item) -> Result<Option<FileRecord>, StoreError> {
    if item.is_empty() {
        return Ok(None);
    }
    // Key, TTL and index attributes are not record fields; decoding ignores them.
    serde_dynamo::from_item(item.clone())
        .map(Some)
        .map_err(backend)
}

/// The file record changes in a stream batch, in stream order.
pub(crate) fn record_changes(event: &Event) -> Vec<Result<RecordChange, UndecodableChange>> {
    event
        .records
        .iter()
        .filter(|record| is_file_record(record))
        .map(|record| {
            let sequence_number = record.change.sequence_number.clone().unwrap_or_default();
            let decoded = image(&record.change.old_image)
                .and_then(|old| Ok((old, image(&record.change.new_image)?)));
            match decoded {
                Ok((old, new)) => Ok(RecordChange {
                    at: Some(Timestamp::from_datetime(
                        record.change.approximate_creation_date_time,
                    )),
                    expired: record.event_name == "REMOVE"
                        && record
                            .user_identity
                            .as_ref()
                            .is_some_and(|who| who.principal_id == TTL_PRINCIPAL),
                    sequence_number,
                    old,
                    new,
                }),
                Err(source) => Err(UndecodableChange {
                    position: sequence_number,
                    source,
                }),
            }
        })
        .collect()
}
