//! Handler-level tests through `lambda_http` requests built from the samples in `events/`:
//! identity, and a clear problem+json for every kind of bad request.

use lambda_http::Body;
use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{create_request, sample, to_request, with_identity, TestEnv};

fn with_raw_body(mut event: Value, body: &str) -> Value {
    event["body"] = json!(body);
    event
}

async fn the_sample_create_event_creates_a_file(env: TestEnv) {
    let reply = env
        .call(RouteId::CreateFile, to_request(&sample("create-file.json")))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(reply.content_type(), "application/json");
    let file = &reply.json["file"];
    let id = file["id"].as_str().unwrap();
    assert_eq!(reply.headers["location"], format!("/files/{id}").as_str());
    assert_eq!(reply.headers["etag"], "\"1\"");
    assert_eq!(file["name"], "report.pdf");
    assert_eq!(file["kind"], "client");
    assert_eq!(file["privateAccess"], true);
    assert_eq!(file["tags"], json!(["invoices", "2026"]));
    assert_eq!(file["metadata"], json!({"customer": "c-42"}));
    assert_eq!(file["directory"], "/invoices/2026");
    assert_eq!(file["uploadedBy"], "alice");
    assert_eq!(file["version"], 1);
    assert_eq!(file["contentUrl"], Value::Null);
    assert_eq!(
        file["externalId"],
        Value::Null,
        "absent optional fields are written as null"
    );
    assert_eq!(id.len(), 26);
    let upload = &reply.json["upload"];
    assert!(upload["url"].as_str().unwrap().contains("X-Amz-Signature="));
    assert!(upload["expiresAt"].is_string());
}

async fn the_sample_get_event_for_an_unknown_id_is_404(env: TestEnv) {
    let reply = env
        .call(RouteId::GetFile, to_request(&sample("get-file.json")))
        .await;
    reply.assert_problem(404, "not_found");
}

async fn requests_without_an_identity_are_401(env: TestEnv) {
    for (route, event) in [
        (RouteId::CreateFile, sample("create-file.json")),
        (RouteId::GetFile, sample("get-file.json")),
    ] {
        let reply = env
            .call(route, to_request(&with_identity(event.clone(), None)))
            .await;
        reply.assert_problem(401, "unauthorized");
        assert_eq!(reply.headers["www-authenticate"], "Bearer");

        // Claims present, but not the tenant claim.
        let mut no_tenant = event.clone();
        no_tenant["requestContext"]["authorizer"]["jwt"]["claims"]
            .as_object_mut()
            .unwrap()
            .remove("tenant_id");
        env.call(route, to_request(&no_tenant))
            .await
            .assert_problem(401, "unauthorized");

        // A tenant claim that is not a valid id.
        let bad_tenant = with_identity(event, Some(("bad\u{1}tenant", "alice")));
        env.call(route, to_request(&bad_tenant))
            .await
            .assert_problem(401, "unauthorized");
    }
}

async fn malformed_bodies_are_400_invalid_json(env: TestEnv) {
    for body in ["{", "{\"name\": }", "nul", "   ", "", "\u{feff}{}"] {
        let event = with_raw_body(sample("create-file.json"), body);
        env.call(RouteId::CreateFile, to_request(&event))
            .await
            .assert_problem(400, "invalid_json");
    }
}

async fn bodies_that_are_not_objects_are_400(env: TestEnv) {
    for body in ["[]", "\"file\"", "42", "null", "true"] {
        let event = with_raw_body(sample("create-file.json"), body);
        env.call(RouteId::CreateFile, to_request(&event))
            .await
            .assert_problem(400, "invalid_body");
    }
}

async fn invalid_utf8_is_400_not_500(env: TestEnv) {
    let req = create_request("acme", "alice", &json!({}));
    let (parts, _) = req.into_parts();
    let mut bytes = br#"{"name": "a"#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(br#"", "mimeType": "text/plain"}"#);
    let req = lambda_http::Request::from_parts(parts, Body::Binary(bytes));
    env.call(RouteId::CreateFile, req)
        .await
        .assert_problem(400, "invalid_json");
}

async fn field_problems_are_400_naming_each_field(env: TestEnv) {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["name", "mimeType"]),
        (json!({"name": 1, "mimeType": "text/plain"}), vec!["name"]),
        (
            json!({"name": "a", "mimeType": "not a type"}),
            vec!["mimeType"],
        ),
        (
            json!({"name": "a\nb", "mimeType": "text/plain"}),
            vec!["name"],
        ),
        (
            json!({"name": "x".repeat(256), "mimeType": "text/plain"}),
            vec!["name"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "tags": "x"}),
            vec!["tags"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "tags": (0..61).map(|i| i.to_string()).collect::<Vec<_>>()}),
            vec!["tags"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "metadata": {"k": "v".repeat(10_240)}}),
            vec!["metadata"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "size": -5}),
            vec!["size"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "size": "5"}),
            vec!["size"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "privateAccess": "no"}),
            vec!["privateAccess"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "directory": "relative/path"}),
            vec!["directory"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "externalId": "e".repeat(256)}),
            vec!["externalId"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "purpose": "p".repeat(65)}),
            vec!["purpose"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "source": "s".repeat(129)}),
            vec!["source"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "checksumSha256": "abc"}),
            vec!["checksumSha256"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "uploadUrlExpiresIn": 604_801}),
            vec!["uploadUrlExpiresIn"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 0}),
            vec!["ttlSeconds"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "colour": "red"}),
            vec!["colour"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "id": "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"}),
            vec!["id"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "multipart": true}),
            vec!["size"],
        ),
        (
            json!({"name": "a", "mimeType": "text/plain", "size": 200_000_000,
                   "checksumSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}),
            vec!["checksumSha256"],
        ),
    ];
    for (body, fields) in cases {
        let reply = env
            .call(RouteId::CreateFile, create_request("acme", "alice", &body))
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), fields, "for {body}");
    }
}

async fn oversized_bodies_are_413(env: TestEnv) {
    let body =
        json!({"name": "a", "mimeType": "text/plain", "metadata": {"k": "v".repeat(300 * 1024)}});
    env.call(RouteId::CreateFile, create_request("acme", "alice", &body))
        .await
        .assert_problem(413, "payload_too_large");
}

async fn bodies_that_are_not_json_are_415(env: TestEnv) {
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut event = sample("create-file.json");
        match content_type {
            Some(ct) => event["headers"]["content-type"] = json!(ct),
            None => {
                event["headers"]
                    .as_object_mut()
                    .unwrap()
                    .remove("content-type");
            }
        }
        env.call(RouteId::CreateFile, to_request(&event))
            .await
            .assert_problem(415, "unsupported_media_type");
    }
    // A JSON content type with parameters or a +json suffix is fine.
    for ct in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let mut event = sample("create-file.json");
        event["headers"]["content-type"] = json!(ct);
        assert_eq!(
            env.call(RouteId::CreateFile, to_request(&event))
                .await
                .status,
            201,
            "{ct}"
        );
    }
}

async fn ids_of_the_wrong_shape_are_400(env: TestEnv) {
    for id in [
        "abc",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3R",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3R2X",
        "01KAQ3V6T0Z9Y8X7W6V5T4S3RU",
        "..%2F..%2Fetc",
    ] {
        env.get("acme", id).await.assert_problem(400, "invalid_id");
    }
}

stowage_tests::on_every_backend!(
    every_body_route_rejects_bad_bodies,
    every_id_route_rejects_bad_and_unknown_ids,
    the_sample_create_event_creates_a_file,
    the_sample_get_event_for_an_unknown_id_is_404,
    requests_without_an_identity_are_401,
    malformed_bodies_are_400_invalid_json,
    bodies_that_are_not_objects_are_400,
    invalid_utf8_is_400_not_500,
    field_problems_are_400_naming_each_field,
    oversized_bodies_are_413,
    bodies_that_are_not_json_are_415,
    ids_of_the_wrong_shape_are_400,
);

/// `route` for tenant acme on `id`, with a raw body and content type.
fn raw(
    route: RouteId,
    id: Option<&str>,
    body: &[u8],
    content_type: Option<&str>,
) -> lambda_http::Request {
    stowage_tests::raw_request(route, "acme", id, body, content_type)
}

const BODY_ROUTES: [(RouteId, bool); 5] = [
    (RouteId::UpdateFile, true),
    (RouteId::ReplaceFile, true),
    (RouteId::StartUpload, true),
    (RouteId::UpdateFiles, false),
    (RouteId::DeleteFiles, false),
];

async fn every_body_route_rejects_bad_bodies(env: TestEnv) {
    let id = env
        .create("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await
        .json["file"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (route, takes_id) in BODY_ROUTES {
        let id = takes_id.then_some(id.as_str());
        for body in [&b"{"[..], b"{\"a\": }", b"\xff\xfe", b"nul"] {
            env.call(route, raw(route, id, body, Some("application/json")))
                .await
                .assert_problem(400, "invalid_json");
        }
        env.call(route, raw(route, id, b"{}", Some("text/plain")))
            .await
            .assert_problem(415, "unsupported_media_type");
        let huge = format!(
            "{{\"metadata\": {{\"k\": \"{}\"}}}}",
            "v".repeat(300 * 1024)
        );
        env.call(
            route,
            raw(route, id, huge.as_bytes(), Some("application/json")),
        )
        .await
        .assert_problem(413, "payload_too_large");
        let wrong_shape = if takes_id {
            b"[]".as_slice()
        } else {
            b"\"x\"".as_slice()
        };
        let reply = env
            .call(route, raw(route, id, wrong_shape, Some("application/json")))
            .await;
        assert_eq!(reply.status, 400, "{route:?}: {}", reply.json);
    }
    assert_eq!(
        env.get("acme", &id).await.json["version"],
        1,
        "nothing was written"
    );
}

async fn every_id_route_rejects_bad_and_unknown_ids(env: TestEnv) {
    let unknown = ulid::Ulid::new().to_string();
    for route in [
        RouteId::GetFile,
        RouteId::UpdateFile,
        RouteId::ReplaceFile,
        RouteId::DeleteFile,
        RouteId::GetContent,
        RouteId::StartUpload,
    ] {
        let body = match route {
            RouteId::ReplaceFile => Some(json!({"name": "a", "mimeType": "text/plain"})),
            RouteId::UpdateFile => Some(json!({"purpose": "p"})),
            _ => None,
        };
        for bad in ["abc", "..%2F..%2Fetc", "01KAQ3V6T0Z9Y8X7W6V5T4S3RU"] {
            env.route(route, "acme")
                .id(bad)
                .maybe_body(body.clone())
                .send()
                .await
                .assert_problem(400, "invalid_id");
        }
        env.route(route, "acme")
            .id(&unknown)
            .maybe_body(body.clone())
            .send()
            .await
            .assert_problem(404, "not_found");
        let anonymous =
            stowage_tests::api_request(route, "acme", Some(&unknown), "", body.as_ref(), &[]);
        let (mut parts, body) = anonymous.into_parts();
        parts
            .extensions
            .insert(lambda_http::request::RequestContext::ApiGatewayV2(
                Default::default(),
            ));
        env.call(route, lambda_http::Request::from_parts(parts, body))
            .await
            .assert_problem(401, "unauthorized");
    }
}
