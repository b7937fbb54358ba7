//! Test support: one behaviour suite, every backend. A test written as
//! `async fn name(env: TestEnv)` and listed in [`on_every_backend!`] runs twice:
//!
//! - **moto**: DynamoDB + S3 through the real AWS SDK, against the moto server that the test
//!   command starts (a fresh table, made from `template.yaml`, and bucket per test), with the app
//!   wired exactly as the Lambda functions wire it;
//! - **embedded**: a `stowage-local` server on a random port with a fresh data dir (SQLite
//!   store, the `s3s` endpoint, which really checks presigned URLs).
//!
//! In both, S3 events are delivered by the test itself (moto sends none; the embedded server's
//! own notifications are switched off here and tested end to end in `local/tests`).
//!
//! The moto address comes from `STOWAGE_TEST_MOTO_ENDPOINT`. Without it the tests fail (they
//! never skip): run them through `scripts/test`.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::s3::S3Event;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use lambda_http::{Body, Request};
use serde_json::{json, Value};
use stowage::config::Config;
use stowage::identity::ClaimNames;
use stowage::model::Timestamp;
use stowage::service::ManualClock;
use stowage::App;

/// The repository root, for reading `template.yaml` and `events/`.
pub const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The public base URL the moto-backed app is configured with.
pub const PUBLIC_BASE_URL: &str = "https://files.example.test";

/// The endpoint of the moto server started by `scripts/test`.
pub fn moto_endpoint() -> String {
    std::env::var("STOWAGE_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STOWAGE_TEST_MOTO_ENDPOINT is not set: these tests need the moto server that \
             scripts/test starts. Run ./scripts/test (or export the variable yourself)."
        )
    })
}

/// SDK configuration for the local server, with dummy static credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// Runs each listed `async fn(TestEnv)` once per backend, as `moto::<name>` and
/// `embedded::<name>`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod moto {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::moto().await).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::embedded().await).await
                }
            )*
        }
    };
}

/// Which backend a [`TestEnv`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Moto,
    Embedded,
}

/// The S3 client for moto: the app's own client (`bootstrap::s3_client`), plus one fix for a
/// moto deviation. moto answers `ListParts` with the root element `ListPartsResponse` where S3
/// (and the Rust SDK) use `ListPartsResult`; botocore does not mind, the Rust SDK rejects it.
/// The HTTP connector below renames the root of that one response; nothing else is touched.
pub fn moto_s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let base = stowage::bootstrap::s3_client(sdk, true);
    use aws_smithy_http_client::tls;
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https();
    let config = base
        .config()
        .to_builder()
        .http_client(MotoListPartsClient(inner))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

mod moto_fix {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;
    use http_body_util::BodyExt;

    /// Wraps the SDK's HTTP client; see `moto_s3_client`.
    #[derive(Debug)]
    pub struct MotoListPartsClient(pub SharedHttpClient);

    impl HttpClient for MotoListPartsClient {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Connector(self.0.http_connector(settings, components)))
        }
    }

    #[derive(Debug)]
    struct Connector(SharedHttpConnector);

    impl HttpConnector for Connector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let list_parts = request.method() == "GET" && request.uri().contains("uploadId=");
            let inner = self.0.clone();
            HttpConnectorFuture::new(async move {
                let mut response = inner.call(request).await?;
                if list_parts {
                    let body = std::mem::replace(response.body_mut(), SdkBody::empty());
                    let bytes = body
                        .collect()
                        .await
                        .map_err(|e| ConnectorError::other(e, None))?
                        .to_bytes();
                    let text = String::from_utf8_lossy(&bytes)
                        .replace("<ListPartsResponse", "<ListPartsResult")
                        .replace("</ListPartsResponse>", "</ListPartsResult>");
                    response
                        .headers_mut()
                        .insert("content-length", text.len().to_string());
                    *response.body_mut() = SdkBody::from(text);
                }
                Ok(response)
            })
        }
    }
}

use moto_fix::MotoListPartsClient;

/// A fresh table (made from `template.yaml`) and bucket on moto, and the settings a Lambda
/// function would read for them.
pub async fn moto_storage() -> (SdkConfig, Config) {
    let sdk = sdk_config().await;
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let table = format!("stowage-test-{suffix}");
    let bucket = format!("stowage-test-{suffix}");
    create_table_from_template(&aws_sdk_dynamodb::Client::new(&sdk), &table).await;
    moto_s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on the local server");
    let config = Config {
        table,
        bucket,
        claims: ClaimNames::default(),
        s3_force_path_style: true,
        download_url_expires_in: Duration::from_secs(1_800),
        // No CloudFront here: public URLs point at this base, and the tests check the public
        // copy in the bucket that the distribution would serve.
        public_base_url: Some(PUBLIC_BASE_URL.to_owned()),
        multipart_threshold: 100 * 1024 * 1024,
    };
    (sdk, config)
}

/// One test's private world: its own storage and clock, and the app over them.
pub struct TestEnv {
    pub backend: Backend,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    /// An S3 client for the backend's bucket (moto, or the embedded endpoint).
    pub s3: aws_sdk_s3::Client,
    /// The DynamoDB client and table (moto only).
    pub dynamodb: Option<(aws_sdk_dynamodb::Client, String)>,
    pub bucket: String,
    pub http: reqwest::Client,
    /// Keeps the embedded server (it stops when dropped) and its data dir alive for the test.
    _local: Option<(stowage_local::RunningServer, tempfile::TempDir)>,
}

impl TestEnv {
    /// A fresh `stowage-local` (embedded backend) on a random loopback port.
    pub async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("a temporary data dir");
        let clock = Arc::new(ManualClock::new(Timestamp::from_datetime(
            chrono::Utc::now(),
        )));
        let server = stowage_local::start(stowage_local::LocalConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            backend: stowage_local::Backend::Embedded,
            public_url: None,
            object_events: false,
            // Tests sweep explicitly (after moving the clock).
            sweep_interval: Duration::from_secs(3_600),
            clock: clock.clone(),
        })
        .await
        .expect("stowage-local starts");
        let s3 = server.s3_client().await;
        TestEnv {
            backend: Backend::Embedded,
            app: server.app.clone(),
            clock,
            s3,
            dynamodb: None,
            bucket: stowage_local::BUCKET.to_owned(),
            http: reqwest::Client::new(),
            _local: Some((server, dir)),
        }
    }

    /// A table (from `template.yaml`'s definition) and a bucket with unique names on moto.
    pub async fn moto() -> Self {
        let (sdk, config) = moto_storage().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let s3 = moto_s3_client(&sdk);
        let (table, bucket) = (config.table.clone(), config.bucket.clone());
        let clock = Arc::new(ManualClock::new(Timestamp::from_datetime(
            chrono::Utc::now(),
        )));
        let app = Arc::new(stowage::bootstrap::aws_app_with_clients(
            &config,
            dynamodb.clone(),
            s3.clone(),
            clock.clone(),
        ));
        TestEnv {
            backend: Backend::Moto,
            app,
            clock,
            s3,
            dynamodb: Some((dynamodb, table)),
            bucket,
            http: reqwest::Client::new(),
            _local: None,
        }
    }

    /// Runs an HTTP route the way its Lambda function does.
    pub async fn call(&self, route: stowage::http::RouteId, req: Request) -> Reply {
        Reply::from(stowage::http::handle(&self.app, route, req).await)
    }

    /// `POST /files` for `tenant`/`user` with `body`; asserts `201` and returns the reply.
    pub async fn create(&self, tenant: &str, body: Value) -> Reply {
        let reply = self
            .call(
                stowage::http::RouteId::CreateFile,
                create_request(tenant, "alice", &body),
            )
            .await;
        assert_eq!(reply.status, 201, "create failed: {}", reply.json);
        reply
    }

    /// Any route, as [`api_request`] builds it.
    pub async fn api(
        &self,
        route: stowage::http::RouteId,
        tenant: &str,
        id: Option<&str>,
        query: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call(
            route,
            api_request(route, tenant, id, query, body.as_ref(), headers),
        )
        .await
    }

    /// Writes a record straight into the backend's metadata store.
    pub async fn insert_record(&self, record: &stowage::model::FileRecord) {
        self.app
            .service
            .store()
            .insert(record, record.created_at)
            .await
            .expect("insert");
    }

    /// Creates a file for `tenant`, uploads `bytes` and delivers its S3 event; returns the
    /// record as `GET` shows it afterwards.
    pub async fn uploaded(&self, tenant: &str, body: Value, bytes: &[u8]) -> Value {
        let created = self.create(tenant, body).await;
        self.upload(&created.json["upload"], bytes).await;
        let key = upload_key(&created.json["upload"]);
        self.deliver(
            self.object_created_event(&key, &self.next_sequencer())
                .await,
        )
        .await;
        let id = created.json["file"]["id"].as_str().unwrap();
        let got = self.get(tenant, id).await;
        assert_eq!(got.json["status"], "uploaded", "{}", got.json);
        got.json
    }

    /// A sequencer larger than every one this env handed out before.
    pub fn next_sequencer(&self) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "{:016X}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        )
    }

    /// Downloads `url` without credentials; returns the status and the body.
    pub async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let response = self.http.get(url).send().await.expect("download");
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap_or_default().to_vec())
    }

    /// Lets every record whose `expiresAt` has passed disappear the way the backend removes
    /// them: on DynamoDB, TTL deletes the items and the stream function receives the `REMOVE`
    /// records; on the embedded backend, the expiry sweep runs.
    pub async fn expire(&self) -> usize {
        match (&self.dynamodb, &self._local) {
            (Some((client, table)), _) => {
                let now = self.clock.now_millis() / 1000;
                let items = client
                    .query()
                    .table_name(table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(
                        ":pk",
                        aws_sdk_dynamodb::types::AttributeValue::S("T#acme".into()),
                    )
                    .send()
                    .await
                    .expect("query")
                    .items
                    .unwrap_or_default();
                let mut removed = Vec::new();
                for item in items {
                    let expired = item
                        .get("expiresAtEpoch")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .is_some_and(|ttl| ttl <= now);
                    if !expired {
                        continue;
                    }
                    client
                        .delete_item()
                        .table_name(table)
                        .key("pk", item["pk"].clone())
                        .key("sk", item["sk"].clone())
                        .send()
                        .await
                        .expect("TTL delete");
                    removed.push(item);
                }
                let count = removed
                    .iter()
                    .filter(|i| i["sk"].as_s().is_ok_and(|s| s.starts_with("F#")))
                    .count();
                let event = stream_event(removed);
                stowage::events::on_records_removed(&self.app, event)
                    .await
                    .expect("stream batch handled");
                count
            }
            (None, Some((server, _))) => server.sweep().await,
            (None, None) => unreachable!("every env has a backend"),
        }
    }

    /// `GET /files/{id}` for `tenant`.
    pub async fn get(&self, tenant: &str, id: &str) -> Reply {
        self.call(
            stowage::http::RouteId::GetFile,
            get_request(tenant, "alice", id),
        )
        .await
    }

    /// Sends the presigned upload from a create reply with `bytes`, exactly as a client would;
    /// asserts that the store accepted it and returns the HTTP status.
    pub async fn upload(&self, upload: &Value, bytes: &[u8]) -> u16 {
        let method = upload["method"].as_str().expect("upload.method");
        let mut req = self.http.request(
            method.parse().expect("method"),
            upload["url"].as_str().expect("upload.url"),
        );
        for (name, value) in upload["headers"].as_object().expect("upload.headers") {
            req = req.header(name, value.as_str().expect("header value"));
        }
        let response = req
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(
            (200..300).contains(&status),
            "upload refused: {status} {body}"
        );
        status
    }

    /// The S3 event that the bucket would send for the object now at `key`, with `sequencer`.
    pub async fn object_created_event(&self, key: &str, sequencer: &str) -> S3Event {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("the object exists");
        s3_event(
            &self.bucket,
            key,
            u64::try_from(head.content_length.unwrap_or(0)).unwrap(),
            head.e_tag.as_deref().unwrap_or_default(),
            sequencer,
        )
    }

    /// Runs the `on-object-created` handler on `event`.
    pub async fn deliver(&self, event: S3Event) -> Vec<stowage::service::Outcome> {
        stowage::events::on_object_created(&self.app, event)
            .await
            .expect("the event is handled")
    }

    /// Whether the bucket holds an object at `key`.
    pub async fn object_exists(&self, key: &str) -> bool {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(err) => panic!("HEAD {key}: {err:?}"),
        }
    }

    /// Advances the app's clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A rendered response: status, headers and the body parsed as JSON (`Null` if empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: Value,
}

impl Reply {
    /// The `Content-Type` header.
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json error with `status` and `code`.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.json);
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.json["status"], status);
        assert_eq!(self.json["code"], code, "{}", self.json);
        assert!(self.json["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.json["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.json["detail"].as_str().is_some_and(|t| !t.is_empty()));
    }

    /// The fields named in a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<lambda_http::Response<Body>> for Reply {
    fn from(response: lambda_http::Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let bytes: &[u8] = body.as_ref();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).expect("responses are JSON")
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            json,
        }
    }
}

/// A pending record of `tenant` created at `created_millis` (its id carries that time), with
/// tags, nested metadata and an expiry a minute later: storage tests write it directly.
pub fn sample_record(tenant: &str, created_millis: i64) -> stowage::model::FileRecord {
    use stowage::model::*;
    let at = Timestamp::from_millis(created_millis);
    let metadata = json!({"deep": [[[[{"x": "ü"}]]]], "": null, "n": 1.5});
    FileRecord {
        tenant: TenantId::parse(tenant).unwrap(),
        id: FileId::generate_at(at),
        kind: FileKind::Client,
        name: FileName::parse("résumé.pdf").unwrap(),
        extension: ".pdf".into(),
        mime_type: MediaType::parse("application/pdf").unwrap(),
        size: None,
        expected_size: Some(42),
        checksum_sha256: None,
        status: FileStatus::Pending,
        failure_reason: None,
        purpose: None,
        tags: Tags::parse(["a", "b"]).unwrap(),
        metadata: Metadata::parse(metadata.as_object().unwrap().clone()).unwrap(),
        external_id: None,
        directory: None,
        source: None,
        private_access: true,
        uploaded_by: UserId::parse("alice").unwrap(),
        created_at: at,
        updated_at: at,
        uploaded_at: None,
        expires_at: Some(at.plus_seconds(60)),
        ttl_seconds: None,
        version: 1,
        revision: 1,
        content: None,
        upload: None,
    }
}

/// The key an upload URL points at (path-style: `/<bucket>/<key>`).
pub fn upload_key(upload: &Value) -> String {
    let url = upload["url"].as_str().expect("upload.url");
    let path = url.split('?').next().unwrap();
    let after_host = path.splitn(4, '/').nth(3).unwrap();
    after_host.split_once('/').unwrap().1.to_owned()
}

/// A DynamoDB stream event (from `events/dynamodb-record-removed.json`) removing `items`.
fn stream_event(
    items: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
) -> aws_lambda_events::dynamodb::Event {
    let template = sample("dynamodb-record-removed.json")["Records"][0].clone();
    let records: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let image: serde_json::Map<String, Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect();
            let mut record = template.clone();
            record["dynamodb"]["Keys"] = json!({"pk": image["pk"], "sk": image["sk"]});
            record["dynamodb"]["OldImage"] = Value::Object(image);
            record
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a valid stream event")
}

/// The DynamoDB JSON of one attribute value.
fn attribute_json(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match value {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::Bool(b) => json!({ "BOOL": b }),
        A::Null(_) => json!({ "NULL": true }),
        A::L(list) => json!({ "L": list.iter().map(attribute_json).collect::<Vec<_>>() }),
        A::M(map) => json!({
            "M": map.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<serde_json::Map<_, _>>()
        }),
        other => panic!("unexpected attribute {other:?}"),
    }
}

/// Reads a sample event from `events/`.
pub fn sample(name: &str) -> Value {
    let path = format!("{REPO_ROOT}/events/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Turns an API Gateway v2 event into the request `lambda_http` hands a function.
pub fn to_request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

/// Sets the JWT claims of an API Gateway v2 event (`None` removes the authorizer entirely).
pub fn with_identity(mut event: Value, identity: Option<(&str, &str)>) -> Value {
    match identity {
        Some((tenant, user)) => {
            let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
            claims["tenant_id"] = json!(tenant);
            claims["sub"] = json!(user);
        }
        None => {
            event["requestContext"]
                .as_object_mut()
                .expect("requestContext")
                .remove("authorizer");
        }
    }
    event
}

/// Any API request, built from the route's sample in `events/`: the identity, the `{id}`, the
/// raw query string, the JSON body and extra headers are replaced; the sample's own `If-Match`
/// is dropped unless given again.
pub fn api_request(
    route: stowage::http::RouteId,
    tenant: &str,
    id: Option<&str>,
    query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Request {
    let spec = stowage::http::ROUTES
        .iter()
        .find(|r| r.id == route)
        .expect("a route of the table");
    let mut event = with_identity(
        sample(&format!("{}.json", spec.function)),
        Some((tenant, "alice")),
    );
    let path = match id {
        Some(id) => spec.path.replace("{id}", id),
        None => spec.path.to_owned(),
    };
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    match id {
        Some(id) => event["pathParameters"] = json!({ "id": id }),
        None => {
            event.as_object_mut().unwrap().remove("pathParameters");
        }
    }
    event["rawQueryString"] = json!(query);
    let event_headers = event["headers"].as_object_mut().unwrap();
    event_headers.remove("if-match");
    match body {
        Some(body) => {
            event_headers.insert("content-type".into(), json!("application/json"));
            event["body"] = json!(body.to_string());
        }
        None => {
            event_headers.remove("content-type");
            event.as_object_mut().unwrap().remove("body");
        }
    }
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    to_request(&event)
}

/// `route` for `tenant` on `id` with a raw body (any bytes) and `Content-Type` (`None`: none).
pub fn raw_request(
    route: stowage::http::RouteId,
    tenant: &str,
    id: Option<&str>,
    body: &[u8],
    content_type: Option<&str>,
) -> Request {
    let request = api_request(route, tenant, id, "", Some(&json!({})), &[]);
    let (mut parts, _) = request.into_parts();
    parts.headers.remove("content-type");
    if let Some(ct) = content_type {
        parts
            .headers
            .insert("content-type", ct.parse().expect("a header value"));
    }
    Request::from_parts(parts, Body::Binary(body.to_vec()))
}

/// `POST /files` from `events/create-file.json` with another body and identity.
pub fn create_request(tenant: &str, user: &str, body: &Value) -> Request {
    let mut event = with_identity(sample("create-file.json"), Some((tenant, user)));
    event["body"] = json!(body.to_string());
    to_request(&event)
}

/// `GET /files/{id}` from `events/get-file.json` with another id and identity.
pub fn get_request(tenant: &str, user: &str, id: &str) -> Request {
    let mut event = with_identity(sample("get-file.json"), Some((tenant, user)));
    event["rawPath"] = json!(format!("/files/{id}"));
    event["requestContext"]["http"]["path"] = json!(format!("/files/{id}"));
    event["pathParameters"] = json!({ "id": id });
    to_request(&event)
}

/// An `ObjectCreated:Put` event from `events/s3-object-created.json` for one object.
pub fn s3_event(bucket: &str, key: &str, size: u64, etag: &str, sequencer: &str) -> S3Event {
    let mut event = sample("s3-object-created.json");
    let record = &mut event["Records"][0];
    record["s3"]["bucket"]["name"] = json!(bucket);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    record["s3"]["object"]["key"] = json!(stowage::keys::encode_event_key(key));
    record["s3"]["object"]["size"] = json!(size);
    record["s3"]["object"]["eTag"] = json!(etag.trim_matches('"'));
    record["s3"]["object"]["sequencer"] = json!(sequencer);
    serde_json::from_value(event).expect("a valid S3 event")
}

/// Creates `name` with the key schema and indexes `template.yaml` declares for `FilesTable`,
/// so the tests exercise exactly the table that gets deployed.
pub async fn create_table_from_template(client: &aws_sdk_dynamodb::Client, name: &str) {
    let template = template();
    let props = &template["Resources"]["FilesTable"]["Properties"];
    let attribute_definitions = props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap())
                .attribute_type(ScalarAttributeType::from(
                    a["AttributeType"].as_str().unwrap(),
                ))
                .build()
                .unwrap()
        })
        .collect::<Vec<_>>();
    let key_schema = |value: &serde_yaml::Value| {
        value
            .as_sequence()
            .expect("KeySchema")
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str().unwrap())
                    .key_type(KeyType::from(k["KeyType"].as_str().unwrap()))
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|indexes| {
            indexes
                .iter()
                .map(|index| {
                    let projection = &index["Projection"];
                    GlobalSecondaryIndex::builder()
                        .index_name(index["IndexName"].as_str().unwrap())
                        .set_key_schema(Some(key_schema(&index["KeySchema"])))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::from(
                                    projection["ProjectionType"].as_str().unwrap_or("ALL"),
                                ))
                                .build(),
                        )
                        .build()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        });
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attribute_definitions))
        .set_key_schema(Some(key_schema(&props["KeySchema"])))
        .set_global_secondary_indexes(indexes)
        .send()
        .await
        .expect("create table on the local server");
}

/// `template.yaml`, parsed (CloudFormation tags such as `!Ref` come through as tagged values).
pub fn template() -> serde_yaml::Value {
    let path = format!("{REPO_ROOT}/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).expect("template.yaml parses as YAML")
}
