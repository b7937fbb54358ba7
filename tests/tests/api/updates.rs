//! Updates on both backends: merge patches, read-only fields, `If-Match`, replacement, and the
//! all-or-nothing batch update.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

async fn patch_merges_and_bumps_the_version(env: TestEnv) {
    env.check_policies();
    let id = env
        .create_id(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "purpose": "draft", "tags": ["a"],
               "metadata": {"keep": 1, "drop": 2, "nested": {"x": 1, "y": 2}}, "source": "web"}),
        )
        .await;
    let reply = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(
            json!({"purpose": "final", "tags": ["b", "b", "c"], "source": null,
                        "metadata": {"drop": null, "nested": {"y": null, "z": 3}, "new": true}}),
        )
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let file = &reply.json;
    assert_eq!(file["purpose"], "final");
    assert_eq!(file["tags"], json!(["b", "c"]));
    assert_eq!(file["source"], Value::Null);
    assert_eq!(
        file["metadata"],
        json!({"keep": 1, "nested": {"x": 1, "z": 3}, "new": true})
    );
    assert_eq!(file["name"], "a.txt", "absent fields stay");
    assert_eq!(file["version"], 2);
    assert_eq!(reply.headers["etag"], "\"2\"");
    assert_eq!(env.get("acme", &id).await.json["purpose"], "final");
    // Renaming re-derives the extension.
    let renamed = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"name": "b.PDF"}))
        .send()
        .await;
    assert_eq!(renamed.json["extension"], ".pdf");
    assert_eq!(renamed.json["version"], 3);
}

async fn read_only_fields_pass_only_with_their_current_value(env: TestEnv) {
    env.check_policies();
    let created = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let file = created.json["file"].clone();
    let id = id_of(&file);
    // Echoing the record back (all read-only fields at their values) is accepted.
    let mut echo = file.clone();
    echo["purpose"] = json!("echoed");
    let reply = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(echo)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    for (field, value) in [
        ("id", json!("01KAQ3V6T0Z9Y8X7W6V5T4S3R2")),
        ("status", json!("uploaded")),
        ("size", json!(5)),
        ("version", json!(99)),
        ("uploadedBy", json!("mallory")),
        ("createdAt", json!("2020-01-01T00:00:00.000Z")),
        ("kind", json!("temp")),
        ("extension", json!(".exe")),
    ] {
        let reply = env
            .route(RouteId::UpdateFile, "acme")
            .id(&id)
            .body(json!({ field: value }))
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
    for (body, field) in [
        (json!({"colour": "red"}), "colour"),
        (json!({"name": null}), "name"),
        (json!({"name": "a/b"}), "name"),
        (json!({"tags": "x"}), "tags"),
        (json!({"privateAccess": null}), "privateAccess"),
        (json!({"metadata": {"k": "v".repeat(10_240)}}), "metadata"),
    ] {
        let reply = env
            .route(RouteId::UpdateFile, "acme")
            .id(&id)
            .body(body.clone())
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!([]))
        .send()
        .await
        .assert_problem(400, "invalid_body");
    // Nothing above changed the record.
    assert_eq!(env.get("acme", &id).await.json["version"], 2);
}

async fn if_match_guards_updates_and_deletes(env: TestEnv) {
    env.check_policies();
    let id = env
        .create_id("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let body = Some(json!({"purpose": "x"}));
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .maybe_body(body.clone())
        .headers(&[("if-match", "\"7\"")])
        .send()
        .await
        .assert_problem(412, "version_mismatch");
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .maybe_body(body.clone())
        .headers(&[("if-match", "nonsense")])
        .send()
        .await
        .assert_problem(400, "invalid_if_match");
    let ok = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .maybe_body(body)
        .headers(&[("if-match", "\"1\"")])
        .send()
        .await;
    assert_eq!(ok.status, 200);
    env.route(RouteId::DeleteFile, "acme")
        .id(&id)
        .headers(&[("if-match", "\"1\"")])
        .send()
        .await
        .assert_problem(412, "version_mismatch");
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&id)
        .headers(&[("if-match", "W/\"2\"")])
        .send()
        .await;
    assert_eq!(deleted.status, 204);
    // Updates to a deleted record: 404.
    env.route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"purpose": "y"}))
        .send()
        .await
        .assert_problem(404, "not_found");
}

async fn put_replaces_every_mutable_field(env: TestEnv) {
    env.check_policies();
    let id = env.create_id("acme",
        json!({"name": "a.txt", "mimeType": "text/plain", "purpose": "p", "tags": ["t"], "metadata": {"m": 1},
               "privateAccess": false, "directory": "/d"}),
    )
    .await;
    let reply = env
        .route(RouteId::ReplaceFile, "acme")
        .id(&id)
        .body(json!({"name": "b.txt", "mimeType": "text/csv"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let file = &reply.json;
    assert_eq!(
        (file["name"].as_str(), file["mimeType"].as_str()),
        (Some("b.txt"), Some("text/csv"))
    );
    assert_eq!(file["purpose"], Value::Null);
    assert_eq!(file["directory"], Value::Null);
    assert_eq!(file["tags"], json!([]));
    assert_eq!(file["metadata"], json!({}));
    assert_eq!(file["privateAccess"], true);
    let missing = env
        .route(RouteId::ReplaceFile, "acme")
        .id(&id)
        .body(json!({"purpose": "only"}))
        .send()
        .await;
    missing.assert_problem(400, "validation_failed");
    assert_eq!(missing.error_fields(), ["name", "mimeType"]);
}

async fn batch_update_is_all_or_nothing(env: TestEnv) {
    env.check_policies();
    let a = env
        .create_id("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let b = env
        .create_id("acme", json!({"name": "b.txt", "mimeType": "text/plain"}))
        .await;
    let theirs = env
        .create_id("globex", json!({"name": "c.txt", "mimeType": "text/plain"}))
        .await;

    // One bad element: nothing changes.
    let bad = env
        .route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": a, "purpose": "ok"}, {"id": b, "name": ""}]))
        .send()
        .await;
    bad.assert_problem(400, "validation_failed");
    assert_eq!(bad.error_fields(), ["[1].name"]);
    // Another tenant's id is not found: nothing changes.
    env.route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": a, "purpose": "ok"}, {"id": theirs, "purpose": "x"}]))
        .send()
        .await
        .assert_problem(404, "not_found");
    for id in [&a, &b] {
        let file = env.get("acme", id).await.json;
        assert_eq!(
            (file["purpose"].clone(), file["version"].clone()),
            (Value::Null, json!(1))
        );
    }
    assert_eq!(
        env.get("globex", &theirs).await.json["purpose"],
        Value::Null
    );

    let ok = env
        .route(RouteId::UpdateFiles, "acme")
        .body(json!([{"id": a, "purpose": "one"}, {"id": b, "tags": ["two"]}]))
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["items"][0]["purpose"], "one");
    assert_eq!(ok.json["items"][1]["tags"], json!(["two"]));
    assert_eq!(env.get("acme", &b).await.json["version"], 2);

    for (body, code) in [
        (json!([]), "invalid_body"),
        (json!({"id": a}), "invalid_body"),
        (
            Value::Array((0..101).map(|_| json!({"id": a})).collect()),
            "invalid_body",
        ),
    ] {
        env.route(RouteId::UpdateFiles, "acme")
            .body(body)
            .send()
            .await
            .assert_problem(400, code);
    }
    for body in [
        json!([{"id": a}, {"id": a}]),
        json!([{"id": "nope"}]),
        json!([{"purpose": "no id"}]),
        json!([{"id": a, "externalId": "e"}]),
    ] {
        env.route(RouteId::UpdateFiles, "acme")
            .body(body)
            .send()
            .await
            .assert_problem(400, "validation_failed");
    }
}

stowage_tests::on_every_backend!(
    patch_merges_and_bumps_the_version,
    read_only_fields_pass_only_with_their_current_value,
    if_match_guards_updates_and_deletes,
    put_replaces_every_mutable_field,
    batch_update_is_all_or_nothing,
);
