//! Reading a request as API Gateway hands it to a function: the identity from the JWT
//! authorizer's claims, the path id, `If-Match`, the query and the JSON body.

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use super::strict_json;
use crate::error::{ApiError, ProblemCode};
use crate::identity::{parse_groups, ClaimNames, Identity, Scopes};
use crate::model::{FileId, TenantId, UserId};

/// Largest request body any route accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The identity from the authorizer claims on an HTTP API (v2) request; `401` when either
/// claim is missing or not a valid id. Scopes come from the authorizer's `scopes` (API Gateway
/// fills it from the token's `scope` or `scp`) and from those claims themselves.
pub(crate) fn identity(req: &Request, names: &ClaimNames) -> Result<Identity, ApiError> {
    let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() else {
        return Err(ApiError::unauthorized());
    };
    let jwt = context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .ok_or_else(ApiError::unauthorized)?;
    let granted = jwt.scopes.iter().flatten().map(String::as_str);
    identity_of_claims(&jwt.claims, granted, names)
}

/// The identity the verified `claims` name (as the JWT authorizer renders them: every value a
/// string), with the authorizer's `granted` scopes besides the claims' own; `401` when the
/// tenant or user claim is missing or not a valid id. The API and `stowage-local`'s realtime
/// endpoint read tokens through this one reader.
pub fn identity_of_claims<'a>(
    claims: &std::collections::HashMap<String, String>,
    granted: impl Iterator<Item = &'a str>,
    names: &ClaimNames,
) -> Result<Identity, ApiError> {
    let claim = |name: &str| claims.get(name).map(String::as_str).unwrap_or_default();
    let tenant = TenantId::parse(claim(&names.tenant)).map_err(|_| ApiError::unauthorized())?;
    let user = UserId::parse(claim(&names.user)).map_err(|_| ApiError::unauthorized())?;
    let scopes = Scopes::parse(claim("scope"))
        | Scopes::parse(claim("scp"))
        | granted
            .map(Scopes::parse)
            .fold(Scopes::default(), |a, b| a | b);
    Ok(Identity {
        tenant,
        user,
        scopes,
        groups: parse_groups(claim(&names.groups)),
    })
}

/// The `{id}` path parameter as a file id; `400` if it is not one.
pub(super) fn path_id(req: &Request) -> Result<FileId, ApiError> {
    let params = req.path_parameters();
    let raw = params.first("id").unwrap_or_default();
    FileId::parse(raw).map_err(|e| ApiError::new(ProblemCode::InvalidId, e.to_string()))
}

/// The `{version}` path parameter: a content version number (`404 version_not_found` for
/// anything else, as for a number the file does not have).
pub(super) fn path_version(req: &Request) -> Result<u32, ApiError> {
    let params = req.path_parameters();
    let raw = params.first("version").unwrap_or_default();
    raw.parse::<u32>()
        .ok()
        .filter(|v| *v > 0 && !raw.starts_with('+') && !raw.starts_with('0'))
        .ok_or_else(|| {
            ApiError::field(
                "version",
                "must be a version number (a whole number from 1)",
            )
        })
}

/// The `{name}` path parameter as a collection name; `400` naming `name` if it is not one.
pub(super) fn path_name(req: &Request) -> Result<crate::model::CollectionName, ApiError> {
    let params = req.path_parameters();
    let raw = params.first("name").unwrap_or_default();
    crate::model::CollectionName::parse_as("name", raw).map_err(|e| ApiError::Validation(vec![e]))
}

/// The `If-Match` header as a record version: `"3"`, `W/"3"` or `3`; `*` (or none) matches any.
pub(super) fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<u64>().map(Some).map_err(|_| {
        ApiError::new(
            ProblemCode::InvalidIfMatch,
            "If-Match must be a file version as sent in ETag, e.g. \"3\"",
        )
    })
}

/// The query parameters, each name with all its values in order.
pub(super) fn query(req: &Request) -> Vec<(String, Vec<String>)> {
    let params = req.query_string_parameters();
    let mut grouped: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in params.iter() {
        grouped
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    grouped.into_iter().collect()
}

/// The request body as JSON: `415` unless it is `application/json`, `413` over the limit,
/// `400` if it does not parse.
pub(super) fn json_body(req: &Request) -> Result<Value, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
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
        return Err(ApiError::new(
            ProblemCode::UnsupportedMediaType,
            "the request body must be application/json",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ProblemCode::InvalidJson,
            "the request body is empty; send a JSON object",
        ));
    }
    strict_json::parse(bytes).map_err(|e| {
        ApiError::new(
            ProblemCode::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// The body as JSON, or `None` when there is none (routes whose body is optional).
pub(super) fn optional_json_body(req: &Request) -> Result<Option<Value>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        json_body(req).map(Some)
    }
}
