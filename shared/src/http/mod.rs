//! HTTP glue: the route table that the Lambda functions, the SAM template and the local server
//! share, and one handler per route. A handler reads the request (`request.rs`), parses its
//! body into a typed command (`crate::validate`), makes one service call, and writes the
//! response (`response.rs`).

mod request;
mod response;
mod routes;
mod strict_json;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub use request::MAX_BODY_BYTES;
pub use response::{json_response, problem};
pub use routes::{Method, Route, RouteId, ROUTES};

use crate::blob::Disposition;
use crate::error::{ApiError, ProblemCode};
use crate::model::FileView;
use crate::service::{Created, Shown, ThumbnailAnswer, UploadInstructions};
use crate::validate::{
    BatchDelete, BatchUpdate, CompleteParts, CreateFile, FilePatch, ListQuery, SignParts,
    SignRequest, ThumbnailRequest, UpdateMode, UploadRequest,
};
use crate::App;
use request::{identity, if_match, json_body, optional_json_body, path_id, query};
use response::{empty, problem_for, redirect};

/// Runs one route's handler and renders its result; never panics on client input.
pub async fn handle(app: &App, route: RouteId, req: Request) -> Response<Body> {
    match respond(app, route, &req).await {
        Ok(response) => response,
        Err(err) if err.is(ProblemCode::InsufficientScope) => {
            problem_for(&err, Some(route.route().scope))
        }
        Err(err) => problem(&err),
    }
}

async fn respond(app: &App, route: RouteId, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = identity(req, &app.claims)?;
    let scope = route.route().scope;
    if app.require_scopes && !who.scopes.contains(scope) {
        // Before anything is read or written.
        return Err(ApiError::insufficient_scope(scope));
    }
    let service = &app.service;
    Ok(match route {
        RouteId::CreateFile => {
            let command = CreateFile::from_json(json_body(req)?)?;
            let created = service.create(&who, command).await?;
            let mut response = created_response(StatusCode::CREATED, &created);
            let location = format!("/files/{}", created.file.record.id);
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        RouteId::ListFiles => {
            let params = query(req);
            let query = ListQuery::from_params(params.iter().map(|(name, values)| {
                (name.as_str(), values.iter().map(String::as_str).collect())
            }))?;
            let page = service.list(&who, &query).await?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Page<'a> {
                items: Vec<FileView<'a>>,
                next_cursor: Option<String>,
            }
            let body = Page {
                items: page.items.iter().map(Shown::view).collect(),
                next_cursor: page.next_cursor,
            };
            json_response(StatusCode::OK, &body, None)
        }
        RouteId::UpdateFiles => {
            let batch = BatchUpdate::from_json(json_body(req)?)?;
            let updated = service.update_many(&who, &batch).await?;
            #[derive(Serialize)]
            struct Items<'a> {
                items: Vec<FileView<'a>>,
            }
            let body = Items {
                items: updated.iter().map(Shown::view).collect(),
            };
            json_response(StatusCode::OK, &body, None)
        }
        RouteId::DeleteFiles => {
            let batch = BatchDelete::from_json(json_body(req)?)?;
            let deleted = service.delete_many(&who, &batch).await?;
            json_response(StatusCode::OK, &deleted, None)
        }
        RouteId::GetFile => file_response(&service.get(&who, path_id(req)?).await?),
        RouteId::UpdateFile | RouteId::ReplaceFile => {
            let id = path_id(req)?;
            let if_match = if_match(req)?;
            let mode = match route {
                RouteId::ReplaceFile => UpdateMode::Replace,
                _ => UpdateMode::Merge,
            };
            let patch = FilePatch::from_json(json_body(req)?, mode)?;
            file_response(&service.update(&who, id, &patch, if_match).await?)
        }
        RouteId::DeleteFile => {
            let id = path_id(req)?;
            service.delete(&who, id, if_match(req)?).await?;
            empty(StatusCode::NO_CONTENT)
        }
        RouteId::GetContent => {
            let id = path_id(req)?;
            let disposition = disposition(req)?;
            redirect(&service.content_redirect(&who, id, disposition).await?)
        }
        RouteId::GetThumbnail => {
            let id = path_id(req)?;
            let params = query(req);
            let request = ThumbnailRequest::from_params(params.iter().map(|(name, values)| {
                (name.as_str(), values.iter().map(String::as_str).collect())
            }))?;
            match service.thumbnail(&who, id, request).await? {
                ThumbnailAnswer::Ready(url) => redirect(&url),
                ThumbnailAnswer::Pending { retry_after } => {
                    #[derive(Serialize)]
                    #[serde(rename_all = "camelCase")]
                    struct Pending {
                        status: &'static str,
                        retry_after: u64,
                    }
                    let body = Pending {
                        status: "pending",
                        retry_after,
                    };
                    let mut response = json_response(StatusCode::ACCEPTED, &body, None);
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    response
                }
            }
        }
        RouteId::StartUpload => {
            let id = path_id(req)?;
            let if_match = if_match(req)?;
            let request = UploadRequest::from_json(optional_json_body(req)?)?;
            let created = service.start_upload(&who, id, request, if_match).await?;
            created_response(StatusCode::OK, &created)
        }
        RouteId::AbortUpload => {
            let id = path_id(req)?;
            file_response(&service.abort_upload(&who, id, if_match(req)?).await?)
        }
        RouteId::ListUploadParts => {
            let parts = service.uploaded_parts(&who, path_id(req)?).await?;
            #[derive(Serialize)]
            struct Parts<'a> {
                parts: &'a [crate::blob::UploadedPart],
            }
            json_response(StatusCode::OK, &Parts { parts: &parts }, None)
        }
        RouteId::SignUploadParts => {
            let id = path_id(req)?;
            let request = SignParts::from_json(json_body(req)?)?;
            json_response(
                StatusCode::OK,
                &service.sign_parts(&who, id, &request).await?,
                None,
            )
        }
        RouteId::SignUploadRequest => {
            let id = path_id(req)?;
            let request = SignRequest::from_json(json_body(req)?)?;
            json_response(
                StatusCode::OK,
                &service.sign_request(&who, id, &request).await?,
                None,
            )
        }
        RouteId::GetUploadLimits => {
            let mut response = json_response(StatusCode::OK, &service.upload_limits(), None);
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            response
        }
        RouteId::CompleteUpload => {
            let id = path_id(req)?;
            let request = CompleteParts::from_json(optional_json_body(req)?)?;
            file_response(&service.complete_upload(&who, id, &request).await?)
        }
    })
}

/// A record with its version as the `ETag`.
fn file_response(shown: &Shown) -> Response<Body> {
    json_response(StatusCode::OK, &shown.view(), Some(shown.record.version))
}

/// `{"file", "upload"}` of create and re-upload.
fn created_response(status: StatusCode, created: &Created) -> Response<Body> {
    #[derive(Serialize)]
    struct Body<'a> {
        file: FileView<'a>,
        upload: &'a UploadInstructions,
    }
    let body = Body {
        file: created.file.view(),
        upload: &created.upload,
    };
    json_response(status, &body, Some(created.file.record.version))
}

/// The `disposition` query parameter of a download (default `attachment`).
fn disposition(req: &Request) -> Result<Disposition, ApiError> {
    let mut disposition = Disposition::default();
    for (name, values) in query(req) {
        if name != "disposition" {
            return Err(ApiError::field(name, "is not a known query parameter"));
        }
        for value in values {
            disposition = Disposition::parse(&value)
                .ok_or_else(|| ApiError::field("disposition", "must be inline or attachment"))?;
        }
    }
    Ok(disposition)
}
