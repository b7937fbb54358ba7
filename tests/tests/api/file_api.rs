//! The full file API on both backends: listing, updates, batch updates, deletes, downloads,
//! re-uploads, externalId and overwrite, temp expiry, public files.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{upload_key, Backend, TestEnv};

fn id_of(file: &Value) -> String {
    file["id"].as_str().expect("an id").to_owned()
}

async fn create_id(env: &TestEnv, tenant: &str, body: Value) -> String {
    id_of(&env.create(tenant, body).await.json["file"])
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Listing

async fn listing_is_newest_first_and_pages_without_gaps_or_duplicates(env: TestEnv) {
    let mut created = Vec::new();
    for i in 0..7 {
        env.advance(Duration::from_millis(5));
        created.push(
            create_id(
                &env,
                "acme",
                json!({"name": format!("f{i}.txt"), "mimeType": "text/plain"}),
            )
            .await,
        );
    }
    create_id(
        &env,
        "globex",
        json!({"name": "theirs.txt", "mimeType": "text/plain"}),
    )
    .await;
    created.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let page = env
            .api(RouteId::ListFiles, "acme", None, &query, None, &[])
            .await;
        assert_eq!(page.status, 200, "{}", page.json);
        seen.extend(ids(&page.json));
        pages += 1;
        match page.json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, created,
        "every file once, newest first, no other tenant's"
    );
    assert_eq!(pages, 3);

    let all = env
        .api(RouteId::ListFiles, "acme", None, "", None, &[])
        .await;
    assert_eq!(ids(&all.json), created, "default limit 30 holds them all");
    assert_eq!(all.json["nextCursor"], Value::Null);
}

async fn every_filter_selects_exactly_its_files(env: TestEnv) {
    let t0 = env.clock.now_millis();
    let a = env
        .uploaded(
            "acme",
            json!({"name": "a.pdf", "mimeType": "application/pdf", "tags": ["x", "y"], "purpose": "invoice",
                   "directory": "/docs/2026", "externalId": "ext-a"}),
            b"aaaa",
        )
        .await;
    env.advance(Duration::from_millis(10));
    let middle = env.clock.now_millis();
    env.advance(Duration::from_millis(10));
    let b = id_of(
        &env.create(
            "acme",
            json!({"name": "b.png", "mimeType": "image/png", "tags": ["x"], "purpose": "avatar",
                   "directory": "/docs", "kind": "temp"}),
        )
        .await
        .json["file"],
    );
    let a = id_of(&a);
    let time = |millis: i64| stowage::model::Timestamp::from_millis(millis).to_rfc3339();
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("name=a.pdf".into(), vec![&a]),
        ("tag=x".into(), vec![&b, &a]),
        ("tag=x&tag=y".into(), vec![&a]),
        ("tag=nope".into(), vec![]),
        ("purpose=avatar".into(), vec![&b]),
        ("status=uploaded".into(), vec![&a]),
        ("status=pending".into(), vec![&b]),
        ("kind=temp".into(), vec![&b]),
        ("externalId=ext-a".into(), vec![&a]),
        ("directory=/docs".into(), vec![&b]),
        ("directoryPrefix=/docs".into(), vec![&b, &a]),
        ("directoryPrefix=/docs/".into(), vec![&a]),
        ("mimeType=image/png".into(), vec![&b]),
        ("uploadedBy=alice".into(), vec![&b, &a]),
        ("uploadedBy=bob".into(), vec![]),
        (format!("createdAfter={}", time(middle)), vec![&b]),
        (format!("createdBefore={}", time(middle)), vec![&a]),
        (
            format!(
                "createdAfter={}&createdBefore={}",
                time(t0 - 1),
                time(middle)
            ),
            vec![&a],
        ),
        (
            "tag=x&purpose=invoice&name=a.pdf&status=uploaded".into(),
            vec![&a],
        ),
    ];
    for (query, want) in cases {
        let page = env
            .api(
                RouteId::ListFiles,
                "acme",
                None,
                &query.replace('+', "%2B"),
                None,
                &[],
            )
            .await;
        assert_eq!(page.status, 200, "{query}: {}", page.json);
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(ids(&page.json), want, "{query}");
    }
    // Another tenant sees none of them, whatever the filter.
    let theirs = env
        .api(
            RouteId::ListFiles,
            "globex",
            None,
            "externalId=ext-a",
            None,
            &[],
        )
        .await;
    assert_eq!(ids(&theirs.json), Vec::<String>::new());
}

async fn expired_records_never_appear(env: TestEnv) {
    create_id(
        &env,
        "acme",
        json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
    )
    .await;
    let keep = create_id(
        &env,
        "acme",
        json!({"name": "c.txt", "mimeType": "text/plain"}),
    )
    .await;
    env.advance(Duration::from_secs(61));
    let page = env
        .api(RouteId::ListFiles, "acme", None, "", None, &[])
        .await;
    assert_eq!(ids(&page.json), vec![keep.clone()]);
    let page = env
        .api(RouteId::ListFiles, "acme", None, "kind=temp", None, &[])
        .await;
    assert_eq!(ids(&page.json), Vec::<String>::new());
}

async fn bad_list_parameters_are_400(env: TestEnv) {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=1001", "limit"),
        ("limit=1000000000", "limit"),
        ("limit=ten", "limit"),
        ("status=done", "status"),
        ("kind=forever", "kind"),
        ("createdAfter=yesterday", "createdAfter"),
        ("colour=red", "colour"),
        ("name=a&name=b", "name"),
    ] {
        let reply = env
            .api(RouteId::ListFiles, "acme", None, query, None, &[])
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
    env.api(
        RouteId::ListFiles,
        "acme",
        None,
        "cursor=garbage",
        None,
        &[],
    )
    .await
    .assert_problem(400, "invalid_cursor");
    for i in 0..3 {
        create_id(
            &env,
            "acme",
            json!({"name": format!("{i}"), "mimeType": "text/plain", "purpose": "p"}),
        )
        .await;
    }
    let first = env
        .api(
            RouteId::ListFiles,
            "acme",
            None,
            "limit=1&purpose=p",
            None,
            &[],
        )
        .await;
    let cursor = first.json["nextCursor"].as_str().unwrap().to_owned();
    // The cursor belongs to its filters…
    env.api(
        RouteId::ListFiles,
        "acme",
        None,
        &format!("limit=1&cursor={cursor}"),
        None,
        &[],
    )
    .await
    .assert_problem(400, "invalid_cursor");
    // …nor by another tenant, even with the same filters.
    env.api(
        RouteId::ListFiles,
        "globex",
        None,
        &format!("limit=1&purpose=p&cursor={cursor}"),
        None,
        &[],
    )
    .await
    .assert_problem(400, "invalid_cursor");
}

async fn filtered_listing_reads_about_one_page_however_many_files(env: TestEnv) {
    // 2,000 files, of which every 100th is "rare" in every indexed field.
    let now = env.clock.now_millis();
    for i in 0..2_000u32 {
        let rare = i % 100 == 0;
        let mut record = stowage_tests::sample_record("acme", now + i64::from(i));
        if rare {
            record.name = stowage::model::FileName::parse("rare.txt").unwrap();
            record.purpose = Some(stowage::model::Purpose::parse("rare").unwrap());
            record.directory = Some(stowage::model::DirectoryPath::parse("/rare").unwrap());
            record.tags = stowage::model::Tags::parse(["rare"]).unwrap();
            record.uploaded_by = stowage::model::UserId::parse("bob").unwrap();
        }
        env.insert_record(&record).await;
    }
    let who = stowage::identity::Identity {
        tenant: stowage::model::TenantId::parse("acme").unwrap(),
        user: stowage::model::UserId::parse("alice").unwrap(),
    };
    let limit = 10;
    let since = stowage::model::Timestamp::from_millis(now + 1_989).to_rfc3339();
    for filter in [
        "name=rare.txt".to_owned(),
        "purpose=rare".to_owned(),
        "directory=/rare".to_owned(),
        "tag=rare".to_owned(),
        "uploadedBy=bob".to_owned(),
        format!("createdAfter={since}"),
    ] {
        let params: Vec<(&str, Vec<&str>)> = filter
            .split('&')
            .map(|p| p.split_once('=').unwrap())
            .map(|(k, v)| (k, vec![v]))
            .chain([("limit", vec!["10"])])
            .collect();
        let query = stowage::validate::ListQuery::from_params(params).unwrap();
        let page = env.app.service.list(&who, &query).await.unwrap();
        assert_eq!(page.items.len(), limit, "{filter}: a full page");
        assert!(
            page.items_read <= 2 * (limit as u64 + 1),
            "{filter}: read {} items for a page of {limit}",
            page.items_read
        );
    }
    // Unfiltered, too: one page of reads.
    let query = stowage::validate::ListQuery::from_params([("limit", vec!["10"])]).unwrap();
    let page = env.app.service.list(&who, &query).await.unwrap();
    assert!(page.items_read <= 11, "read {}", page.items_read);
}

// ---------------------------------------------------------------------------------------------
// Updates

async fn patch_merges_and_bumps_the_version(env: TestEnv) {
    let id = create_id(
        &env,
        "acme",
        json!({"name": "a.txt", "mimeType": "text/plain", "purpose": "draft", "tags": ["a"],
               "metadata": {"keep": 1, "drop": 2, "nested": {"x": 1, "y": 2}}, "source": "web"}),
    )
    .await;
    let reply = env
        .api(
            RouteId::UpdateFile,
            "acme",
            Some(&id),
            "",
            Some(
                json!({"purpose": "final", "tags": ["b", "b", "c"], "source": null,
                        "metadata": {"drop": null, "nested": {"y": null, "z": 3}, "new": true}}),
            ),
            &[],
        )
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
        .api(
            RouteId::UpdateFile,
            "acme",
            Some(&id),
            "",
            Some(json!({"name": "b.PDF"})),
            &[],
        )
        .await;
    assert_eq!(renamed.json["extension"], ".pdf");
    assert_eq!(renamed.json["version"], 3);
}

async fn read_only_fields_pass_only_with_their_current_value(env: TestEnv) {
    let created = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let file = created.json["file"].clone();
    let id = id_of(&file);
    // Echoing the record back (all read-only fields at their values) is accepted.
    let mut echo = file.clone();
    echo["purpose"] = json!("echoed");
    let reply = env
        .api(RouteId::UpdateFile, "acme", Some(&id), "", Some(echo), &[])
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
            .api(
                RouteId::UpdateFile,
                "acme",
                Some(&id),
                "",
                Some(json!({ field: value })),
                &[],
            )
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
            .api(
                RouteId::UpdateFile,
                "acme",
                Some(&id),
                "",
                Some(body.clone()),
                &[],
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        Some(json!([])),
        &[],
    )
    .await
    .assert_problem(400, "invalid_body");
    // Nothing above changed the record.
    assert_eq!(env.get("acme", &id).await.json["version"], 2);
}

async fn if_match_guards_updates_and_deletes(env: TestEnv) {
    let id = create_id(
        &env,
        "acme",
        json!({"name": "a.txt", "mimeType": "text/plain"}),
    )
    .await;
    let body = Some(json!({"purpose": "x"}));
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        body.clone(),
        &[("if-match", "\"7\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        body.clone(),
        &[("if-match", "nonsense")],
    )
    .await
    .assert_problem(400, "invalid_if_match");
    let ok = env
        .api(
            RouteId::UpdateFile,
            "acme",
            Some(&id),
            "",
            body,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(ok.status, 200);
    env.api(
        RouteId::DeleteFile,
        "acme",
        Some(&id),
        "",
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let deleted = env
        .api(
            RouteId::DeleteFile,
            "acme",
            Some(&id),
            "",
            None,
            &[("if-match", "W/\"2\"")],
        )
        .await;
    assert_eq!(deleted.status, 204);
    // Updates to a deleted record: 404.
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        Some(json!({"purpose": "y"})),
        &[],
    )
    .await
    .assert_problem(404, "not_found");
}

async fn put_replaces_every_mutable_field(env: TestEnv) {
    let id = create_id(
        &env,
        "acme",
        json!({"name": "a.txt", "mimeType": "text/plain", "purpose": "p", "tags": ["t"], "metadata": {"m": 1},
               "privateAccess": false, "directory": "/d"}),
    )
    .await;
    let reply = env
        .api(
            RouteId::ReplaceFile,
            "acme",
            Some(&id),
            "",
            Some(json!({"name": "b.txt", "mimeType": "text/csv"})),
            &[],
        )
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
        .api(
            RouteId::ReplaceFile,
            "acme",
            Some(&id),
            "",
            Some(json!({"purpose": "only"})),
            &[],
        )
        .await;
    missing.assert_problem(400, "validation_failed");
    assert_eq!(missing.error_fields(), ["name", "mimeType"]);
}

async fn batch_update_is_all_or_nothing(env: TestEnv) {
    let a = create_id(
        &env,
        "acme",
        json!({"name": "a.txt", "mimeType": "text/plain"}),
    )
    .await;
    let b = create_id(
        &env,
        "acme",
        json!({"name": "b.txt", "mimeType": "text/plain"}),
    )
    .await;
    let theirs = create_id(
        &env,
        "globex",
        json!({"name": "c.txt", "mimeType": "text/plain"}),
    )
    .await;

    // One bad element: nothing changes.
    let bad = env
        .api(
            RouteId::UpdateFiles,
            "acme",
            None,
            "",
            Some(json!([{"id": a, "purpose": "ok"}, {"id": b, "name": ""}])),
            &[],
        )
        .await;
    bad.assert_problem(400, "validation_failed");
    assert_eq!(bad.error_fields(), ["[1].name"]);
    // Another tenant's id is not found: nothing changes.
    env.api(
        RouteId::UpdateFiles,
        "acme",
        None,
        "",
        Some(json!([{"id": a, "purpose": "ok"}, {"id": theirs, "purpose": "x"}])),
        &[],
    )
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
        .api(
            RouteId::UpdateFiles,
            "acme",
            None,
            "",
            Some(json!([{"id": a, "purpose": "one"}, {"id": b, "tags": ["two"]}])),
            &[],
        )
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
        env.api(RouteId::UpdateFiles, "acme", None, "", Some(body), &[])
            .await
            .assert_problem(400, code);
    }
    for body in [
        json!([{"id": a}, {"id": a}]),
        json!([{"id": "nope"}]),
        json!([{"purpose": "no id"}]),
        json!([{"id": a, "externalId": "e"}]),
    ] {
        env.api(RouteId::UpdateFiles, "acme", None, "", Some(body), &[])
            .await
            .assert_problem(400, "validation_failed");
    }
}

// ---------------------------------------------------------------------------------------------
// Deletes

async fn delete_removes_the_record_and_its_bytes(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"bytes",
        )
        .await;
    let id = id_of(&file);
    let key = content_key(&env, &id).await;
    assert!(env.object_exists(&key).await);
    env.api(RouteId::DeleteFile, "globex", Some(&id), "", None, &[])
        .await
        .assert_problem(404, "not_found");
    assert!(
        env.object_exists(&key).await,
        "another tenant deletes nothing"
    );
    let reply = env
        .api(RouteId::DeleteFile, "acme", Some(&id), "", None, &[])
        .await;
    assert_eq!(reply.status, 204);
    assert!(!env.object_exists(&key).await, "the bytes are gone");
    env.get("acme", &id).await.assert_problem(404, "not_found");
    env.api(RouteId::DeleteFile, "acme", Some(&id), "", None, &[])
        .await
        .assert_problem(404, "not_found");
}

async fn batch_delete_reports_deleted_and_not_found(env: TestEnv) {
    let a = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"a",
        )
        .await;
    let a = id_of(&a);
    let b = create_id(
        &env,
        "acme",
        json!({"name": "b.txt", "mimeType": "text/plain"}),
    )
    .await;
    let theirs = create_id(
        &env,
        "globex",
        json!({"name": "c.txt", "mimeType": "text/plain"}),
    )
    .await;
    let ghost = ulid::Ulid::new().to_string();
    let key = content_key(&env, &a).await;
    let reply = env
        .api(
            RouteId::DeleteFiles,
            "acme",
            None,
            "",
            Some(json!({"ids": [a, theirs, b, ghost, a]})),
            &[],
        )
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
            .api(RouteId::DeleteFiles, "acme", None, "", Some(body), &[])
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
}

/// The file's bytes, through `GET /files/{id}/content`.
async fn download(env: &TestEnv, id: &str) -> Vec<u8> {
    let reply = env
        .api(RouteId::GetContent, "acme", Some(id), "", None, &[])
        .await;
    assert_eq!(reply.status, 302, "{}", reply.json);
    env.fetch(reply.headers["location"].to_str().unwrap())
        .await
        .1
}

async fn content_key(env: &TestEnv, id: &str) -> String {
    let who = stowage::model::TenantId::parse("acme").unwrap();
    let record = env
        .app
        .service
        .get(
            &stowage::identity::Identity {
                tenant: who,
                user: stowage::model::UserId::parse("alice").unwrap(),
            },
            stowage::model::FileId::parse(id).unwrap(),
        )
        .await
        .unwrap();
    record.record.content.expect("uploaded").key
}

// ---------------------------------------------------------------------------------------------
// Downloads, re-uploads, externalId

async fn content_redirects_to_a_presigned_download(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "résumé 2026.pdf", "mimeType": "application/pdf"}),
            b"%PDF",
        )
        .await;
    let id = id_of(&file);
    let reply = env
        .api(RouteId::GetContent, "acme", Some(&id), "", None, &[])
        .await;
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
        .api(
            RouteId::GetContent,
            "acme",
            Some(&id),
            "disposition=inline",
            None,
            &[],
        )
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

    env.api(
        RouteId::GetContent,
        "acme",
        Some(&id),
        "disposition=download",
        None,
        &[],
    )
    .await
    .assert_problem(400, "validation_failed");
    env.api(RouteId::GetContent, "globex", Some(&id), "", None, &[])
        .await
        .assert_problem(404, "not_found");
    let pending = create_id(
        &env,
        "acme",
        json!({"name": "p.txt", "mimeType": "text/plain"}),
    )
    .await;
    env.api(RouteId::GetContent, "acme", Some(&pending), "", None, &[])
        .await
        .assert_problem(409, "not_uploaded");
}

async fn a_reupload_keeps_the_old_content_until_the_new_bytes_land(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"old bytes",
        )
        .await;
    let id = id_of(&file);
    let old_key = content_key(&env, &id).await;
    let reply = env
        .api(
            RouteId::StartUpload,
            "acme",
            Some(&id),
            "",
            Some(json!({"size": 9})),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["file"]["status"], "uploaded", "still readable");
    assert_eq!(reply.json["file"]["expectedSize"], 9);
    let upload = reply.json["upload"].clone();
    assert_ne!(upload_key(&upload), old_key, "a new revision, a new key");

    assert_eq!(download(&env, &id).await, b"old bytes");
    env.upload(&upload, b"new bytes").await;
    // Once S3 holds the new object the upload is complete: the event (or, here, the repair
    // that reading performs when no event came yet) switches the record over.
    env.deliver(
        env.object_created_event(&upload_key(&upload), &env.next_sequencer())
            .await,
    )
    .await;
    assert_eq!(download(&env, &id).await, b"new bytes");
    assert!(
        !env.object_exists(&old_key).await,
        "the old object is deleted"
    );

    env.api(RouteId::StartUpload, "globex", Some(&id), "", None, &[])
        .await
        .assert_problem(404, "not_found");
    env.api(
        RouteId::StartUpload,
        "acme",
        Some(&id),
        "",
        Some(json!({"size": -1})),
        &[],
    )
    .await
    .assert_problem(400, "validation_failed");
}

async fn external_ids_are_unique_and_overwrite_uploads_a_new_version(env: TestEnv) {
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
    create_id(
        &env,
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
    let redirect = env
        .api(RouteId::GetContent, "acme", Some(&id), "", None, &[])
        .await;
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
    let redirect = env
        .api(RouteId::GetContent, "acme", Some(&id), "", None, &[])
        .await;
    assert_eq!(
        env.fetch(redirect.headers["location"].to_str().unwrap())
            .await
            .1,
        b"version 2"
    );

    // Changing a file's externalId to a taken one is a conflict too.
    let other = create_id(
        &env,
        "acme",
        json!({"name": "o.txt", "mimeType": "text/plain", "externalId": "doc-2"}),
    )
    .await;
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&other),
        "",
        Some(json!({"externalId": "doc-1"})),
        &[],
    )
    .await
    .assert_problem(409, "external_id_conflict");
    // Freed by a delete.
    env.api(RouteId::DeleteFile, "acme", Some(&id), "", None, &[])
        .await;
    let moved = env
        .api(
            RouteId::UpdateFile,
            "acme",
            Some(&other),
            "",
            Some(json!({"externalId": "doc-1"})),
            &[],
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
}

// ---------------------------------------------------------------------------------------------
// Temp files and public files

async fn temp_files_expire_everywhere_and_their_bytes_go(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
            b"temp",
        )
        .await;
    let id = id_of(&file);
    let key = content_key(&env, &id).await;
    assert!(key.starts_with("temp/"));
    env.advance(Duration::from_secs(59));
    assert_eq!(env.get("acme", &id).await.status, 200);
    env.advance(Duration::from_secs(1));
    env.get("acme", &id).await.assert_problem(404, "not_found");
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        Some(json!({"purpose": "x"})),
        &[],
    )
    .await
    .assert_problem(404, "not_found");
    env.api(RouteId::GetContent, "acme", Some(&id), "", None, &[])
        .await
        .assert_problem(404, "not_found");
    assert!(
        env.object_exists(&key).await,
        "until the backend removes the record"
    );
    // DynamoDB's TTL is in whole seconds (rounded up) and lags besides.
    env.advance(Duration::from_secs(2));
    assert_eq!(env.expire().await, 1);
    assert!(
        !env.object_exists(&key).await,
        "removing the record removed its bytes"
    );
}

async fn public_files_get_a_stable_url_and_toggle_without_reupload(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "logo.png", "mimeType": "image/png", "privateAccess": false}),
            b"PNG!",
        )
        .await;
    let id = id_of(&file);
    let public_key = format!("public/acme/{id}");
    let url = file["contentUrl"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&public_key), "{url}");
    assert!(
        !url.contains("X-Amz-Signature"),
        "no credentials, no expiry"
    );
    assert!(env.object_exists(&public_key).await);
    if env.backend == Backend::Embedded {
        assert_eq!(env.fetch(&url).await, (200, b"PNG!".to_vec()));
    }
    assert_eq!(env.get("acme", &id).await.json["contentUrl"], url, "stable");

    let private = env
        .api(
            RouteId::UpdateFile,
            "acme",
            Some(&id),
            "",
            Some(json!({"privateAccess": true})),
            &[],
        )
        .await;
    assert!(private.json["contentUrl"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Signature"));
    assert!(
        !env.object_exists(&public_key).await,
        "the public copy is withdrawn"
    );
    if env.backend == Backend::Embedded {
        assert_eq!(env.fetch(&url).await.0, 404);
    }
    env.api(
        RouteId::UpdateFile,
        "acme",
        Some(&id),
        "",
        Some(json!({"privateAccess": false})),
        &[],
    )
    .await;
    assert!(
        env.object_exists(&public_key).await,
        "public again, same bytes, no re-upload"
    );
    env.api(RouteId::DeleteFile, "acme", Some(&id), "", None, &[])
        .await;
    assert!(!env.object_exists(&public_key).await);
}

async fn every_route_hides_other_tenants_files(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "externalId": "e", "tags": ["t"]}),
            b"mine",
        )
        .await;
    let id = id_of(&file);
    let id = id.as_str();
    let patch = Some(json!({"purpose": "stolen"}));
    let put = Some(json!({"name": "x", "mimeType": "text/plain"}));
    for (route, body) in [
        (RouteId::GetFile, None),
        (RouteId::UpdateFile, patch.clone()),
        (RouteId::ReplaceFile, put),
        (RouteId::DeleteFile, None),
        (RouteId::GetContent, None),
        (RouteId::StartUpload, None),
    ] {
        env.api(route, "globex", Some(id), "", body, &[])
            .await
            .assert_problem(404, "not_found");
    }
    env.api(
        RouteId::UpdateFiles,
        "globex",
        None,
        "",
        Some(json!([{"id": id, "purpose": "stolen"}])),
        &[],
    )
    .await
    .assert_problem(404, "not_found");
    let batch = env
        .api(
            RouteId::DeleteFiles,
            "globex",
            None,
            "",
            Some(json!({"ids": [id]})),
            &[],
        )
        .await;
    assert_eq!(batch.json, json!({"deleted": [], "notFound": [id]}));
    for query in [
        "",
        "externalId=e",
        "tag=t",
        "name=a.txt",
        "uploadedBy=alice",
    ] {
        let page = env
            .api(RouteId::ListFiles, "globex", None, query, None, &[])
            .await;
        assert_eq!(ids(&page.json), Vec::<String>::new(), "{query}");
    }
    // Nothing changed for the owner.
    let mine = env.get("acme", id).await.json;
    assert_eq!(
        (mine["version"].clone(), mine["purpose"].clone()),
        (file["version"].clone(), Value::Null)
    );
    assert_eq!(download(&env, id).await, b"mine");
}

async fn the_sample_stream_event_cleans_up_a_removed_record(env: TestEnv) {
    let event: aws_lambda_events::dynamodb::Event =
        serde_json::from_value(stowage_tests::sample("dynamodb-record-removed.json")).unwrap();
    let key = "temp/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/1";
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(key)
        .body(b"left behind".to_vec().into())
        .send()
        .await
        .unwrap();
    let cleaned = stowage::events::on_records_removed(&env.app, event)
        .await
        .unwrap();
    assert_eq!(cleaned, 1);
    assert!(!env.object_exists(key).await);
}

async fn a_reupload_whose_event_was_lost_is_repaired_by_get(env: TestEnv) {
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"old",
        )
        .await;
    let id = id_of(&file);
    let reply = env
        .api(RouteId::StartUpload, "acme", Some(&id), "", None, &[])
        .await;
    env.upload(&reply.json["upload"], b"newer").await;
    let got = env.get("acme", &id).await.json;
    assert_eq!(got["size"], 5, "{got}");
    assert_eq!(download(&env, &id).await, b"newer");
}

async fn concurrent_creates_cannot_share_an_external_id(env: TestEnv) {
    let attempts = (0..8).map(|i| {
        let request = stowage_tests::create_request(
            "acme",
            "alice",
            &json!({"name": format!("{i}.txt"), "mimeType": "text/plain", "externalId": "race"}),
        );
        env.call(RouteId::CreateFile, request)
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 7),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let page = env
        .api(
            RouteId::ListFiles,
            "acme",
            None,
            "externalId=race",
            None,
            &[],
        )
        .await;
    assert_eq!(ids(&page.json).len(), 1);
}

stowage_tests::on_every_backend!(
    concurrent_creates_cannot_share_an_external_id,
    a_reupload_whose_event_was_lost_is_repaired_by_get,
    every_route_hides_other_tenants_files,
    the_sample_stream_event_cleans_up_a_removed_record,
    listing_is_newest_first_and_pages_without_gaps_or_duplicates,
    every_filter_selects_exactly_its_files,
    expired_records_never_appear,
    bad_list_parameters_are_400,
    filtered_listing_reads_about_one_page_however_many_files,
    patch_merges_and_bumps_the_version,
    read_only_fields_pass_only_with_their_current_value,
    if_match_guards_updates_and_deletes,
    put_replaces_every_mutable_field,
    batch_update_is_all_or_nothing,
    delete_removes_the_record_and_its_bytes,
    batch_delete_reports_deleted_and_not_found,
    content_redirects_to_a_presigned_download,
    a_reupload_keeps_the_old_content_until_the_new_bytes_land,
    external_ids_are_unique_and_overwrite_uploads_a_new_version,
    temp_files_expire_everywhere_and_their_bytes_go,
    public_files_get_a_stable_url_and_toggle_without_reupload,
);
