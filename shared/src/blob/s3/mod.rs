//! S3 adapter: presigning with `aws-sdk-s3` (and, for what its presigner does not cover, with
//! `aws-sigv4` in `sign.rs`), plus the few calls the service makes itself.

mod sign;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use super::{
    BlobError, ObjectInfo, ObjectStore, PostConditions, PresignedPost, PresignedRequest,
    PutConditions, UploadCall, UploadedPart,
};
use crate::model::Timestamp;

/// Objects in one S3 bucket.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    signing: SigningIdentity,
}

/// The credentials and region the client signs with, for what its presigner does not cover
/// (`sign.rs`); the same the client was built from.
#[derive(Clone, Debug)]
pub struct SigningIdentity {
    pub credentials: aws_credential_types::provider::SharedCredentialsProvider,
    pub region: String,
}

impl SigningIdentity {
    /// The credentials and region of an SDK configuration (`None` without credentials).
    pub(crate) fn from_sdk(sdk: &aws_config::SdkConfig) -> Option<Self> {
        Some(SigningIdentity {
            credentials: sdk.credentials_provider()?,
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        })
    }
}

impl S3Store {
    /// A store on `bucket`, using a client built once at start-up (see `bootstrap::s3_client`,
    /// which turns off the SDK's default request checksums so presigned PUTs stay valid) and
    /// the identity it signs with.
    pub fn new(client: Client, bucket: impl Into<String>, signing: SigningIdentity) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
            signing,
        }
    }
}

/// Sorts an SDK failure: throttling (`503 SlowDown`), S3's own `500`s, timeouts and connection
/// failures are `unavailable` (the client may retry); the rest are plain failures. Judged by
/// the SDK's error kinds and the HTTP status, never by matching error-code strings.
fn failed<E>(context: String, err: SdkError<E>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service.raw().status().as_u16() >= 500,
        _ => false,
    };
    if transient {
        BlobError::unavailable(context, err)
    } else {
        BlobError::new(context, err)
    }
}

pub(super) fn presigning(
    now: Timestamp,
    expires_in: Duration,
) -> Result<PresigningConfig, BlobError> {
    let start = std::time::UNIX_EPOCH + Duration::from_millis(now.millis().max(0).unsigned_abs());
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires_in)
        .build()
        .map_err(|e| BlobError::new("presigning config", e))
}

fn to_request(
    presigned: aws_sdk_s3::presigning::PresignedRequest,
    now: Timestamp,
    expires_in: Duration,
) -> PresignedRequest {
    let signed = signed_header_names(presigned.uri());
    PresignedRequest {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .filter(|(name, _)| name != "host" && signed.contains(name))
            .collect(),
        expires_at: now.plus_seconds(expires_in.as_secs()),
    }
}

/// The header names a presigned URL's `X-Amz-SignedHeaders` lists. Only those are handed to
/// clients: the SDK also attaches unsigned ones (such as the Lambda trace id), which clients
/// must not be asked to send.
fn signed_header_names(url: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="))
        .map(|list| {
            percent_encoding::percent_decode_str(list)
                .decode_utf8_lossy()
                .split(';')
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// Part copies in flight at once: S3 copies server-side, so the function's memory and CPU do
/// not limit this, only S3's per-request throughput.
const COPY_CONCURRENCY: usize = 32;

impl S3Store {
    /// `UploadPartCopy` of every `part_size` range of `from` into the upload, in parallel.
    async fn copy_parts(
        &self,
        from: &str,
        to: &str,
        upload_id: &str,
        size: u64,
        part_size: u64,
    ) -> Result<Vec<UploadedPart>, BlobError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let count = size.div_ceil(part_size).max(1);
        let mut parts: Vec<UploadedPart> = stream::iter(1..=count)
            .map(|number| async move {
                let start = (number - 1) * part_size;
                let end = (start + part_size).min(size).saturating_sub(1);
                let output = self
                    .client
                    .upload_part_copy()
                    .bucket(&self.bucket)
                    .key(to)
                    .upload_id(upload_id)
                    .part_number(i32::try_from(number).unwrap_or(i32::MAX))
                    .copy_source(format!("{}/{from}", self.bucket))
                    .copy_source_range(format!("bytes={start}-{end}"))
                    .send()
                    .await
                    .map_err(|e| failed(format!("COPY part {number} of {from} to {to}"), e))?;
                let etag = output
                    .copy_part_result
                    .and_then(|r| r.e_tag)
                    .unwrap_or_default();
                Ok::<_, BlobError>(UploadedPart {
                    part_number: u32::try_from(number).unwrap_or(u32::MAX),
                    size: end + 1 - start,
                    etag: etag.trim_matches('"').to_owned(),
                })
            })
            .buffer_unordered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }
}

impl S3Store {
    /// Completes a multipart upload of `key` from `parts`; with `once`, only where `key` holds
    /// no object yet (`If-None-Match: *`).
    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
        once: bool,
    ) -> Result<String, BlobError> {
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX))
                    .e_tag(format!("\"{}\"", p.etag))
                    .build()
            })
            .collect();
        let output = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .set_if_none_match(once.then(|| "*".to_owned()))
            .send()
            .await
            .map_err(|e| failed(format!("complete multipart upload {key}"), e))?;
        Ok(output.e_tag.unwrap_or_default())
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn warm(&self) {
        // A `404`, or a `403` where the function may not list the bucket, still leaves the
        // connection open in the client's pool.
        let answer = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(crate::keys::WARM_KEY)
            .send()
            .await;
        tracing::debug!(ok = answer.is_ok(), "warmed S3");
    }

    async fn presign_put(
        &self,
        key: &str,
        conditions: PutConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(conditions.content_type)
            .set_checksum_sha256(conditions.checksum_sha256.map(str::to_owned))
            // An upload URL writes once: S3 refuses a second PUT to the key (412).
            .if_none_match("*")
            .presigned(presigning(now, expires_in)?)
            .await
            .map_err(|e| BlobError::new(format!("presign PUT {key}"), e))?;
        Ok(to_request(presigned, now, expires_in))
    }

    async fn presign_get(
        &self,
        key: &str,
        content_type: &str,
        disposition: &str,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition(disposition)
            .presigned(presigning(now, expires_in)?)
            .await
            .map_err(|e| BlobError::new(format!("presign GET {key}"), e))?;
        Ok(to_request(presigned, now, expires_in))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(ObjectInfo {
                size: output
                    .content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                etag: output.e_tag.unwrap_or_default(),
                last_modified: output
                    .last_modified
                    .and_then(|at| at.to_millis().ok())
                    .map(Timestamp::from_millis),
            })),
            Err(SdkError::ServiceError(err)) if err.err().is_not_found() => Ok(None),
            Err(err) => Err(failed(format!("HEAD {key}"), err)),
        }
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| failed(format!("create multipart upload {key}"), e))?;
        output
            .upload_id
            .ok_or_else(|| BlobError::new(format!("create multipart upload {key}"), "no upload id"))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let number = i32::try_from(part_number)
            .map_err(|e| BlobError::new(format!("part {part_number}"), e))?;
        let presigned = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .presigned(presigning(now, expires_in)?)
            .await
            .map_err(|e| BlobError::new(format!("presign part {part_number} of {key}"), e))?;
        Ok(to_request(presigned, now, expires_in))
    }

    async fn presign_post(
        &self,
        key: &str,
        conditions: PostConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedPost, BlobError> {
        self.sign_post(key, conditions, now, expires_in).await
    }

    async fn presign_upload_call(
        &self,
        key: &str,
        call: UploadCall<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        self.sign_upload_call(key, call, now, expires_in).await
    }

    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, BlobError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let result = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .max_parts(1_000)
                .set_part_number_marker(marker.clone())
                .send()
                .await;
            let output = match result {
                Ok(output) => output,
                Err(SdkError::ServiceError(err)) if err.err().code() == Some("NoSuchUpload") => {
                    return Ok(None)
                }
                Err(err) => return Err(failed(format!("list parts of {key}"), err)),
            };
            for part in output.parts() {
                parts.push(UploadedPart {
                    part_number: part
                        .part_number()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    size: part.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: part
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned(),
                });
            }
            match (output.is_truncated(), output.next_part_number_marker()) {
                (Some(true), Some(next)) => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        parts.dedup_by_key(|p| p.part_number);
        Ok(Some(parts))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<String, BlobError> {
        // An upload's key is never reused: nothing may already be there (S3's conditional
        // write refuses a second completion's object).
        self.complete(key, upload_id, parts, true).await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(err)) if err.err().is_no_such_upload() => Ok(()),
            Err(err) => Err(failed(format!("abort multipart upload {key}"), err)),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        // Stowage's keys need no URL-encoding (see `crate::keys`).
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await
            .map_err(|e| failed(format!("COPY {from} to {to}"), e))?;
        Ok(())
    }

    async fn copy_in_parts(
        &self,
        from: &str,
        to: &str,
        size: u64,
        part_size: u64,
    ) -> Result<(), BlobError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(from)
            .send()
            .await
            .map_err(|e| failed(format!("HEAD {from}"), e))?;
        let content_type = head.content_type.unwrap_or_default();
        let upload_id = self.create_multipart(to, &content_type).await?;
        match self.copy_parts(from, to, &upload_id, size, part_size).await {
            // The public copy is made again whenever its file changes: not conditional.
            Ok(parts) => self
                .complete(to, &upload_id, &parts, false)
                .await
                .map(|_| ()),
            Err(err) => {
                if let Err(abort) = self.abort_multipart(to, &upload_id).await {
                    tracing::warn!(key = %to, error = ?abort, "could not abort a failed copy");
                }
                Err(err)
            }
        }
    }

    async fn put_empty(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(Vec::new().into())
            .send()
            .await
            .map_err(|e| failed(format!("PUT {key}"), e))?;
        Ok(())
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| failed(format!("PUT {key}"), e))?;
        Ok(())
    }

    async fn get_bytes(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, BlobError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(SdkError::ServiceError(err)) if err.err().is_no_such_key() => return Ok(None),
            Err(err) => return Err(failed(format!("GET {key}"), err)),
        };
        let size = output
            .content_length
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        if size > max_bytes {
            return Err(BlobError::new(
                format!("GET {key}"),
                format!("the object is {size} bytes, over the {max_bytes} read here"),
            ));
        }
        let data = output
            .body
            .collect()
            .await
            .map_err(|e| BlobError::unavailable(format!("GET {key}"), e))?;
        Ok(Some(data.into_bytes().to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| failed(format!("DELETE {key}"), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_header_names_are_read_from_the_query() {
        let url = "https://b.s3.amazonaws.com/k?x-id=PutObject&X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-checksum-sha256&X-Amz-Signature=abc";
        assert_eq!(
            signed_header_names(url),
            ["content-type", "host", "x-amz-checksum-sha256"]
        );
        assert!(signed_header_names("https://b/k").is_empty());
    }
}
