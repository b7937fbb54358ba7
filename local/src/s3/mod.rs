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
mod bucket;
mod buckets;
mod multipart;
mod notify;
mod receive;
mod single;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

pub use access::PresignedScope;
pub use bucket::LocalBucket;
pub use notify::{object_created_event, Notifier};

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
