//! Typed input of the handlers: each part of a request a handler needs — the `{id}`, `If-Match`,
//! the query, the JSON body — is parsed into a value of the domain before the handler runs (as
//! axum's extractors do). A tuple of extractors is one, read left to right, so a request with
//! several faults is answered with the first in that order.

use lambda_http::Request;
use serde_json::Value;

use super::request::{
    if_match, json_body, optional_json_body, path_id, path_name, path_version, query,
};
use crate::error::ApiError;
use crate::model::FileId;
use crate::validate::{
    CompleteParts, ContentRequest, CreateFile, DeleteFiles, FilePatch, LimitsRequest, ListQuery,
    NewCollection, RulesPatch, SignParts, SignRequest, ThumbnailRequest, UpdateFiles, UpdateMode,
    UploadRequest,
};

/// A value a handler takes, read from the request.
pub trait FromRequest: Sized {
    fn from_request(req: &Request) -> Result<Self, ApiError>;
}

impl FromRequest for () {
    fn from_request(_: &Request) -> Result<Self, ApiError> {
        Ok(())
    }
}

impl<A: FromRequest, B: FromRequest> FromRequest for (A, B) {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        Ok((A::from_request(req)?, B::from_request(req)?))
    }
}

impl<A: FromRequest, B: FromRequest, C: FromRequest> FromRequest for (A, B, C) {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        Ok((
            A::from_request(req)?,
            B::from_request(req)?,
            C::from_request(req)?,
        ))
    }
}

/// The `{id}` path parameter: `400 invalid_id` unless it is a canonical ULID.
pub struct PathId(pub FileId);

impl FromRequest for PathId {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        path_id(req).map(PathId)
    }
}

/// The `{version}` path parameter of a version route.
pub struct PathVersion(pub u32);

impl FromRequest for PathVersion {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        path_version(req).map(PathVersion)
    }
}

/// The `{name}` path parameter of a collection route.
pub struct PathName(pub crate::model::CollectionName);

impl FromRequest for PathName {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        path_name(req).map(PathName)
    }
}

/// The `If-Match` header as a record version (`None`: absent or `*`).
pub struct IfMatch(pub Option<u64>);

impl FromRequest for IfMatch {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        if_match(req).map(IfMatch)
    }
}

/// A command parsed from a JSON body (`415`, `413`, `400 invalid_json` before its own checks).
pub struct Json<T>(pub T);

/// A command whose JSON body is required.
pub(crate) trait FromJson: Sized {
    fn from_json(body: Value) -> Result<Self, ApiError>;
}

impl<T: FromJson> FromRequest for Json<T> {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        T::from_json(json_body(req)?).map(Json)
    }
}

/// A command whose JSON body may be left out.
pub struct OptionalJson<T>(pub T);

/// A command read from an optional JSON body (`None`: no body).
pub(crate) trait FromOptionalJson: Sized {
    fn from_json(body: Option<Value>) -> Result<Self, ApiError>;
}

impl<T: FromOptionalJson> FromRequest for OptionalJson<T> {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        T::from_json(optional_json_body(req)?).map(OptionalJson)
    }
}

/// A request parsed from the query string (each name with all its values).
pub struct Query<T>(pub T);

/// A request read from query parameters.
pub(crate) trait FromQuery: Sized {
    fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    ) -> Result<Self, ApiError>;
}

impl<T: FromQuery> FromRequest for Query<T> {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        let params = query(req);
        T::from_params(
            params
                .iter()
                .map(|(name, values)| (name.as_str(), values.iter().map(String::as_str).collect())),
        )
        .map(Query)
    }
}

/// `PATCH`'s body: a JSON merge patch.
pub struct MergePatch(pub FilePatch);
/// `PUT`'s body: every mutable field.
pub struct Replacement(pub FilePatch);

impl FromJson for MergePatch {
    fn from_json(body: Value) -> Result<Self, ApiError> {
        FilePatch::from_json(body, UpdateMode::Merge).map(MergePatch)
    }
}

impl FromJson for Replacement {
    fn from_json(body: Value) -> Result<Self, ApiError> {
        FilePatch::from_json(body, UpdateMode::Replace).map(Replacement)
    }
}

macro_rules! from_json {
    ($trait:ident: $($command:ty),* $(,)?) => {
        $(impl $trait for $command {
            fn from_json(body: from_json!(@body $trait)) -> Result<Self, ApiError> {
                <$command>::from_json(body)
            }
        })*
    };
    (@body FromJson) => { Value };
    (@body FromOptionalJson) => { Option<Value> };
}
from_json!(FromJson: CreateFile, UpdateFiles, DeleteFiles, SignParts, SignRequest, NewCollection, RulesPatch, LimitsRequest, crate::validate::BatchIds, crate::validate::NewFolder, crate::validate::MoveFolder);
from_json!(FromOptionalJson: UploadRequest, CompleteParts, crate::validate::CopyRequest);

macro_rules! from_query {
    ($($request:ty),* $(,)?) => {
        $(impl FromQuery for $request {
            fn from_params<'a>(
                params: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
            ) -> Result<Self, ApiError> {
                <$request>::from_params(params)
            }
        })*
    };
}
from_query!(
    ListQuery,
    ThumbnailRequest,
    ContentRequest,
    crate::validate::ShowRequest,
    crate::validate::DeleteRequest,
    crate::validate::FolderQuery,
    crate::validate::FolderPathQuery,
);
