//! Cold-start work, done once per process: logging, configuration, AWS clients, the service;
//! then the Lambda runtime loop. Every function's `main` is one call into this module.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::s3::S3Event;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error, Request};

use crate::blob::s3::{S3Store, SigningIdentity};
use crate::blob::ObjectStore;
use crate::config::{Config, Prime};
use crate::http;
use crate::service::{Clock, SystemClock};
use crate::store::dynamodb::DynamoStore;
use crate::store::MetadataStore;
use crate::xray::Tracer;
use crate::App;

/// Logs to stderr, as JSON on Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) and as text elsewhere; the
/// level comes from `RUST_LOG` (default `info`): a level, or `target=level` pairs separated by
/// commas (`info,aws_smithy_runtime=debug`). That is `EnvFilter`'s syntax without its span and
/// field filters, whose regular-expression engine weighed ~0.4 MB in every bootstrap
/// (docs/src/measurements/README.md); a value that does not parse is reported and `info` used.
/// Stdout stays free for program output (`stowage-local` prints its URLs and tokens there). Text is
/// coloured only when stderr is a terminal, so logs sent to a file or a pipe stay plain.
pub fn init_tracing() {
    init_tracing_quieting(&[]);
}

/// [`init_tracing`], with the log targets in `quiet` silenced unless `RUST_LOG` names them
/// (`stowage-local` silences `s3s::ops`, which logs every refused S3 request as an error, and
/// logs those answers itself at their proper level).
pub fn init_tracing_quieting(quiet: &[&str]) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;

    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        return json_tracing(quiet);
    }
    let (filter, unparsed) = filter_from_env(quiet);
    let result = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_filter(filter),
        )
        .try_init();
    report_unparsed(result.is_ok(), unparsed);
}

/// JSON logs, as a Lambda function writes them (the level from `RUST_LOG` as for
/// [`init_tracing`]). Every function's `main` calls this, not [`init_tracing`], so its binary
/// links no text formatter: a bootstrap runs on Lambda, or under `cargo lambda` and the
/// benchmark's emulator, which set `AWS_LAMBDA_FUNCTION_NAME` too.
pub fn init_lambda_tracing() {
    json_tracing(&[]);
}

fn json_tracing(quiet: &[&str]) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;

    let (filter, unparsed) = filter_from_env(quiet);
    let result = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .json()
                .with_current_span(false)
                .with_ansi(false)
                .without_time()
                .with_filter(filter),
        )
        .try_init();
    report_unparsed(result.is_ok(), unparsed);
}

/// A value of `RUST_LOG` that did not parse, and why.
type Unparsed = Option<(String, tracing_subscriber::filter::ParseError)>;

/// The filter `RUST_LOG` names, with the targets in `quiet` silenced unless it names them.
fn filter_from_env(quiet: &[&str]) -> (tracing_subscriber::filter::Targets, Unparsed) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let rust_log = std::env::var("RUST_LOG").ok();
    let (mut filter, unparsed) = match log_filter(rust_log.as_deref()) {
        Ok(filter) => (filter, None),
        Err(err) => (
            Targets::new().with_default(LevelFilter::INFO),
            Some((rust_log.clone().unwrap_or_default(), err)),
        ),
    };
    for target in quiet {
        let root = target.split("::").next().unwrap_or(target);
        if !rust_log
            .as_deref()
            .is_some_and(|value| value.contains(root))
        {
            filter = filter.with_target(*target, LevelFilter::OFF);
        }
    }
    (filter, unparsed)
}

/// Says, once logging is up, that `RUST_LOG` was not understood.
fn report_unparsed(initialised: bool, unparsed: Unparsed) {
    // Already initialised (tests): keep the first subscriber.
    if initialised {
        if let Some((value, err)) = unparsed {
            tracing::warn!(rust_log = %value, error = %err, "RUST_LOG not understood; logging at info");
        }
    }
}

/// The log filter `RUST_LOG` names (`info` when it is unset or blank); an error for a value
/// `Targets` cannot read, e.g. one of `EnvFilter`'s span filters.
fn log_filter(
    rust_log: Option<&str>,
) -> Result<tracing_subscriber::filter::Targets, tracing_subscriber::filter::ParseError> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    match rust_log.map(str::trim) {
        Some(value) if !value.is_empty() => value.parse(),
        _ => Ok(Targets::new().with_default(LevelFilter::INFO)),
    }
}

/// The S3 client Stowage needs: path-style when asked, and without the SDK's default request
/// checksums, which would otherwise be signed into presigned PUTs that clients cannot satisfy.
pub fn s3_client(sdk: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The app on DynamoDB and S3, with clients built from `sdk` and time from `clock`.
pub fn aws_app(config: &Config, sdk: &SdkConfig, clock: Arc<dyn Clock>) -> Result<App, Error> {
    let s3 = s3_client(sdk, config.s3_force_path_style);
    aws_app_with_clients(config, sdk, aws_sdk_dynamodb::Client::new(sdk), s3, clock)
}

/// The app on DynamoDB and S3 with the given clients, which were built from `sdk`.
pub fn aws_app_with_clients(
    config: &Config,
    sdk: &SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    clock: Arc<dyn Clock>,
) -> Result<App, Error> {
    let (store, objects) = aws_ports(config, sdk, dynamodb, s3)?;
    let store: Arc<dyn MetadataStore> = store;
    let objects: Arc<dyn ObjectStore> = objects;
    Ok(App::new(config, store, objects, clock))
}

/// The AWS adapters an app runs on.
type Ports = (Arc<DynamoStore>, Arc<S3Store>);

/// The DynamoDB and S3 adapters over the given clients.
fn aws_ports(
    config: &Config,
    sdk: &SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
) -> Result<Ports, Error> {
    let signing = SigningIdentity::from_sdk(sdk)
        .ok_or("no AWS credentials: the SDK's default chain found none")?;
    Ok((
        Arc::new(DynamoStore::new(dynamodb, &config.table)),
        Arc::new(S3Store::new(s3, &config.bucket, signing)),
    ))
}

/// The SDK configuration of a Lambda function, read from the variables Lambda sets for every
/// function: the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, valid for the life of the execution environment), `AWS_REGION`, and
/// `AWS_ENDPOINT_URL` when set (the benchmark's moto), and the SDK's own settings that apply on
/// Lambda: `AWS_ENDPOINT_URL_S3` / `_DYNAMODB` / `_EVENTBRIDGE` (before `AWS_ENDPOINT_URL`),
/// `AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`, `AWS_MAX_ATTEMPTS` and
/// `AWS_RETRY_MODE`; a bad value of one of them, or a setting these functions do not read
/// (profiles, config files), stops the start naming it. The SDK's default chain would look for
/// the same variables after profile files, SSO, web identity (STS), ECS and IMDS providers a
/// Lambda function never uses; not calling it leaves that code (and the STS client) out of the
/// bootstrap and the profile-file reads out of the cold start. A missing variable stops the
/// start with its name.
pub fn lambda_sdk_config() -> Result<SdkConfig, Error> {
    sdk_config_from(|name| std::env::var(name).ok())
}

/// `lambda_sdk_config` with the variables read through `lookup` (the tests pass their own).
pub fn sdk_config_from(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, Error> {
    let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let need = |name: &'static str| {
        var(name).ok_or_else(|| {
            format!("{name} is not set (Lambda sets it for the function's execution role)")
        })
    };
    let credentials = aws_credential_types::Credentials::new(
        need("AWS_ACCESS_KEY_ID")?,
        need("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or("AWS_REGION is not set (Lambda sets it)")?;
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        // The default chain's settings for these.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3_100))
                .build(),
        )
        .retry_config(retry_config(&var)?)
        .use_fips(flag(&var, "AWS_USE_FIPS_ENDPOINT")?.unwrap_or(false))
        .use_dual_stack(flag(&var, "AWS_USE_DUALSTACK_ENDPOINT")?.unwrap_or(false))
        // One HTTPS client for every service client, as the default chain's loader makes: one TLS
        // configuration (its root certificates loaded once) and one connection pool. rustls on ring
        // rather than the SDK's default aws-lc: the same TLS 1.3 / 1.2 suites AWS endpoints offer,
        // ~1 MB less per bootstrap (docs/src/measurements/README.md); what it lacks is aws-lc's
        // post-quantum key exchange and FIPS mode.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        );
    // `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`: the SDK's default endpoints, whatever else
    // is set.
    let endpoints_configured = flag(&var, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")? != Some(true);
    if let Some(endpoint) = var("AWS_ENDPOINT_URL").filter(|_| endpoints_configured) {
        builder = builder.endpoint_url(endpoint);
    }
    // A service's own endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_DYNAMODB`, …) comes
    // before `AWS_ENDPOINT_URL`, as in the default chain.
    let endpoints: std::collections::BTreeMap<String, String> = SERVICE_IDS
        .iter()
        .filter_map(|id| {
            let name = format!("AWS_ENDPOINT_URL_{}", service_env_suffix(id));
            var(&name)
                .filter(|_| endpoints_configured)
                .map(|url| (name, url))
        })
        .collect();
    if !endpoints.is_empty() {
        builder = builder.service_config(ServiceEndpoints(endpoints));
    }
    for ignored in IGNORED_SETTINGS {
        if var(ignored).is_some() {
            return Err(format!(
                "{ignored} is set, but the functions do not read it (they read their SDK settings from the environment: docs/src/reference/configuration.md); unset it"
            )
            .into());
        }
    }
    Ok(builder.build())
}

/// The services the functions call, by their SDK service ids.
const SERVICE_IDS: [&str; 3] = ["S3", "DynamoDB", "EventBridge"];

/// SDK settings a Lambda function could be given that these functions do not honour: refused
/// at start-up rather than silently ignored.
const IGNORED_SETTINGS: [&str; 3] = [
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// A service id as its endpoint variable spells it (`DynamoDB` → `DYNAMODB`).
fn service_env_suffix(id: &str) -> String {
    id.to_ascii_uppercase().replace(' ', "_")
}

/// The service-specific endpoint variables that were set, for the service clients' config.
#[derive(Debug)]
struct ServiceEndpoints(std::collections::BTreeMap<String, String>);

impl aws_types::service_config::LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        let name = format!("{}_{}", key.env(), service_env_suffix(key.service_id()));
        self.0.get(&name).cloned()
    }
}

/// `AWS_MAX_ATTEMPTS` (a whole number ≥ 1) and `AWS_RETRY_MODE` (`standard` or `adaptive`),
/// the default chain's standard mode with 3 attempts when unset.
fn retry_config(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<aws_config::retry::RetryConfig, Error> {
    let mut config = match var("AWS_RETRY_MODE").map(|m| m.trim().to_ascii_lowercase()) {
        None => aws_config::retry::RetryConfig::standard(),
        Some(mode) if mode == "standard" => aws_config::retry::RetryConfig::standard(),
        Some(mode) if mode == "adaptive" => aws_config::retry::RetryConfig::adaptive(),
        Some(mode) => {
            return Err(format!(
                "AWS_RETRY_MODE is {mode:?}: it must be \"standard\" or \"adaptive\""
            )
            .into())
        }
    };
    if let Some(attempts) = var("AWS_MAX_ATTEMPTS") {
        let attempts = attempts
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                format!("AWS_MAX_ATTEMPTS is {attempts:?}: it must be a whole number, 1 or more")
            })?;
        config = config.with_max_attempts(attempts);
    }
    Ok(config)
}

/// An SDK boolean variable (`true` / `false`, any case); unset is `None`.
fn flag(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<bool>, Error> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "true" => Ok(Some(true)),
        Some(v) if v == "false" => Ok(Some(false)),
        Some(v) => Err(format!("{name} is {v:?}: it must be \"true\" or \"false\"").into()),
    }
}

/// What a Lambda function runs on: the AWS adapters by name, so every store call is static
/// (see `Service`).
type LambdaApp = App<DynamoStore, S3Store>;

/// A function's app, and its tracer when the function's tracing is active (`xray`).
async fn app_from_env() -> Result<(LambdaApp, Option<Arc<Tracer>>), Error> {
    let config = Config::from_env().inspect_err(|err| tracing::error!("{err}"))?;
    let sdk = lambda_sdk_config().inspect_err(|err| tracing::error!("{err}"))?;
    let tracer = Tracer::from_env();
    let (dynamodb, s3) = traced_clients(&sdk, config.s3_force_path_style, tracer.as_ref());
    let (store, objects) =
        aws_ports(&config, &sdk, dynamodb, s3).inspect_err(|err| tracing::error!("{err}"))?;
    prime(config.prime, store.as_ref(), objects.as_ref()).await;
    Ok((
        App::new(&config, store, objects, Arc::new(SystemClock)),
        tracer,
    ))
}

/// The DynamoDB and S3 clients of a function, each call a subsegment of the invocation's
/// trace when `tracer` is given (`xray`).
pub fn traced_clients(
    sdk: &SdkConfig,
    force_path_style: bool,
    tracer: Option<&Arc<Tracer>>,
) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let s3 = s3_client(sdk, force_path_style);
    let Some(tracer) = tracer else {
        return (aws_sdk_dynamodb::Client::new(sdk), s3);
    };
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(tracer.interceptor())
        .build();
    let s3 = s3
        .config()
        .to_builder()
        .interceptor(tracer.interceptor())
        .build();
    (
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        aws_sdk_s3::Client::from_conf(s3),
    )
}

/// The longest a cold start waits for its connections.
const PRIME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the connections that `prime` names during the cold start, so the first request does
/// not pay DNS, TCP and TLS inside itself, through the ports' `warm`: DynamoDB's adapter reads a
/// key no record has (one `GetItem`), S3's heads `files/.prime`, which no upload makes (one
/// `HeadObject`). Both are calls the function's policy allows (`template.yaml` sets `STOWAGE_PRIME` per
/// function, and a test holds it to the policies). Nothing here can fail the start: an answer
/// of any kind, an error or the time limit, and the first request makes its own connection.
pub async fn prime<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    prime: Prime,
    store: &M,
    objects: &O,
) {
    let started = std::time::Instant::now();
    let table = async {
        if prime.dynamodb {
            store.warm().await;
        }
    };
    let bucket = async {
        if prime.s3 {
            objects.warm().await;
        }
    };
    if tokio::time::timeout(PRIME_TIMEOUT, async { tokio::join!(table, bucket) })
        .await
        .is_err()
    {
        tracing::warn!("priming the connections took over {PRIME_TIMEOUT:?}; going on");
    }
    if prime.dynamodb || prime.s3 {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            dynamodb = prime.dynamodb,
            s3 = prime.s3,
            "connections primed"
        );
    }
}

/// Runs an HTTP route's function with its one handler `H`: set up once, then serve
/// invocations. Naming the handler (not a route id) keeps every other route's code out of the
/// function's binary.
pub async fn run_route<H: http::Handler>() -> Result<(), Error> {
    init_lambda_tracing();
    let (app, tracer) = app_from_env().await?;
    lambda_http::run(service_fn(|req: Request| {
        let (app, tracer) = (&app, tracer.as_ref());
        async move { Ok::<_, Error>(AsIs(invoke_route::<H, _, _>(app, tracer, &req).await)) }
    }))
    .await
}

/// One invocation of a route's function: the handler's answer, with its metrics written and,
/// when the function is traced, its subsegment and its AWS calls' sent to X-Ray.
pub async fn invoke_route<H: http::Handler, M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    tracer: Option<&Arc<Tracer>>,
    req: &Request,
) -> lambda_http::Response<lambda_http::Body> {
    use lambda_http::RequestExt as _;
    let route = H::ROUTE.route();
    let name = format!("{} {}", route.method, route.path);
    let span = tracer.map(|t| t.begin(trace_header(req.lambda_context_ref()), &name));
    let started = std::time::Instant::now();
    let response = http::serve::<H, _, _>(app, req).await;
    let status = response.status().as_u16();
    if let Some(span) = span {
        span.end(crate::xray::Outcome::Status(status));
    }
    crate::metrics::http_request(
        route.function,
        name,
        status,
        started.elapsed(),
        crate::metrics::cold_start(),
    )
    .flush();
    response
}

/// The X-Ray trace header Lambda gave an invocation, if any.
fn trace_header(context: Option<&lambda_runtime::Context>) -> Option<&str> {
    context.and_then(|c| c.xray_trace_id.as_deref())
}

/// Runs an event function's handler `work` under its X-Ray subsegment (when traced).
pub async fn traced<T, E>(
    tracer: Option<&Arc<Tracer>>,
    context: &lambda_runtime::Context,
    function: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracer.map(|t| t.begin(trace_header(Some(context)), function));
    let result = work.await;
    if let Some(span) = span {
        span.end(crate::xray::Outcome::Event {
            failed: result.is_err(),
        });
    }
    result
}

/// A handler's response, handed to the runtime as it is. `lambda_http`'s own conversion of a
/// `Response<Body>` reads the body again and re-decodes text by the charset its
/// `Content-Type` names, which links `encoding_rs` and its tables (~150 KB of every route
/// bootstrap) for nothing: a handler's body is already `Body::Text` (UTF-8 JSON) or
/// `Body::Empty`.
struct AsIs(lambda_http::Response<lambda_http::Body>);

impl lambda_http::IntoResponse for AsIs {
    fn into_response(
        self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send>,
    > {
        Box::pin(std::future::ready(self.0))
    }
}

/// Runs the S3 `ObjectCreated` function: set up once, then handle notifications.
pub async fn run_object_created() -> Result<(), Error> {
    init_lambda_tracing();
    let (app, tracer) = app_from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let (app, tracer) = (&app, tracer.as_ref());
        async move {
            let handled = traced(
                tracer,
                &event.context,
                "on-object-created",
                crate::events::on_object_created(app, event.payload),
            )
            .await;
            crate::metrics::object_events(
                "on-object-created",
                handled.as_ref().map(Vec::as_slice).unwrap_or_default(),
                handled.as_ref().err().map_or(0, |e| e.failed),
                crate::metrics::cold_start(),
            )
            .flush();
            handled.map(|_| ()).map_err(Error::from)
        }
    }))
    .await
}

/// Runs the publish worker: set up once, then handle the S3 events of publish job markers and
/// its schedule's sweeps.
pub async fn run_publish_requested() -> Result<(), Error> {
    init_lambda_tracing();
    let (app, tracer) = app_from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<crate::events::PublishTrigger>| {
            let (app, tracer) = (&app, tracer.as_ref());
            async move {
                traced(
                    tracer,
                    &event.context,
                    "publish-file",
                    crate::events::on_publish_trigger(app, event.payload),
                )
                .await
                .map(|_| ())
                .map_err(Error::from)
            }
        },
    ))
    .await
}

/// Runs the table-stream function: set up once, then clean up after removed records.
pub async fn run_records_removed() -> Result<(), Error> {
    init_lambda_tracing();
    let (app, tracer) = app_from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let (app, tracer) = (&app, tracer.as_ref());
            async move {
                let removed = async {
                    let response = crate::events::on_records_removed(app, event.payload).await;
                    // A partly failed batch is a fault of this invocation too.
                    if response.batch_item_failures.is_empty() {
                        Ok(response)
                    } else {
                        Err(response)
                    }
                };
                let response = traced(tracer, &event.context, "on-records-removed", removed)
                    .await
                    .unwrap_or_else(|failed| failed);
                Ok::<_, Error>(response)
            }
        },
    ))
    .await
}

/// Runs the event publisher (the table stream's second reader): set up once, then publish the
/// events of every file record change to the bus named by `STOWAGE_EVENT_BUS`.
///
/// `STOWAGE_REALTIME_PUBLISH_URL`: the AppSync Events API's `https://` publish URL, which
/// `publish-events` also sends each change to (unset or empty: no realtime).
#[cfg(feature = "eventbridge")]
pub async fn run_records_changed() -> Result<(), Error> {
    init_lambda_tracing();
    let bus = crate::config::event_bus(|name| std::env::var(name).ok())
        .inspect_err(|err| tracing::error!("{err}"))?;
    let sdk = lambda_sdk_config().inspect_err(|err| tracing::error!("{err}"))?;
    let tracer = Tracer::from_env();
    let mut eventbridge = aws_sdk_eventbridge::config::Builder::from(&sdk);
    if let Some(tracer) = &tracer {
        eventbridge = eventbridge.interceptor(tracer.interceptor());
    }
    let sink = crate::notify::eventbridge::EventBridgeSink::new(
        aws_sdk_eventbridge::Client::from_conf(eventbridge.build()),
        bus,
    );
    // Realtime: the AppSync Events API's publish URL, when the stack has one; the
    // collection policies that decide each event's channels are read through the service.
    let realtime = match std::env::var("STOWAGE_REALTIME_PUBLISH_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        None => None,
        Some(url) => {
            let (app, _) = app_from_env().await?;
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            let credentials = sdk
                .credentials_provider()
                .ok_or("the SDK configuration has no credentials")?;
            let sink = crate::notify::appsync::AppSyncSink::new(
                url.trim(),
                region,
                credentials,
                app.service,
            )
            .inspect_err(|err| tracing::error!("{err}"))?;
            Some(sink)
        }
    };
    let mut sinks: Vec<&dyn crate::notify::EventSink> = vec![&sink];
    if let Some(realtime) = &realtime {
        sinks.push(realtime);
    }
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let (sinks, tracer) = (&sinks, tracer.as_ref());
            async move {
                let publish = async {
                    let (response, published) =
                        crate::events::publish_changes(sinks, event.payload).await;
                    if response.batch_item_failures.is_empty() {
                        Ok((response, published))
                    } else {
                        Err((response, published))
                    }
                };
                let (response, published) =
                    traced(tracer, &event.context, "publish-events", publish)
                        .await
                        .unwrap_or_else(|failed| failed);
                let mut metrics = crate::metrics::Invocation::new("publish-events");
                let count = crate::metrics::Unit::Count;
                metrics.add("EventsPublished", count, published.published as f64);
                metrics.add("EventsFailed", count, published.failed as f64);
                if crate::metrics::cold_start() {
                    metrics.add("ColdStart", count, 1.0);
                }
                metrics.flush();
                Ok::<_, Error>(response)
            }
        },
    ))
    .await
}

/// Runs the subscribe guard of the AppSync Events API (the `authorize-subscribe` function):
/// `null` lets the subscription be made, `{"error": …}` refuses it with that reason
/// ([`crate::realtime::authorize_subscribe`]). It calls no AWS service.
pub async fn run_authorize_subscribe() -> Result<(), Error> {
    init_lambda_tracing();
    let config = Config::from_env().inspect_err(|err| tracing::error!("{err}"))?;
    let (names, require_scopes) = (config.claims, config.require_scopes);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let names = &names;
        async move {
            let channel = event.payload["info"]["channel"]["path"].clone();
            Ok::<_, Error>(
                match crate::realtime::authorize_subscribe(&event.payload, names, require_scopes) {
                    Ok(()) => serde_json::Value::Null,
                    Err(reason) => {
                        tracing::info!(%channel, reason, "subscription refused");
                        serde_json::json!({ "error": reason })
                    }
                },
            )
        }
    }))
    .await
}

/// Runs the thumbnail maker: set up once, then make the thumbnails of each image whose
/// `stowage.file.uploaded` event the bus delivers.
#[cfg(feature = "thumbnails")]
pub async fn run_thumbnails() -> Result<(), Error> {
    init_lambda_tracing();
    let (app, tracer) = app_from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<
            aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value>,
        >| {
            let (app, tracer) = (&app, tracer.as_ref());
            async move {
                let made = traced(
                    tracer,
                    &event.context,
                    "make-thumbnails",
                    crate::events::on_image_uploaded(app, &event.payload.detail),
                )
                .await;
                crate::metrics::thumbnails(
                    "make-thumbnails",
                    made.as_ref().ok().and_then(Option::as_ref),
                    made.is_err(),
                    crate::metrics::cold_start(),
                )
                .flush();
                made.map(|_| ()).map_err(Error::from)
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::{log_filter, AsIs};
    use lambda_http::{Body, IntoResponse as _, Response};
    use tracing::Level;

    /// What a handler answers reaches the runtime unchanged: status, headers and body kind.
    #[tokio::test]
    async fn responses_reach_the_runtime_as_they_are() {
        for body in [Body::Text("{\"a\":\"é\"}".into()), Body::Empty] {
            let response = Response::builder()
                .status(201)
                .header("content-type", "application/json; charset=latin1")
                .header("etag", "\"3\"")
                .body(body.clone())
                .unwrap();
            let answered = AsIs(response).into_response().await;
            assert_eq!(answered.status(), 201);
            assert_eq!(answered.headers()["etag"], "\"3\"");
            assert_eq!(answered.body(), &body);
        }
    }

    #[test]
    fn rust_log_takes_a_level_or_target_levels_and_refuses_span_filters() {
        let default = log_filter(None).unwrap();
        assert!(default.would_enable("stowage", &Level::INFO));
        assert!(!default.would_enable("stowage", &Level::DEBUG));
        assert!(log_filter(Some("  "))
            .unwrap()
            .would_enable("x", &Level::INFO));

        let warn = log_filter(Some("warn")).unwrap();
        assert!(warn.would_enable("stowage", &Level::WARN));
        assert!(!warn.would_enable("stowage", &Level::INFO));

        let mixed = log_filter(Some("info,aws_smithy_runtime=debug")).unwrap();
        assert!(mixed.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!mixed.would_enable("stowage", &Level::DEBUG));
        assert!(mixed.would_enable("stowage", &Level::INFO));

        assert!(log_filter(Some("stowage[request{id=1}]=debug")).is_err());
        assert!(log_filter(Some("stowage=loud")).is_err());
    }
}
