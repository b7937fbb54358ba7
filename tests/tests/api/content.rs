//! Downloads, re-uploads and `externalId` (with `overwrite`) on both backends.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, upload_key, TestEnv};

async fn content_redirects_to_a_presigned_download(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "résumé 2026.pdf", "mimeType": "application/pdf"}),
            b"%PDF",
        )
        .await;
    let id = id_of(&file);
    let reply = env.route(RouteId::GetContent, "acme").id(&id).send().await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    let download = env.http.get(&location).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"r_sum_ 2026.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf"
    );
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(&download.bytes().await.unwrap()[..], b"%PDF");

    let inline = env
        .route(RouteId::GetContent, "acme")
        .id(&id)
        .query("disposition=inline")
        .send()
        .await;
    let download = env
        .http
        .get(inline.headers["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline;"));

    env.route(RouteId::GetContent, "acme")
        .id(&id)
        .query("disposition=download")
        .send()
        .await
        .assert_problem(400, "validation_failed");
    env.route(RouteId::GetContent, "globex")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
    let pending = env
        .create_id("acme", json!({"name": "p.txt", "mimeType": "text/plain"}))
        .await;
    env.route(RouteId::GetContent, "acme")
        .id(&pending)
        .send()
        .await
        .assert_problem(409, "not_uploaded");
}

/// Content a browser would run script in is never shown inline: a member cannot act
/// as whoever opens the link. (The embedded endpoint's CSP and `nosniff` are checked in
/// Chromium by the console's browser test.)
async fn active_content_is_always_an_attachment(env: TestEnv) {
    env.check_policies();
    for (name, mime_type) in [
        ("page.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("app.js", "text/javascript; charset=utf-8"),
    ] {
        let file = env
            .uploaded(
                "acme",
                json!({"name": name, "mimeType": mime_type}),
                b"<script>alert(1)</script>",
            )
            .await;
        let inline = env
            .route(RouteId::GetContent, "acme")
            .id(&id_of(&file))
            .query("disposition=inline")
            .send()
            .await;
        assert_eq!(inline.status, 302);
        let download = env
            .http
            .get(inline.headers["location"].to_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), 200);
        assert_eq!(
            download.headers()["content-disposition"],
            format!("attachment; filename=\"{name}\"").as_str(),
            "{mime_type}"
        );
    }
}

/// A reader chooses how long a download link lives (1 s to 7 days); the endpoint that
/// enforces expiry (the embedded one) refuses the link once that time has passed.
async fn a_reader_chooses_how_long_a_share_link_lives(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "share.txt", "mimeType": "text/plain"}),
            b"shared bytes",
        )
        .await;
    let id = id_of(&file);
    let link = |query: &'static str| {
        let env = &env;
        let id = id.clone();
        async move {
            env.route(RouteId::GetContent, "acme")
                .id(&id)
                .query(query)
                .send()
                .await
        }
    };
    let week = link("expiresIn=604800").await;
    assert_eq!(week.status, 302);
    let location = week.headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains("X-Amz-Expires=604800"), "{location}");
    assert_eq!(env.fetch(&location).await, (200, b"shared bytes".to_vec()));
    let default = env.route(RouteId::GetContent, "acme").id(&id).send().await;
    let default = default.headers["location"].to_str().unwrap();
    assert!(
        default.contains("X-Amz-Expires=") && !default.contains("X-Amz-Expires=604800"),
        "{default}"
    );
    for bad in [
        "expiresIn=0",
        "expiresIn=604801",
        "expiresIn=soon",
        "expiresIn=-1",
    ] {
        link(bad).await.assert_problem(400, "validation_failed");
    }
    env.route(RouteId::GetContent, "globex")
        .id(&id)
        .query("expiresIn=60")
        .send()
        .await
        .assert_problem(404, "not_found");

    if env.local_url().is_some() {
        let second = link("expiresIn=1").await;
        let location = second.headers["location"].to_str().unwrap().to_owned();
        assert!(location.contains("X-Amz-Expires=1&") || location.ends_with("X-Amz-Expires=1"));
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        assert_eq!(env.fetch(&location).await.0, 403, "an expired share link");
    }
}

async fn a_reupload_keeps_the_old_content_until_the_new_bytes_land(env: TestEnv) {
    env.check_policies();
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"old bytes",
        )
        .await;
    let id = id_of(&file);
    let old_key = env.content_key(&id).await;
    let reply = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": 9}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["file"]["status"], "uploaded", "still readable");
    assert_eq!(reply.json["file"]["expectedSize"], 9);
    let upload = reply.json["upload"].clone();
    assert_ne!(upload_key(&upload), old_key, "a new revision, a new key");

    assert_eq!(env.download(&id).await, b"old bytes");
    env.upload(&upload, b"new bytes").await;
    // Once S3 holds the new object the upload is complete: the event (or, here, the repair
    // that reading performs when no event came yet) switches the record over.
    env.deliver(
        env.object_created_event(&upload_key(&upload), &env.next_sequencer())
            .await,
    )
    .await;
    assert_eq!(env.download(&id).await, b"new bytes");
    assert!(
        !env.object_exists(&old_key).await,
        "the old object is deleted"
    );

    env.route(RouteId::StartUpload, "globex")
        .id(&id)
        .send()
        .await
        .assert_problem(404, "not_found");
    env.route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": -1}))
        .send()
        .await
        .assert_problem(400, "validation_failed");
}

async fn external_ids_are_unique_and_overwrite_uploads_a_new_version(env: TestEnv) {
    env.check_policies();
    let first = env
        .uploaded(
            "acme",
            json!({"name": "v1.txt", "mimeType": "text/plain", "externalId": "doc-1"}),
            b"version 1",
        )
        .await;
    let id = id_of(&first);
    let conflict = env
        .call(
            RouteId::CreateFile,
            stowage_tests::create_request(
                "acme",
                "alice",
                &json!({"name": "v2.txt", "mimeType": "text/plain", "externalId": "doc-1"}),
            ),
        )
        .await;
    conflict.assert_problem(409, "external_id_conflict");
    // Another tenant may use the same externalId.
    env.create_id(
        "globex",
        json!({"name": "x.txt", "mimeType": "text/plain", "externalId": "doc-1"}),
    )
    .await;

    let again = env
        .create("acme", json!({"name": "v2.txt", "mimeType": "text/plain", "externalId": "doc-1", "overwrite": true}))
        .await;
    assert_eq!(id_of(&again.json["file"]), id, "the existing record");
    assert_eq!(again.json["file"]["name"], "v2.txt");
    assert_eq!(
        again.json["file"]["status"], "uploaded",
        "its content stays readable"
    );
    let redirect = env.route(RouteId::GetContent, "acme").id(&id).send().await;
    assert_eq!(
        env.fetch(redirect.headers["location"].to_str().unwrap())
            .await
            .1,
        b"version 1"
    );

    let upload = again.json["upload"].clone();
    env.upload(&upload, b"version 2").await;
    env.deliver(
        env.object_created_event(&upload_key(&upload), &env.next_sequencer())
            .await,
    )
    .await;
    let redirect = env.route(RouteId::GetContent, "acme").id(&id).send().await;
    assert_eq!(
        env.fetch(redirect.headers["location"].to_str().unwrap())
            .await
            .1,
        b"version 2"
    );

    // Changing a file's externalId to a taken one is a conflict too.
    let other = env
        .create_id(
            "acme",
            json!({"name": "o.txt", "mimeType": "text/plain", "externalId": "doc-2"}),
        )
        .await;
    env.route(RouteId::UpdateFile, "acme")
        .id(&other)
        .body(json!({"externalId": "doc-1"}))
        .send()
        .await
        .assert_problem(409, "external_id_conflict");
    // Freed by a delete.
    env.route(RouteId::DeleteFile, "acme").id(&id).send().await;
    let moved = env
        .route(RouteId::UpdateFile, "acme")
        .id(&other)
        .body(json!({"externalId": "doc-1"}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
}

async fn overwrite_changes_only_what_the_body_names(env: TestEnv) {
    env.check_policies();
    let original = env
        .uploaded(
            "acme",
            json!({"name": "v1.txt", "mimeType": "text/plain", "externalId": "doc-9",
                   "kind": "temp", "ttlSeconds": 3600, "purpose": "report",
                   "tags": ["q1", "final"], "metadata": {"owner": "ann"},
                   "directory": "/reports", "source": "scanner", "privateAccess": false}),
            b"version 1",
        )
        .await;
    let id = id_of(&original);
    // Only name, mimeType and one optional field named; purpose removed with null.
    let again = env
        .create(
            "acme",
            json!({"name": "v2.txt", "mimeType": "text/markdown", "externalId": "doc-9",
                   "overwrite": true, "tags": ["q2"], "purpose": null}),
        )
        .await;
    let file = &again.json["file"];
    assert_eq!(id_of(file), id);
    assert_eq!(file["name"], "v2.txt");
    assert_eq!(file["mimeType"], "text/markdown");
    assert_eq!(file["tags"], json!(["q2"]));
    assert_eq!(file["purpose"], Value::Null, "null removes");
    for kept in [
        "metadata",
        "directory",
        "source",
        "privateAccess",
        "kind",
        "externalId",
    ] {
        assert_eq!(file[kept], original[kept], "{kept} is kept");
    }
    assert_eq!(
        file["status"], "uploaded",
        "the old bytes stay until the new ones land"
    );
    // A temp file stays temp without naming its kind; naming another kind is refused.
    env.route(RouteId::CreateFile, "acme")
        .body(
            json!({"name": "v3.txt", "mimeType": "text/plain", "externalId": "doc-9",
                     "overwrite": true, "kind": "client"}),
        )
        .send()
        .await
        .assert_problem(409, "kind_mismatch");
}

stowage_tests::on_every_backend!(
    overwrite_changes_only_what_the_body_names,
    content_redirects_to_a_presigned_download,
    active_content_is_always_an_attachment,
    a_reader_chooses_how_long_a_share_link_lives,
    a_reupload_keeps_the_old_content_until_the_new_bytes_land,
    external_ids_are_unique_and_overwrite_uploads_a_new_version,
);
