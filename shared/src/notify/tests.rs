//! Which change yields which event, and how events are published: batches, refused entries
//! retried, and the first change that could not be published named for the stream to retry.

use std::sync::Mutex;

use serde_json::json;

use super::*;
const MAX_NAME_BYTES: usize = 255;
const MAX_TAGS: usize = 60;
use crate::model::*;

fn record(version: u64, status: FileStatus) -> FileRecord {
    let at = Timestamp::from_millis(1_795_000_000_000);
    let id = FileId::parse("01KAQ3V6T0Z9Y8X7W6V5T4S3R2").unwrap();
    FileRecord {
        name: FileName::parse("photo.jpg").unwrap(),
        extension: ".jpg".into(),
        mime_type: MediaType::parse("image/jpeg").unwrap(),
        size: (status == FileStatus::Uploaded).then_some(42),
        expected_size: Some(42),
        status,
        tags: Tags::parse(["a"]).unwrap(),
        updated_at: at.plus_seconds(version),
        version,
        ..FileRecord::fixture("acme", id, at)
    }
}

fn change(old: Option<FileRecord>, new: Option<FileRecord>, expired: bool) -> RecordChange {
    RecordChange {
        sequence_number: "100".into(),
        old,
        new,
        expired,
        at: Some(Timestamp::from_millis(1_795_000_999_000)),
    }
}

#[test]
fn each_change_is_its_event() {
    use FileStatus::*;
    let cases = [
        (
            None,
            Some(record(1, Pending)),
            false,
            Some(EventKind::Created),
        ),
        (
            Some(record(1, Pending)),
            Some(record(2, Uploaded)),
            false,
            Some(EventKind::Uploaded),
        ),
        (
            Some(record(1, Pending)),
            Some(record(2, Failed)),
            false,
            Some(EventKind::Failed),
        ),
        (
            Some(record(2, Uploaded)),
            Some(record(3, Uploaded)),
            false,
            Some(EventKind::Updated),
        ),
        // A re-upload opens: uploaded → pending is an update, not a new file.
        (
            Some(record(3, Uploaded)),
            Some(record(4, Pending)),
            false,
            Some(EventKind::Updated),
        ),
        (
            Some(record(4, Uploaded)),
            None,
            false,
            Some(EventKind::Deleted),
        ),
        (
            Some(record(4, Pending)),
            None,
            true,
            Some(EventKind::Expired),
        ),
        // Bookkeeping that leaves the version alone is not an event.
        (
            Some(record(2, Uploaded)),
            Some(record(2, Uploaded)),
            false,
            None,
        ),
        (None, None, false, None),
    ];
    for (old, new, expired, want) in cases {
        let got = FileEvent::of(&change(old.clone(), new.clone(), expired)).map(|e| e.kind);
        assert_eq!(
            got,
            want,
            "{:?} -> {:?}",
            old.map(|r| r.status),
            new.map(|r| r.status)
        );
    }
}

#[test]
fn the_trash_has_events_of_its_own_and_a_purge_is_a_delete() {
    let live = record(3, FileStatus::Uploaded);
    let mut trashed = record(4, FileStatus::Uploaded);
    trashed.trashed_at = Some(trashed.updated_at);
    trashed.expires_at = Some(trashed.updated_at.plus_seconds(86_400));
    let restored = record(5, FileStatus::Uploaded);
    let kind = |old: &FileRecord, new: Option<&FileRecord>, expired: bool| {
        FileEvent::of(&change(Some(old.clone()), new.cloned(), expired)).map(|e| e.kind)
    };
    assert_eq!(kind(&live, Some(&trashed), false), Some(EventKind::Trashed));
    assert_eq!(
        kind(&trashed, Some(&restored), false),
        Some(EventKind::Restored)
    );
    // Purged by its expiry (TTL, the sweep): gone for good, by no one.
    let purge = FileEvent::of(&change(Some(trashed.clone()), None, true)).unwrap();
    assert_eq!(purge.kind, EventKind::Deleted);
    assert_eq!(purge.detail.actor, None);
    // Deleted for good from the trash by a member.
    assert_eq!(kind(&trashed, None, false), Some(EventKind::Deleted));
    // A restore's copy landing.
    let mut restoring = record(6, FileStatus::Uploaded);
    restoring.upload = Some(OpenUpload {
        revision: 3,
        key: "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/3".into(),
        url_expires_at: restoring.updated_at,
        multipart: None,
        max_size: None,
        opened_by: None,
        keep_versions: 2,
        restoring: Some(1),
    });
    let mut landed = record(7, FileStatus::Uploaded);
    landed.content = Some(StoredObject {
        key: "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/3".into(),
        size: 42,
        etag: "e".into(),
        sequencer: None,
        landed: None,
    });
    assert_eq!(
        kind(&restoring, Some(&landed), false),
        Some(EventKind::VersionRestored)
    );
    // An ordinary re-upload landing stays an update.
    restoring.upload.as_mut().unwrap().restoring = None;
    assert_eq!(
        kind(&restoring, Some(&landed), false),
        Some(EventKind::Updated)
    );
}

#[test]
fn the_detail_is_the_record_as_the_api_shows_it_with_a_deterministic_id() {
    let uploaded = change(
        Some(record(1, FileStatus::Pending)),
        Some(record(2, FileStatus::Uploaded)),
        false,
    );
    let event = FileEvent::of(&uploaded).unwrap();
    let again = FileEvent::of(&uploaded).unwrap();
    assert_eq!(event.event_id(), "01KAQ3V6T0Z9Y8X7W6V5T4S3R2.2.uploaded");
    assert_eq!(event.event_id(), again.event_id());
    assert_eq!(event.detail_type(), "stowage.file.uploaded");
    let detail: serde_json::Value = serde_json::from_str(&event.detail_json()).unwrap();
    assert_eq!(detail["tenant"], "acme");
    assert_eq!(
        detail["previous"],
        json!({"status": "pending", "version": 1})
    );
    assert_eq!(detail["file"]["status"], "uploaded");
    assert_eq!(detail["file"]["size"], 42);
    assert_eq!(detail["file"]["version"], 2);
    assert!(detail["file"].get("contentUrl").is_none(), "{detail}");
    // The record's own time of the change, so a redelivery has the same detail.
    assert_eq!(detail["occurredAt"], detail["file"]["updatedAt"]);

    let created =
        FileEvent::of(&change(None, Some(record(1, FileStatus::Pending)), false)).unwrap();
    assert_eq!(created.detail.previous, None);
    assert!(created.detail_json().contains("\"previous\":null"));

    // A removal happened when the stream says it did.
    let deleted =
        FileEvent::of(&change(Some(record(5, FileStatus::Uploaded)), None, false)).unwrap();
    assert_eq!(deleted.event_id(), "01KAQ3V6T0Z9Y8X7W6V5T4S3R2.5.deleted");
    assert_eq!(
        deleted.detail.occurred_at,
        Timestamp::from_millis(1_795_000_999_000)
    );
    assert_eq!(
        deleted.detail.previous,
        Some(Previous {
            status: FileStatus::Uploaded,
            version: 5
        })
    );
}

#[test]
fn the_delivered_envelope_is_eventbridges() {
    let event = FileEvent::of(&change(None, Some(record(1, FileStatus::Pending)), false)).unwrap();
    let delivered = event.delivered("000000000000", "local");
    assert_eq!(delivered["source"], "stowage");
    assert_eq!(delivered["detail-type"], "stowage.file.created");
    assert_eq!(delivered["version"], "0");
    assert_eq!(delivered["time"], "2026-11-18T11:06:41Z");
    assert_eq!(delivered["detail"]["eventId"], event.event_id());
}

#[test]
fn the_largest_record_makes_an_event_well_under_256_kb() {
    let wide = |n: usize, salt: usize| -> String {
        std::iter::once(char::from_u32(0x1F600 + salt as u32).unwrap())
            .cycle()
            .take(n)
            .collect()
    };
    let mut file = record(9, FileStatus::Uploaded);
    file.name = FileName::parse(&"n".repeat(MAX_NAME_BYTES)).unwrap();
    file.tags = Tags::parse((0..MAX_TAGS).map(|i| format!("{}{i:02}", wide(254, i % 50)))).unwrap();
    file.purpose = Some(Purpose::parse(&wide(64, 1)).unwrap());
    file.external_id = Some(ExternalId::parse(&wide(255, 2)).unwrap());
    file.source = Some(Source::parse(&wide(128, 3)).unwrap());
    // A directory at its byte limit: 239 four-byte characters and the leading `/`.
    file.directory = Some(DirectoryPath::parse(&format!("/{}", wide(239, 4))).unwrap());
    // Metadata at its limit, of characters JSON escapes six to one.
    let mut map = serde_json::Map::new();
    for i in 0.. {
        let mut next = map.clone();
        next.insert(format!("k{i}"), json!("\u{1}".repeat(100)));
        if Metadata::parse(next.clone()).is_err() {
            break;
        }
        map = next;
    }
    file.metadata = Metadata::parse(map).unwrap();
    let event = FileEvent::of(&change(
        Some(record(8, FileStatus::Uploaded)),
        Some(file),
        false,
    ))
    .unwrap();
    let size = event.entry_size();
    let delivered = serde_json::to_vec(&event.delivered("123456789012", "eu-west-1"))
        .unwrap()
        .len();
    assert!(size < MAX_EVENT_BYTES / 2, "{size} bytes");
    assert!(delivered < MAX_EVENT_BYTES / 2, "{delivered} bytes");
}

/// A sink that refuses what it is told to, and keeps what it took.
#[derive(Default)]
struct Sink {
    /// Event ids refused this many more times.
    refuse: Mutex<Vec<(String, usize)>>,
    /// Calls that fail outright, from the first.
    down_for: Mutex<usize>,
    taken: Mutex<Vec<String>>,
    calls: Mutex<Vec<usize>>,
}

#[async_trait]
impl EventSink for Sink {
    async fn put(&self, events: &[&FileEvent]) -> Result<Vec<bool>, SinkError> {
        assert!(events.len() <= 10, "a batch of {}", events.len());
        self.calls.lock().unwrap().push(events.len());
        {
            let mut down = self.down_for.lock().unwrap();
            if *down > 0 {
                *down -= 1;
                return Err(SinkError("unreachable".into()));
            }
        }
        let mut refuse = self.refuse.lock().unwrap();
        Ok(events
            .iter()
            .map(|event| {
                if let Some(entry) = refuse
                    .iter_mut()
                    .find(|(id, n)| id == event.event_id() && *n > 0)
                {
                    entry.1 -= 1;
                    false
                } else {
                    self.taken.lock().unwrap().push(event.event_id().to_owned());
                    true
                }
            })
            .collect())
    }
}

fn events(n: u64) -> Vec<(String, FileEvent)> {
    (1..=n)
        .map(|v| {
            let change = change(
                Some(record(v, FileStatus::Uploaded)),
                Some(record(v + 1, FileStatus::Uploaded)),
                false,
            );
            (format!("seq-{v}"), FileEvent::of(&change).unwrap())
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn events_go_in_batches_of_ten_in_order() {
    let sink = Sink::default();
    let all = events(23);
    assert_eq!(publish(&sink, &all).await, Ok(23));
    assert_eq!(*sink.calls.lock().unwrap(), [10, 10, 3]);
    let ids: Vec<String> = all.iter().map(|(_, e)| e.event_id().to_owned()).collect();
    assert_eq!(*sink.taken.lock().unwrap(), ids);
}

#[tokio::test(start_paused = true)]
async fn refused_entries_are_retried_and_a_lasting_refusal_names_its_change() {
    let all = events(12);
    let sink = Sink::default();
    sink.refuse
        .lock()
        .unwrap()
        .push((all[3].1.event_id().to_owned(), 2));
    assert_eq!(publish(&sink, &all).await, Ok(12));
    assert_eq!(
        *sink.calls.lock().unwrap(),
        [10, 1, 1, 2],
        "the refused entry alone is retried"
    );
    assert_eq!(sink.taken.lock().unwrap().len(), 12);

    let sink = Sink::default();
    sink.refuse
        .lock()
        .unwrap()
        .push((all[3].1.event_id().to_owned(), 99));
    assert_eq!(publish(&sink, &all).await, Err("seq-4".to_owned()));
    // Nothing after the failed batch went out: the stream sends it all again.
    assert_eq!(sink.taken.lock().unwrap().len(), 9);

    let sink = Sink::default();
    *sink.down_for.lock().unwrap() = 2;
    assert_eq!(
        publish(&sink, &all).await,
        Ok(12),
        "an unreachable bus is retried"
    );
    *sink.down_for.lock().unwrap() = 99;
    assert_eq!(publish(&sink, &all).await, Err("seq-1".to_owned()));
}
