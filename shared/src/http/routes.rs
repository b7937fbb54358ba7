//! The one route table. Each route is one Lambda function (`functions/<function>`), one HTTP API
//! event in `template.yaml`, one operation of `openapi.yaml` and one route of the local server;
//! tests hold the four together.

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
    SignUploadRequest,
    GetUploadLimits,
    GetThumbnail,
    CreateCollection,
    ListCollections,
    GetCollection,
    UpdateCollection,
    DeleteCollection,
    GetUsage,
    GetRealtime,
    PutUsageLimits,
    RestoreFile,
    ListVersions,
    GetVersionContent,
    RestoreVersion,
    DeleteVersion,
    GetFiles,
    GetLinks,
    CopyFile,
    ListFolders,
    CreateFolder,
    MoveFolder,
    DeleteFolder,
}

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method as HTTP writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// True if `method` (any case) is this one.
    pub fn is(self, method: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(method)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A route: method, path template (API Gateway syntax), the function that serves it, and the
/// scope a token needs for it when scopes are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: Method,
    pub path: &'static str,
    /// The crate under `functions/` and the `Binary` the template builds.
    pub function: &'static str,
    pub scope: Scope,
}

const fn route(id: RouteId, method: Method, path: &'static str, function: &'static str) -> Route {
    // Every GET reads; deleting files deletes; managing collections and limits is an app's;
    // everything else (creates, updates, uploads and their parts, aborts) writes.
    let scope = match (method, id) {
        // Reads that take their ids in a body.
        (Get, _) | (_, RouteId::GetFiles | RouteId::GetLinks) => Scope::Read,
        (
            _,
            RouteId::CreateCollection
            | RouteId::UpdateCollection
            | RouteId::DeleteCollection
            | RouteId::PutUsageLimits,
        ) => Scope::Admin,
        (
            _,
            RouteId::DeleteFile
            | RouteId::DeleteFiles
            | RouteId::RestoreFile
            | RouteId::DeleteVersion
            | RouteId::DeleteFolder,
        ) => Scope::Delete,
        _ => Scope::Write,
    };
    Route {
        id,
        method,
        path,
        function,
        scope,
    }
}

use crate::identity::Scope;
use Method::{Delete, Get, Patch, Post, Put};

/// Every HTTP route of the API. Literal paths come before templated ones with the same shape
/// (`POST /files/delete` before `/files/{id}`), as API Gateway prefers them.
pub const ROUTES: &[Route] = &[
    route(RouteId::CreateFile, Post, "/files", "create-file"),
    route(RouteId::ListFiles, Get, "/files", "list-files"),
    route(RouteId::UpdateFiles, Patch, "/files", "update-files"),
    route(RouteId::DeleteFiles, Post, "/files/delete", "delete-files"),
    route(RouteId::GetFiles, Post, "/files/get", "get-files"),
    route(RouteId::GetLinks, Post, "/files/links", "get-file-links"),
    route(
        RouteId::GetUploadLimits,
        Get,
        "/files/limits",
        "get-upload-limits",
    ),
    route(RouteId::GetFile, Get, "/files/{id}", "get-file"),
    route(RouteId::UpdateFile, Patch, "/files/{id}", "update-file"),
    route(RouteId::ReplaceFile, Put, "/files/{id}", "replace-file"),
    route(RouteId::DeleteFile, Delete, "/files/{id}", "delete-file"),
    route(
        RouteId::GetContent,
        Get,
        "/files/{id}/content",
        "get-file-content",
    ),
    route(
        RouteId::GetThumbnail,
        Get,
        "/files/{id}/thumbnail",
        "get-thumbnail",
    ),
    route(RouteId::CopyFile, Post, "/files/{id}/copy", "copy-file"),
    route(
        RouteId::RestoreFile,
        Post,
        "/files/{id}/restore",
        "restore-file",
    ),
    route(
        RouteId::ListVersions,
        Get,
        "/files/{id}/versions",
        "list-file-versions",
    ),
    route(
        RouteId::GetVersionContent,
        Get,
        "/files/{id}/versions/{version}/content",
        "get-file-version-content",
    ),
    route(
        RouteId::RestoreVersion,
        Post,
        "/files/{id}/versions/{version}/restore",
        "restore-file-version",
    ),
    route(
        RouteId::DeleteVersion,
        Delete,
        "/files/{id}/versions/{version}",
        "delete-file-version",
    ),
    route(
        RouteId::StartUpload,
        Post,
        "/files/{id}/upload",
        "start-upload",
    ),
    route(
        RouteId::AbortUpload,
        Delete,
        "/files/{id}/upload",
        "abort-upload",
    ),
    route(
        RouteId::ListUploadParts,
        Get,
        "/files/{id}/upload/parts",
        "list-upload-parts",
    ),
    route(
        RouteId::SignUploadParts,
        Post,
        "/files/{id}/upload/parts",
        "sign-upload-parts",
    ),
    route(
        RouteId::CompleteUpload,
        Post,
        "/files/{id}/upload/complete",
        "complete-upload",
    ),
    route(
        RouteId::SignUploadRequest,
        Post,
        "/files/{id}/upload/sign",
        "sign-upload-request",
    ),
    route(
        RouteId::CreateCollection,
        Post,
        "/collections",
        "create-collection",
    ),
    route(
        RouteId::ListCollections,
        Get,
        "/collections",
        "list-collections",
    ),
    route(
        RouteId::GetCollection,
        Get,
        "/collections/{name}",
        "get-collection",
    ),
    route(
        RouteId::UpdateCollection,
        Patch,
        "/collections/{name}",
        "update-collection",
    ),
    route(
        RouteId::DeleteCollection,
        Delete,
        "/collections/{name}",
        "delete-collection",
    ),
    route(RouteId::ListFolders, Get, "/folders", "list-folders"),
    route(RouteId::CreateFolder, Post, "/folders", "create-folder"),
    route(RouteId::DeleteFolder, Delete, "/folders", "delete-folder"),
    route(RouteId::MoveFolder, Post, "/folders/move", "move-folder"),
    route(RouteId::GetUsage, Get, "/usage", "get-usage"),
    route(RouteId::GetRealtime, Get, "/realtime", "get-realtime"),
    route(
        RouteId::PutUsageLimits,
        Put,
        "/usage/limits",
        "put-usage-limits",
    ),
];

impl RouteId {
    /// This route's entry in [`ROUTES`].
    pub fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|route| route.id == self)
            .expect("every route id is in the table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route id, by an exhaustive match: a new variant fails to compile here until it is
    /// listed, and then fails the test until it is in the table.
    fn every_id() -> Vec<RouteId> {
        let all = [
            RouteId::CreateFile,
            RouteId::ListFiles,
            RouteId::UpdateFiles,
            RouteId::DeleteFiles,
            RouteId::GetFile,
            RouteId::UpdateFile,
            RouteId::ReplaceFile,
            RouteId::DeleteFile,
            RouteId::GetContent,
            RouteId::StartUpload,
            RouteId::AbortUpload,
            RouteId::ListUploadParts,
            RouteId::SignUploadParts,
            RouteId::CompleteUpload,
            RouteId::SignUploadRequest,
            RouteId::GetUploadLimits,
            RouteId::GetThumbnail,
            RouteId::CreateCollection,
            RouteId::ListCollections,
            RouteId::GetCollection,
            RouteId::UpdateCollection,
            RouteId::DeleteCollection,
            RouteId::GetUsage,
            RouteId::PutUsageLimits,
            RouteId::GetRealtime,
            RouteId::RestoreFile,
            RouteId::ListVersions,
            RouteId::GetVersionContent,
            RouteId::RestoreVersion,
            RouteId::DeleteVersion,
            RouteId::GetFiles,
            RouteId::GetLinks,
            RouteId::CopyFile,
            RouteId::ListFolders,
            RouteId::CreateFolder,
            RouteId::MoveFolder,
            RouteId::DeleteFolder,
        ];
        for id in all {
            match id {
                RouteId::CreateFile
                | RouteId::ListFiles
                | RouteId::UpdateFiles
                | RouteId::DeleteFiles
                | RouteId::GetFile
                | RouteId::UpdateFile
                | RouteId::ReplaceFile
                | RouteId::DeleteFile
                | RouteId::GetContent
                | RouteId::StartUpload
                | RouteId::AbortUpload
                | RouteId::ListUploadParts
                | RouteId::SignUploadParts
                | RouteId::CompleteUpload
                | RouteId::SignUploadRequest
                | RouteId::GetUploadLimits
                | RouteId::GetThumbnail
                | RouteId::CreateCollection
                | RouteId::ListCollections
                | RouteId::GetCollection
                | RouteId::UpdateCollection
                | RouteId::DeleteCollection
                | RouteId::GetUsage
                | RouteId::PutUsageLimits
                | RouteId::GetRealtime
                | RouteId::RestoreFile
                | RouteId::ListVersions
                | RouteId::GetVersionContent
                | RouteId::RestoreVersion
                | RouteId::DeleteVersion
                | RouteId::GetFiles
                | RouteId::GetLinks
                | RouteId::CopyFile
                | RouteId::ListFolders
                | RouteId::CreateFolder
                | RouteId::MoveFolder
                | RouteId::DeleteFolder => {}
            }
        }
        all.to_vec()
    }

    #[test]
    fn every_route_id_is_in_the_table_once() {
        for id in every_id() {
            assert_eq!(ROUTES.iter().filter(|r| r.id == id).count(), 1, "{id:?}");
        }
        assert_eq!(ROUTES.len(), every_id().len());
    }
}
