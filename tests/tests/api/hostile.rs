//! Hostile input a schema fuzzer will not think of. Every case must answer a clear 4xx
//! problem+json and write nothing.

use serde_json::json;
use stowage::http::{RouteId, ROUTES};
use stowage_tests::{raw_request as raw, valid_body, TestEnv};

/// `{"k": …}` with `levels` levels of nesting in all.
fn nested_metadata(levels: usize) -> String {
    format!(
        "{{\"k\": {}1{}}}",
        "{\"a\": ".repeat(levels - 1),
        "}".repeat(levels - 1)
    )
}

async fn hostile_create_bodies_are_4xx_and_write_nothing(env: TestEnv) {
    env.check_policies();
    let create = |body: String, content_type: Option<&'static str>| {
        raw(
            RouteId::CreateFile,
            "acme",
            None,
            body.as_bytes(),
            content_type,
        )
    };
    let json = Some("application/json");
    let with =
        |fields: &str| format!("{{\"name\": \"a.txt\", \"mimeType\": \"text/plain\"{fields}}}");
    let cases: Vec<(String, Option<&'static str>, u16, &str)> = vec![
        // Over the body limit, whatever it holds.
        (
            with(&format!(
                ", \"metadata\": {{\"k\": \"{}\"}}",
                "v".repeat(300_000)
            )),
            json,
            413,
            "payload_too_large",
        ),
        // Deeper than serde_json's recursion limit, and deeper than the metadata limit.
        (
            format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)),
            json,
            400,
            "invalid_json",
        ),
        (
            with(&format!(", \"metadata\": {}", nested_metadata(200))),
            json,
            400,
            "invalid_json",
        ),
        (
            with(&format!(", \"metadata\": {}", nested_metadata(33))),
            json,
            400,
            "validation_failed",
        ),
        // Huge metadata: too many bytes, too many keys, a too-long key.
        (
            with(&format!(
                ", \"metadata\": {{\"k\": \"{}\"}}",
                "v".repeat(20_000)
            )),
            json,
            400,
            "validation_failed",
        ),
        (
            with(&format!(
                ", \"metadata\": {{{}}}",
                (0..300)
                    .map(|i| format!("\"k{i}\": 1"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            json,
            400,
            "validation_failed",
        ),
        (
            with(&format!(", \"metadata\": {{\"{}\": 1}}", "k".repeat(129))),
            json,
            400,
            "validation_failed",
        ),
        (
            with(", \"metadata\": [1, 2]"),
            json,
            400,
            "validation_failed",
        ),
        // Invalid UTF-8 inside a string, and a lone surrogate escape.
        (
            "{\"name\": \"a\u{0}\", \"mimeType\": \"text/plain\"}".replace('\u{0}', "\\u0000"),
            json,
            400,
            "validation_failed",
        ),
        (
            "{\"name\": \"\\ud800\", \"mimeType\": \"text/plain\"}".to_owned(),
            json,
            400,
            "invalid_json",
        ),
        // Names with control characters and path tricks.
        (
            r#"{"name": "a\nb.txt", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "a\u0007.txt", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "a\u0085.txt", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "../../etc/passwd", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "..\\..\\boot.ini", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "..", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (
            with(r#", "directory": "/a/../../b""#),
            json,
            400,
            "validation_failed",
        ),
        (
            with(r#", "directory": "relative/path""#),
            json,
            400,
            "validation_failed",
        ),
        (
            with(r#", "directory": "/a//b""#),
            json,
            400,
            "validation_failed",
        ),
        (
            r#"{"name": "a.txt", "mimeType": "text/plain\r\nx-amz-acl: public-read"}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        // Duplicate keys, at the top and nested.
        (
            r#"{"name": "a.txt", "name": "../x", "mimeType": "text/plain"}"#.to_owned(),
            json,
            400,
            "invalid_json",
        ),
        (
            with(r#", "metadata": {"k": 1, "k": 2}"#),
            json,
            400,
            "invalid_json",
        ),
        // Wrong types and shapes.
        (
            r#"{"name": 7, "mimeType": ["text/plain"]}"#.to_owned(),
            json,
            400,
            "validation_failed",
        ),
        (with(r#", "size": -1"#), json, 400, "validation_failed"),
        (with(r#", "size": 1e400"#), json, 400, "invalid_json"),
        (
            with(r#", "size": 18446744073709551616"#),
            json,
            400,
            "validation_failed",
        ),
        (with(r#", "tags": "a""#), json, 400, "validation_failed"),
        (
            with(r#", "privateAccess": "false""#),
            json,
            400,
            "validation_failed",
        ),
        (
            with(r#", "id": "01KAQ3V6T0Z9Y8X7W6V5T4S3R2""#),
            json,
            400,
            "validation_failed",
        ),
        (
            with(r#", "tenant": "globex""#),
            json,
            400,
            "validation_failed",
        ),
        ("null".to_owned(), json, 400, "invalid_body"),
        ("{} trailing".to_owned(), json, 400, "invalid_json"),
        // Wrong or missing Content-Type on a good body.
        (with(""), Some("text/plain"), 415, "unsupported_media_type"),
        (
            with(""),
            Some("application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (
            with(""),
            Some("multipart/form-data; boundary=x"),
            415,
            "unsupported_media_type",
        ),
        (
            with(""),
            Some("application/jsonx"),
            415,
            "unsupported_media_type",
        ),
        (
            with(""),
            Some("not a media type"),
            415,
            "unsupported_media_type",
        ),
        (with(""), None, 415, "unsupported_media_type"),
    ];
    for (body, content_type, status, code) in cases {
        let shown: String = body.chars().take(80).collect();
        let reply = env
            .call(RouteId::CreateFile, create(body, content_type))
            .await;
        assert_eq!(
            (
                reply.status,
                reply.json["code"].as_str().unwrap_or_default()
            ),
            (status, code),
            "{shown} ({content_type:?}): {}",
            reply.json
        );
        reply.assert_problem(status, code);
    }
    // Bytes that are not UTF-8 inside a string.
    env.call(
        RouteId::CreateFile,
        raw(
            RouteId::CreateFile,
            "acme",
            None,
            b"{\"name\": \"a\xff\xfe.txt\", \"mimeType\": \"text/plain\"}",
            json,
        ),
    )
    .await
    .assert_problem(400, "invalid_json");
    assert!(env.listed("acme").await.is_empty(), "nothing was written");

    // The same body with a JSON content type and parameters is fine.
    let ok = env
        .call(
            RouteId::CreateFile,
            create(with(""), Some("application/json; charset=utf-8")),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.json);
}

async fn hostile_ids_are_400_on_every_id_route(env: TestEnv) {
    env.check_policies();
    let bad_ids = [
        "abc",
        "..%2F..%2Fetc",
        "../../etc",
        "%2e%2e",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3R2%00",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3R",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3R22",
        "81KAQ3V6T0Z9Y8X7W6V5T4S3R2",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3RU",
        "%FF%FE",
        "🙂",
    ];
    for route in ROUTES.iter().filter(|r| r.path.contains("{id}")) {
        for bad in bad_ids {
            let reply = env
                .route(route.id, "acme")
                .id(bad)
                .maybe_body(valid_body(route.id))
                .send()
                .await;
            assert_eq!(reply.status, 400, "{} {bad}: {}", route.path, reply.json);
            reply.assert_problem(400, "invalid_id");
        }
    }
    for (route, body) in [
        (RouteId::DeleteFiles, json!({"ids": ["../x"]})),
        (RouteId::UpdateFiles, json!([{"id": "../x", "tags": []}])),
    ] {
        env.route(route, "acme")
            .body(body)
            .send()
            .await
            .assert_problem(400, "validation_failed");
    }
}

async fn hostile_list_queries_are_400(env: TestEnv) {
    env.check_policies();
    for query in [
        "limit=0",
        "limit=-1",
        "limit=1000000000",
        "limit=1e3",
        "limit=%2B5",
        "limit=",
        "limit=1&limit=2",
        "status=gone",
        "kind=TEMP",
        "createdAfter=yesterday",
        "name=",
        "unknown=1",
        "cursor=",
        "directory=%07",
    ] {
        let reply = env
            .route(RouteId::ListFiles, "acme")
            .query(query)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
    }
    let long_cursor = format!("cursor={}", "A".repeat(2_000));
    env.route(RouteId::ListFiles, "acme")
        .query(&long_cursor)
        .send()
        .await
        .assert_problem(400, "validation_failed");

    // Garbage cursors, and cursors of another filter or another tenant.
    for i in 0..3 {
        env.create(
            "acme",
            json!({"name": format!("{i}.txt"), "mimeType": "text/plain", "purpose": "p"}),
        )
        .await;
    }
    let page = env
        .route(RouteId::ListFiles, "acme")
        .query("limit=1")
        .send()
        .await;
    let cursor = page.json["nextCursor"].as_str().unwrap().to_owned();
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"below":"01KAQ3V6T0Z9Y8X7W6V5T4S3R2","filters":"x"}"#);
    for query in [
        "cursor=not-a-cursor!".to_owned(),
        "cursor=e30".to_owned(), // {}
        format!("cursor={forged}"),
        format!("cursor={cursor}&purpose=p"),
        format!("cursor={cursor}&tag=x"),
    ] {
        env.route(RouteId::ListFiles, "acme")
            .query(&query)
            .send()
            .await
            .assert_problem(400, "invalid_cursor");
    }
    env.route(RouteId::ListFiles, "globex")
        .query(&format!("cursor={cursor}"))
        .send()
        .await
        .assert_problem(400, "invalid_cursor");
    // The cursor still works for its owner and filters.
    let next = env
        .route(RouteId::ListFiles, "acme")
        .query(&format!("limit=1&cursor={cursor}"))
        .send()
        .await;
    assert_eq!(next.status, 200, "{}", next.json);
    assert_eq!(next.json["items"].as_array().unwrap().len(), 1);
}

stowage_tests::on_every_backend!(
    hostile_create_bodies_are_4xx_and_write_nothing,
    hostile_ids_are_400_on_every_id_route,
    hostile_list_queries_are_400,
);
