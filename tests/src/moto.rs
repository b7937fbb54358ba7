//! The moto side of the test world: the server's endpoint, SDK clients (with the one fix moto
//! needs), fresh tables made from `template.yaml`, and TTL as DynamoDB would run it.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use serde_json::{json, Value};
use stowage::config::Config;

use crate::requests::{sample, template};

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

/// SDK configuration for the local server, with dummy static credentials (the test harness's
/// own: moto checks no policy for them).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

tokio::task_local! {
    /// The Lambda function (its binary's name) whose work the current task is doing.
    static ACTING: &'static str;
}

/// Runs `work` as the Lambda function `binary`: every AWS call it makes through a moto world's
/// clients (and every URL they presign) is signed with that function's key, so moto
/// (`scripts/moto_server.py`) allows it only if the function's policy in `template.yaml` does
/// — least privilege, enforced as IAM would. Calls made outside such a scope are the test
/// harness's own and are not checked.
pub async fn acting_as<F: std::future::Future>(binary: &'static str, work: F) -> F::Output {
    ACTING.scope(binary, work).await
}

/// Credentials that name the function the current task acts as ([`acting_as`]) in `world`:
/// access key id `SW<world>F<binary>`, or `testing` (the harness) outside any function.
#[derive(Debug)]
struct ActingCredentials {
    world: String,
    secret: String,
    session_token: Option<String>,
}

impl aws_credential_types::provider::ProvideCredentials for ActingCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let key = ACTING
            .try_with(|binary| format!("SW{}F{binary}", self.world))
            .unwrap_or_else(|_| "testing".to_owned());
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
            key,
            self.secret.clone(),
            self.session_token.clone(),
            None,
            "acting",
        )))
    }
}

/// Credentials for `world` that sign as the function the current task acts as
/// ([`acting_as`]), with `secret` and `session_token` (the AppSync stand-in checks its own).
pub fn acting_credentials(
    world: &str,
    secret: &str,
    session_token: Option<&str>,
) -> aws_credential_types::provider::SharedCredentialsProvider {
    aws_credential_types::provider::SharedCredentialsProvider::new(ActingCredentials {
        world: world.to_owned(),
        secret: secret.to_owned(),
        session_token: session_token.map(str::to_owned),
    })
}

/// The test world a table belongs to (`stowage-<world>`), as moto's policy checks name it.
pub fn world_of(table: &str) -> &str {
    table.strip_prefix("stowage-").unwrap_or(table)
}

/// Tells moto the names of `world`'s resources (`table`, `bus`, `appsync_api`), which the
/// functions' policies are resolved against.
pub async fn register_world(world: &str, names: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_stowage/iam/worlds/{world}", moto_endpoint()))
        .json(&names)
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "moto (scripts/moto_server.py) did not register the test world: {}",
        response.status()
    );
}

/// The calls moto refused in `world` since the last look (each `{function, action,
/// resource}`), forgotten once read.
pub async fn denials(world: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{}/_stowage/iam/denials/{world}", moto_endpoint()))
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("a JSON list")
}

/// The SDK configuration of a moto world's functions: signing as the function each task acts
/// as, with nothing cached between calls, so each call names its own function.
async fn acting_sdk_config(world: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .credentials_provider(acting_credentials(world, "testing", None))
        .identity_cache(aws_config::identity::IdentityCache::no_cache())
        .load()
        .await
}

/// A switch that makes every call of a client fail as if its service could not be reached.
pub type Outage = Arc<AtomicBool>;

/// Retries as the SDK does by default, but without waiting long between attempts.
fn quick_retries() -> RetryConfig {
    RetryConfig::standard().with_initial_backoff(Duration::from_millis(5))
}

/// The S3 client for moto: the app's own client (`bootstrap::s3_client`), with an outage
/// switch and one fix for a moto deviation. moto answers `ListParts` with the root element
/// `ListPartsResponse` where S3 (and the Rust SDK) use `ListPartsResult`; botocore does not
/// mind, the Rust SDK rejects it. The HTTP client below renames the root of that one response;
/// nothing else is touched.
pub fn moto_s3_client(sdk: &SdkConfig, outage: Outage) -> aws_sdk_s3::Client {
    moto_s3_client_with(sdk, outage, Outage::default())
}

/// [`moto_s3_client`], with a second switch that fails only server-side part copies
/// (`UploadPartCopy`), as S3 can fail one part of a copy in parts.
pub fn moto_s3_client_with(
    sdk: &SdkConfig,
    outage: Outage,
    part_copy_outage: Outage,
) -> aws_sdk_s3::Client {
    let base = stowage::bootstrap::s3_client(sdk, true);
    let config = base
        .config()
        .to_builder()
        .http_client(TestHttp::new(outage, true).failing_part_copies(part_copy_outage))
        .retry_config(quick_retries())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The EventBridge client for moto, with an outage switch.
pub fn moto_eventbridge_client(sdk: &SdkConfig, outage: Outage) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .http_client(TestHttp::new(outage, false))
        .retry_config(quick_retries())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// The DynamoDB client for moto, with an outage switch.
pub fn moto_dynamodb_client(sdk: &SdkConfig, outage: Outage) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .http_client(TestHttp::new(outage, false))
        .retry_config(quick_retries())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

mod http_client {
    use std::sync::atomic::Ordering;

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;
    use http_body_util::BodyExt;

    use super::Outage;

    /// The SDK's HTTP client, with an outage switch and (for S3) the `ListParts` fix.
    #[derive(Debug)]
    pub struct TestHttp {
        inner: SharedHttpClient,
        outage: Outage,
        part_copy_outage: Outage,
        fix_list_parts: bool,
    }

    impl TestHttp {
        pub fn new(outage: Outage, fix_list_parts: bool) -> Self {
            use aws_smithy_http_client::tls;
            let inner = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https();
            TestHttp {
                inner,
                outage,
                part_copy_outage: Outage::default(),
                fix_list_parts,
            }
        }

        /// Fails each `UploadPartCopy` (a `PUT` of a part with `x-amz-copy-source`) while
        /// `outage` is on.
        pub fn failing_part_copies(self, outage: Outage) -> Self {
            TestHttp {
                part_copy_outage: outage,
                ..self
            }
        }
    }

    impl HttpClient for TestHttp {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Connector {
                inner: self.inner.http_connector(settings, components),
                outage: self.outage.clone(),
                part_copy_outage: self.part_copy_outage.clone(),
                fix_list_parts: self.fix_list_parts,
            })
        }
    }

    #[derive(Debug)]
    struct Connector {
        inner: SharedHttpConnector,
        outage: Outage,
        part_copy_outage: Outage,
        fix_list_parts: bool,
    }

    impl HttpConnector for Connector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            if self.outage.load(Ordering::SeqCst) {
                return HttpConnectorFuture::ready(Err(ConnectorError::io(
                    "injected outage: connection refused".into(),
                )));
            }
            let part_copy = request.method() == "PUT"
                && request.uri().contains("uploadId=")
                && request.headers().get("x-amz-copy-source").is_some();
            if part_copy && self.part_copy_outage.load(Ordering::SeqCst) {
                return HttpConnectorFuture::ready(Err(ConnectorError::io(
                    "injected outage: the part copy failed".into(),
                )));
            }
            let list_parts = self.fix_list_parts
                && request.method() == "GET"
                && request.uri().contains("uploadId=");
            let inner = self.inner.clone();
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

use http_client::TestHttp;

/// A fresh table (made from `template.yaml`) and bucket on moto, and the settings a Lambda
/// function would read for them, with `settings` (environment variables) on top.
///
/// The SDK configuration signs as the function each task acts as ([`acting_as`]); the world
/// (`test-<suffix>`: table and bucket `stowage-test-<suffix>`, as the template names a stack's
/// bucket) is registered with moto, which holds each function to its policy.
pub async fn moto_storage(settings: &[(&str, &str)]) -> (SdkConfig, Config) {
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let world = format!("test-{suffix}");
    let table = format!("stowage-{world}");
    let bucket = format!("stowage-{world}");
    register_world(&world, json!({ "table": table })).await;
    let sdk = acting_sdk_config(&world).await;
    create_table_from_template(&aws_sdk_dynamodb::Client::new(&sdk), &table).await;
    moto_s3_client(&sdk, Outage::default())
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on the local server");
    let mut env: HashMap<&str, String> = HashMap::from([
        ("STOWAGE_TABLE", table),
        ("STOWAGE_BUCKET", bucket),
        ("STOWAGE_S3_FORCE_PATH_STYLE", "true".to_owned()),
        // No CloudFront here: public URLs point at this base, and the tests check the public
        // copy in the bucket that the distribution would serve.
        ("STOWAGE_PUBLIC_BASE_URL", PUBLIC_BASE_URL.to_owned()),
    ]);
    env.extend(
        crate::COUNTED_REQUESTS
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned())),
    );
    env.extend(settings.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid test settings");
    (sdk, config)
}

/// Deletes the items of tenant `acme` whose TTL attribute has passed at `now_millis`, as
/// DynamoDB's TTL would, and returns the stream event that reports the file records among them
/// (the template's filter passes only those to the stream function).
pub async fn expire_by_ttl(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    now_millis: i64,
) -> aws_lambda_events::dynamodb::Event {
    stream_event(ttl_delete(client, table, now_millis).await)
}

/// Deletes the items of tenant `acme` whose TTL attribute has passed at `now_millis` (records
/// and their externalId markers), as DynamoDB's TTL would; returns the file records deleted.
/// Nothing else happens: the table's own stream then holds the removals.
pub async fn ttl_delete(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    now_millis: i64,
) -> Vec<HashMap<String, AttributeValue>> {
    let now = now_millis / 1000;
    let items = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("T#acme".into()))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default();
    let mut removed = Vec::new();
    for item in items {
        let expired = item
            .get(stowage::store::dynamodb::TTL_ATTRIBUTE)
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
        if item["sk"].as_s().is_ok_and(|s| s.starts_with("F#")) {
            removed.push(item);
        }
    }
    removed
}

/// A DynamoDB stream event (from `events/dynamodb-record-removed.json`) removing `items`.
fn stream_event(items: Vec<HashMap<String, AttributeValue>>) -> aws_lambda_events::dynamodb::Event {
    let template = sample("dynamodb-record-removed.json")["Records"][0].clone();
    let records: Vec<Value> = items
        .into_iter()
        .enumerate()
        .map(|(at, item)| {
            let image: serde_json::Map<String, Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect();
            let mut record = template.clone();
            record["dynamodb"]["Keys"] = json!({"pk": image["pk"], "sk": image["sk"]});
            record["dynamodb"]["OldImage"] = Value::Object(image);
            record["dynamodb"]["SequenceNumber"] = json!(format!("{}", 1_000 + at));
            record
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a valid stream event")
}

/// The DynamoDB JSON of one attribute value.
fn attribute_json(value: &AttributeValue) -> Value {
    use AttributeValue as A;
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
    let stream = aws_sdk_dynamodb::types::StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(
            props["StreamSpecification"]["StreamViewType"]
                .as_str()
                .expect("the table has a stream"),
        ))
        .build()
        .unwrap();
    client
        .create_table()
        .stream_specification(stream)
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attribute_definitions))
        .set_key_schema(Some(key_schema(&props["KeySchema"])))
        .set_global_secondary_indexes(indexes)
        .send()
        .await
        .expect("create table on the local server");
}

/// Every record of `table`'s stream on moto so far, as the Lambda event the stream readers
/// receive (oldest first). moto runs no TTL: removals of the file ids in `expired_by_ttl` are
/// marked as DynamoDB marks TTL deletions (its service principal), since the test removed
/// them in TTL's place.
pub async fn table_stream(
    sdk: &SdkConfig,
    table: &str,
    expired_by_ttl: &[String],
) -> aws_lambda_events::dynamodb::Event {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe stream")
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("get records");
            let got = page.records.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            records.extend(got);
            iterator = page.next_shard_iterator;
        }
    }
    let records: Vec<Value> = records
        .iter()
        .map(|record| stream_record_json(record, expired_by_ttl))
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a valid stream event")
}

/// One stream record in the Lambda event's JSON.
fn stream_record_json(
    record: &aws_sdk_dynamodbstreams::types::Record,
    expired: &[String],
) -> Value {
    use aws_sdk_dynamodbstreams::types::AttributeValue as A;
    fn attribute(value: &A) -> Value {
        match value {
            A::S(s) => json!({ "S": s }),
            A::N(n) => json!({ "N": n }),
            A::Bool(b) => json!({ "BOOL": b }),
            A::Null(_) => json!({ "NULL": true }),
            A::Ss(list) => json!({ "SS": list }),
            A::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
            A::M(map) => json!({
                "M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>()
            }),
            other => panic!("unexpected stream attribute {other:?}"),
        }
    }
    let image = |item: Option<&HashMap<String, A>>| -> Value {
        Value::Object(
            item.map(|item| {
                item.iter()
                    .map(|(k, v)| (k.clone(), attribute(v)))
                    .collect()
            })
            .unwrap_or_default(),
        )
    };
    let change = record
        .dynamodb
        .as_ref()
        .expect("a stream record has its change");
    let event_name = record
        .event_name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let old_image = image(change.old_image.as_ref());
    let by_ttl = event_name == "REMOVE"
        && old_image["id"]["S"]
            .as_str()
            .is_some_and(|id| expired.iter().any(|e| e == id));
    let mut json = json!({
        "eventID": record.event_id.clone().unwrap_or_default(),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/stowage/stream/2026-01-01T00:00:00.000",
        "dynamodb": {
            "ApproximateCreationDateTime": change
                .approximate_creation_date_time
                .map(|t| t.secs())
                .unwrap_or_default(),
            "Keys": image(change.keys.as_ref()),
            "NewImage": image(change.new_image.as_ref()),
            "OldImage": old_image,
            "SequenceNumber": change.sequence_number.clone().unwrap_or_default(),
            "SizeBytes": change.size_bytes.unwrap_or_default(),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    });
    if by_ttl {
        json["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    json
}

/// Holds these items of `table` for `seconds` on the test server, as a DynamoDB transaction in
/// flight would (each write that needs one of them is refused with `TransactionConflict`).
/// Fails the test if the server does not model conflicts (`scripts/moto_server.py --hold-ms`).
pub async fn hold_items(table: &str, keys: &[Value], seconds: f64) {
    let response = reqwest::Client::new()
        .post(format!("{}/_stowage/conflicts/hold", moto_endpoint()))
        .json(&serde_json::json!({"table": table, "keys": keys, "seconds": seconds}))
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "the test server does not model DynamoDB's transaction conflicts (start it with \
         scripts/moto_server.py --hold-ms N, as scripts/test does): {}",
        response.text().await.unwrap_or_default()
    );
}

/// How many requests met a transaction in flight on the test server so far, and the
/// transaction time it models (ms; `0`: not modelled).
pub async fn conflicts_seen() -> (u64, f64) {
    let seen: Value = reqwest::Client::new()
        .get(format!("{}/_stowage/conflicts", moto_endpoint()))
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("JSON");
    (
        seen["conflicts"].as_u64().unwrap_or(0),
        seen["holdMs"].as_f64().unwrap_or(0.0),
    )
}
