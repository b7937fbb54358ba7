//! The embedded S3-compatible endpoint: `s3s` parses the S3 protocol and checks SigV4 (headers,
//! presigned URLs with their expiry, POST policies); this module implements the S3 operations
//! Stowage and its users' S3 tools call, over the object layout of `crate::objects`, doing what
//! the S3 bucket does for Stowage on AWS:
//!
//! - after an object is stored (`PutObject`, a form `POST`, `CompleteMultipartUpload`,
//!   `CopyObject`), build the real `aws_lambda_events` S3 event and run the very same
//!   `on-object-created` handler the Lambda function runs;
//! - verify `Content-MD5` and declared checksums (headers or aws-chunked trailers), `BadDigest`
//!   when the bytes differ;
//! - honour `response-content-type` / `response-content-disposition` on presigned GETs, ranges,
//!   and `If-Match` / `If-None-Match`;
//! - answer a body that ends early (a browser pausing or cancelling mid-part) `400
//!   IncompleteBody`;
//! - multipart uploads as S3 checks them: only an open upload of the key takes parts, a
//!   completion lists parts in ascending order with their ETags, all but the last ≥ 5 MiB; the
//!   parts are joined in the kernel, and `GetObject` bodies go out in 1 MiB chunks.
//!
//! Operations not listed in the `S3` impl below answer `501 NotImplemented` (s3s's default).

mod access;
mod buckets;
mod multipart;
mod notify;
mod receive;
mod single;

use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};

pub use access::PresignedScope;
pub use notify::{object_created_event, Notifier};

use crate::objects::{check_bucket, check_key, is_collision, Attributes, BadName, Layout};

/// The endpoint's buckets: Stowage's S3 behaviour over `crate::objects`.
#[derive(Clone)]
pub struct LocalBucket {
    layout: Arc<Layout>,
    notifier: Notifier,
    /// Where clients reach the endpoint (for `Location` in completions).
    base_url: String,
}

pub(super) fn internal(context: &str, err: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{context}: {err}")
}

pub(super) fn bad_name(err: BadName) -> S3Error {
    match err {
        BadName::KeyTooLong => s3_error!(KeyTooLongError, "{err}"),
        BadName::Bucket(_) => s3_error!(InvalidBucketName, "{err}"),
        BadName::Key(_) => s3_error!(InvalidArgument, "{err}"),
    }
}

/// An I/O error while storing `key`: a path collision is the client's (`409`-like
/// `InvalidArgument`), anything else the endpoint's.
pub(super) fn storing(key: &str, err: std::io::Error) -> S3Error {
    if is_collision(&err) {
        s3_error!(
            InvalidArgument,
            "stowage-local stores keys as paths, and {key:?} collides with another key (one is a prefix directory of the other)"
        )
    } else {
        internal(&format!("storing {key}"), err)
    }
}

pub(super) fn timestamp(at: SystemTime) -> Timestamp {
    Timestamp::from(at)
}

pub(super) fn strong(etag: &str) -> ETag {
    ETag::Strong(etag.to_owned())
}

impl LocalBucket {
    /// Objects under `root` (opened, migrated or refused by `crate::migrate`); events through
    /// `notifier`; clients reach it at `base_url`.
    pub fn new(
        root: &std::path::Path,
        notifier: Notifier,
        base_url: &str,
    ) -> std::io::Result<Self> {
        let (layout, opened) = crate::migrate::open(root)?;
        if let crate::migrate::Opened::Migrated {
            objects,
            uploads_dropped,
        } = opened
        {
            tracing::info!(
                objects,
                uploads_dropped,
                root = %root.display(),
                "objects migrated from the s3s-fs 0.14 layout to `{}`",
                crate::objects::FORMAT
            );
        }
        Ok(LocalBucket {
            layout: Arc::new(layout),
            notifier,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Aborts the multipart uploads left open longer than `age` (S3's lifecycle rule for
    /// incomplete uploads, which the stack sets to 7 days).
    pub async fn abort_stale_uploads(&self, age: std::time::Duration) -> usize {
        let before = chrono::Utc::now().timestamp_millis()
            - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let aborted = self
            .blocking(move |layout| {
                layout
                    .abort_uploads_before(before)
                    .map_err(|e| internal("aborting stale uploads", e))
            })
            .await;
        match aborted {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(aborted = n, "aborted multipart uploads left open");
                }
                n
            }
            Err(err) => {
                tracing::warn!(error = ?err, "could not abort stale uploads");
                0
            }
        }
    }

    /// Runs file work on the blocking pool.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Layout) -> S3Result<T> + Send + 'static,
    ) -> S3Result<T> {
        let layout = self.layout.clone();
        tokio::task::spawn_blocking(move || work(&layout))
            .await
            .map_err(|e| internal("file work", e))?
    }

    /// `NoSuchBucket` unless `bucket` exists.
    pub(super) fn check_bucket_exists(&self, bucket: &str) -> S3Result<()> {
        check_bucket(bucket).map_err(bad_name)?;
        if self.layout.bucket(bucket).is_dir() {
            Ok(())
        } else {
            Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ))
        }
    }

    /// The bucket exists and the key can be stored.
    pub(super) fn check_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.check_bucket_exists(bucket)?;
        check_key(key).map_err(bad_name)
    }

    /// An existing object's attributes, or `NoSuchKey`.
    pub(super) async fn existing(&self, bucket: &str, key: &str) -> S3Result<Attributes> {
        self.check_object(bucket, key)?;
        let (b, k) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |layout| {
            layout
                .attributes(&b, &k)
                .map_err(|e| internal(&format!("reading {k}"), e))?
                .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))
        })
        .await
    }
}

/// The operations the endpoint implements, each in its family's module.
#[async_trait::async_trait]
impl S3 for LocalBucket {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        LocalBucket::list_buckets(self, req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        LocalBucket::create_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        LocalBucket::head_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        LocalBucket::get_bucket_location(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        LocalBucket::list_objects_v2(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        LocalBucket::put_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        LocalBucket::get_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        LocalBucket::head_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        LocalBucket::delete_object(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        LocalBucket::delete_objects(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        LocalBucket::copy_object(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        LocalBucket::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        LocalBucket::upload_part(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        LocalBucket::upload_part_copy(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        LocalBucket::list_parts(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        LocalBucket::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        LocalBucket::abort_multipart_upload(self, req).await
    }
}
