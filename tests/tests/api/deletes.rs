//! Deletes on both backends: one file and its bytes, and the batch delete.

use serde_json::json;
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

async fn delete_removes_the_record_and_its_bytes(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"bytes",
        )
        .await;
    let id = id_of(&file);
    let key = env.content_key(&id).await;
    assert!(env.object_exists(&key).await);
    env.route(RouteId::DeleteFile, "globex")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
    assert!(
        env.object_exists(&key).await,
        "another tenant deletes nothing"
    );
    let reply = env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    assert_eq!(reply.status, 204);
    assert!(!env.object_exists(&key).await, "the bytes are gone");
    env.get("acme", &id).await.assert_problem(404, "not_found");
    env.route(RouteId::DeleteFile, "acme")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
}

async fn batch_delete_reports_deleted_and_not_found(env: TestEnv) {
    env.check_policies();
    let a = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"a",
        )
        .await;
    let a = id_of(&a);
    let b = env
        .create_id("acme", json!({"name": "b.txt", "mimeType": "text/plain"}))
        .await;
    let theirs = env
        .create_id("globex", json!({"name": "c.txt", "mimeType": "text/plain"}))
        .await;
    let ghost = ulid::Ulid::new().to_string();
    let key = env.content_key(&a).await;
    let reply = env
        .route(RouteId::DeleteFiles, "acme")
        .body(json!({"ids": [a, theirs, b, ghost, a]}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(
        reply.json,
        json!({"deleted": [a, b], "notFound": [theirs, ghost]})
    );
    assert!(!env.object_exists(&key).await);
    assert_eq!(
        env.get("globex", &theirs).await.status,
        200,
        "another tenant's file survives"
    );

    for (body, field) in [
        (json!({}), "ids"),
        (json!({"ids": []}), "ids"),
        (json!({"ids": "a"}), "ids"),
        (
            json!({"ids": (0..1001).map(|_| ghost.clone()).collect::<Vec<_>>()}),
            "ids",
        ),
        (json!({"ids": ["nope"]}), "ids[0]"),
        (json!({"ids": [ghost], "force": true}), "force"),
    ] {
        let reply = env
            .route(RouteId::DeleteFiles, "acme")
            .body(body)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
}

stowage_tests::on_every_backend!(
    delete_removes_the_record_and_its_bytes,
    batch_delete_reports_deleted_and_not_found,
);
