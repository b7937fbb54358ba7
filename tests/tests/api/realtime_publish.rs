//! Realtime on AWS: `publish-events`' AppSync sink, fed the table's own stream (read
//! from moto) after the real flow made changes in two tenants, publishing to a stand-in of
//! AppSync's HTTP publish that checks each request's SigV4 signature, its payload and its
//! size limits (`stowage_tests::appsync`). Each subscriber, by the channels `GET /realtime`
//! gives it, receives the events of exactly the files it may read, in version order; a
//! publish that fails (the endpoint down, single events refused, a bad signature) is reported
//! from its first change, and the stream's redelivery loses nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use stowage::events::on_records_changed;
use stowage::http::RouteId;
use stowage::identity::{Identity, Scopes};
use stowage::model::{TenantId, UserId};
use stowage::notify::appsync::AppSyncSink;
use stowage_tests::appsync::{self, AppSyncStub, Publish};
use stowage_tests::TestEnv;

type Stream = aws_lambda_events::dynamodb::Event;

/// The files the changes are made to.
struct Files {
    /// olivia's, in `vault` (read by nobody whole; files carry grants), granted to group eng.
    vault: String,
    /// alice's, in `default`: every member of acme reads it.
    shared: String,
    /// bob's, in globex.
    globex: String,
}

/// `POST /files` as `user` of `tenant`; asserts `201`.
async fn create_as(env: &TestEnv, tenant: &str, user: &str, body: Value) -> stowage_tests::Reply {
    let created = env
        .route(RouteId::CreateFile, tenant)
        .as_user(user, &[])
        .body(body)
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    created
}

async fn upload(env: &TestEnv, created: &Value, bytes: &[u8]) {
    env.upload(&created["upload"], bytes).await;
    let key = stowage_tests::upload_key(&created["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
}

async fn make_changes(env: &TestEnv) -> Files {
    let vault = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("ops-app")
        .body(json!({"name": "vault", "access": {"read": [], "write": ["tenant"], "delete": ["tenant"]}, "fileSecurity": true}))
        .send()
        .await;
    assert_eq!(vault.status, 201, "{}", vault.json);
    let created = create_as(
        env,
        "acme",
        "olivia",
        json!({"name": "plan.txt", "mimeType": "text/plain", "collection": "vault",
            "grants": [{"principal": "group:eng", "role": "reader"}]}),
    )
    .await;
    upload(env, &created.json, b"plan").await;
    let vault = created.json["file"]["id"].as_str().unwrap().to_owned();
    let renamed = env
        .route(RouteId::UpdateFile, "acme")
        .as_user("olivia", &[])
        .id(&vault)
        .body(json!({"name": "plan-v2.txt"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);

    let created = env
        .create(
            "acme",
            json!({"name": "notes.txt", "mimeType": "text/plain"}),
        )
        .await;
    upload(env, &created.json, b"notes").await;
    let shared = created.json["file"]["id"].as_str().unwrap().to_owned();
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&shared)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);

    let created = create_as(
        env,
        "globex",
        "bob",
        json!({"name": "g.txt", "mimeType": "text/plain"}),
    )
    .await;
    upload(env, &created.json, b"globex").await;
    let globex = created.json["file"]["id"].as_str().unwrap().to_owned();
    Files {
        vault,
        shared,
        globex,
    }
}

fn identity(tenant: &str, user: &str, groups: &[&str], scopes: Scopes) -> Identity {
    Identity {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Identity::member(
            TenantId::parse(tenant).unwrap(),
            UserId::parse(user).unwrap(),
            scopes,
        )
    }
}

/// Each subscriber, and the files whose events it must receive (and no others).
fn subscribers(files: &Files) -> Vec<(Identity, BTreeSet<String>)> {
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    vec![
        // The owner, and gus by his group's grant; the app reads everything of acme.
        (
            identity("acme", "olivia", &[], Scopes::member()),
            set(&[&files.vault, &files.shared]),
        ),
        (
            identity("acme", "gus", &["eng"], Scopes::member()),
            set(&[&files.vault, &files.shared]),
        ),
        (
            identity("acme", "ops-app", &[], Scopes::all()),
            set(&[&files.vault, &files.shared]),
        ),
        // A member with no grant never sees the vault's file.
        (
            identity("acme", "oscar", &["ops"], Scopes::member()),
            set(&[&files.shared]),
        ),
        // Another tenant sees only its own, even a user named like acme's.
        (
            identity("globex", "bob", &[], Scopes::member()),
            set(&[&files.globex]),
        ),
        (
            identity("globex", "olivia", &["eng"], Scopes::all()),
            set(&[&files.globex]),
        ),
    ]
}

/// Checks that every subscriber got exactly its files' events (every one of them, by
/// `eventId`), and, within each request sequence of a channel, a file's versions in order.
fn check_deliveries(taken: &[Publish], files: &Files, all_event_ids: &BTreeMap<String, String>) {
    assert!(!taken.is_empty());
    for (who, expected) in subscribers(files) {
        let channels = stowage::realtime::channels_for(&who);
        let mut received: BTreeMap<String, String> = BTreeMap::new();
        for publish in taken.iter().filter(|p| channels.contains(&p.channel)) {
            for (text, ok) in &publish.events {
                if !ok {
                    continue;
                }
                let event: Value = serde_json::from_str(text).unwrap();
                received.insert(
                    event["eventId"].as_str().unwrap().to_owned(),
                    event["file"]["id"].as_str().unwrap().to_owned(),
                );
            }
        }
        let got: BTreeSet<String> = received.values().cloned().collect();
        assert_eq!(got, expected, "{} of {}", who.user, who.tenant);
        let expected_ids: BTreeMap<String, String> = all_event_ids
            .iter()
            .filter(|(_, file)| expected.contains(*file))
            .map(|(id, file)| (id.clone(), file.clone()))
            .collect();
        assert_eq!(
            received, expected_ids,
            "{} gets every event of its files",
            who.user
        );
    }
}

/// Within each channel, in the order requests arrived and with repeats dropped by `eventId`
/// (as clients do), a file's versions never go back.
fn check_order(taken: &[Publish]) {
    let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for publish in taken {
        for (text, ok) in &publish.events {
            if !ok {
                continue;
            }
            let event: Value = serde_json::from_str(text).unwrap();
            let id = event["eventId"].as_str().unwrap().to_owned();
            if !seen.insert((publish.channel.clone(), id)) {
                continue;
            }
            let key = (
                publish.channel.clone(),
                event["file"]["id"].as_str().unwrap().to_owned(),
            );
            let version = event["file"]["version"].as_u64().unwrap();
            let latest = last.entry(key).or_insert(0);
            assert!(version > *latest, "{}: {text}", publish.channel);
            *latest = version;
        }
    }
}

/// Every event the stream's changes make, by id, with its file.
fn event_ids(stream: &Stream) -> BTreeMap<String, String> {
    stowage::events::file_events(stream)
        .into_iter()
        .map(|(_, event)| (event.detail.event_id.clone(), event.record.id.to_string()))
        .collect()
}

/// The realtime sink as publish-events builds it, to `stub`, signing with `secret` as the
/// function the task acts as; the stand-in holds each publish to that function's policy.
async fn realtime_sink<'a>(
    stub: &AppSyncStub,
    env: &'a TestEnv,
    secret: &str,
) -> AppSyncSink<&'a stowage::service::Service> {
    let world = env.world.as_deref().expect("a moto env");
    stub.enforce_policies(world).await;
    AppSyncSink::over_plain_http(
        &stub.endpoint,
        appsync::REGION,
        stowage_tests::acting_credentials(world, secret, Some(appsync::SESSION_TOKEN)),
        &env.app.service,
    )
    .unwrap()
}

/// `stream` from the change `sequence_number` on, as Lambda delivers it again.
fn from_change(stream: &Stream, sequence_number: &str) -> Stream {
    let mut again = stream.clone();
    let from = again
        .records
        .iter()
        .position(|r| r.change.sequence_number.as_deref() == Some(sequence_number))
        .expect("the failure names a change of the batch");
    again.records.drain(..from);
    again
}

#[tokio::test]
async fn each_subscriber_receives_exactly_the_events_of_the_files_it_may_read() {
    let env = TestEnv::moto().await;
    let files = make_changes(&env).await;
    let stream = env.table_stream(&[]).await;
    let ids = event_ids(&stream);
    assert_eq!(ids.len(), 8, "{ids:?}");
    let stub = AppSyncStub::start().await;
    let sink = realtime_sink(&stub, &env, appsync::SECRET_KEY).await;

    // As a fresh publish-events instance: nothing cached; every call it makes (the collection
    // policies from DynamoDB, the publishes) must be one its policy in template.yaml allows
    // (moto and the stand-in refuse any other, and `acting` fails on a refusal).
    env.app.service.forget_everything_cached();
    let response = env
        .acting("publish-events", on_records_changed(&[&sink], stream))
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    assert_eq!(
        stub.refused(),
        Vec::<String>::new(),
        "every request well signed and formed"
    );
    let taken = stub.taken();
    check_deliveries(&taken, &files, &ids);
    check_order(&taken);
    // acme's app channel carries acme's 6 events, never two of one file in a request.
    let sizes: Vec<usize> = taken.iter().map(|p| p.events.len()).collect();
    assert!(sizes.iter().all(|n| (1..=5).contains(n)), "{sizes:?}");
    let apps = stowage::realtime::channels_for(&identity("acme", "x", &[], Scopes::all()))
        .pop()
        .unwrap();
    assert!(apps.ends_with("/apps"));
    let on_apps: Vec<usize> = taken
        .iter()
        .filter(|p| p.channel == apps)
        .map(|p| p.events.len())
        .collect();
    assert_eq!(on_apps.iter().sum::<usize>(), 6);
    for publish in &taken {
        let files: BTreeSet<String> = publish
            .events
            .iter()
            .map(|(text, _)| serde_json::from_str::<Value>(text).unwrap()["file"]["id"].to_string())
            .collect();
        assert_eq!(
            files.len(),
            publish.events.len(),
            "one event per file in a request"
        );
    }
    // What a subscriber's `data` carries: the event's Detail and its type.
    let first: Value = serde_json::from_str(&taken[0].events[0].0).unwrap();
    assert_eq!(first["type"], "stowage.file.created");
    assert!(first["eventId"].as_str().unwrap().ends_with(".created"));
    assert!(first["file"].get("contentUrl").is_none());
}

#[tokio::test]
async fn a_publish_that_fails_is_delivered_again_from_its_first_change_and_nothing_is_lost() {
    let env = TestEnv::moto().await;
    let files = make_changes(&env).await;
    let stream = env.table_stream(&[]).await;
    let ids = event_ids(&stream);
    let stub = AppSyncStub::start().await;
    let sink = realtime_sink(&stub, &env, appsync::SECRET_KEY).await;
    let events = stowage::events::file_events(&stream);
    let first_change = events[0].0.clone();

    // The endpoint is down: the whole batch is reported from its first change.
    stub.fail_requests(1_000);
    let (failed, counted) = env
        .acting(
            "publish-events",
            stowage::events::publish_changes(&[&sink], stream.clone()),
        )
        .await;
    // What publish-events' metrics report (EventsPublished, EventsFailed).
    assert_eq!(
        counted,
        stowage::events::Published {
            published: 0,
            failed: ids.len()
        }
    );
    assert_eq!(failed.batch_item_failures.len(), 1);
    let at = failed.batch_item_failures[0]
        .item_identifier
        .clone()
        .unwrap();
    assert_eq!(at, first_change);
    assert!(stub.taken().is_empty());
    stub.fail_requests(0);
    let response = env
        .acting(
            "publish-events",
            on_records_changed(&[&sink], from_change(&stream, &at)),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    check_deliveries(&stub.taken(), &files, &ids);
    check_order(&stub.taken());

    // AppSync refuses the vault file's events one by one: reported from that file's first
    // change; delivered again, every subscriber has everything.
    stub.clear();
    stub.refuse_events_with(Some(&files.vault));
    let failed = env
        .acting(
            "publish-events",
            on_records_changed(&[&sink], stream.clone()),
        )
        .await;
    assert_eq!(failed.batch_item_failures.len(), 1);
    let at = failed.batch_item_failures[0]
        .item_identifier
        .clone()
        .unwrap();
    let vault_first = events
        .iter()
        .find(|(_, e)| e.record.id.to_string() == files.vault)
        .map(|(s, _)| s.clone())
        .unwrap();
    assert_eq!(at, vault_first);
    stub.refuse_events_with(None);
    let (response, counted) = env
        .acting(
            "publish-events",
            stowage::events::publish_changes(&[&sink], from_change(&stream, &at)),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    check_order(&stub.taken());
    let redelivered = events.iter().skip_while(|(s, _)| *s != at).count();
    assert_eq!(
        counted,
        stowage::events::Published {
            published: redelivered,
            failed: 0
        }
    );
    check_deliveries(&stub.taken(), &files, &ids);

    // Signed with the wrong secret: AppSync refuses every request; nothing is lost either.
    stub.clear();
    let forged = realtime_sink(&stub, &env, "not-the-secret").await;
    let failed = env
        .acting(
            "publish-events",
            on_records_changed(&[&forged], stream.clone()),
        )
        .await;
    assert_eq!(
        failed.batch_item_failures[0].item_identifier.as_deref(),
        Some(first_change.as_str())
    );
    assert!(stub.taken().is_empty());
    let refused = stub.refused();
    assert!(
        !refused.is_empty()
            && refused
                .iter()
                .all(|r| r.contains("signature does not match")),
        "{refused:?}"
    );
}

/// Events still in the stream when their collection is gone (it could be deleted once its last
/// file was) reach only the apps, the owner and the grantees: not the whole tenant, whatever
/// the collection allowed.
#[tokio::test]
async fn a_deleted_collections_events_reach_only_apps_owner_and_grantees() {
    let env = TestEnv::moto().await;
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("ops-app")
        .body(json!({"name": "drafts", "fileSecurity": true}))
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let created = create_as(
        &env,
        "acme",
        "olivia",
        json!({"name": "d.txt", "mimeType": "text/plain", "collection": "drafts",
            "grants": [{"principal": "user:gus", "role": "reader"}]}),
    )
    .await;
    let file = created.json["file"]["id"].as_str().unwrap().to_owned();
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .as_user("olivia", &[])
        .id(&file)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    let gone = env
        .route(RouteId::DeleteCollection, "acme")
        .as_app("ops-app")
        .id("drafts")
        .send()
        .await;
    assert_eq!(gone.status, 204, "{}", gone.json);

    let stream = env.table_stream(&[]).await;
    let stub = AppSyncStub::start().await;
    let sink = realtime_sink(&stub, &env, appsync::SECRET_KEY).await;
    env.app.service.forget_everything_cached();
    let response = env
        .acting("publish-events", on_records_changed(&[&sink], stream))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let taken = stub.taken();
    let receives = |who: &Identity| {
        let channels = stowage::realtime::channels_for(who);
        taken
            .iter()
            .filter(|p| channels.contains(&p.channel))
            .flat_map(|p| p.events.iter())
            .count()
    };
    // created and deleted, to each who may still read it.
    for who in [
        identity("acme", "olivia", &[], Scopes::member()),
        identity("acme", "gus", &[], Scopes::member()),
        identity("acme", "ops-app", &[], Scopes::all()),
    ] {
        assert_eq!(receives(&who), 2, "{}", who.user);
    }
    assert_eq!(
        receives(&identity("acme", "oscar", &[], Scopes::member())),
        0
    );
}
