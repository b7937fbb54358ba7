//! One busy tenant: its writes do not serialize on one item. On moto the test server models
//! DynamoDB's transaction conflicts (`scripts/moto_server.py --hold-ms`, which `scripts/test`
//! uses): concurrent writes of one tenant succeed and stay counted exactly, a write that keeps
//! meeting other transactions is a `503` with `Retry-After` that wrote nothing, a lowered limit
//! refuses every create until deletes bring usage under it, and counters written before they
//! were sharded still count.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage::service::Clock;
use stowage_tests::{Backend, Reply, TestEnv};

const TENANT: &str = "busy";

async fn create(env: &TestEnv, body: &Value) -> Reply {
    env.call(
        RouteId::CreateFile,
        stowage_tests::create_request(TENANT, "alice", body),
    )
    .await
}

async fn land(env: &TestEnv, created: &Reply, bytes: &[u8]) {
    env.upload(&created.json["upload"], bytes).await;
    let key = stowage_tests::upload_key(&created.json["upload"]);
    let event = env.object_created_event(&key, &env.next_sequencer()).await;
    env.deliver(event).await;
}

async fn usage(env: &TestEnv) -> Value {
    let reply = env.route(RouteId::GetUsage, TENANT).send().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json
}

async fn set_limits(env: &TestEnv, limits: Value) {
    let reply = env
        .route(RouteId::PutUsageLimits, TENANT)
        .body(limits)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
}

async fn delete_for_good(env: &TestEnv, id: &str) {
    let reply = env
        .route(RouteId::DeleteFile, TENANT)
        .id(id)
        .query("permanent=true")
        .send()
        .await;
    assert!(
        reply.status < 300,
        "delete: {} {}",
        reply.status,
        reply.json
    );
}

/// 24 clients of one tenant create, upload and complete 3 files each, all at once: every
/// create and completion succeeds, and usage is exactly what the records hold.
async fn a_busy_tenants_concurrent_writes_all_succeed(env: TestEnv) {
    if env.backend == Backend::Moto {
        let (_, hold) = stowage_tests::conflicts_seen().await;
        assert!(
            hold > 0.0,
            "the test server must model transaction conflicts (scripts/moto_server.py --hold-ms)"
        );
    }
    let clients = (0..24).map(|c| {
        let env = &env;
        async move {
            let mut ids = Vec::new();
            for i in 0..3 {
                let body =
                    json!({"name": format!("{c}-{i}.txt"), "size": 4, "mimeType": "text/plain"});
                let created = create(env, &body).await;
                assert_eq!(created.status, 201, "{}", created.json);
                land(env, &created, b"abcd").await;
                ids.push(stowage_tests::id_of(&created.json["file"]));
            }
            ids
        }
    });
    let ids: Vec<String> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(ids.len(), 72);
    let counted = usage(&env).await;
    assert_eq!(
        (&counted["files"], &counted["bytes"]),
        (&json!(72), &json!(288)),
        "{counted}"
    );
    assert_eq!(counted["collections"]["default"]["files"], json!(72));
    for id in &ids {
        let got = env.get(TENANT, id).await;
        assert_eq!(got.json["status"], "uploaded", "{}", got.json);
    }
}

/// A limit lowered below usage refuses every create, whichever shard it lands on, until
/// deletes bring usage under it; raised again, creates go through.
async fn a_lowered_limit_refuses_creates_until_usage_is_under_it(env: TestEnv) {
    set_limits(&env, json!({"maxFiles": 100})).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let body = json!({"name": format!("{i}.txt"), "mimeType": "text/plain"});
        let created = create(&env, &body).await;
        assert_eq!(created.status, 201, "{}", created.json);
        ids.push(stowage_tests::id_of(&created.json["file"]));
    }
    set_limits(&env, json!({"maxFiles": 5})).await;
    for _ in 0..8 {
        create(&env, &json!({"name": "over.txt", "mimeType": "text/plain"}))
            .await
            .assert_problem(409, "quota_exceeded");
    }
    for id in ids.drain(..4) {
        delete_for_good(&env, &id).await;
    }
    // 6 files under a limit of 5: still refused.
    create(&env, &json!({"name": "over.txt", "mimeType": "text/plain"}))
        .await
        .assert_problem(409, "quota_exceeded");
    for id in ids.drain(..2) {
        delete_for_good(&env, &id).await;
    }
    assert_eq!(
        create(&env, &json!({"name": "fits.txt", "mimeType": "text/plain"}))
            .await
            .status,
        201
    );
    create(&env, &json!({"name": "over.txt", "mimeType": "text/plain"}))
        .await
        .assert_problem(409, "quota_exceeded");
    assert_eq!(usage(&env).await["files"], json!(5));
    set_limits(&env, json!({"maxFiles": 100})).await;
    for _ in 0..3 {
        assert_eq!(
            create(&env, &json!({"name": "more.txt", "mimeType": "text/plain"}))
                .await
                .status,
            201
        );
    }
    assert_eq!(usage(&env).await["files"], json!(8));
}

/// The key of one item of `TENANT`'s partition.
fn tenant_item(sort: &str) -> Value {
    json!({"pk": {"S": format!("T#{TENANT}")}, "sk": {"S": sort}})
}

/// Every shard of the tenant's and the `default` collection's counters held by transactions
/// that do not end: a create answers `503` with `Retry-After`, and nothing is written.
async fn a_write_that_keeps_meeting_transactions_is_503_with_retry_after(env: TestEnv) {
    let (_, table) = env.dynamodb.as_ref().expect("moto");
    let keys: Vec<Value> = (0..16)
        .flat_map(|i| {
            [
                tenant_item(&format!("U~{i}")),
                tenant_item(&format!("U#default~{i}")),
            ]
        })
        .collect();
    stowage_tests::hold_items(table, &keys, 30.0).await;
    let created = create(
        &env,
        &json!({"name": "blocked.txt", "mimeType": "text/plain"}),
    )
    .await;
    created.assert_problem(503, "unavailable");
    assert!(
        created.headers.get("retry-after").is_some(),
        "{:?}",
        created.headers
    );
    let listed = env.route(RouteId::ListFiles, TENANT).send().await;
    assert_eq!(listed.json["items"], json!([]), "{}", listed.json);
    assert_eq!(usage(&env).await["files"], json!(0));
}

/// A tenant whose counters and limits were written before the counters were sharded (one
/// `U` item, one `U#<collection>` item): what they counted still counts, and their limits
/// still bind.
async fn counters_from_before_sharding_still_count_and_bind(env: TestEnv) {
    let (client, table) = env.dynamodb.as_ref().expect("moto");
    let item = |sort: &str, extra: &[(&str, i64)]| {
        let mut item = std::collections::HashMap::from([
            (
                "pk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("T#{TENANT}")),
            ),
            (
                "sk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(sort.to_owned()),
            ),
            (
                "bytes".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N("100".to_owned()),
            ),
            (
                "files".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N("2".to_owned()),
            ),
        ]);
        for (name, value) in extra {
            item.insert(
                (*name).to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N(value.to_string()),
            );
        }
        item
    };
    for item in [
        item("U", &[("maxFiles", 3), ("limitsVersion", 1)]),
        item("U#default", &[]),
    ] {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let before = usage(&env).await;
    assert_eq!(
        (&before["files"], &before["bytes"]),
        (&json!(2), &json!(100))
    );
    assert_eq!(before["limits"]["maxFiles"], json!(3), "{before}");
    let third = create(
        &env,
        &json!({"name": "third.txt", "mimeType": "text/plain"}),
    )
    .await;
    assert_eq!(third.status, 201, "{}", third.json);
    let third = stowage_tests::id_of(&third.json["file"]);
    create(
        &env,
        &json!({"name": "fourth.txt", "mimeType": "text/plain"}),
    )
    .await
    .assert_problem(409, "quota_exceeded");
    let after = usage(&env).await;
    assert_eq!(after["files"], json!(3), "{after}");
    assert_eq!(
        after["collections"]["default"]["files"],
        json!(3),
        "{after}"
    );

    // The file made here, deleted: one file of room, which one create takes (wherever its
    // counter shard and the delete's fell); then none.
    delete_for_good(&env, &third).await;
    assert_eq!(
        create(
            &env,
            &json!({"name": "again.txt", "mimeType": "text/plain"})
        )
        .await
        .status,
        201
    );
    for _ in 0..16 {
        create(&env, &json!({"name": "over.txt", "mimeType": "text/plain"}))
            .await
            .assert_problem(409, "quota_exceeded");
    }
    assert_eq!(usage(&env).await["files"], json!(3));
}

stowage_tests::on_every_backend!(
    a_busy_tenants_concurrent_writes_all_succeed,
    a_lowered_limit_refuses_creates_until_usage_is_under_it,
);

mod moto_only {
    #[tokio::test]
    async fn a_write_that_keeps_meeting_transactions_is_503_with_retry_after() {
        super::a_write_that_keeps_meeting_transactions_is_503_with_retry_after(
            stowage_tests::TestEnv::moto().await,
        )
        .await
    }

    #[tokio::test]
    async fn counters_from_before_sharding_still_count_and_bind() {
        super::counters_from_before_sharding_still_count_and_bind(
            stowage_tests::TestEnv::moto().await,
        )
        .await
    }
}

/// The per-tenant request rate: a tenant that started its window's allowance gets `429
/// too_many_requests` with `Retry-After`; another tenant is not affected; the next window
/// admits again. Exact on `stowage-local`; on DynamoDB, within the shards' rounding.
async fn a_tenant_over_its_request_rate_gets_429_and_others_do_not(env: TestEnv) {
    // 2 a second: 20 in a 10-second window.
    let mut admitted = 0;
    let mut refused = Vec::new();
    for _ in 0..40 {
        let reply = env.route(RouteId::GetUsage, TENANT).send().await;
        match reply.status {
            200 => admitted += 1,
            _ => refused.push(reply),
        }
    }
    match env.backend {
        Backend::Embedded => assert_eq!(admitted, 20),
        // Each of the 4 counters takes 5: never more than 20; fewer only if one counter drew
        // fewer than 5 of the 40 requests.
        Backend::Moto => assert!((14..=20).contains(&admitted), "{admitted}"),
    }
    for reply in &refused {
        reply.assert_problem(429, "too_many_requests");
        let wait: u32 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=10).contains(&wait), "{wait}");
    }
    // Another tenant's requests are its own.
    let other = env.route(RouteId::GetUsage, "quiet").send().await;
    assert_eq!(other.status, 200, "{}", other.json);
    // The next window admits again.
    env.advance(std::time::Duration::from_secs(10));
    let again = env.route(RouteId::GetUsage, TENANT).send().await;
    assert_eq!(again.status, 200, "{}", again.json);
}

/// The per-tenant concurrency: with as many requests of a tenant running as it may, the next
/// one is `429`; when they end, requests go through again.
async fn a_tenant_with_its_limit_of_requests_running_gets_429(env: TestEnv) {
    let store = env.app.service.store();
    let tenant = stowage::model::TenantId::parse(TENANT).unwrap();
    let limits = stowage::store::RequestLimits {
        per_second: None,
        concurrent: Some(8),
    };
    let mut running = Vec::new();
    let mut refused = 0;
    for _ in 0..24 {
        match store
            .begin_request(&tenant, limits, env.clock.now())
            .await
            .unwrap()
        {
            stowage::store::Admitted::Yes(ticket) => running.push(ticket),
            stowage::store::Admitted::No {
                retry_after_seconds,
            } => {
                assert_eq!(retry_after_seconds, 1);
                refused += 1;
            }
        }
    }
    match env.backend {
        Backend::Embedded => assert_eq!(running.len(), 8),
        // Each of the 4 counters takes 2.
        Backend::Moto => assert!((5..=8).contains(&running.len()), "{}", running.len()),
    }
    assert_eq!(running.len() + refused, 24);
    // A request through the API meets the same count (on moto, one of the 4 counters may
    // still have room: try until one is refused).
    let mut met = false;
    for _ in 0..20 {
        let reply = env.route(RouteId::GetUsage, TENANT).send().await;
        if reply.status == 429 {
            reply.assert_problem(429, "too_many_requests");
            assert_eq!(reply.headers["retry-after"], "1");
            met = true;
            break;
        }
    }
    assert!(met, "no request was refused with the limit running");
    for ticket in &running {
        store.end_request(ticket).await.unwrap();
    }
    let reply = env.route(RouteId::GetUsage, TENANT).send().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
}

/// A rate of 2 a second (20 in a 10-second window), and no concurrency limit.
mod rate {
    use super::a_tenant_over_its_request_rate_gets_429_and_others_do_not;

    stowage_tests::on_every_backend!(
        settings = [
            ("STOWAGE_TENANT_REQUESTS_PER_SECOND", "2"),
            ("STOWAGE_TENANT_CONCURRENT_REQUESTS", "0"),
        ];
        a_tenant_over_its_request_rate_gets_429_and_others_do_not,
    );
}

/// 8 requests running at once, and no rate limit.
mod running {
    use super::a_tenant_with_its_limit_of_requests_running_gets_429;

    stowage_tests::on_every_backend!(
        settings = [
            ("STOWAGE_TENANT_REQUESTS_PER_SECOND", "0"),
            ("STOWAGE_TENANT_CONCURRENT_REQUESTS", "8"),
        ];
        a_tenant_with_its_limit_of_requests_running_gets_429,
    );
}
