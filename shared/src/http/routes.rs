//! The one route table. Each route is one Lambda function (`functions/<function>`), one HTTP API
//! event in `template.yaml`, and one route of the local server; tests hold the three together.

/// Names a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteId {
    CreateFile,
    ListFiles,
    UpdateFiles,
    DeleteFiles,
    GetFile,
    UpdateFile,
    ReplaceFile,
    DeleteFile,
    GetContent,
    StartUpload,
    AbortUpload,
    ListUploadParts,
    SignUploadParts,
    CompleteUpload,
}

/// A route: method, path template (API Gateway syntax) and the function that serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// The crate under `functions/` and the `Binary` the template builds.
    pub function: &'static str,
}

const fn route(
    id: RouteId,
    method: &'static str,
    path: &'static str,
    function: &'static str,
) -> Route {
    Route {
        id,
        method,
        path,
        function,
    }
}

/// Every HTTP route of the API. Literal paths come before templated ones with the same shape
/// (`POST /files/delete` before `/files/{id}`), as API Gateway prefers them.
pub const ROUTES: &[Route] = &[
    route(RouteId::CreateFile, "POST", "/files", "create-file"),
    route(RouteId::ListFiles, "GET", "/files", "list-files"),
    route(RouteId::UpdateFiles, "PATCH", "/files", "update-files"),
    route(
        RouteId::DeleteFiles,
        "POST",
        "/files/delete",
        "delete-files",
    ),
    route(RouteId::GetFile, "GET", "/files/{id}", "get-file"),
    route(RouteId::UpdateFile, "PATCH", "/files/{id}", "update-file"),
    route(RouteId::ReplaceFile, "PUT", "/files/{id}", "replace-file"),
    route(RouteId::DeleteFile, "DELETE", "/files/{id}", "delete-file"),
    route(
        RouteId::GetContent,
        "GET",
        "/files/{id}/content",
        "get-file-content",
    ),
    route(
        RouteId::StartUpload,
        "POST",
        "/files/{id}/upload",
        "start-upload",
    ),
    route(
        RouteId::AbortUpload,
        "DELETE",
        "/files/{id}/upload",
        "abort-upload",
    ),
    route(
        RouteId::ListUploadParts,
        "GET",
        "/files/{id}/upload/parts",
        "list-upload-parts",
    ),
    route(
        RouteId::SignUploadParts,
        "POST",
        "/files/{id}/upload/parts",
        "sign-upload-parts",
    ),
    route(
        RouteId::CompleteUpload,
        "POST",
        "/files/{id}/upload/complete",
        "complete-upload",
    ),
];
