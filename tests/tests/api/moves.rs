//! `PATCH /files/{id} {"collection"}`: a file moves to another collection, admitted there as a
//! create is (rules, limits, access), with its usage moved in the same write; nothing is
//! written when it is refused.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, TestEnv};

async fn collection(env: &TestEnv, body: Value) {
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(body)
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
}

async fn usage(env: &TestEnv) -> Value {
    let reply = env
        .route(RouteId::GetUsage, "acme")
        .as_app("admin")
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json
}

fn counted(usage: &Value, collection: &str) -> (u64, u64) {
    let c = &usage["collections"][collection];
    (
        c["files"].as_u64().unwrap_or(0),
        c["bytes"].as_u64().unwrap_or(0),
    )
}

async fn a_move_takes_its_usage_and_meets_the_targets_rules(env: TestEnv) {
    env.check_policies();
    collection(&env, json!({"name": "archive", "maxFiles": 2})).await;
    collection(
        &env,
        json!({"name": "images", "allowedMimeTypes": ["image/*"]}),
    )
    .await;
    collection(&env, json!({"name": "tiny", "maxFileSize": 3})).await;
    collection(&env, json!({"name": "full", "maxFiles": 1})).await;
    let filler = env
        .uploaded(
            "acme",
            json!({"name": "f.txt", "mimeType": "text/plain", "collection": "full"}),
            b"f",
        )
        .await;
    let file = env
        .uploaded(
            "acme",
            json!({"name": "report.txt", "mimeType": "text/plain", "directory": "/r"}),
            b"quarterly",
        )
        .await;
    let id = id_of(&file);
    let before = usage(&env).await;
    assert_eq!(counted(&before, "default"), (1, 9));

    // Refused by the target: its types, its size limit, its file limit, or it does not exist.
    for (body, status, code) in [
        (
            json!({"collection": "images"}),
            400,
            "mime_type_not_allowed",
        ),
        (json!({"collection": "tiny"}), 413, "file_too_large"),
        (json!({"collection": "full"}), 409, "quota_exceeded"),
        (
            json!({"collection": "nowhere"}),
            404,
            "collection_not_found",
        ),
    ] {
        env.route(RouteId::UpdateFile, "acme")
            .id(&id)
            .body(body.clone())
            .send()
            .await
            .assert_problem(status, code);
    }
    for (body, field) in [
        (json!({"collection": null}), "collection"),
        (json!({"collection": "Bad Name!"}), "collection"),
    ] {
        let reply = env
            .route(RouteId::UpdateFile, "acme")
            .id(&id)
            .body(body)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
    // Nothing was written.
    let same = env.route(RouteId::GetFile, "acme").id(&id).send().await;
    assert_eq!(same.json["collection"], "default");
    assert_eq!(same.json["version"], file["version"]);
    assert_eq!(usage(&env).await, before);

    // Moved: its record, its listing and its usage, in one write.
    let moved = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"collection": "archive", "name": "q3.txt"}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
    assert_eq!(moved.json["collection"], "archive");
    assert_eq!(moved.json["name"], "q3.txt");
    let after = usage(&env).await;
    assert_eq!(counted(&after, "default"), (0, 0), "{after}");
    assert_eq!(counted(&after, "archive"), (1, 9), "{after}");
    assert_eq!(after["files"], before["files"]);
    assert_eq!(after["bytes"], before["bytes"]);
    let listed = env
        .route(RouteId::ListFiles, "acme")
        .query("collection=archive&sort=name")
        .send()
        .await;
    assert_eq!(ids(&listed.json), vec![id.clone()]);
    let left = env
        .route(RouteId::ListFiles, "acme")
        .query("collection=default")
        .send()
        .await;
    assert_eq!(ids(&left.json), Vec::<String>::new());
    // Its bytes did not move: still readable.
    let content = env.route(RouteId::GetContent, "acme").id(&id).send().await;
    assert_eq!(content.status, 302, "{}", content.json);

    // An echo of the current collection changes nothing; a PUT without one keeps it.
    let echo = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"collection": "archive"}))
        .send()
        .await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.json["version"], moved.json["version"]);

    // A pending file (an open upload) does not move; nor does a batch change of collection.
    let pending = env
        .create_id(
            "acme",
            json!({"name": "p.txt", "mimeType": "text/plain", "size": 1}),
        )
        .await;
    env.route(RouteId::UpdateFile, "acme")
        .id(&pending)
        .body(json!({"collection": "archive"}))
        .send()
        .await
        .assert_problem(409, "upload_open");
    let batch = env
        .route(RouteId::UpdateFiles, "acme")
        .body(json!({"ids": [id_of(&filler)], "patch": {"collection": "archive"}}))
        .send()
        .await;
    assert_eq!(batch.status, 400, "{}", batch.json);
    assert_eq!(counted(&usage(&env).await, "full"), (1, 1));
}

/// A file of `user`'s, uploaded.
async fn uploaded_by(env: &TestEnv, user: &str, body: Value) -> String {
    let created = env
        .route(RouteId::CreateFile, "acme")
        .as_user(user, &[])
        .body(body)
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    env.upload(&created.json["upload"], b"bytes").await;
    let key = stowage_tests::upload_key(&created.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    id_of(&created.json["file"])
}

async fn a_member_moves_only_what_it_may_delete_into_where_it_may_write(env: TestEnv) {
    env.check_policies();
    // `kept`: anyone writes, only alice deletes; `closed`: only alice writes.
    collection(
        &env,
        json!({"name": "kept", "access": {"read": ["tenant"], "write": ["tenant"], "delete": ["user:alice"]}}),
    )
    .await;
    collection(
        &env,
        json!({"name": "closed", "access": {"read": ["tenant"], "write": ["user:alice"], "delete": ["user:alice"]}}),
    )
    .await;
    let in_kept = uploaded_by(
        &env,
        "carol",
        json!({"name": "k.txt", "mimeType": "text/plain", "collection": "kept"}),
    )
    .await;
    let bobs = uploaded_by(
        &env,
        "bob",
        json!({"name": "b.txt", "mimeType": "text/plain"}),
    )
    .await;
    let before = usage(&env).await;
    // bob may write carol's file in `kept` but not delete it there: it stays.
    env.route(RouteId::UpdateFile, "acme")
        .as_user("bob", &[])
        .id(&in_kept)
        .body(json!({"collection": "default"}))
        .send()
        .await
        .assert_problem(403, "forbidden");
    // bob may not write into `closed`.
    env.route(RouteId::UpdateFile, "acme")
        .as_user("bob", &[])
        .id(&bobs)
        .body(json!({"collection": "closed"}))
        .send()
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(usage(&env).await, before);
    // alice may do both.
    let moved = env
        .route(RouteId::UpdateFile, "acme")
        .as_user("alice", &[])
        .id(&bobs)
        .body(json!({"collection": "closed"}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
    // Another tenant cannot move ours.
    env.route(RouteId::UpdateFile, "globex")
        .id(&bobs)
        .body(json!({"collection": "default"}))
        .send()
        .await
        .assert_problem(404, "not_found");
}

stowage_tests::on_every_backend!(
    a_move_takes_its_usage_and_meets_the_targets_rules,
    a_member_moves_only_what_it_may_delete_into_where_it_may_write,
);
