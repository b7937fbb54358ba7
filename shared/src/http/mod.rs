//! HTTP glue: the route table that the Lambda functions, the SAM template and (later) the local
//! server share, request parsing, and JSON / problem+json responses.

mod routes;
mod strict_json;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::collections::BTreeMap;

use serde_json::Value;

pub use routes::{Route, RouteId, ROUTES};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::model::{FileId, FileRecord, FileView};
use crate::service::{UploadInstructions, UploadRequest};
use crate::validate::{CreateFile, ListQuery, UpdateMode};
use crate::App;

/// Largest request body any route accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Runs one route's handler and renders its result; never panics on client input.
pub async fn handle(app: &App, route: RouteId, req: Request) -> Response<Body> {
    let result = match route {
        RouteId::CreateFile => create_file(app, &req).await,
        RouteId::ListFiles => list_files(app, &req).await,
        RouteId::UpdateFiles => update_files(app, &req).await,
        RouteId::DeleteFiles => delete_files(app, &req).await,
        RouteId::GetFile => get_file(app, &req).await,
        RouteId::UpdateFile => update_file(app, &req, UpdateMode::Merge).await,
        RouteId::ReplaceFile => update_file(app, &req, UpdateMode::Replace).await,
        RouteId::DeleteFile => delete_file(app, &req).await,
        RouteId::GetContent => get_content(app, &req).await,
        RouteId::StartUpload => start_upload(app, &req).await,
        RouteId::AbortUpload => abort_upload(app, &req).await,
        RouteId::ListUploadParts => list_upload_parts(app, &req).await,
        RouteId::SignUploadParts => sign_upload_parts(app, &req).await,
        RouteId::CompleteUpload => complete_upload(app, &req).await,
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
    record_response(app, StatusCode::OK, &record).await
}

/// A record with its `contentUrl`, and its version as the `ETag`.
async fn record_response(
    app: &App,
    status: StatusCode,
    record: &FileRecord,
) -> Result<Response<Body>, ApiError> {
    let content_url = app.service.content_url(record).await?;
    Ok(json_response(
        status,
        &record.view(content_url),
        Some(record.version),
    ))
}

async fn views<'a>(app: &App, records: &'a [FileRecord]) -> Result<Vec<FileView<'a>>, ApiError> {
    let mut views = Vec::with_capacity(records.len());
    for record in records {
        views.push(record.view(app.service.content_url(record).await?));
    }
    Ok(views)
}

async fn list_files(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let params = req.query_string_parameters();
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in params.iter() {
        grouped.entry(name).or_default().push(value);
    }
    let query = ListQuery::from_params(grouped)?;
    let page = app.service.list(&who, &query).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<'a> {
        items: Vec<FileView<'a>>,
        next_cursor: Option<String>,
    }
    let body = Page {
        items: views(app, &page.items).await?,
        next_cursor: page.next_cursor,
    };
    Ok(json_response(StatusCode::OK, &body, None))
}

async fn update_file(
    app: &App,
    req: &Request,
    mode: UpdateMode,
) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let if_match = if_match(req)?;
    let body = json_body(req)?;
    let record = app.service.update(&who, id, body, mode, if_match).await?;
    record_response(app, StatusCode::OK, &record).await
}

async fn update_files(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let records = app.service.update_many(&who, json_body(req)?).await?;
    #[derive(Serialize)]
    struct Items<'a> {
        items: Vec<FileView<'a>>,
    }
    let body = Items {
        items: views(app, &records).await?,
    };
    Ok(json_response(StatusCode::OK, &body, None))
}

async fn delete_file(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    app.service.delete(&who, id, if_match(req)?).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn delete_files(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let deleted = app.service.delete_many(&who, json_body(req)?).await?;
    Ok(json_response(StatusCode::OK, &deleted, None))
}

async fn get_content(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let params = req.query_string_parameters();
    let mut disposition = "attachment";
    for (name, value) in params.iter() {
        match (name, value) {
            ("disposition", "inline" | "attachment") => disposition = value,
            ("disposition", _) => {
                return Err(ApiError::field(
                    "disposition",
                    "must be inline or attachment",
                ))
            }
            (other, _) => return Err(ApiError::field(other, "is not a known query parameter")),
        }
    }
    let url = app.service.content_redirect(&who, id, disposition).await?;
    let mut response = empty(StatusCode::FOUND);
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn start_upload(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let if_match = if_match(req)?;
    let body: &[u8] = req.body().as_ref();
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        UploadRequest {
            url_expires_in: crate::validate::DEFAULT_UPLOAD_URL_EXPIRY_SECONDS,
            ..UploadRequest::default()
        }
    } else {
        crate::validate::upload_request(json_body(req)?)?
    };
    let created = app
        .service
        .start_upload(&who, id, request, if_match)
        .await?;
    let body = CreatedBody {
        file: created
            .record
            .view(app.service.content_url(&created.record).await?),
        upload: &created.upload,
    };
    Ok(json_response(
        StatusCode::OK,
        &body,
        Some(created.record.version),
    ))
}

async fn abort_upload(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let record = app.service.abort_upload(&who, id, if_match(req)?).await?;
    record_response(app, StatusCode::OK, &record).await
}

async fn list_upload_parts(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let parts = app.service.uploaded_parts(&who, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "parts": parts }),
        None,
    ))
}

async fn sign_upload_parts(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let signed = app.service.sign_parts(&who, id, json_body(req)?).await?;
    Ok(json_response(StatusCode::OK, &signed, None))
}

async fn complete_upload(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Identity::from_request(req, &app.claims)?;
    let id = path_id(req)?;
    let body: &[u8] = req.body().as_ref();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(json_body(req)?)
    };
    let record = app.service.complete_upload(&who, id, body).await?;
    record_response(app, StatusCode::OK, &record).await
}

/// The `If-Match` header as a record version: `"3"`, `W/"3"` or `3`; `*` (or none) matches any.
fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_if_match",
            "If-Match must be a file version as sent in ETag, e.g. \"3\"",
        )
    })
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
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
    strict_json::parse(bytes).map_err(|e| {
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
