//! File events on AWS, end to end on moto: the real flow (create, upload and its S3
//! event, update, delete, a failed upload, a TTL expiry) writes the table; the table's own
//! stream (read from moto) is fed to the `publish-events` handler, which publishes to an
//! EventBridge bus; a rule on the bus delivers to an SQS queue, where the test reads what a
//! consumer would. Then the bus goes away mid-batch: the batch reports its first unpublished
//! change, and the redelivery from there loses nothing. `stowage-local`'s webhooks are tested
//! end to end in `local/tests/webhooks.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use stowage::events::on_records_changed;
use stowage::http::RouteId;
use stowage::notify::eventbridge::EventBridgeSink;
use stowage_tests::{moto_eventbridge_client, Outage, TestEnv};

/// A bus with a rule that sends every Stowage event to a fresh queue.
struct Bus {
    name: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Bus {
    /// A bus of `env`'s world (publish-events' policy names it).
    async fn new(env: &TestEnv) -> Bus {
        let sdk = env.sdk.as_ref().expect("a moto env");
        let suffix = ulid::Ulid::new().to_string().to_lowercase();
        let name = format!("stowage-events-{suffix}");
        stowage_tests::register_world(env.world.as_deref().unwrap(), json!({ "bus": name })).await;
        let events = aws_sdk_eventbridge::Client::new(sdk);
        events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .expect("create bus");
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("stowage-events-{suffix}"))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("a queue url");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("a queue arn");
        events
            .put_rule()
            .name("to-queue")
            .event_bus_name(&name)
            .event_pattern(json!({"source": ["stowage"]}).to_string())
            .send()
            .await
            .expect("put rule");
        events
            .put_targets()
            .rule("to-queue")
            .event_bus_name(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put targets");
        Bus {
            name,
            sqs,
            queue_url,
        }
    }

    /// Every event the queue holds now, as EventBridge delivered them, in arrival order.
    async fn drain(&self) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = page.messages.unwrap_or_default();
            if messages.is_empty() {
                return got;
            }
            for message in messages {
                got.push(serde_json::from_str(message.body().unwrap()).expect("an event as JSON"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("delete message");
            }
        }
    }
}

/// The event types per file id, in the order they arrived.
fn per_file(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        files
            .entry(event["detail"]["file"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(
                event["detail-type"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("stowage.file.")
                    .to_owned(),
            );
    }
    files
}

/// Makes one of each change: `(uploaded-then-updated-then-deleted id, failed id, expired id)`.
async fn make_changes(env: &TestEnv) -> (String, String, String) {
    let photo = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"hello",
        )
        .await;
    let photo = photo["id"].as_str().unwrap().to_owned();
    let patched = env
        .route(RouteId::UpdateFile, "acme")
        .id(&photo)
        .body(json!({"name": "b.txt"}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    // Deleted by an app, not by alice who made the last change: the removal names the app.
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .as_app("ops-app")
        .id(&photo)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);

    let short = env
        .create(
            "acme",
            json!({"name": "c.txt", "mimeType": "text/plain", "expectedSize": 10}),
        )
        .await;
    env.upload(&short.json["upload"], b"5 b.").await;
    let key = stowage_tests::upload_key(&short.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let short = short.json["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(env.get("acme", &short).await.json["status"], "failed");

    let temp = env
        .create(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
        )
        .await;
    let temp = temp.json["file"]["id"].as_str().unwrap().to_owned();
    env.advance(Duration::from_secs(61));
    assert_eq!(env.expire().await, 1);
    (photo, short, temp)
}

#[tokio::test]
async fn every_change_reaches_the_bus_once_in_order_with_its_detail() {
    let env = TestEnv::moto().await;
    let sdk = env.sdk.clone().unwrap();
    let bus = Bus::new(&env).await;
    let (photo, short, temp) = make_changes(&env).await;

    let stream = env.table_stream(std::slice::from_ref(&temp)).await;
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    let response = env
        .acting("publish-events", on_records_changed(&[&sink], stream))
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );

    let events = bus.drain().await;
    capture("moto-eventbridge", &events);
    let files = per_file(&events);
    assert_eq!(
        files[&photo],
        ["created", "uploaded", "updated", "deleted"],
        "{events:#?}"
    );
    assert_eq!(files[&short], ["created", "failed"]);
    assert_eq!(files[&temp], ["created", "expired"]);
    assert_eq!(files.len(), 3, "index items and bookkeeping make no events");

    for event in &events {
        assert_eq!(event["source"], "stowage");
        let detail = &event["detail"];
        let file = &detail["file"];
        let kind = event["detail-type"]
            .as_str()
            .unwrap()
            .trim_start_matches("stowage.file.");
        assert_eq!(detail["tenant"], "acme");
        assert_eq!(
            detail["eventId"],
            format!(
                "{}.{}.{kind}",
                file["id"].as_str().unwrap(),
                file["version"]
            ),
        );
        assert!(file.get("contentUrl").is_none(), "{event}");
        assert!(
            detail["occurredAt"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{event}"
        );
        if kind == "created" {
            assert_eq!(detail["previous"], Value::Null);
        } else {
            assert!(detail["previous"]["version"].as_u64().is_some(), "{event}");
        }
    }
    let uploaded = events
        .iter()
        .find(|e| e["detail-type"] == "stowage.file.uploaded")
        .unwrap();
    assert_eq!(uploaded["detail"]["previous"]["status"], "pending");
    assert_eq!(uploaded["detail"]["file"]["status"], "uploaded");
    assert_eq!(uploaded["detail"]["file"]["size"], 5);
    let updated = events
        .iter()
        .find(|e| e["detail-type"] == "stowage.file.updated")
        .unwrap();
    assert_eq!(updated["detail"]["file"]["name"], "b.txt");
    let deleted = events
        .iter()
        .find(|e| e["detail-type"] == "stowage.file.deleted")
        .unwrap();
    assert_eq!(deleted["detail"]["previous"]["status"], "uploaded");
    // Who made each change (`actor`): the token's user, or null for S3's and TTL's.
    let alice = json!({"user": "alice", "app": false});
    for event in &events {
        let kind = event["detail-type"].as_str().unwrap();
        let expected = match kind {
            "stowage.file.created" | "stowage.file.updated" => alice.clone(),
            "stowage.file.deleted" => json!({"user": "ops-app", "app": true}),
            _ => Value::Null,
        };
        assert_eq!(event["detail"]["actor"], expected, "{kind}: {event}");
    }
}

#[tokio::test]
async fn a_bus_that_fails_loses_nothing_the_stream_delivers_again() {
    let env = TestEnv::moto().await;
    let sdk = env.sdk.clone().unwrap();
    let bus = Bus::new(&env).await;
    let (_, _, temp) = make_changes(&env).await;
    let stream = env.table_stream(std::slice::from_ref(&temp)).await;

    let outage = Outage::default();
    let sink = EventBridgeSink::new(moto_eventbridge_client(&sdk, outage.clone()), &bus.name);
    outage.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = env
        .acting(
            "publish-events",
            on_records_changed(&[&sink], stream.clone()),
        )
        .await;
    let first = failed.batch_item_failures[0]
        .item_identifier
        .clone()
        .unwrap();
    assert_eq!(failed.batch_item_failures.len(), 1);
    assert_eq!(
        Some(&first),
        stream
            .records
            .iter()
            .find(|r| is_file(r))
            .and_then(|r| r.change.sequence_number.as_ref()),
        "the first change of the batch is where the stream resumes"
    );
    assert!(bus.drain().await.is_empty());

    // Lambda delivers the batch again from the reported change, once the bus is back.
    outage.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut again = stream.clone();
    let from = again
        .records
        .iter()
        .position(|r| r.change.sequence_number.as_deref() == Some(first.as_str()))
        .unwrap();
    again.records.drain(..from);
    let response = env
        .acting("publish-events", on_records_changed(&[&sink], again))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let events = bus.drain().await;
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "each change once: {ids:?}");
}

/// Whether a stream record is a file record's (`pk = T#…`, `sk = F#…`; a tag pointer has the
/// `F#` sort key under a `G#…` partition).
fn is_file(record: &aws_lambda_events::dynamodb::EventRecord) -> bool {
    key_starts(record, "pk", "T#") && key_starts(record, "sk", "F#")
}

fn key_starts(record: &aws_lambda_events::dynamodb::EventRecord, name: &str, prefix: &str) -> bool {
    matches!(record.change.keys.get(name), Some(serde_dynamo::AttributeValue::S(v)) if v.starts_with(prefix))
}

/// The records of `event` that a stream reader's `FilterCriteria` in `template.yaml` lets
/// through, as Lambda filters them: the pattern applied to each record's JSON (the operators
/// the template uses: lists of exact values and `prefix`).
fn filtered_by_template(
    event: &aws_lambda_events::dynamodb::Event,
    function: &str,
    source: &str,
) -> aws_lambda_events::dynamodb::Event {
    fn matches(pattern: &Value, value: &Value) -> bool {
        pattern.as_object().unwrap().iter().all(|(field, wanted)| {
            let value = &value[field];
            match wanted {
                Value::Object(_) => matches(wanted, value),
                Value::Array(options) => options.iter().any(|option| match option {
                    Value::String(exact) => value.as_str() == Some(exact),
                    _ => {
                        let prefix = option["prefix"].as_str().expect("only prefix and exact");
                        value.as_str().is_some_and(|v| v.starts_with(prefix))
                    }
                }),
                other => panic!("unexpected filter {other}"),
            }
        })
    }
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap(),
    )
    .unwrap();
    let filters = template["Resources"][function]["Properties"]["Events"][source]["Properties"]
        ["FilterCriteria"]["Filters"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function}.{source} has filters"));
    let patterns: Vec<Value> = filters
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let mut kept = event.clone();
    kept.records.retain(|record| {
        let json = serde_json::to_value(record).unwrap();
        patterns.iter().any(|pattern| matches(pattern, &json))
    });
    kept
}

/// Both readers of the table's stream (`publish-events`, `on-records-removed`) get the whole
/// stream of a flow that writes every kind of item the table holds — file records, externalId
/// markers, tag pointers (added, changed, removed) — both as the stream holds it and as each
/// one's template filter passes it: no batch failure, every event published, every expired
/// file's bytes, pointers and marker gone.
#[tokio::test]
async fn both_stream_readers_take_every_kind_of_item_the_table_writes() {
    use aws_sdk_dynamodb::types::AttributeValue;

    let env = TestEnv::moto().await;
    let sdk = env.sdk.clone().unwrap();
    let bus = Bus::new(&env).await;
    let (dynamodb, table) = env.dynamodb.clone().unwrap();

    let tagged = |name: &str, external: &str, extra: Value| {
        let mut body = json!({"name": name, "mimeType": "text/plain", "tags": ["t1", "t2"], "externalId": external});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // Collections and usage counters are items of the table too: a collection of its own
    // (its item and counters), and the default one's counters.
    let docs = env
        .route(RouteId::CreateCollection, "acme")
        .body(json!({"name": "docs", "maxFiles": 10}))
        .send()
        .await;
    assert_eq!(docs.status, 201, "{}", docs.json);
    let kept = env
        .uploaded(
            "acme",
            tagged("k.txt", "doc-1", json!({"collection": "docs"})),
            b"kept",
        )
        .await;
    let kept = kept["id"].as_str().unwrap().to_owned();
    let retagged = env
        .route(RouteId::UpdateFile, "acme")
        .id(&kept)
        .body(json!({"tags": ["t2", "t3"]}))
        .send()
        .await;
    assert_eq!(retagged.status, 200, "{}", retagged.json);
    let gone = env
        .uploaded("acme", tagged("g.txt", "doc-2", json!({})), b"gone")
        .await;
    let gone = gone["id"].as_str().unwrap().to_owned();
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&gone)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    let temp = env
        .uploaded(
            "acme",
            tagged("t.txt", "doc-3", json!({"kind": "temp", "ttlSeconds": 60})),
            b"temp",
        )
        .await;
    let temp = temp["id"].as_str().unwrap().to_owned();
    let temp_key = env.content_key(&temp).await;
    env.advance(Duration::from_secs(61));
    assert_eq!(env.ttl_delete().await, std::slice::from_ref(&temp));

    let stream = env.table_stream(std::slice::from_ref(&temp)).await;
    let pointers = stream
        .records
        .iter()
        .filter(|r| key_starts(r, "pk", "G#"))
        .count();
    let markers = stream
        .records
        .iter()
        .filter(|r| key_starts(r, "sk", "X#"))
        .count();
    assert!(
        pointers >= 6,
        "the stream holds the tag pointers' changes ({pointers})"
    );
    assert!(
        markers >= 3,
        "the stream holds the markers' changes ({markers})"
    );
    let counted = |prefix: &str| {
        stream
            .records
            .iter()
            .filter(|r| key_starts(r, "pk", "T#") && key_starts(r, "sk", prefix))
            .count()
    };
    assert!(
        counted("U") >= 6 && counted("C#") >= 1,
        "the stream holds the counters' ({}) and the collection's ({}) changes",
        counted("U"),
        counted("C#")
    );

    let expected: BTreeMap<String, Vec<String>> = [
        (kept.clone(), vec!["created", "uploaded", "updated"]),
        (gone.clone(), vec!["created", "uploaded", "deleted"]),
        (temp.clone(), vec!["created", "uploaded", "expired"]),
    ]
    .into_iter()
    .map(|(id, kinds)| (id, kinds.into_iter().map(str::to_owned).collect()))
    .collect();
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    for (what, batch) in [
        ("the whole stream", stream.clone()),
        (
            "the template's filter",
            filtered_by_template(&stream, "PublishEventsFunction", "Changed"),
        ),
    ] {
        let response = env
            .acting(
                "publish-events",
                on_records_changed(&[&sink], batch.clone()),
            )
            .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{what}: {:?}",
            response.batch_item_failures
        );
        assert_eq!(per_file(&bus.drain().await), expected, "{what}");
    }
    let filtered = filtered_by_template(&stream, "PublishEventsFunction", "Changed");
    assert!(
        filtered.records.iter().all(is_file),
        "the filter passes file records only"
    );

    let removals = filtered_by_template(&stream, "OnRecordsRemovedFunction", "Removed");
    assert!(removals
        .records
        .iter()
        .all(|r| is_file(r) && r.event_name == "REMOVE"));
    for (what, batch) in [
        ("the template's filter", removals),
        ("the whole stream", stream),
    ] {
        let response = env
            .acting(
                "on-records-removed",
                stowage::events::on_records_removed(&env.app, batch),
            )
            .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{what}: {:?}",
            response.batch_item_failures
        );
    }
    assert!(
        !env.object_exists(&temp_key).await,
        "the expired file's bytes are gone"
    );
    let left = |pk: String| {
        let (dynamodb, table) = (dynamodb.clone(), table.clone());
        async move {
            dynamodb
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk))
                .send()
                .await
                .unwrap()
                .items
                .unwrap_or_default()
                .iter()
                .map(|item| item["sk"].as_s().unwrap().clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        left("G#acme#t1".into()).await,
        Vec::<String>::new(),
        "no pointer of t1 is left"
    );
    assert_eq!(left("G#acme#t2".into()).await, [format!("F#{kept}")]);
    assert_eq!(left("G#acme#t3".into()).await, [format!("F#{kept}")]);
    let mut partition = left("T#acme".into()).await;
    partition.sort();
    // The expiry was released once, by its release item (kept three days, then TTL's).
    let released: Vec<String> = partition
        .iter()
        .filter(|sk| sk.starts_with("R#"))
        .cloned()
        .collect();
    assert_eq!(released.len(), 1, "{partition:?}");
    assert!(
        released[0].starts_with(&format!("R#{temp}#")),
        "{released:?}"
    );
    partition.retain(|sk| !sk.starts_with("R#"));
    // The counters are shards of the tenant's (`U~<n>`) and each collection's (`U#<name>~<n>`).
    let counters: Vec<String> = partition
        .iter()
        .filter(|sk| sk.starts_with('U'))
        .cloned()
        .collect();
    assert!(
        counters.iter().all(|sk| {
            let base = sk.split_once('~').map_or(sk.as_str(), |(base, shard)| {
                assert!(shard.parse::<u32>().is_ok_and(|n| n < 16), "{sk}");
                base
            });
            ["U", "U#default", "U#docs"].contains(&base)
        }),
        "{counters:?}"
    );
    partition.retain(|sk| !sk.starts_with('U'));
    assert_eq!(
        partition,
        [
            "C#docs".to_owned(),
            format!("F#{kept}"),
            "X#doc-1".to_owned()
        ],
        "only the kept file, its marker, the collection and the counters"
    );
    let usage = env.route(RouteId::GetUsage, "acme").send().await;
    assert_eq!(
        (&usage.json["files"], &usage.json["bytes"]),
        (&json!(1), &json!(4)),
        "only the kept file counts: {}",
        usage.json
    );
}

/// The events the tests saw go to `$STOWAGE_CAPTURED_EVENTS` (set by `scripts/test`), where
/// `scripts/check_events.py` validates them against `events.schema.json`.
fn capture(name: &str, events: &[Value]) {
    if let Ok(dir) = std::env::var("STOWAGE_CAPTURED_EVENTS") {
        // moto's envelope leaves out `account`, which EventBridge always sets; everything else
        // is checked as moto delivered it.
        let events: Vec<Value> = events
            .iter()
            .cloned()
            .map(|mut event| {
                event
                    .as_object_mut()
                    .unwrap()
                    .entry("account")
                    .or_insert(json!("123456789012"));
                event
            })
            .collect();
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::path::Path::new(&dir).join(format!("{name}.json"));
        std::fs::write(path, serde_json::to_vec_pretty(&events).unwrap()).unwrap();
    }
}

/// `events/file-events/` holds one delivered event of each type, made by the code from a fixed
/// record: the docs' examples, validated against `events.schema.json` by
/// `scripts/check_events.py`. `STOWAGE_WRITE_EVENT_SAMPLES=1` writes them afresh.
#[test]
fn the_committed_event_samples_are_what_the_code_makes() {
    use stowage::model::{FileId, FileStatus, Timestamp};
    use stowage::notify::{EventKind, FileEvent};
    use stowage::store::RecordChange;

    let mut pending = stowage_tests::sample_record("acme", 1_795_000_000_000);
    pending.id = FileId::parse("01KAQ3V6T0Z9Y8X7W6V5T4S3R2").unwrap();
    pending.expires_at = None;
    pending.name = stowage::model::FileName::parse("report.pdf").unwrap();
    pending.metadata =
        stowage::model::Metadata::parse(json!({"project": "apollo"}).as_object().unwrap().clone())
            .unwrap();
    let actor = |user: &str, app: bool| {
        Some(stowage::model::Actor {
            user: stowage::model::UserId::parse(user).unwrap(),
            app,
        })
    };
    // alice created it; S3's events upload or fail it (no actor).
    pending.actor = actor("alice", false);
    let at = |seconds: u64| pending.created_at.plus_seconds(seconds);
    let with = |version: u64, status: FileStatus, seconds: u64| {
        let mut record = pending.clone();
        record.actor = None;
        record.version = version;
        record.status = status;
        record.updated_at = at(seconds);
        if status == FileStatus::Uploaded {
            record.size = Some(42);
            record.uploaded_at = Some(at(seconds));
        }
        if status == FileStatus::Failed {
            record.failure_reason = Some("the upload was 9 bytes, not the declared 42".into());
        }
        record
    };
    let uploaded = with(2, FileStatus::Uploaded, 3);
    let mut renamed = with(3, FileStatus::Uploaded, 60);
    renamed.tags = stowage::model::Tags::parse(["a", "b", "reviewed"]).unwrap();
    renamed.actor = actor("bob", false);
    // An app deletes it: the write that names the deleter, then the removal.
    let mut deleting = with(4, FileStatus::Uploaded, 120);
    deleting.tags = renamed.tags.clone();
    deleting.actor = actor("reports-app", true);
    deleting.deleting = true;
    let mut temp = with(1, FileStatus::Pending, 0);
    temp.kind = stowage::model::FileKind::Temp;
    temp.expires_at = Some(at(3_600));
    temp.ttl_seconds = Some(3_600);
    temp.actor = actor("alice", false);
    let change = |old: Option<&stowage::model::FileRecord>,
                  new: Option<&stowage::model::FileRecord>,
                  expired: bool,
                  seconds: u64| RecordChange {
        sequence_number: "1".into(),
        old: old.cloned(),
        new: new.cloned(),
        expired,
        at: Some(Timestamp::from_millis(at(seconds).millis())),
    };
    assert!(
        FileEvent::of(&change(Some(&renamed), Some(&deleting), false, 120)).is_none(),
        "the write that names a deleter yields no event"
    );
    // bob moves it to the trash and restores it; an earlier content comes back.
    let mut trashed = with(5, FileStatus::Uploaded, 180);
    trashed.actor = actor("bob", false);
    trashed.trashed_at = Some(at(180));
    trashed.expires_at = Some(at(180 + 30 * 86_400));
    let mut restored = with(6, FileStatus::Uploaded, 240);
    restored.actor = actor("bob", false);
    let mut restoring = with(7, FileStatus::Uploaded, 300);
    restoring.actor = actor("bob", false);
    restoring.upload = Some(stowage::model::OpenUpload {
        revision: 3,
        key: "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/3".into(),
        url_expires_at: at(3_900),
        multipart: None,
        max_size: None,
        opened_by: Some(stowage::model::UserId::parse("bob").unwrap()),
        keep_versions: 5,
        restoring: Some(1),
    });
    let mut version_restored = with(8, FileStatus::Uploaded, 301);
    version_restored.content = Some(stowage::model::StoredObject {
        key: "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/3".into(),
        size: 42,
        etag: "e3".into(),
        sequencer: None,
        landed: None,
    });
    let changes = [
        (
            EventKind::Trashed,
            change(Some(&renamed), Some(&trashed), false, 180),
        ),
        (
            EventKind::Restored,
            change(Some(&trashed), Some(&restored), false, 240),
        ),
        (
            EventKind::VersionRestored,
            change(Some(&restoring), Some(&version_restored), false, 301),
        ),
        (EventKind::Created, change(None, Some(&pending), false, 0)),
        (
            EventKind::Uploaded,
            change(Some(&pending), Some(&uploaded), false, 3),
        ),
        (
            EventKind::Failed,
            change(
                Some(&pending),
                Some(&with(2, FileStatus::Failed, 3)),
                false,
                3,
            ),
        ),
        (
            EventKind::Updated,
            change(Some(&uploaded), Some(&renamed), false, 60),
        ),
        (
            EventKind::Deleted,
            change(Some(&deleting), None, false, 120),
        ),
        (EventKind::Expired, change(Some(&temp), None, true, 3_650)),
    ];
    let dir = std::path::Path::new(stowage_tests::REPO_ROOT).join("events/file-events");
    let write = std::env::var("STOWAGE_WRITE_EVENT_SAMPLES").is_ok_and(|v| v == "1");
    for (kind, change) in changes {
        let event = FileEvent::of(&change).unwrap();
        assert_eq!(event.kind, kind);
        let made = event.delivered("123456789012", "eu-west-1");
        let path = dir.join(format!("{}.json", kind.detail_type()));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&made).unwrap() + "\n").unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with STOWAGE_WRITE_EVENT_SAMPLES=1 to write it",
                path.display()
            )
        });
        let committed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            committed,
            made,
            "{} is not what the code makes (STOWAGE_WRITE_EVENT_SAMPLES=1 rewrites it)",
            path.display()
        );
    }
}
