//! HTTP glue: the route table that the Lambda functions, the SAM template and (later) the local
//! server share, request parsing, and JSON / problem+json responses.

mod routes;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

pub use routes::{Route, RouteId, ROUTES};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::model::{FileId, FileView};
use crate::service::UploadInstructions;
use crate::validate::CreateFile;
use crate::App;

/// Largest request body any route accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Runs one route's handler and renders its result; never panics on client input.
pub async fn handle(app: &App, route: RouteId, req: Request) -> Response<Body> {
    let result = match route {
        RouteId::CreateFile => create_file(app, &req).await,
        RouteId::GetFile => get_file(app, &req).await,
    };
    result.unwrap_or_else(|err| problem(&err))
}

async fn create_file(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let command = CreateFile::from_json(json_body(req)?)?;
    let created = app.service.create(&who, command).await?;
    let body = CreatedBody {
        file: created.record.view(None),
        upload: &created.upload,
    };
    let mut response = json_response(StatusCode::CREATED, &body, Some(created.record.version));
    if let Ok(location) = HeaderValue::from_str(&format!("/files/{}", created.record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `201` body of `POST /files`.
#[derive(Serialize)]
struct CreatedBody<'a> {
    file: FileView<'a>,
    upload: &'a UploadInstructions,
}

async fn get_file(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let record = app.service.get(&who, id).await?;
    let content_url = app.service.content_url(&record).await?;
    Ok(json_response(
        StatusCode::OK,
        &record.view(content_url),
        Some(record.version),
    ))
}

/// The `{id}` path parameter as a file id; `400` if it is not one.
fn path_id(req: &Request) -> Result<FileId, ApiError> {
    let params = req.path_parameters();
    let raw = params.first("id").unwrap_or_default();
    FileId::parse(raw).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
}

/// The request body as JSON: `415` unless it is `application/json`, `413` over the limit,
/// `400` if it does not parse.
pub fn json_body(req: &Request) -> Result<Value, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok());
    let is_json = content_type.is_some_and(|m| {
        m.type_() == mime::APPLICATION
            && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
    });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// A JSON response, with the record version as a strong `ETag` when given.
pub fn json_response<T: Serialize>(
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

/// The problem+json response for `err`; server-side errors are logged with their cause.
pub fn problem(err: &ApiError) -> Response<Body> {
    if err.status() >= 500 {
        tracing::error!(error = ?err, "request failed");
    }
    let body = serde_json::to_string(&err.problem()).unwrap_or_else(|_| "{}".to_owned());
    let mut builder = Response::builder()
        .status(err.status())
        .header(header::CONTENT_TYPE, "application/problem+json");
    if matches!(err, ApiError::Unauthorized) {
        builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
    }
    builder
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
