//! What a request may do at the embedded endpoint, beyond its signature.
//!
//! `s3s` checks a query-signed (presigned) request against only the headers its
//! `X-Amz-SignedHeaders` names, and picks the operation from headers too (`x-amz-copy-source`
//! turns a `PUT` into `CopyObject`). So a presigned upload URL plus one unsigned header would
//! copy any object of the bucket into the signer's key. S3 itself refuses such requests; this
//! does as S3 does:
//!
//! - a query-signed request that carries an `x-amz-*` header its signature does not cover is
//!   `403 AccessDenied` (`x-amz-content-sha256` aside, which S3 exempts);
//! - a query-signed request whose operation is not the one it was signed for (`x-id`) is `403`;
//! - copies (`CopyObject`, `UploadPartCopy`) are allowed only to header-signed requests, which
//!   only holders of the endpoint's own credentials (Stowage itself, or an S3 tool its operator
//!   configured) can make;
//! - a request without credentials is refused, as `s3s` does by default.

use s3s::access::{S3Access, S3AccessContext};
use s3s::{s3_error, S3Result};

/// The endpoint's access rule (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct PresignedScope;

/// The operations that read another object than the one the request names.
const COPIES: [&str; 2] = ["CopyObject", "UploadPartCopy"];

/// Headers S3 does not require to be signed.
const EXEMPT: [&str; 1] = ["x-amz-content-sha256"];

/// The query parameters of a query-signed request that matter here: `X-Amz-SignedHeaders`
/// (lowercase names) and `x-id`; `None` for a request that is not query-signed.
fn presigned(query: Option<&str>) -> Option<(Vec<String>, Option<String>)> {
    let mut signature = false;
    let mut signed = Vec::new();
    let mut operation = None;
    for (name, value) in form_urlencoded::parse(query?.as_bytes()) {
        match name.as_ref() {
            "X-Amz-Signature" => signature = true,
            "X-Amz-SignedHeaders" => {
                signed = value
                    .split(';')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect();
            }
            "x-id" => operation = Some(value.into_owned()),
            _ => {}
        }
    }
    signature.then_some((signed, operation))
}

/// Why `operation`, asked for with `headers` by a request whose query is `query`, is refused;
/// `None` when it may go on.
pub(crate) fn refusal(
    operation: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> Option<&'static str> {
    let Some((signed, signed_operation)) = presigned(query) else {
        // Header-signed (or a form POST, checked against its policy by s3s).
        return None;
    };
    let unsigned = headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with("x-amz-") && !EXEMPT.contains(&name) && !signed.iter().any(|s| s == name)
    });
    if unsigned {
        return Some("There were headers present in the request which were not signed");
    }
    if COPIES.contains(&operation) {
        return Some("a presigned request cannot copy objects");
    }
    if signed_operation.is_some_and(|signed| signed != operation) {
        return Some("the request is not the operation its URL was signed for");
    }
    None
}

#[async_trait::async_trait]
impl S3Access for PresignedScope {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        match refusal(cx.s3_op().name(), cx.uri().query(), cx.headers()) {
            Some(why) => {
                tracing::warn!(
                    operation = cx.s3_op().name(),
                    why,
                    "refused a presigned request"
                );
                Err(s3_error!(AccessDenied, "{why}"))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> http::HeaderMap {
        names
            .iter()
            .map(|n| {
                (
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_static("x"),
                )
            })
            .collect()
    }

    const PUT: &str =
        "x-id=PutObject&X-Amz-Signature=ab&X-Amz-SignedHeaders=content-type%3Bhost%3Bif-none-match";

    #[test]
    fn a_presigned_put_with_only_its_signed_headers_goes_on() {
        let sent = headers(&["content-type", "if-none-match", "x-amz-content-sha256"]);
        assert_eq!(refusal("PutObject", Some(PUT), &sent), None);
    }

    #[test]
    fn an_unsigned_amz_header_on_a_presigned_request_is_refused() {
        let sent = headers(&["content-type", "x-amz-copy-source"]);
        assert!(refusal("CopyObject", Some(PUT), &sent).is_some());
        let sent = headers(&["x-amz-meta-owner"]);
        assert!(refusal("PutObject", Some(PUT), &sent).is_some());
    }

    #[test]
    fn a_presigned_request_for_another_operation_or_a_copy_is_refused() {
        assert!(refusal("DeleteObject", Some(PUT), &headers(&[])).is_some());
        let part = "partNumber=1&uploadId=u&X-Amz-Signature=ab&X-Amz-SignedHeaders=host%3Bx-amz-copy-source";
        assert!(refusal(
            "UploadPartCopy",
            Some(part),
            &headers(&["x-amz-copy-source"])
        )
        .is_some());
    }

    #[test]
    fn header_signed_requests_may_copy() {
        let sent = headers(&["x-amz-copy-source", "authorization"]);
        assert_eq!(refusal("CopyObject", None, &sent), None);
        assert_eq!(refusal("CopyObject", Some("x-id=CopyObject"), &sent), None);
    }
}
