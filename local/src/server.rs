//! The local server: one HTTP listener that serves the API routes through the very handlers the
//! Lambda functions run, and (in embedded mode) the S3-compatible endpoint that presigned URLs
//! point at. Requests whose first path segment is the bucket go to S3; all others to the API.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use s3s::service::S3Service;
use stowage::blob::s3::S3Store;
use stowage::config::Config;
use stowage::error::ApiError;
use stowage::http::MAX_BODY_BYTES;
use stowage::service::{Clock, Service, Settings};
use stowage::store::embedded::SqliteStore;
use stowage::App;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{LocalSecret, S3_ACCESS_KEY};
use crate::router::{match_route, RouteMatch};
use crate::s3::{LocalBucket, Notifier};

use stowage::lambda_http;

/// The embedded endpoint's one bucket.
pub const BUCKET: &str = "stowage";
/// The SQLite file under the data dir.
pub const METADATA_FILE: &str = "metadata.sqlite3";
/// The folder under the data dir that holds the bucket's objects.
pub const OBJECTS_DIR: &str = "objects";

/// Where file records and bytes live.
pub enum Backend {
    /// SQLite and the embedded S3 endpoint under the data dir: no AWS, no other server.
    Embedded,
    /// DynamoDB and S3 (real, or any compatible endpoint) configured like the Lambda functions
    /// (`Config::from_env` and the AWS SDK's own settings, in `main`).
    Aws {
        config: Config,
        sdk: Box<aws_config::SdkConfig>,
    },
}

/// How to run the server.
pub struct LocalConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub backend: Backend,
    /// The URL clients reach this server at (presigned URLs point here); default
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Run the `on-object-created` handler when the embedded endpoint stores an object.
    pub object_events: bool,
    /// How often the embedded backend deletes expired records and their bytes (the local
    /// stand-in for DynamoDB TTL and the stream function).
    pub sweep_interval: Duration,
    pub clock: Arc<dyn Clock>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] stowage::config::ConfigError),
    #[error("metadata store: {0}")]
    Store(#[from] stowage::store::StoreError),
}

/// A started server. Dropping it stops the accept loop; [`RunningServer::stop`] also waits
/// for the loop to end.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub app: Arc<App>,
    pub secret: LocalSecret,
    sqlite: Option<Arc<SqliteStore>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Runs one expiry sweep now (embedded backend); returns how many records it removed.
    pub async fn sweep(&self) -> usize {
        match &self.sqlite {
            Some(store) => sweep(&self.app, store).await,
            None => 0,
        }
    }

    /// An S3 client for the embedded endpoint, signed with this data dir's credentials.
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        embedded_s3_client(&self.base_url, &self.secret).await
    }
}

async fn embedded_s3_client(base_url: &str, secret: &LocalSecret) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(base_url)
        .credentials_provider(Credentials::new(
            S3_ACCESS_KEY,
            secret.s3_secret_key(),
            None,
            None,
            "stowage-local",
        ))
        .load()
        .await;
    stowage::bootstrap::s3_client(&sdk, true)
}

fn data_dir_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// Binds the listener, builds the app once, and serves until stopped.
pub async fn start(config: LocalConfig) -> Result<RunningServer, StartError> {
    let data_dir = config.data_dir.clone();
    let secret = LocalSecret::load_or_create(&data_dir).map_err(data_dir_error(&data_dir))?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();

    let mut sqlite = None;
    let (app, s3) = match config.backend {
        Backend::Embedded => {
            // The same validation as on Lambda, with the embedded table and bucket filled in.
            let settings = Config::from_lookup(|name| match name {
                "STOWAGE_TABLE" => Some(METADATA_FILE.to_owned()),
                "STOWAGE_BUCKET" => Some(BUCKET.to_owned()),
                other => std::env::var(other).ok(),
            })?;
            let store = Arc::new(SqliteStore::open(&data_dir.join(METADATA_FILE))?);
            sqlite = Some(store.clone());
            let objects_root = data_dir.join(OBJECTS_DIR);
            std::fs::create_dir_all(objects_root.join(BUCKET))
                .map_err(data_dir_error(&data_dir))?;
            let objects = S3Store::new(embedded_s3_client(&base_url, &secret).await, BUCKET);
            let app = Arc::new(App {
                service: Service::new(
                    store,
                    Arc::new(objects),
                    config.clock.clone(),
                    Settings {
                        bucket: BUCKET.to_owned(),
                        download_url_expires_in: settings.download_url_expires_in,
                        multipart_threshold: settings.multipart_threshold,
                        // This server serves public copies itself, at <base>/public/….
                        public_base_url: Some(
                            settings
                                .public_base_url
                                .clone()
                                .unwrap_or_else(|| base_url.clone()),
                        ),
                    },
                ),
                claims: settings.claims,
            });
            let root = objects_root
                .canonicalize()
                .map_err(data_dir_error(&data_dir))?;
            let notifier = Notifier::new(app.clone(), BUCKET, &root, config.object_events);
            let bucket = LocalBucket::new(&root, notifier).map_err(data_dir_error(&data_dir))?;
            let mut builder = s3s::service::S3ServiceBuilder::new(bucket);
            builder.set_auth(s3s::auth::SimpleAuth::from_single(
                S3_ACCESS_KEY,
                secret.s3_secret_key(),
            ));
            (
                app,
                Some((
                    builder.build(),
                    embedded_s3_client(&base_url, &secret).await,
                )),
            )
        }
        Backend::Aws {
            config: settings,
            sdk,
        } => {
            let app = Arc::new(stowage::bootstrap::aws_app(
                &settings,
                &sdk,
                config.clock.clone(),
            ));
            (app, None)
        }
    };

    let dispatcher = Arc::new(Dispatcher {
        app: app.clone(),
        s3,
        secret: secret.clone(),
    });
    let sweeper = sqlite.clone().map(|store| {
        let app = app.clone();
        let every = config.sweep_interval;
        tokio::spawn(async move {
            loop {
                sweep(&app, &store).await;
                tokio::time::sleep(every).await;
            }
        })
    });
    let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _sweeper = AbortOnDrop(sweeper);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let dispatcher = dispatcher.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let dispatcher = dispatcher.clone();
                            async move { dispatcher.dispatch(req).await }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        if let Err(err) = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await
                        {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                    });
                }
                _ = &mut shutdown_rx => break,
            }
        }
    });
    Ok(RunningServer {
        addr,
        base_url,
        app,
        secret,
        sqlite,
        shutdown: Some(shutdown_tx),
        task,
    })
}

/// Deletes expired records and then their bytes, as DynamoDB TTL and the stream function do on
/// AWS. Returns how many records it removed.
async fn sweep(app: &App, store: &SqliteStore) -> usize {
    let mut removed = 0;
    loop {
        let batch = match store.take_expired(app.service.now(), 100) {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(error = ?err, "expiry sweep failed");
                return removed;
            }
        };
        for record in &batch {
            app.service.removed(record).await;
        }
        removed += batch.len();
        if batch.len() < 100 {
            return removed;
        }
    }
}

struct AbortOnDrop(Option<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

type Body = s3s::Body;

struct Dispatcher {
    app: Arc<App>,
    /// The embedded S3 endpoint, and a client of it for serving public copies.
    s3: Option<(S3Service, aws_sdk_s3::Client)>,
    secret: LocalSecret,
}

impl Dispatcher {
    async fn dispatch(&self, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let started = std::time::Instant::now();
        let to_s3 =
            self.s3.is_some() && path.trim_start_matches('/').split('/').next() == Some(BUCKET);
        let to_public = self.s3.is_some() && path.starts_with("/public/");
        let mut response = if method == Method::OPTIONS {
            preflight(&req)
        } else if path == OPENAPI_PATH {
            openapi(&method)
        } else if to_public {
            self.public_request(&method, &path).await
        } else if to_s3 {
            self.s3_request(req).await
        } else {
            self.api_request(req).await
        };
        allow_cross_origin(response.headers_mut());
        tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
        Ok(response)
    }

    /// Serves a public file's public copy without credentials, as CloudFront does on AWS.
    async fn public_request(&self, method: &Method, path: &str) -> Response<Body> {
        let Some((_, client)) = &self.s3 else {
            return plain(StatusCode::NOT_FOUND);
        };
        if method != Method::GET && method != Method::HEAD {
            return plain(StatusCode::METHOD_NOT_ALLOWED);
        }
        let key = path.trim_start_matches('/');
        let output = match client.get_object().bucket(BUCKET).key(key).send().await {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return plain(StatusCode::NOT_FOUND)
            }
            Err(err) => {
                tracing::warn!(error = ?err, %key, "public copy not readable");
                return plain(StatusCode::NOT_FOUND);
            }
        };
        let content_type = output.content_type.clone();
        let bytes = match output.body.collect().await {
            Ok(data) => data.into_bytes(),
            Err(err) => {
                tracing::error!(error = %err, %key, "reading a public copy failed");
                return plain(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        let mut response = Response::new(if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(bytes)
        });
        if let Some(value) = content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        response
    }

    async fn s3_request(&self, req: Request<Incoming>) -> Response<Body> {
        let Some((s3, _)) = &self.s3 else {
            return plain(StatusCode::NOT_FOUND);
        };
        match s3.call(req.map(Body::from)).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = ?err, "S3 endpoint failed");
                plain(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    async fn api_request(&self, req: Request<Incoming>) -> Response<Body> {
        let (route, params) = match match_route(req.method().as_str(), req.uri().path()) {
            RouteMatch::Found(route, params) => (route, params),
            RouteMatch::MethodNotAllowed => {
                return from_lambda(stowage::http::problem(&ApiError::MethodNotAllowed))
            }
            RouteMatch::NotFound => return from_lambda(stowage::http::problem(&ApiError::NoRoute)),
        };
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return from_lambda(stowage::http::problem(&ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }))
            }
        };
        let claims = bearer_token(&parts.headers).and_then(|token| self.secret.verify_token(token));
        let request = lambda_request(parts, bytes, claims, params);
        from_lambda(stowage::http::handle(&self.app, route, request).await)
    }
}

/// The request as `lambda_http` hands it to a function behind API Gateway: the authorizer's
/// claims (when the token verified), the path parameters and the query string.
fn lambda_request(
    parts: http::request::Parts,
    bytes: Bytes,
    claims: Option<HashMap<String, String>>,
    params: HashMap<String, String>,
) -> lambda_http::Request {
    let query = query_map(parts.uri.query().unwrap_or_default());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(format!("{} {}", parts.method, parts.uri.path()));
    context.stage = Some("$default".to_owned());
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());
    if let Some(claims) = claims {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        context.authorizer = Some(authorizer);
    }
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    lambda_http::Request::from_parts(parts, body)
        .with_request_context(RequestContext::ApiGatewayV2(context))
        .with_path_parameters(params)
        .with_query_string_parameters(query)
}

fn query_map(query: &str) -> HashMap<String, Vec<String>> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(decode(name)).or_default().push(decode(value));
    }
    map
}

fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}

/// Where the server publishes the API contract, without authentication.
pub const OPENAPI_PATH: &str = "/openapi.yaml";
/// The contract: `openapi.yaml` at the workspace root, built into the binary.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

fn openapi(method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(OPENAPI_YAML.to_owned())
    });
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    response
}

fn plain(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Answers a CORS preflight for the API or the bucket, as API Gateway and S3 CORS would.
fn preflight(req: &Request<Incoming>) -> Response<Body> {
    let mut response = plain(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
    );
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type, if-match"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    response
}

fn allow_cross_origin(headers: &mut http::HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Location"),
    );
}
