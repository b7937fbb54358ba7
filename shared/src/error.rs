//! The one error type the API returns, and its `application/problem+json` rendering (RFC 9457).
//!
//! Expected failures are variants with a stable `code`; unexpected ones are `Internal`, which
//! keeps its source for the logs and shows the client only an opaque 500.

use serde::Serialize;

/// One problem with one request field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a route can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields broke their rules.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The request as a whole is malformed (not JSON, not an object, a bad id…).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// No identity on the request.
    #[error("the request carries no valid identity")]
    Unauthorized,
    /// No such file for this tenant (also for other tenants' files).
    #[error("no file with that id")]
    NotFound,
    /// The request conflicts with the current state.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Like `NotFound`, naming which of several ids was not found.
    #[error("{0}")]
    NotFoundDetail(String),
    /// No route has this path (served only by `stowage-local`; API Gateway answers these itself).
    #[error("no route matches this path")]
    NoRoute,
    /// A route has this path, but not this method.
    #[error("this path does not accept this method")]
    MethodNotAllowed,
    /// `If-Match` did not match the record's version.
    #[error("the file's version is not the one given in If-Match")]
    PreconditionFailed,
    /// The body is larger than the route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body is not JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// A backend is throttling or unreachable; the client may retry.
    #[error("a storage backend is unavailable; retry later")]
    Unavailable(#[source] Source),
    /// Anything unexpected. The client sees only an opaque message.
    #[error("internal error")]
    Internal(#[source] Source),
}

impl ApiError {
    /// A 400 with a single field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// A 400 for a malformed request.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// Wraps an unexpected error.
    pub fn internal(source: impl Into<Source>) -> Self {
        ApiError::Internal(source.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized => 401,
            ApiError::NotFound | ApiError::NotFoundDetail(_) | ApiError::NoRoute => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict { .. } => 409,
            ApiError::PreconditionFailed => 412,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest { code, .. } | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound | ApiError::NotFoundDetail(_) => "not_found",
            ApiError::NoRoute => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PreconditionFailed => "version_mismatch",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem<'_> {
        let status = self.status();
        let detail = match self {
            ApiError::Validation(errors) if errors.len() == 1 => errors[0].to_string(),
            ApiError::Validation(errors) => format!("{} fields are invalid", errors.len()),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:stowage:problem:{}", self.code()),
            title: title(status),
            status,
            detail,
            code: self.code(),
            errors: match self {
                ApiError::Validation(errors) => Some(errors),
                _ => None,
            },
        }
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// An RFC 9457 problem document with Stowage's `code` and `errors` extensions.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Unavailable(source) => ApiError::Unavailable(source),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<crate::blob::BlobError> for ApiError {
    fn from(err: crate::blob::BlobError) -> Self {
        ApiError::Internal(Box::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_problem_lists_each_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("name", "is required"),
            FieldError::new("tags", "must be an array of strings"),
        ]);
        let doc = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(
            doc,
            json!({
                "type": "urn:stowage:problem:validation_failed",
                "title": "Bad Request",
                "status": 400,
                "detail": "2 fields are invalid",
                "code": "validation_failed",
                "errors": [
                    {"field": "name", "message": "is required"},
                    {"field": "tags", "message": "must be an array of strings"}
                ]
            })
        );
    }

    #[test]
    fn single_field_error_is_named_in_detail() {
        let doc = serde_json::to_value(ApiError::field("name", "is required").problem()).unwrap();
        assert_eq!(doc["detail"], "name: is required");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal("table stowage-prod is on fire");
        let doc = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(doc["status"], 500);
        assert_eq!(doc["detail"], "internal error");
        assert!(doc.get("errors").is_none());
    }

    #[test]
    fn statuses_and_codes_are_stable() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::PreconditionFailed, 412, "version_mismatch"),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::bad_request("invalid_json", "x"),
                400,
                "invalid_json",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.code()), (status, code));
            assert_eq!(err.problem().title, title(status));
        }
    }
}
