//! One handler per route. Each takes its typed input (`extract`), makes one service call and
//! returns a typed answer that knows its status, headers and wire shape (`wire`). [`serve`] runs
//! a handler for a request: the caller's identity and the route's scope first, then the input,
//! then the handler. A Lambda function names its handler (`bootstrap::run_route::<GetFile>()`),
//! so its binary links that route's code and not the others'.

use std::future::Future;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use super::extract::{
    FromRequest, IfMatch, Json, MergePatch, OptionalJson, PathId, PathName, PathVersion, Query,
    Replacement,
};
use super::request::identity;
use super::response::{empty, json_response, problem, problem_for, redirect};
use super::routes::RouteId;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::Collection;
use crate::service::{
    Created, Deleted, ListPage, RealtimeInfo, Shown, SignedParts, SignedRequest, ThumbnailAnswer,
    UploadLimits, UsageReport,
};
use crate::store::MetadataStore;
use crate::validate::{
    CompleteParts, ContentRequest, LimitsRequest, ListQuery, NewCollection, RulesPatch, SignParts,
    SignRequest, ThumbnailRequest, UploadRequest,
};
use crate::wire;
use crate::App;

/// A route's handler: what it reads from the request, and what it answers.
pub trait Handler {
    /// The route it answers (its scope is checked before the input is read).
    const ROUTE: RouteId;
    /// Its typed input.
    type Input: FromRequest;
    /// Its typed answer.
    type Output: Answer;
    /// Runs the route for `who`.
    fn run<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
        app: &App<M, O>,
        who: Identity,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, ApiError>> + Send;
}

/// A handler's result as an HTTP response.
pub trait Answer {
    fn into_response(self) -> Response<Body>;
}

/// Runs handler `H` for `req` and renders its result; never panics on client input.
pub async fn serve<H: Handler, M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>(
    app: &App<M, O>,
    req: &Request,
) -> Response<Body> {
    let scope = H::ROUTE.route().scope;
    let mut ticket = None;
    let answered = async {
        let who = identity(req, &app.claims)?;
        // Admin routes need their scope even where scopes are not required.
        if (app.require_scopes || scope == crate::identity::Scope::Admin)
            && !who.scopes.contains(scope)
        {
            // Before anything is read or written.
            return Err(ApiError::insufficient_scope(scope));
        }
        // Counted against the tenant's request limits, except the two routes that read no
        // store (what the deployment allows, where realtime is).
        if !matches!(
            H::ROUTE,
            crate::http::RouteId::GetUploadLimits | crate::http::RouteId::GetRealtime
        ) {
            ticket = app.service.begin_request(&who.tenant).await?;
        }
        let input = H::Input::from_request(req)?;
        H::run(app, who, input).await
    };
    let response = match answered.await {
        Ok(answer) => answer.into_response(),
        Err(err) if err.is(ProblemCode::InsufficientScope) => problem_for(&err, Some(scope)),
        Err(err) => problem(&err),
    };
    // Ended once answered (the answer is rendered: nothing of the handler's is held here).
    app.service.end_request(ticket).await;
    response
}

// --- answers -------------------------------------------------------------------------------

/// A record, with its version as the `ETag`.
impl Answer for Shown {
    fn into_response(self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            &wire::FileView::from(&self),
            Some(self.record.version),
        )
    }
}

/// A new record with its upload: `201` with `Location`.
pub struct NewFile(Created);

impl Answer for NewFile {
    fn into_response(self) -> Response<Body> {
        let created = self.0;
        let mut response = json_response(
            StatusCode::CREATED,
            &wire::FileWithUpload::from(&created),
            Some(created.file.record.version),
        );
        let location = format!("/files/{}", created.file.record.id);
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// A record with a new upload opened: `200`.
impl Answer for Created {
    fn into_response(self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            &wire::FileWithUpload::from(&self),
            Some(self.file.record.version),
        )
    }
}

/// `204 No Content`.
pub struct NoContent;

impl Answer for NoContent {
    fn into_response(self) -> Response<Body> {
        empty(StatusCode::NO_CONTENT)
    }
}

impl Answer for crate::service::ManyFiles {
    fn into_response(self) -> Response<Body> {
        let items: Vec<wire::FileView<'_>> = self.items.iter().map(wire::FileView::from).collect();
        json_response(
            StatusCode::OK,
            &serde_json::json!({ "items": items, "notFound": self.not_found }),
            None,
        )
    }
}

impl Answer for crate::service::ManyLinks {
    fn into_response(self) -> Response<Body> {
        let items: Vec<serde_json::Value> = self
            .items
            .iter()
            .map(|link| serde_json::json!({ "id": link.id, "url": link.url }))
            .collect();
        json_response(
            StatusCode::OK,
            &serde_json::json!({
                "items": items,
                "notFound": self.not_found,
                "notUploaded": self.not_uploaded,
            }),
            None,
        )
    }
}

impl Answer for crate::service::FolderPage {
    fn into_response(self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            &serde_json::json!({ "items": self.items, "nextCursor": self.next_cursor }),
            None,
        )
    }
}

/// A folder made (`201`) or already there (`200`).
pub struct FolderMade(crate::service::Folder, bool);

impl Answer for FolderMade {
    fn into_response(self) -> Response<Body> {
        let status = if self.1 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        json_response(status, &self.0, None)
    }
}

impl Answer for crate::service::FolderMoved {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &self, None)
    }
}

/// A copy: `201` with the new record and its `Location`.
pub struct NewCopy(Shown);

impl Answer for NewCopy {
    fn into_response(self) -> Response<Body> {
        let mut response = json_response(
            StatusCode::CREATED,
            &wire::FileView::from(&self.0),
            Some(self.0.record.version),
        );
        if let Ok(location) = HeaderValue::from_str(&format!("/files/{}", self.0.record.id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// A file's versions, current first.
pub struct Versions(Vec<crate::service::VersionEntry>);

impl Answer for Versions {
    fn into_response(self) -> Response<Body> {
        let items: Vec<wire::VersionView<'_>> =
            self.0.iter().map(wire::VersionView::from).collect();
        json_response(StatusCode::OK, &serde_json::json!({ "items": items }), None)
    }
}

/// `302` to a presigned or public URL.
pub struct Redirect(String);

impl Answer for Redirect {
    fn into_response(self) -> Response<Body> {
        redirect(&self.0)
    }
}

impl Answer for ListPage {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::Page::from(&self), None)
    }
}

/// The records a batch update wrote.
pub struct Updated(Vec<Shown>);

impl Answer for Updated {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::Items::from(self.0.as_slice()), None)
    }
}

/// The parts S3 holds.
pub struct Parts(Vec<crate::blob::UploadedPart>);

impl Answer for Parts {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::Parts::from(self.0.as_slice()), None)
    }
}

impl Answer for Deleted {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::DeleteAnswer::from(&self), None)
    }
}

impl Answer for SignedParts {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::PartUrls::from(&self), None)
    }
}

impl Answer for SignedRequest {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::Signed::from(&self), None)
    }
}

/// The upload limits, which clients may keep a few minutes.
impl Answer for UploadLimits {
    fn into_response(self) -> Response<Body> {
        let mut response = json_response(StatusCode::OK, &wire::Limits::from(&self), None);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=300"),
        );
        response
    }
}

/// `302` to the thumbnail, or `202` with `Retry-After` while it is being made.
impl Answer for ThumbnailAnswer {
    fn into_response(self) -> Response<Body> {
        match self {
            ThumbnailAnswer::Ready(url) => redirect(&url),
            ThumbnailAnswer::Pending { retry_after } => {
                let body = wire::ThumbnailPending {
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
}

/// A collection, with its version as the `ETag`.
impl Answer for Collection {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::collection(&self), Some(self.version))
    }
}

/// A new collection: `201` with `Location`.
pub struct NewCollectionAnswer(Collection);

impl Answer for NewCollectionAnswer {
    fn into_response(self) -> Response<Body> {
        let collection = self.0;
        let mut response = json_response(
            StatusCode::CREATED,
            &wire::collection(&collection),
            Some(collection.version),
        );
        let location = format!("/collections/{}", collection.name);
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// Every collection of the tenant.
pub struct Collections(Vec<Collection>);

impl Answer for Collections {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::collections(&self.0), None)
    }
}

impl Answer for UsageReport {
    fn into_response(self) -> Response<Body> {
        json_response(StatusCode::OK, &wire::UsageView::from(&self), None)
    }
}

impl Answer for RealtimeInfo {
    fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({
            "url": self.endpoint.url,
            "host": self.endpoint.host,
            "channels": self.channels,
        });
        json_response(StatusCode::OK, &body, None)
    }
}

// --- the routes ------------------------------------------------------------------------------

/// Declares a route's handler: `name: Route(input pattern: Input) -> Output { body }`.
macro_rules! handler {
    ($(#[$doc:meta])* $name:ident: $route:ident($app:ident, $who:ident, $input:pat => $input_type:ty) -> $output:ty $body:block) => {
        $(#[$doc])*
        pub struct $name;

        impl Handler for $name {
            const ROUTE: RouteId = RouteId::$route;
            type Input = $input_type;
            type Output = $output;
            async fn run<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized>($app: &App<M, O>, $who: Identity, $input: $input_type) -> Result<$output, ApiError> $body
        }
    };
}

handler!(
    /// `POST /files`.
    CreateFile: CreateFile(app, who, Json(command) => Json<crate::validate::CreateFile>) -> NewFile {
        app.service.create(&who, command).await.map(NewFile)
    }
);

handler!(
    /// `GET /files`.
    ListFiles: ListFiles(app, who, Query(query) => Query<ListQuery>) -> ListPage {
        app.service.list(&who, &query).await
    }
);

handler!(
    /// `PATCH /files`.
    UpdateFiles: UpdateFiles(app, who, Json(request) => Json<crate::validate::UpdateFiles>) -> Updated {
        match request {
            crate::validate::UpdateFiles::Items(batch) => app.service.update_many(&who, &batch).await,
            crate::validate::UpdateFiles::Filter { query, patch } => {
                app.service.update_matching(&who, &query, &patch).await
            }
        }
        .map(Updated)
    }
);

handler!(
    /// `POST /files/delete`.
    DeleteFiles: DeleteFiles(app, who, Json(request) => Json<crate::validate::DeleteFiles>) -> Deleted {
        match request {
            crate::validate::DeleteFiles::Ids(batch) => app.service.delete_many(&who, &batch).await,
            crate::validate::DeleteFiles::Filter { query, permanent } => {
                app.service.delete_matching(&who, &query, permanent).await
            }
        }
    }
);

handler!(
    /// `POST /files/get`.
    GetFiles: GetFiles(app, who, Json(request) => Json<crate::validate::BatchIds>) -> crate::service::ManyFiles {
        app.service.get_many(&who, &request.ids).await
    }
);

handler!(
    /// `POST /files/links`.
    GetLinks: GetLinks(app, who, (Json(request), Query(options)) => (Json<crate::validate::BatchIds>, Query<ContentRequest>)) -> crate::service::ManyLinks {
        app.service
            .links(&who, &request.ids, options.disposition, options.expires_in)
            .await
    }
);

handler!(
    /// `GET /files/limits`.
    GetUploadLimits: GetUploadLimits(app, _who, () => ()) -> UploadLimits {
        Ok(app.service.upload_limits())
    }
);

handler!(
    /// `GET /files/{id}`.
    GetFile: GetFile(app, who, (PathId(id), Query(request)) => (PathId, Query<crate::validate::ShowRequest>)) -> Shown {
        if request.trashed {
            app.service.get_trashed(&who, id).await
        } else {
            app.service.get(&who, id).await
        }
    }
);

handler!(
    /// `PATCH /files/{id}`.
    UpdateFile: UpdateFile(app, who, (PathId(id), IfMatch(if_match), Json(MergePatch(patch))) => (PathId, IfMatch, Json<MergePatch>)) -> Shown {
        app.service.update(&who, id, &patch, if_match).await
    }
);

handler!(
    /// `PUT /files/{id}`.
    ReplaceFile: ReplaceFile(app, who, (PathId(id), IfMatch(if_match), Json(Replacement(patch))) => (PathId, IfMatch, Json<Replacement>)) -> Shown {
        app.service.update(&who, id, &patch, if_match).await
    }
);

handler!(
    /// `DELETE /files/{id}`.
    DeleteFile: DeleteFile(app, who, (PathId(id), IfMatch(if_match), Query(request)) => (PathId, IfMatch, Query<crate::validate::DeleteRequest>)) -> NoContent {
        app.service.delete(&who, id, if_match, request.permanent).await.map(|()| NoContent)
    }
);

handler!(
    /// `POST /files/{id}/copy`.
    CopyFile: CopyFile(app, who, (PathId(id), OptionalJson(request)) => (PathId, OptionalJson<crate::validate::CopyRequest>)) -> NewCopy {
        app.service.copy(&who, id, request).await.map(NewCopy)
    }
);

handler!(
    /// `POST /files/{id}/restore`.
    RestoreFile: RestoreFile(app, who, PathId(id) => PathId) -> Shown {
        app.service.restore(&who, id).await
    }
);

handler!(
    /// `GET /files/{id}/versions`.
    ListVersions: ListVersions(app, who, PathId(id) => PathId) -> Versions {
        app.service.versions(&who, id).await.map(Versions)
    }
);

handler!(
    /// `GET /files/{id}/versions/{version}/content`.
    GetVersionContent: GetVersionContent(app, who, (PathId(id), PathVersion(version), Query(request)) => (PathId, PathVersion, Query<ContentRequest>)) -> Redirect {
        app.service
            .version_redirect(&who, id, version, request.disposition, request.expires_in)
            .await
            .map(Redirect)
    }
);

handler!(
    /// `POST /files/{id}/versions/{version}/restore`.
    RestoreVersion: RestoreVersion(app, who, (PathId(id), PathVersion(version)) => (PathId, PathVersion)) -> Shown {
        app.service.restore_version(&who, id, version).await
    }
);

handler!(
    /// `DELETE /files/{id}/versions/{version}`.
    DeleteVersion: DeleteVersion(app, who, (PathId(id), PathVersion(version)) => (PathId, PathVersion)) -> NoContent {
        app.service.delete_version(&who, id, version).await.map(|()| NoContent)
    }
);

handler!(
    /// `GET /files/{id}/content`.
    GetContent: GetContent(app, who, (PathId(id), Query(request)) => (PathId, Query<ContentRequest>)) -> Redirect {
        app.service
            .content_redirect(&who, id, request.disposition, request.expires_in)
            .await
            .map(Redirect)
    }
);

handler!(
    /// `GET /files/{id}/thumbnail`.
    GetThumbnail: GetThumbnail(app, who, (PathId(id), Query(request)) => (PathId, Query<ThumbnailRequest>)) -> ThumbnailAnswer {
        app.service.thumbnail(&who, id, request).await
    }
);

handler!(
    /// `POST /files/{id}/upload`.
    StartUpload: StartUpload(app, who, (PathId(id), IfMatch(if_match), OptionalJson(request)) => (PathId, IfMatch, OptionalJson<UploadRequest>)) -> Created {
        app.service.start_upload(&who, id, request, if_match).await
    }
);

handler!(
    /// `DELETE /files/{id}/upload`.
    AbortUpload: AbortUpload(app, who, (PathId(id), IfMatch(if_match)) => (PathId, IfMatch)) -> Shown {
        app.service.abort_upload(&who, id, if_match).await
    }
);

handler!(
    /// `GET /files/{id}/upload/parts`.
    ListUploadParts: ListUploadParts(app, who, PathId(id) => PathId) -> Parts {
        app.service.uploaded_parts(&who, id).await.map(Parts)
    }
);

handler!(
    /// `POST /files/{id}/upload/parts`.
    SignUploadParts: SignUploadParts(app, who, (PathId(id), Json(request)) => (PathId, Json<SignParts>)) -> SignedParts {
        app.service.sign_parts(&who, id, &request).await
    }
);

handler!(
    /// `POST /files/{id}/upload/sign`.
    SignUploadRequest: SignUploadRequest(app, who, (PathId(id), Json(request)) => (PathId, Json<SignRequest>)) -> SignedRequest {
        app.service.sign_request(&who, id, &request).await
    }
);

handler!(
    /// `POST /files/{id}/upload/complete`.
    CompleteUpload: CompleteUpload(app, who, (PathId(id), OptionalJson(request)) => (PathId, OptionalJson<CompleteParts>)) -> Shown {
        app.service.complete_upload(&who, id, &request).await
    }
);

handler!(
    /// `POST /collections`.
    CreateCollection: CreateCollection(app, who, Json(request) => Json<NewCollection>) -> NewCollectionAnswer {
        app.service.create_collection(&who, request).await.map(NewCollectionAnswer)
    }
);

handler!(
    /// `GET /collections`.
    ListCollections: ListCollections(app, who, () => ()) -> Collections {
        app.service.list_collections(&who).await.map(Collections)
    }
);

handler!(
    /// `GET /collections/{name}`.
    GetCollection: GetCollection(app, who, PathName(name) => PathName) -> Collection {
        app.service.get_collection(&who, &name).await
    }
);

handler!(
    /// `PATCH /collections/{name}`.
    UpdateCollection: UpdateCollection(app, who, (PathName(name), IfMatch(if_match), Json(patch)) => (PathName, IfMatch, Json<RulesPatch>)) -> Collection {
        app.service.update_collection(&who, &name, &patch, if_match).await
    }
);

handler!(
    /// `DELETE /collections/{name}`.
    DeleteCollection: DeleteCollection(app, who, (PathName(name), IfMatch(if_match)) => (PathName, IfMatch)) -> NoContent {
        app.service.delete_collection(&who, &name, if_match).await.map(|()| NoContent)
    }
);

handler!(
    /// `GET /usage`.
    GetUsage: GetUsage(app, who, () => ()) -> UsageReport {
        app.service.usage(&who).await
    }
);

handler!(
    /// `GET /realtime`.
    GetRealtime: GetRealtime(app, who, () => ()) -> RealtimeInfo {
        app.service.realtime(&who)
    }
);

handler!(
    /// `PUT /usage/limits`.
    PutUsageLimits: PutUsageLimits(app, who, Json(request) => Json<LimitsRequest>) -> UsageReport {
        app.service.put_limits(&who, request).await
    }
);

handler!(
    /// `GET /folders`.
    ListFolders: ListFolders(app, who, Query(query) => Query<crate::validate::FolderQuery>) -> crate::service::FolderPage {
        app.service.list_folders(&who, &query).await
    }
);

handler!(
    /// `POST /folders`.
    CreateFolder: CreateFolder(app, who, Json(request) => Json<crate::validate::NewFolder>) -> FolderMade {
        app.service
            .create_folder(&who, &request.path)
            .await
            .map(|(folder, created)| FolderMade(folder, created))
    }
);

handler!(
    /// `POST /folders/move`.
    MoveFolder: MoveFolder(app, who, Json(request) => Json<crate::validate::MoveFolder>) -> crate::service::FolderMoved {
        app.service.move_folder(&who, &request).await
    }
);

handler!(
    /// `DELETE /folders`.
    DeleteFolder: DeleteFolder(app, who, Query(request) => Query<crate::validate::FolderPathQuery>) -> NoContent {
        app.service.delete_folder(&who, &request.path).await.map(|()| NoContent)
    }
);
