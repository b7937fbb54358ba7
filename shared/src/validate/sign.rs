//! `POST /files/{id}/upload/sign`: one S3 request a browser uploader (Uppy 6's `signRequest`)
//! wants signed, described the way Uppy describes it.

use serde_json::Value;

use super::{Fields, DEFAULT_UPLOAD_URL_EXPIRY_SECONDS, MAX_URL_EXPIRY_SECONDS};
use crate::error::ApiError;

/// The S3 call a browser will make with the signed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Call {
    /// `PUT` the whole object.
    PutObject,
    /// `POST ?uploads`.
    CreateMultipartUpload,
    /// `PUT ?partNumber=&uploadId=`.
    UploadPart { part_number: u32 },
    /// `GET ?uploadId=`.
    ListParts,
    /// `POST ?uploadId=`.
    CompleteMultipartUpload,
    /// `DELETE ?uploadId=`.
    AbortMultipartUpload,
}

impl S3Call {
    /// Whether the call names a multipart upload by its id.
    pub(crate) fn needs_upload_id(self) -> bool {
        !matches!(self, S3Call::PutObject | S3Call::CreateMultipartUpload)
    }
}

/// A validated sign request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    pub call: S3Call,
    /// The object key the client has (`None`: the file's open upload, whatever its key).
    pub key: Option<String>,
    /// The multipart upload id, for the calls that name one.
    pub upload_id: Option<String>,
    /// The `Content-Type` the client will send with `PutObject`.
    pub content_type: Option<String>,
    /// Seconds the signed request stays valid.
    pub expires_in: u64,
}

/// Longest key or upload id accepted.
const MAX_NAME_BYTES: usize = 1_024;

impl SignRequest {
    /// Parses `{"method", "key"?, "uploadId"?, "partNumber"?, "contentType"?, "expiresIn"?}`.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(
            body,
            &[
                "method",
                "key",
                "uploadId",
                "partNumber",
                "contentType",
                "expiresIn",
            ],
        )?;
        let method = f.required_string("method");
        let bounded = |f: &mut Fields, field: &str| {
            f.string(field).filter(|v| {
                let ok =
                    !v.is_empty() && v.len() <= MAX_NAME_BYTES && !v.contains(char::is_control);
                if !ok {
                    f.error(field, "must be 1 to 1024 bytes without control characters");
                }
                ok
            })
        };
        let key = bounded(&mut f, "key");
        let upload_id = bounded(&mut f, "uploadId");
        let content_type = f.string("contentType");
        let part_number = f.integer("partNumber", 1, 10_000);
        let expires_in = f
            .integer("expiresIn", 1, MAX_URL_EXPIRY_SECONDS)
            .unwrap_or(DEFAULT_UPLOAD_URL_EXPIRY_SECONDS);
        let call = match (method.as_deref(), &upload_id, part_number) {
            (Some("PUT"), None, None) => Some(S3Call::PutObject),
            (Some("POST"), None, None) => Some(S3Call::CreateMultipartUpload),
            (Some("PUT"), Some(_), Some(number)) => Some(S3Call::UploadPart {
                part_number: u32::try_from(number).unwrap_or(u32::MAX),
            }),
            (Some("GET"), Some(_), None) => Some(S3Call::ListParts),
            (Some("POST"), Some(_), None) => Some(S3Call::CompleteMultipartUpload),
            (Some("DELETE"), Some(_), None) => Some(S3Call::AbortMultipartUpload),
            (None, _, _) => None,
            _ if f.has_error("partNumber") => None,
            _ => {
                f.error(
                    "method",
                    "with uploadId and partNumber must name one of PutObject (PUT), \
                     CreateMultipartUpload (POST), UploadPart (PUT, uploadId, partNumber), \
                     ListParts (GET, uploadId), CompleteMultipartUpload (POST, uploadId) or \
                     AbortMultipartUpload (DELETE, uploadId)",
                );
                None
            }
        };
        f.finish()?;
        let call = call.ok_or_else(|| ApiError::field("method", "is required"))?;
        Ok(SignRequest {
            call,
            key,
            upload_id,
            content_type,
            expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(body: Value) -> S3Call {
        SignRequest::from_json(body).unwrap().call
    }

    fn fields(body: Value) -> Vec<String> {
        match SignRequest::from_json(body) {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn each_uppy_request_names_its_s3_call() {
        assert_eq!(
            call(json!({"method": "PUT", "key": "k"})),
            S3Call::PutObject
        );
        assert_eq!(
            call(json!({"method": "POST"})),
            S3Call::CreateMultipartUpload
        );
        assert_eq!(
            call(json!({"method": "PUT", "key": "k", "uploadId": "u", "partNumber": 3})),
            S3Call::UploadPart { part_number: 3 }
        );
        assert_eq!(
            call(json!({"method": "GET", "uploadId": "u"})),
            S3Call::ListParts
        );
        assert_eq!(
            call(json!({"method": "POST", "uploadId": "u"})),
            S3Call::CompleteMultipartUpload
        );
        assert_eq!(
            call(json!({"method": "DELETE", "uploadId": "u"})),
            S3Call::AbortMultipartUpload
        );
    }

    #[test]
    fn anything_else_is_named() {
        assert_eq!(fields(json!({"method": "DELETE", "key": "k"})), ["method"]);
        assert_eq!(fields(json!({"method": "PATCH"})), ["method"]);
        assert_eq!(
            fields(json!({"method": "PUT", "uploadId": "u"})),
            ["method"]
        );
        assert_eq!(fields(json!({})), ["method"]);
        assert_eq!(
            fields(json!({"method": "PUT", "uploadId": "u", "partNumber": 0})),
            ["partNumber"]
        );
        assert_eq!(fields(json!({"method": "PUT", "key": ""})), ["key"]);
        assert_eq!(fields(json!({"method": "PUT", "extra": 1})), ["extra"]);
    }
}
