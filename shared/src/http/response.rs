//! Writing responses: JSON with the record version as `ETag`, redirects, and problem+json.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::{ApiError, ProblemCode};
use crate::identity::Scope;

/// A JSON response, with the record version as a strong `ETag` when given.
pub(crate) fn json_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    version: Option<u64>,
) -> Response<Body> {
    let Ok(text) = serde_json::to_string(body) else {
        return problem(&ApiError::internal("response did not serialize"));
    };
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(version) = version {
        builder = builder.header(header::ETAG, format!("\"{version}\""));
    }
    builder
        .body(Body::Text(text))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// A response without a body.
pub(super) fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// `302` to `url`, never cached (presigned URLs expire).
pub(super) fn redirect(url: &str) -> Response<Body> {
    let mut response = empty(StatusCode::FOUND);
    if let Ok(location) = HeaderValue::from_str(url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The problem+json response for `err`; server-side errors are logged with their cause.
pub fn problem(err: &ApiError) -> Response<Body> {
    problem_for(err, None)
}

/// [`problem`], naming the scope a `403 insufficient_scope` asks for.
pub(super) fn problem_for(err: &ApiError, scope_needed: Option<Scope>) -> Response<Body> {
    if err.status() >= 500 {
        tracing::error!(error = ?err, "request failed");
    }
    let body = serde_json::to_string(&err.problem()).unwrap_or_else(|_| "{}".to_owned());
    let mut builder = Response::builder()
        .status(err.status())
        .header(header::CONTENT_TYPE, "application/problem+json");
    if err.is(ProblemCode::Unauthorized) {
        builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
    }
    if let Some(scope) = scope_needed {
        // RFC 6750 section 3.
        builder = builder.header(
            header::WWW_AUTHENTICATE,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                scope.as_str()
            ),
        );
    }
    if let Some(seconds) = err.retry_after() {
        builder = builder.header(header::RETRY_AFTER, seconds.to_string());
    }
    builder
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
