//! Traces: a function's invocation, run as its Lambda bootstrap runs it
//! (`bootstrap::invoke_route`, `bootstrap::traced`) with a sampled trace header, sends X-Ray
//! subsegments to the daemon's address: one for the handler under Lambda's function segment,
//! one for each AWS call under the handler's, with its service, operation, status and request
//! id. Here the daemon is a UDP socket of the test's own, and the calls go to moto through the
//! app's real clients.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::RequestExt as _;
use serde_json::{json, Value};
use stowage::xray::Tracer;
use stowage_tests::{moto_dynamodb_client, moto_s3_client, moto_storage, Outage};

const ROOT: &str = "1-6750a1b2-0123456789abcdef01234567";
const PARENT: &str = "53995c3f42cd8ad8";

/// The datagrams the "daemon" received until none came for 300 ms, as (header, document).
fn received(daemon: &UdpSocket) -> Vec<Value> {
    daemon
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut documents = Vec::new();
    let mut buffer = vec![0u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..n]).expect("UTF-8");
        let (header, body) = text
            .split_once('\n')
            .expect("a header line, then the document");
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        documents.push(serde_json::from_str(body).expect("a JSON document"));
    }
    documents
}

/// A traced app on a fresh moto world: its DynamoDB and S3 clients carry the tracer's
/// interceptor, as `bootstrap::traced_clients` builds them in a function with active tracing;
/// with the S3 client's outage switch.
async fn traced_app() -> (stowage::App, Arc<Tracer>, UdpSocket, Outage, String) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tracer = Tracer::to(daemon.local_addr().unwrap()).expect("a UDP socket");
    let (sdk, config) = moto_storage(&[]).await;
    let outage = Outage::default();
    let dynamodb = moto_dynamodb_client(&sdk, Outage::default());
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        dynamodb
            .config()
            .to_builder()
            .interceptor(tracer.interceptor())
            .build(),
    );
    let s3 = moto_s3_client(&sdk, outage.clone());
    let s3 = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .interceptor(tracer.interceptor())
            .build(),
    );
    let app = stowage::bootstrap::aws_app_with_clients(
        &config,
        &sdk,
        dynamodb,
        s3,
        Arc::new(stowage::service::SystemClock),
    )
    .unwrap();
    (app, tracer, daemon, outage, config.bucket)
}

fn context(header: &str) -> lambda_http::lambda_runtime::Context {
    let mut context = lambda_http::lambda_runtime::Context::default();
    context.xray_trace_id = Some(header.to_owned());
    context
}

fn sampled() -> String {
    format!("Root={ROOT};Parent={PARENT};Sampled=1")
}

/// Checks the fields every subsegment has; returns it.
fn well_formed(document: &Value) -> &Value {
    assert_eq!(document["type"], "subsegment", "{document}");
    assert_eq!(document["trace_id"], ROOT, "{document}");
    let id = document["id"].as_str().unwrap();
    assert!(
        id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{document}"
    );
    let (start, end) = (
        document["start_time"].as_f64().unwrap(),
        document["end_time"].as_f64().unwrap(),
    );
    assert!(start > 1.7e9 && start <= end, "{document}");
    document
}

#[tokio::test]
async fn a_route_sends_its_subsegment_and_one_per_aws_call() {
    let (app, tracer, daemon, _, _) = traced_app().await;
    // A multipart create: a transaction in DynamoDB and a CreateMultipartUpload in S3.
    let body = json!({"name": "big.bin", "mimeType": "application/octet-stream",
        "multipart": true, "expectedSize": 20_000_000});
    let req = stowage_tests::create_request("acme", "alice", &body)
        .with_lambda_context(context(&sampled()));
    let response = stowage::bootstrap::invoke_route::<stowage::http::CreateFile, _, _>(
        &app,
        Some(&tracer),
        &req,
    )
    .await;
    assert_eq!(response.status(), 201);
    let documents = received(&daemon);

    let handler: Vec<&Value> = documents
        .iter()
        .filter(|d| d["namespace"].is_null())
        .collect();
    assert_eq!(handler.len(), 1, "{documents:#?}");
    let handler = well_formed(handler[0]);
    assert_eq!(handler["name"], "POST /files");
    assert_eq!(
        handler["parent_id"], PARENT,
        "under Lambda's function segment"
    );
    assert_eq!(handler["http"]["response"]["status"], 201);
    assert!(handler.get("fault").is_none() && handler.get("error").is_none());

    let calls: Vec<&Value> = documents
        .iter()
        .filter(|d| d["namespace"] == "aws")
        .collect();
    assert!(calls.len() >= 2, "{documents:#?}");
    for call in &calls {
        well_formed(call);
        assert_eq!(
            call["parent_id"], handler["id"],
            "under the handler: {call}"
        );
        assert!(call["start_time"].as_f64() >= handler["start_time"].as_f64());
        assert!(call["end_time"].as_f64() <= handler["end_time"].as_f64());
        assert_eq!(call["http"]["response"]["status"], 200, "{call}");
        assert!(call["aws"]["operation"]
            .as_str()
            .is_some_and(|o| !o.is_empty()));
        assert_eq!(call["aws"]["retries"], 0);
        assert!(
            call["aws"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{call}"
        );
    }
    let seen: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["aws"]["operation"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        seen.contains(&("S3".into(), "CreateMultipartUpload".into())),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(name, _)| name == "DynamoDB"), "{seen:?}");
    // A presigned URL is made, not sent: no subsegment for it.
    assert!(!seen.iter().any(|(_, op)| op == "UploadPart"), "{seen:?}");

    // A 404: the handler's subsegment is an error, not a fault.
    let req = stowage_tests::get_request("acme", "alice", "01KAQ3V6T0Z9Y8X7W6V5T4S3R2")
        .with_lambda_context(context(&sampled()));
    let response =
        stowage::bootstrap::invoke_route::<stowage::http::GetFile, _, _>(&app, Some(&tracer), &req)
            .await;
    assert_eq!(response.status(), 404);
    let documents = received(&daemon);
    let handler = documents.iter().find(|d| d["namespace"].is_null()).unwrap();
    assert_eq!(handler["name"], "GET /files/{id}");
    assert_eq!(handler["error"], true);
    assert!(handler.get("fault").is_none());
}

#[tokio::test]
async fn unsampled_or_untraced_invocations_send_nothing() {
    let (app, tracer, daemon, _, _) = traced_app().await;
    let body = json!({"name": "a.txt", "mimeType": "text/plain"});
    for header in [
        Some(format!("Root={ROOT};Parent={PARENT};Sampled=0")),
        Some(format!("Root={ROOT};Sampled=1")),
        None,
    ] {
        let mut req = stowage_tests::create_request("acme", "alice", &body);
        if let Some(header) = &header {
            req = req.with_lambda_context(context(header));
        }
        let response = stowage::bootstrap::invoke_route::<stowage::http::CreateFile, _, _>(
            &app,
            Some(&tracer),
            &req,
        )
        .await;
        assert_eq!(response.status(), 201);
        assert_eq!(received(&daemon), Vec::<Value>::new(), "{header:?}");
    }
}

#[tokio::test]
async fn an_event_function_and_a_failed_call_are_traced_as_faults() {
    let (app, tracer, daemon, outage, bucket) = traced_app().await;
    // An S3 event of an object no record owns: on-object-created reads the record (DynamoDB),
    // then deletes the stray object (S3), which cannot be reached.
    let event = stowage_tests::s3_event(
        &bucket,
        "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/1",
        3,
        "\"etag\"",
        "0000000000000001",
    );
    outage.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = stowage::bootstrap::traced(
        Some(&tracer),
        &context(&sampled()),
        "on-object-created",
        stowage::events::on_object_created(&app, event),
    )
    .await;
    assert!(result.is_err(), "the S3 call failed");
    let documents = received(&daemon);
    let handler = documents.iter().find(|d| d["namespace"].is_null()).unwrap();
    well_formed(handler);
    assert_eq!(handler["name"], "on-object-created");
    assert_eq!(handler["parent_id"], PARENT);
    assert_eq!(handler["fault"], true);
    let s3: Vec<&Value> = documents.iter().filter(|d| d["name"] == "S3").collect();
    assert!(!s3.is_empty(), "{documents:#?}");
    for call in s3 {
        assert_eq!(call["parent_id"], handler["id"]);
        assert_eq!(call["fault"], true, "no answer: a fault ({call})");
        assert!(
            call["aws"]["retries"].as_u64().unwrap() >= 1,
            "retried: {call}"
        );
    }
}
