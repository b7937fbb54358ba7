//! `POST /files/{id}/copy`: a new file of the caller's with the source's bytes, copied in
//! storage, admitted by the target collection as a create is; usage counts it exactly.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

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

async fn a_copy_is_a_new_file_with_the_same_bytes_admitted_by_its_collection(env: TestEnv) {
    collection(&env, json!({"name": "archive", "maxFiles": 2})).await;
    collection(
        &env,
        json!({"name": "images", "allowedMimeTypes": ["image/*"]}),
    )
    .await;
    collection(&env, json!({"name": "tiny", "maxFileSize": 3})).await;
    let source = env
        .uploaded(
            "acme",
            json!({"name": "report.txt", "mimeType": "text/plain", "tags": ["q3"], "externalId": "r-1", "directory": "/reports"}),
            b"quarterly",
        )
        .await;
    let id = id_of(&source);

    // Beside the source: same fields but a new id, owner and no externalId.
    let copy = env
        .route(RouteId::CopyFile, "acme")
        .as_user("bob", &[])
        .id(&id)
        .send()
        .await;
    assert_eq!(copy.status, 201, "{}", copy.json);
    let copy_id = id_of(&copy.json);
    assert_ne!(copy_id, id);
    assert_eq!(
        copy.headers["location"],
        format!("/files/{copy_id}").as_str()
    );
    assert_eq!(copy.json["status"], "uploaded");
    assert_eq!(copy.json["size"], 9);
    assert_eq!(copy.json["tags"], json!(["q3"]));
    assert_eq!(copy.json["directory"], "/reports");
    assert_eq!(copy.json["uploadedBy"], "bob");
    assert_eq!(copy.json["externalId"], Value::Null);
    assert_eq!(env.download(&copy_id).await, b"quarterly");

    // Into another collection, renamed; its limit counts it.
    let archived = env
        .route(RouteId::CopyFile, "acme")
        .id(&id)
        .body(json!({"collection": "archive", "name": "report-2026.txt", "directory": "/old"}))
        .send()
        .await;
    assert_eq!(archived.status, 201, "{}", archived.json);
    assert_eq!(archived.json["collection"], "archive");
    assert_eq!(archived.json["name"], "report-2026.txt");
    assert_eq!(archived.json["directory"], "/old");
    let counted = usage(&env).await;
    assert_eq!(counted["collections"]["archive"]["bytes"], 9, "{counted}");
    assert_eq!(counted["collections"]["archive"]["files"], 1, "{counted}");
    assert_eq!(counted["collections"]["default"]["files"], 2, "{counted}");

    // The target's rules and limits refuse, and nothing is written.
    let before = usage(&env).await;
    for (body, status, code) in [
        (
            json!({"collection": "images"}),
            400,
            "mime_type_not_allowed",
        ),
        (json!({"collection": "tiny"}), 413, "file_too_large"),
        (
            json!({"collection": "nowhere"}),
            404,
            "collection_not_found",
        ),
        (json!({"name": "a/b"}), 400, "validation_failed"),
    ] {
        env.route(RouteId::CopyFile, "acme")
            .id(&id)
            .body(body)
            .send()
            .await
            .assert_problem(status, code);
    }
    env.route(RouteId::CopyFile, "acme")
        .id(&id)
        .body(json!({"collection": "archive"}))
        .send()
        .await;
    env.route(RouteId::CopyFile, "acme")
        .id(&id)
        .body(json!({"collection": "archive"}))
        .send()
        .await
        .assert_problem(409, "quota_exceeded");
    let after = usage(&env).await;
    assert_eq!(after["collections"]["archive"]["files"], 2, "{after}");
    assert_eq!(
        after["files"],
        before["files"].as_u64().unwrap() + 1,
        "{after}"
    );

    // A file without content has nothing to copy; another tenant's file is not found.
    let pending = env
        .create_id("acme", json!({"name": "p.txt", "mimeType": "text/plain"}))
        .await;
    env.route(RouteId::CopyFile, "acme")
        .id(&pending)
        .send()
        .await
        .assert_problem(409, "not_uploaded");
    env.route(RouteId::CopyFile, "globex")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
}

async fn a_member_copies_only_what_it_reads_into_where_it_writes(env: TestEnv) {
    collection(
        &env,
        json!({"name": "private", "access": {"read": ["user:alice"], "write": ["user:alice"], "delete": ["user:alice"]}}),
    )
    .await;
    let secret = env
        .uploaded(
            "acme",
            json!({"name": "s.txt", "mimeType": "text/plain", "collection": "private"}),
            b"secret",
        )
        .await;
    let open = env
        .uploaded(
            "acme",
            json!({"name": "o.txt", "mimeType": "text/plain"}),
            b"open",
        )
        .await;
    // bob may not read the private file, nor write into the private collection.
    env.route(RouteId::CopyFile, "acme")
        .as_user("bob", &[])
        .id(&id_of(&secret))
        .send()
        .await
        .assert_problem(404, "not_found");
    env.route(RouteId::CopyFile, "acme")
        .as_user("bob", &[])
        .id(&id_of(&open))
        .body(json!({"collection": "private"}))
        .send()
        .await
        .assert_problem(403, "forbidden");
}

stowage_tests::on_every_backend!(
    a_copy_is_a_new_file_with_the_same_bytes_admitted_by_its_collection,
    a_member_copies_only_what_it_reads_into_where_it_writes,
);
