//! Listing on both backends: order, paging, every filter, expiry, bad parameters, and the
//! cost of a page.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, ids, TestEnv};

async fn listing_is_newest_first_and_pages_without_gaps_or_duplicates(env: TestEnv) {
    env.check_policies();
    let mut created = Vec::new();
    for i in 0..7 {
        env.advance(Duration::from_millis(5));
        created.push(
            env.create_id(
                "acme",
                json!({"name": format!("f{i}.txt"), "mimeType": "text/plain"}),
            )
            .await,
        );
    }
    env.create_id(
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
            .route(RouteId::ListFiles, "acme")
            .query(&query)
            .send()
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

    let all = env.route(RouteId::ListFiles, "acme").send().await;
    assert_eq!(ids(&all.json), created, "default limit 30 holds them all");
    assert_eq!(all.json["nextCursor"], Value::Null);
}

async fn every_filter_selects_exactly_its_files(env: TestEnv) {
    env.check_policies();
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
            .route(RouteId::ListFiles, "acme")
            .query(&query.replace('+', "%2B"))
            .send()
            .await;
        assert_eq!(page.status, 200, "{query}: {}", page.json);
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(ids(&page.json), want, "{query}");
    }
    // Another tenant sees none of them, whatever the filter.
    let theirs = env
        .route(RouteId::ListFiles, "globex")
        .query("externalId=ext-a")
        .send()
        .await;
    assert_eq!(ids(&theirs.json), Vec::<String>::new());
}

async fn expired_records_never_appear(env: TestEnv) {
    env.check_policies();
    env.create_id(
        "acme",
        json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 60}),
    )
    .await;
    let keep = env
        .create_id("acme", json!({"name": "c.txt", "mimeType": "text/plain"}))
        .await;
    env.advance(Duration::from_secs(61));
    let page = env.route(RouteId::ListFiles, "acme").send().await;
    assert_eq!(ids(&page.json), vec![keep.clone()]);
    let page = env
        .route(RouteId::ListFiles, "acme")
        .query("kind=temp")
        .send()
        .await;
    assert_eq!(ids(&page.json), Vec::<String>::new());
}

async fn bad_list_parameters_are_400(env: TestEnv) {
    env.check_policies();
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
            .route(RouteId::ListFiles, "acme")
            .query(query)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
    env.route(RouteId::ListFiles, "acme")
        .query("cursor=garbage")
        .send()
        .await
        .assert_problem(400, "invalid_cursor");
    for i in 0..3 {
        env.create_id(
            "acme",
            json!({"name": format!("{i}"), "mimeType": "text/plain", "purpose": "p"}),
        )
        .await;
    }
    let first = env
        .route(RouteId::ListFiles, "acme")
        .query("limit=1&purpose=p")
        .send()
        .await;
    let cursor = first.json["nextCursor"].as_str().unwrap().to_owned();
    // The cursor belongs to its filters…
    env.route(RouteId::ListFiles, "acme")
        .query(&format!("limit=1&cursor={cursor}"))
        .send()
        .await
        .assert_problem(400, "invalid_cursor");
    // …nor by another tenant, even with the same filters.
    env.route(RouteId::ListFiles, "globex")
        .query(&format!("limit=1&purpose=p&cursor={cursor}"))
        .send()
        .await
        .assert_problem(400, "invalid_cursor");
}

async fn filtered_listing_reads_about_one_page_however_many_files(env: TestEnv) {
    env.check_policies();
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
            record.collection =
                stowage::model::CollectionName::parse_as("collection", "rare").unwrap();
        }
        env.insert_record(&record).await;
    }
    let who = env.who("acme");
    let limit = 10;
    let since = stowage::model::Timestamp::from_millis(now + 1_989).to_rfc3339();
    for filter in [
        "name=rare.txt".to_owned(),
        "purpose=rare".to_owned(),
        "directory=/rare".to_owned(),
        "tag=rare".to_owned(),
        "uploadedBy=bob".to_owned(),
        "collection=rare".to_owned(),
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

async fn a_directory_prefix_matches_whole_path_segments(env: TestEnv) {
    env.check_policies();
    let mut by_directory = std::collections::HashMap::new();
    for directory in ["/docs", "/docs/x", "/docs-old", "/doc"] {
        let id = env
            .create_id(
                "acme",
                json!({"name": "f.txt", "mimeType": "text/plain", "directory": directory}),
            )
            .await;
        by_directory.insert(directory, id);
        env.advance(Duration::from_millis(2));
    }
    for (prefix, want) in [
        ("/docs", vec!["/docs/x", "/docs"]),
        ("/docs/", vec!["/docs/x"]),
        ("/doc", vec!["/doc"]),
        ("/", vec!["/doc", "/docs-old", "/docs/x", "/docs"]),
    ] {
        let reply = env
            .route(RouteId::ListFiles, "acme")
            .query(&format!("directoryPrefix={prefix}"))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let want: Vec<String> = want.iter().map(|d| by_directory[d].clone()).collect();
        assert_eq!(ids(&reply.json), want, "directoryPrefix={prefix}");
    }
}

stowage_tests::on_every_backend!(
    a_directory_prefix_matches_whole_path_segments,
    listing_is_newest_first_and_pages_without_gaps_or_duplicates,
    every_filter_selects_exactly_its_files,
    expired_records_never_appear,
    bad_list_parameters_are_400,
    filtered_listing_reads_about_one_page_however_many_files,
);
