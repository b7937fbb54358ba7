//! Routing one HTTP request of the local server: CORS preflights, the OpenAPI document, the
//! console, public copies, the embedded S3 endpoint, and the API routes, which are turned into the request
//! `lambda_http` hands a Lambda function behind API Gateway and answered by the same handlers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

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
use stowage::error::{ApiError, ProblemCode};
use stowage::http::MAX_BODY_BYTES;
use stowage::lambda_http;
use stowage::App;

use crate::auth::LocalSecret;
use crate::router::{match_route, RouteMatch};
use crate::BUCKET;

/// Form uploads (`POST` to the bucket) handled at once; more wait their turn.
const MAX_FORM_UPLOADS: usize = 4;
static FORM_UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_FORM_UPLOADS);

type Body = s3s::Body;

/// Faults a test can switch on, to see what Stowage does when S3 fails. Off in normal use.
#[derive(Debug, Default)]
pub struct Faults {
    /// The embedded S3 endpoint answers every request `503 SlowDown`, as S3 does when it
    /// throttles.
    pub s3_outage: std::sync::atomic::AtomicBool,
}

pub(crate) struct Dispatcher {
    pub app: Arc<App>,
    pub faults: Arc<Faults>,
    pub cors: Cors,
    /// The embedded S3 endpoint, and a client of it for serving public copies.
    pub s3: Option<(S3Service, aws_sdk_s3::Client)>,
    pub secret: LocalSecret,
    /// The console's page and assets, at `/console/`.
    pub console: stowage_console::Console,
    /// The realtime endpoint's fan-out (embedded backend only: it follows the change log).
    pub realtime: Option<crate::realtime::Hub>,
}

impl Dispatcher {
    pub async fn dispatch(&self, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        if req.uri().path() == crate::realtime::PATH && req.method() == Method::GET {
            return Ok(match &self.realtime {
                Some(hub) => crate::realtime::upgrade(self.app.clone(), &self.secret, hub, req),
                None => plain(StatusCode::NOT_FOUND),
            });
        }
        let method = req.method().clone();
        let origin = req.headers().get(header::ORIGIN).cloned();
        let path = req.uri().path().to_owned();
        let started = std::time::Instant::now();
        let to_s3 =
            self.s3.is_some() && path.trim_start_matches('/').split('/').next() == Some(BUCKET);
        let to_public = self.s3.is_some() && path.starts_with("/public/");
        // The bucket's CORS rules for S3 and the public copies, the HTTP API's for the rest.
        let rules = if to_s3 || to_public {
            &BUCKET_CORS
        } else {
            &API_CORS
        };
        let mut response = if method == Method::OPTIONS {
            preflight(&req, &self.cors, rules)
        } else if path == OPENAPI_PATH {
            openapi(&method)
        } else if path == METRICS_PATH && method == Method::GET {
            metrics()
        } else if stowage_console::Console::owns(&path) {
            let header = |name| {
                req.headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
            };
            self.console
                .answer(
                    &method,
                    &path,
                    header(header::ACCEPT_ENCODING),
                    header(header::IF_NONE_MATCH),
                )
                .map(Body::from)
        } else if to_public {
            self.public_request(&method, &path).await
        } else if to_s3 {
            self.s3_request(req).await
        } else {
            self.api_request(req).await
        };
        if to_s3 || to_public {
            // User content never runs in this origin, the console's.
            for (name, value) in stowage::blob::CONTENT_SECURITY_HEADERS {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
        }
        allow_cross_origin(response.headers_mut(), origin.as_ref(), &self.cors, rules);
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
        let length = output.content_length;
        let mut response = Response::new(if method == Method::HEAD {
            Body::empty()
        } else {
            streamed(output.body, key)
        });
        if let Some(length) = length.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, length);
        }
        if let Some(ct) = &content_type {
            if stowage::blob::is_active_content(ct) {
                response.headers_mut().insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment"),
                );
            }
        }
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
        if self
            .faults
            .s3_outage
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            let mut response = Response::new(Body::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                 <Message>Please reduce your request rate.</Message></Error>"
                    .to_owned(),
            ));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            return response;
        }
        let form_post = req.method() == Method::POST
            && req.uri().path().trim_matches('/') == BUCKET
            && req.uri().query().is_none();
        // s3s reads a form's file into memory (up to its policy's size limit, which Stowage sets
        // to the multipart threshold at most): few at a time bound what that holds.
        let _form_slot = if form_post {
            FORM_UPLOADS.acquire().await.ok()
        } else {
            None
        };
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        match s3.call(req.map(Body::from)).await {
            Ok(response) if form_post => {
                logged(
                    &method,
                    &path,
                    policy_failures_as_s3_answers(response).await,
                )
                .await
            }
            Ok(response) => logged(&method, &path, response).await,
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
                return from_lambda(stowage::http::problem(&ApiError::new(
                    ProblemCode::MethodNotAllowed,
                    "this path does not accept this method",
                )))
            }
            RouteMatch::NotFound => {
                return from_lambda(stowage::http::problem(&ApiError::new(
                    ProblemCode::RouteNotFound,
                    "no route matches this path",
                )))
            }
        };
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return from_lambda(stowage::http::problem(&ApiError::payload_too_large(
                    MAX_BODY_BYTES,
                )))
            }
        };
        let claims = bearer_token(&parts.headers).and_then(|token| self.secret.verify_token(token));
        let request = lambda_request(parts, bytes, claims, params);
        let started = std::time::Instant::now();
        let response = stowage::http::handle(&self.app, route, request).await;
        // The counters the functions write as EMF on AWS, served at GET /metrics.
        let served = route.route();
        stowage::metrics::http_request(
            served.function,
            format!("{} {}", served.method, served.path),
            response.status().as_u16(),
            started.elapsed(),
            false,
        )
        .record();
        from_lambda(response)
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
        // As API Gateway's JWT authorizer does: the `scope` claim's scopes, listed apart.
        jwt.scopes = claims
            .get("scope")
            .map(|scope| scope.split_whitespace().map(str::to_owned).collect());
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
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        map.entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
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

pub(crate) fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}

/// Logs an S3 answer that refuses the request, at the level it deserves: the endpoint's own
/// failure (`5xx`) is an error; a client's refused signature or expired URL (`403`) a warning;
/// a missing key (`404`, which every `HeadObject` miss is) debug; other client errors info.
/// (`s3s` itself logs them all as errors; `main` silences that.)
async fn logged(method: &Method, path: &str, response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let text = String::from_utf8_lossy(&bytes);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("", |(code, _)| code);
    let status_code = status.as_u16();
    match status_code {
        500.. => {
            tracing::error!(%method, key = path, status = status_code, code, "S3 request failed")
        }
        403 => {
            tracing::warn!(%method, key = path, status = status_code, code, "S3 request refused")
        }
        404 => {
            tracing::debug!(%method, key = path, status = status_code, code, "S3 request refused")
        }
        _ => tracing::info!(%method, key = path, status = status_code, code, "S3 request refused"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A form upload whose fields break its POST policy: `s3s` answers `400 InvalidPolicyDocument`
/// where S3 answers `403 AccessDenied` ("Invalid according to Policy"); the rest passes as is.
async fn policy_failures_as_s3_answers(response: Response<Body>) -> Response<Body> {
    if response.status() != StatusCode::BAD_REQUEST {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR),
    };
    if !String::from_utf8_lossy(&bytes).contains("<Code>InvalidPolicyDocument</Code>") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut response = Response::new(Body::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>Invalid according to Policy: Policy Condition failed</Message></Error>"
            .to_owned(),
    ));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
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

/// Which browser origins may call the server (the API and the S3 endpoint alike), as the
/// template's `CorsAllowedOrigins` configures API Gateway and the bucket on AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (`*`, the default).
    Any,
    /// Only these origins (`https://app.example.com`, exact matches).
    Origins(Vec<String>),
}

impl Cors {
    /// Reads `STOWAGE_CORS_ORIGINS`: `*`, or origins separated by commas.
    pub fn parse(setting: Option<&str>) -> Self {
        match setting.map(str::trim) {
            None | Some("") | Some("*") => Cors::Any,
            Some(list) => Cors::Origins(
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            ),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match self {
            Cors::Any => Some(HeaderValue::from_static("*")),
            Cors::Origins(list) => {
                let origin = origin?;
                let text = origin.to_str().ok()?;
                list.iter().any(|o| o == text).then(|| origin.clone())
            }
        }
    }
}

/// What a CORS configuration allows besides its origins (which `Cors` holds: the template's one
/// `CorsAllowedOrigins` parameter serves the API and the bucket alike).
#[derive(Debug, PartialEq, Eq)]
pub struct CorsRules {
    pub allow_methods: &'static [&'static str],
    /// `None`: any header a preflight asks for (S3's `AllowedHeaders: ["*"]`).
    pub allow_headers: Option<&'static [&'static str]>,
    pub expose_headers: &'static [&'static str],
    pub max_age_seconds: u32,
}

/// The HTTP API's `CorsConfiguration` in `template.yaml` (a test holds the two equal).
pub const API_CORS: CorsRules = CorsRules {
    allow_methods: &["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers: Some(&["authorization", "content-type", "if-match"]),
    expose_headers: &["etag", "location"],
    max_age_seconds: 3600,
};

/// The bucket's `CorsRules` in `template.yaml` (a test holds the two equal).
pub const BUCKET_CORS: CorsRules = CorsRules {
    allow_methods: &["GET", "HEAD", "PUT", "POST", "DELETE"],
    allow_headers: None,
    expose_headers: &["ETag", "Location", "x-amz-error-code"],
    max_age_seconds: 3600,
};

fn header_list(names: &[&str]) -> HeaderValue {
    HeaderValue::from_str(&names.join(", ")).expect("header names are valid header text")
}

/// Answers a CORS preflight for the API or the bucket, as API Gateway and S3 CORS would: for an
/// allowed origin, the methods and headers `rules` allow; for any other, `403` without them.
fn preflight(req: &Request<Incoming>, cors: &Cors, rules: &CorsRules) -> Response<Body> {
    let Some(allowed) = cors.allow(req.headers().get(header::ORIGIN)) else {
        return plain(StatusCode::FORBIDDEN);
    };
    let mut response = plain(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header_list(rules.allow_methods),
    );
    let allowed_headers = match rules.allow_headers {
        Some(names) => Some(header_list(names)),
        None => req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned(),
    };
    if let Some(allowed_headers) = allowed_headers {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed_headers);
    }
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, rules.max_age_seconds.into());
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// CORS headers of an actual response: the origin if allowed, and the headers `rules` expose
/// (`ETag` of each part and of a record, `Location` of a created file).
fn allow_cross_origin(
    headers: &mut http::HeaderMap,
    origin: Option<&HeaderValue>,
    cors: &Cors,
    rules: &CorsRules,
) {
    if let Some(allowed) = cors.allow(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header_list(rules.expose_headers),
        );
    }
    if matches!(cors, Cors::Origins(_)) {
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Where `stowage-local` serves its counters (Prometheus' text format, no token: it holds no
/// file data, only counts by function and route).
pub const METRICS_PATH: &str = "/metrics";

fn metrics() -> Response<Body> {
    let mut response = Response::new(Body::from(stowage::metrics::prometheus()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// An object's bytes as a response body, chunk by chunk as the endpoint reads them (two chunks
/// in flight at most): an anonymous reader of a large public file costs no more memory than a
/// small one.
fn streamed(mut object: aws_sdk_s3::primitives::ByteStream, key: &str) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    let key = key.to_owned();
    tokio::spawn(async move {
        while let Some(chunk) = object.next().await {
            let failed = chunk.is_err();
            let item = chunk.map_err(|err| {
                tracing::error!(error = %err, %key, "reading a public copy failed");
                std::io::Error::other(err)
            });
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map(hyper::body::Frame::data), rx))
    });
    Body::http_body_unsync(http_body_util::StreamBody::new(frames))
}
