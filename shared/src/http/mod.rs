//! HTTP glue: the route table that the Lambda functions, the SAM template and the local server
//! share, and one handler per route (`handlers`). A handler takes its input already parsed into
//! domain values (`extract`, over `request.rs` and the commands of `crate::validate`), makes one
//! service call, and answers a typed value whose wire shape lives in `crate::wire` and whose
//! status and headers `response.rs` writes.

mod extract;
mod handlers;
mod request;
mod response;
mod routes;
mod strict_json;

use lambda_http::{Body, Request, Response};

pub use handlers::{
    serve, AbortUpload, CompleteUpload, CopyFile, CreateCollection, CreateFile, CreateFolder,
    DeleteCollection, DeleteFile, DeleteFiles, DeleteFolder, DeleteVersion, GetCollection,
    GetContent, GetFile, GetFiles, GetLinks, GetRealtime, GetThumbnail, GetUploadLimits, GetUsage,
    GetVersionContent, Handler, ListCollections, ListFiles, ListFolders, ListUploadParts,
    ListVersions, MoveFolder, PutUsageLimits, ReplaceFile, RestoreFile, RestoreVersion,
    SignUploadParts, SignUploadRequest, StartUpload, UpdateCollection, UpdateFile, UpdateFiles,
};
pub use request::{identity_of_claims, MAX_BODY_BYTES};
pub use response::problem;
pub use routes::Route;
pub use routes::{Method, RouteId, ROUTES};

use crate::App;

/// Runs the handler of `route` (the table from route ids to handlers, for servers that answer
/// every route: `stowage-local` and the tests; a Lambda function names its one handler).
pub async fn handle(app: &App, route: RouteId, req: Request) -> Response<Body> {
    let req = &req;
    match route {
        RouteId::CreateFile => serve::<CreateFile, _, _>(app, req).await,
        RouteId::ListFiles => serve::<ListFiles, _, _>(app, req).await,
        RouteId::UpdateFiles => serve::<UpdateFiles, _, _>(app, req).await,
        RouteId::DeleteFiles => serve::<DeleteFiles, _, _>(app, req).await,
        RouteId::GetUploadLimits => serve::<GetUploadLimits, _, _>(app, req).await,
        RouteId::GetFile => serve::<GetFile, _, _>(app, req).await,
        RouteId::UpdateFile => serve::<UpdateFile, _, _>(app, req).await,
        RouteId::ReplaceFile => serve::<ReplaceFile, _, _>(app, req).await,
        RouteId::DeleteFile => serve::<DeleteFile, _, _>(app, req).await,
        RouteId::GetContent => serve::<GetContent, _, _>(app, req).await,
        RouteId::GetThumbnail => serve::<GetThumbnail, _, _>(app, req).await,
        RouteId::StartUpload => serve::<StartUpload, _, _>(app, req).await,
        RouteId::AbortUpload => serve::<AbortUpload, _, _>(app, req).await,
        RouteId::ListUploadParts => serve::<ListUploadParts, _, _>(app, req).await,
        RouteId::SignUploadParts => serve::<SignUploadParts, _, _>(app, req).await,
        RouteId::SignUploadRequest => serve::<SignUploadRequest, _, _>(app, req).await,
        RouteId::CompleteUpload => serve::<CompleteUpload, _, _>(app, req).await,
        RouteId::CreateCollection => serve::<CreateCollection, _, _>(app, req).await,
        RouteId::ListCollections => serve::<ListCollections, _, _>(app, req).await,
        RouteId::GetCollection => serve::<GetCollection, _, _>(app, req).await,
        RouteId::UpdateCollection => serve::<UpdateCollection, _, _>(app, req).await,
        RouteId::DeleteCollection => serve::<DeleteCollection, _, _>(app, req).await,
        RouteId::GetUsage => serve::<GetUsage, _, _>(app, req).await,
        RouteId::PutUsageLimits => serve::<PutUsageLimits, _, _>(app, req).await,
        RouteId::GetRealtime => serve::<GetRealtime, _, _>(app, req).await,
        RouteId::RestoreFile => serve::<RestoreFile, _, _>(app, req).await,
        RouteId::ListVersions => serve::<ListVersions, _, _>(app, req).await,
        RouteId::GetVersionContent => serve::<GetVersionContent, _, _>(app, req).await,
        RouteId::RestoreVersion => serve::<RestoreVersion, _, _>(app, req).await,
        RouteId::DeleteVersion => serve::<DeleteVersion, _, _>(app, req).await,
        RouteId::GetFiles => serve::<GetFiles, _, _>(app, req).await,
        RouteId::GetLinks => serve::<GetLinks, _, _>(app, req).await,
        RouteId::CopyFile => serve::<CopyFile, _, _>(app, req).await,
        RouteId::ListFolders => serve::<ListFolders, _, _>(app, req).await,
        RouteId::CreateFolder => serve::<CreateFolder, _, _>(app, req).await,
        RouteId::MoveFolder => serve::<MoveFolder, _, _>(app, req).await,
        RouteId::DeleteFolder => serve::<DeleteFolder, _, _>(app, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handler named for each route answers that route.
    #[test]
    fn every_route_has_its_own_handler() {
        let handlers = [
            CreateFile::ROUTE,
            ListFiles::ROUTE,
            UpdateFiles::ROUTE,
            DeleteFiles::ROUTE,
            GetUploadLimits::ROUTE,
            GetFile::ROUTE,
            UpdateFile::ROUTE,
            ReplaceFile::ROUTE,
            DeleteFile::ROUTE,
            GetContent::ROUTE,
            GetThumbnail::ROUTE,
            StartUpload::ROUTE,
            AbortUpload::ROUTE,
            ListUploadParts::ROUTE,
            SignUploadParts::ROUTE,
            SignUploadRequest::ROUTE,
            CompleteUpload::ROUTE,
            CreateCollection::ROUTE,
            ListCollections::ROUTE,
            GetCollection::ROUTE,
            UpdateCollection::ROUTE,
            DeleteCollection::ROUTE,
            GetUsage::ROUTE,
            PutUsageLimits::ROUTE,
            GetRealtime::ROUTE,
            RestoreFile::ROUTE,
            ListVersions::ROUTE,
            GetVersionContent::ROUTE,
            RestoreVersion::ROUTE,
            DeleteVersion::ROUTE,
            GetFiles::ROUTE,
            GetLinks::ROUTE,
            CopyFile::ROUTE,
            ListFolders::ROUTE,
            CreateFolder::ROUTE,
            MoveFolder::ROUTE,
            DeleteFolder::ROUTE,
        ];
        let unique: std::collections::HashSet<RouteId> = handlers.iter().copied().collect();
        assert_eq!(unique.len(), ROUTES.len(), "one handler per route");
        for route in ROUTES {
            assert!(handlers.contains(&route.id), "{:?} has a handler", route.id);
        }
    }
}
