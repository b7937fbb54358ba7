//! Bulk changes by filter: `PATCH /files` and `POST /files/delete`
//! with `{"filter": {...}}`, on both backends: only the tenant's matching files change, an
//! update is all or nothing up to 100 matches, a delete goes 1,000 a call with a cursor.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, Reply, TestEnv};

async fn call(env: &TestEnv, route: RouteId, tenant: &str, body: Value) -> Reply {
    env.route(route, tenant).body(body).send().await
}

async fn listed_with(env: &TestEnv, tenant: &str, query: &str) -> Vec<String> {
    let reply = env
        .route(RouteId::ListFiles, tenant)
        .query(&format!("{query}&limit=1000"))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    ids(&reply.json)
}

async fn updates_by_filter_change_every_match_or_nothing(env: TestEnv) {
    env.check_policies();
    let mut old = Vec::new();
    for i in 0..3 {
        old.push(
            env.create_id(
                "acme",
                json!({"name": format!("o{i}.txt"), "mimeType": "text/plain", "purpose": "old", "tags": ["draft"]}),
            )
            .await,
        );
    }
    let kept = env
        .create_id(
            "acme",
            json!({"name": "k.txt", "mimeType": "text/plain", "purpose": "keep", "tags": ["draft"]}),
        )
        .await;
    let foreign = env
        .create_id(
            "globex",
            json!({"name": "g.txt", "mimeType": "text/plain", "purpose": "old"}),
        )
        .await;

    let updated = call(
        &env,
        RouteId::UpdateFiles,
        "acme",
        json!({"filter": {"purpose": "old", "tag": ["draft"]}, "patch": {"tags": ["archived"], "metadata": {"by": "filter"}}}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.json);
    let mut changed: Vec<String> = updated.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    changed.sort();
    let mut want = old.clone();
    want.sort();
    assert_eq!(changed, want);
    for id in &old {
        let got = env.get("acme", id).await.json;
        assert_eq!(
            (&got["tags"], &got["metadata"]["by"], &got["version"]),
            (&json!(["archived"]), &json!("filter"), &json!(2))
        );
    }
    assert_eq!(env.get("acme", &kept).await.json["version"], 1);
    assert_eq!(env.get("globex", &foreign).await.json["version"], 1);
    // No match: nothing changes.
    let none = call(
        &env,
        RouteId::UpdateFiles,
        "acme",
        json!({"filter": {"purpose": "nobody"}, "patch": {"purpose": "x"}}),
    )
    .await;
    assert_eq!((none.status, &none.json["items"]), (200, &json!([])));

    // More than 100 matches: 409, nothing written.
    let now = env.clock.now_millis();
    for i in 0..101 {
        let mut record = stowage_tests::sample_record("acme", now + i);
        record.purpose = Some(stowage::model::Purpose::parse("many").unwrap());
        env.insert_record(&record).await;
    }
    let refused = call(
        &env,
        RouteId::UpdateFiles,
        "acme",
        json!({"filter": {"purpose": "many"}, "patch": {"purpose": "changed"}}),
    )
    .await;
    refused.assert_problem(409, "too_many_matches");
    assert_eq!(listed_with(&env, "acme", "purpose=many").await.len(), 101);
    assert!(listed_with(&env, "acme", "purpose=changed")
        .await
        .is_empty());

    for (body, field) in [
        (json!({"filter": {}, "patch": {"purpose": "x"}}), "filter"),
        (json!({"filter": [], "patch": {"purpose": "x"}}), "filter"),
        (
            json!({"filter": {"colour": "red"}, "patch": {"purpose": "x"}}),
            "filter.colour",
        ),
        (
            json!({"filter": {"limit": "5"}, "patch": {"purpose": "x"}}),
            "filter.limit",
        ),
        (
            json!({"filter": {"purpose": 5}, "patch": {"purpose": "x"}}),
            "filter.purpose",
        ),
        (
            json!({"filter": {"status": "gone"}, "patch": {"purpose": "x"}}),
            "filter.status",
        ),
        (
            json!({"filter": {"tag": [1]}, "patch": {"purpose": "x"}}),
            "filter.tag",
        ),
        (
            json!({"filter": {"collection": "A/B"}, "patch": {"purpose": "x"}}),
            "filter.collection",
        ),
        (json!({"filter": {"purpose": "old"}}), "patch"),
        (
            json!({"filter": {"purpose": "old"}, "patch": {"externalId": "e"}}),
            "patch.externalId",
        ),
        (
            json!({"filter": {"purpose": "old"}, "patch": {"id": old[0]}}),
            "patch.id",
        ),
        (
            json!({"filter": {"purpose": "old"}, "patch": {"name": "a/b"}}),
            "patch.name",
        ),
        (json!({"filter": {"purpose": "old"}, "patch": "x"}), "patch"),
        (
            json!({"filter": {"purpose": "old"}, "patch": {}, "ids": []}),
            "ids",
        ),
    ] {
        let reply = call(&env, RouteId::UpdateFiles, "acme", body.clone()).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    for body in [
        json!("x"),
        json!({"patch": {"purpose": "x"}}),
        json!({"id": old[0]}),
    ] {
        call(&env, RouteId::UpdateFiles, "acme", body)
            .await
            .assert_problem(400, "invalid_body");
    }
    for id in &old {
        assert_eq!(
            env.get("acme", id).await.json["version"],
            2,
            "nothing changed"
        );
    }
}

async fn deletes_by_filter_go_a_page_a_call_with_a_cursor(env: TestEnv) {
    env.check_policies();
    let now = env.clock.now_millis();
    for i in 0..120 {
        let mut record = stowage_tests::sample_record("acme", now + i);
        record.purpose = Some(stowage::model::Purpose::parse("scratch").unwrap());
        env.insert_record(&record).await;
    }
    let kept = env
        .create_id(
            "acme",
            json!({"name": "k.txt", "mimeType": "text/plain", "purpose": "keep"}),
        )
        .await;
    let foreign = env
        .create_id(
            "globex",
            json!({"name": "g.txt", "mimeType": "text/plain", "purpose": "scratch"}),
        )
        .await;
    let uploaded = env
        .uploaded(
            "acme",
            json!({"name": "u.txt", "mimeType": "text/plain", "purpose": "scratch"}),
            b"bytes",
        )
        .await;
    let key = env.content_key(&id_of(&uploaded)).await;

    let mut deleted = 0;
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let mut body = json!({"filter": {"purpose": "scratch"}});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = call(&env, RouteId::DeleteFiles, "acme", body).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        deleted += reply.json["deleted"].as_array().unwrap().len();
        assert!(reply.json["deleted"].as_array().unwrap().len() <= 1_000);
        calls += 1;
        assert!(calls < 20, "the cursor must come to an end");
        match reply.json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(reply.json["nextCursor"], Value::Null, "{}", reply.json);
                break;
            }
        }
    }
    assert_eq!(deleted, 121);
    assert!(listed_with(&env, "acme", "purpose=scratch")
        .await
        .is_empty());
    assert!(!env.object_exists(&key).await, "their bytes go too");
    assert_eq!(env.get("acme", &kept).await.status, 200);
    assert_eq!(env.get("globex", &foreign).await.status, 200);
    // By ids the answer has no cursor.
    let extra = env
        .create_id("acme", json!({"name": "x.txt", "mimeType": "text/plain"}))
        .await;
    let by_ids = call(&env, RouteId::DeleteFiles, "acme", json!({"ids": [extra]})).await;
    assert_eq!(by_ids.status, 200, "{}", by_ids.json);
    assert!(by_ids.json.get("nextCursor").is_none(), "{}", by_ids.json);

    for (body, field) in [
        (json!({"filter": {}}), "filter"),
        (json!({"filter": "purpose=scratch"}), "filter"),
        (json!({"filter": {"cursor": "x"}}), "filter.cursor"),
        (
            json!({"filter": {"purpose": "scratch"}, "ids": [foreign]}),
            "ids",
        ),
        (
            json!({"filter": {"purpose": "scratch"}, "cursor": 5}),
            "cursor",
        ),
        (
            json!({"filter": {"createdAfter": "yesterday"}}),
            "filter.createdAfter",
        ),
    ] {
        let reply = call(&env, RouteId::DeleteFiles, "acme", body.clone()).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    call(
        &env,
        RouteId::DeleteFiles,
        "acme",
        json!({"filter": {"purpose": "scratch"}, "cursor": "bm90IGEgY3Vyc29y"}),
    )
    .await
    .assert_problem(400, "invalid_cursor");
    // Tenant B's filter never reaches tenant A's files.
    let other = call(
        &env,
        RouteId::DeleteFiles,
        "globex",
        json!({"filter": {"purpose": "keep"}}),
    )
    .await;
    assert_eq!(other.json["deleted"], json!([]));
    assert_eq!(env.get("acme", &kept).await.status, 200);
    assert_eq!(env.get("globex", &foreign).await.status, 200);
}

stowage_tests::on_every_backend!(
    updates_by_filter_change_every_match_or_nothing,
    deletes_by_filter_go_a_page_a_call_with_a_cursor,
);
