//! The embedded S3-compatible endpoint: `s3s` checks SigV4 (headers and presigned URLs, with
//! their expiry) and `s3s-fs` keeps the bytes on disk. Wrapped here to do what the S3 bucket
//! does for Stowage on AWS and `s3s-fs` does not:
//!
//! - after an object is stored, build the real `aws_lambda_events` S3 event and run the very
//!   same `on-object-created` handler the Lambda function runs;
//! - honour `response-content-type` / `response-content-disposition` on presigned GETs;
//! - answer a body that ends early (a browser pausing or cancelling mid-part) `400
//!   IncompleteBody`, as S3 does, not `500`;
//! - complete multipart uploads and stream downloads fast (`crate::objects`): completion checks
//!   the parts against the ETags recorded as they arrived and joins them in the kernel, and
//!   `GetObject` bodies go out in 1 MiB chunks.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Request, S3Response, S3Result, StdError, S3};
use serde_json::json;
use stowage::App;

use crate::objects::{FileBody, Layout};

/// Where completed uploads are reported.
#[derive(Clone)]
pub struct Notifier {
    app: Arc<App>,
    bucket: String,
    root: PathBuf,
    sequencer: Arc<AtomicU64>,
    enabled: bool,
}

impl Notifier {
    /// Reports objects of `bucket` (stored under `root`) to `app`; `enabled: false` turns the
    /// notifications off (the behaviour suite delivers its own events, as with moto).
    pub fn new(app: Arc<App>, bucket: &str, root: &Path, enabled: bool) -> Self {
        // Sequencers must grow across restarts too: start from the clock.
        let start = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0) << 12;
        Notifier {
            app,
            bucket: bucket.to_owned(),
            root: root.to_owned(),
            sequencer: Arc::new(AtomicU64::new(start)),
            enabled,
        }
    }

    /// Sends `ObjectCreated:<event_name>` for `key` in the background, as S3 does, retrying
    /// like Lambda's asynchronous invocation (3 attempts). A record left pending by a failure
    /// is repaired by the next `GET /files/{id}`.
    fn object_created(&self, event_name: &str, key: &str, etag: &str) {
        if !self.enabled {
            return;
        }
        let size = std::fs::metadata(self.root.join(&self.bucket).join(key))
            .map(|m| m.len())
            .unwrap_or(0);
        let sequencer = format!("{:016X}", self.sequencer.fetch_add(1, Ordering::SeqCst));
        let event = object_created_event(&self.bucket, event_name, key, size, etag, &sequencer);
        let app = self.app.clone();
        let key = key.to_owned();
        // As the bucket's notification configuration routes them on AWS: job markers to the
        // publish worker, uploads to on-object-created.
        let job = key.starts_with(stowage::keys::PUBLISH_JOBS);
        tokio::spawn(async move {
            for attempt in 1..=3u64 {
                let result = if job {
                    stowage::events::on_publish_requested(&app, event.clone())
                        .await
                        .map(|_| ())
                } else {
                    stowage::events::on_object_created(&app, event.clone())
                        .await
                        .map(|_| ())
                };
                match result {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::warn!(%key, attempt, error = %err, "object event failed");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                }
            }
            tracing::error!(%key, "object event failed 3 times; GET /files/{{id}} will repair the record");
        });
    }
}

/// The S3 notification S3 itself would send for one stored object.
pub fn object_created_event(
    bucket: &str,
    event_name: &str,
    key: &str,
    size: u64,
    etag: &str,
    sequencer: &str,
) -> S3Event {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let event = json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": now,
        "eventName": format!("ObjectCreated:{event_name}"),
        "userIdentity": {"principalId": "stowage-local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "stowage-local",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "stowage-local"},
                "arn": format!("arn:aws:s3:::{bucket}")
            },
            "object": {
                "key": stowage::keys::encode_event_key(key),
                "size": size,
                "eTag": etag,
                "sequencer": sequencer
            }
        }
    }]});
    serde_json::from_value(event).expect("the event has the shape aws_lambda_events expects")
}

fn etag_text(etag: Option<&ETag>) -> String {
    etag.map(|e| e.value().to_owned()).unwrap_or_default()
}

/// `s3s-fs` plus Stowage's bucket behaviour.
pub struct LocalBucket {
    inner: s3s_fs::FileSystem,
    /// `s3s-fs`'s files, for the work done here instead (`crate::objects`).
    layout: Layout,
    notifier: Notifier,
    /// Where clients reach the endpoint (for `Location` in completions).
    base_url: String,
}

/// Where the endpoint remembers which key each open multipart upload is of (`s3s-fs` does not:
/// it would take any upload id with any key, and list parts of uploads that do not exist).
/// The recorded ETags of their parts are kept beside (`crate::objects`).
const UPLOADS_DIR: &str = crate::objects::PART_ETAGS_DIR;

impl LocalBucket {
    /// Objects under `root`; events through `notifier`; clients reach it at `base_url`.
    pub fn new(root: &Path, notifier: Notifier, base_url: &str) -> std::io::Result<Self> {
        let inner =
            s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        std::fs::create_dir_all(root.join(UPLOADS_DIR))?;
        Ok(LocalBucket {
            inner,
            layout: Layout::new(root),
            notifier,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    fn upload_path(&self, upload_id: &str) -> Option<PathBuf> {
        // Upload ids are UUIDs; anything else names no upload (and no path).
        uuid_like(upload_id).then(|| self.notifier.root.join(UPLOADS_DIR).join(upload_id))
    }

    /// `NoSuchUpload` unless `upload_id` is an open upload of `bucket`/`key`, as S3 answers.
    async fn check_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        let owner = match self.upload_path(upload_id) {
            Some(path) => tokio::fs::read_to_string(path).await.ok(),
            None => None,
        };
        if owner.as_deref() == Some(&format!("{bucket}/{key}")) {
            Ok(())
        } else {
            Err(s3s::s3_error!(
                NoSuchUpload,
                "The specified upload does not exist."
            ))
        }
    }

    /// Keeps the ETag `s3s-fs` answered for a part it stored, for `ListParts` and completion.
    async fn record_part(&self, upload_id: &str, number: i32, etag: Option<&ETag>) -> S3Result<()> {
        let Some(etag) = etag else {
            return Err(s3s::s3_error!(
                InternalError,
                "part {number} stored without an ETag"
            ));
        };
        self.layout
            .record_part_etag(upload_id, number, etag.value())
            .await
            .map_err(|e| s3s::s3_error!(InternalError, "recording part {number}: {e}"))
    }

    async fn forget_upload(&self, upload_id: &str) {
        if let Some(path) = self.upload_path(upload_id) {
            let _ = tokio::fs::remove_file(path).await;
            self.layout.forget_part_etags(upload_id).await;
        }
    }
}

/// The parts a `CompleteMultipartUpload` lists, as (number, ETag), checked to be ascending as S3
/// requires.
fn completed_parts(input: &CompleteMultipartUploadInput) -> S3Result<Vec<(i32, Option<String>)>> {
    let listed = input
        .multipart_upload
        .as_ref()
        .and_then(|upload| upload.parts.as_deref())
        .unwrap_or_default();
    if listed.is_empty() {
        return Err(s3s::s3_error!(
            MalformedXML,
            "You must specify at least one part."
        ));
    }
    let mut parts = Vec::with_capacity(listed.len());
    for part in listed {
        let number = part.part_number.unwrap_or(0);
        if !(1..=10_000).contains(&number) {
            return Err(s3s::s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive."
            ));
        }
        if parts
            .last()
            .is_some_and(|(previous, _)| *previous >= number)
        {
            return Err(s3s::s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        parts.push((number, part.e_tag.as_ref().map(|e| e.value().to_owned())));
    }
    Ok(parts)
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A request body that remembers whether reading it failed (the client went away mid-request).
struct WatchedBody {
    inner: StreamingBlob,
    broken: Arc<AtomicBool>,
}

impl futures_core::Stream for WatchedBody {
    type Item = Result<bytes::Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Err(_))) = &next {
            self.broken.store(true, Ordering::Relaxed);
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ByteStream for WatchedBody {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

/// Watches `body`; the flag is set if reading it fails.
fn watch(body: &mut Option<StreamingBlob>) -> Arc<AtomicBool> {
    let broken = Arc::new(AtomicBool::new(false));
    if let Some(inner) = body.take() {
        *body = Some(StreamingBlob::new(WatchedBody {
            inner,
            broken: broken.clone(),
        }));
    }
    broken
}

/// `result`, unless the request body broke off: then S3's `400 IncompleteBody`.
fn unless_cut_short<T>(result: S3Result<T>, broken: &AtomicBool) -> S3Result<T> {
    match result {
        Err(_) if broken.load(Ordering::Relaxed) => Err(s3s::s3_error!(
            IncompleteBody,
            "the request body ended before its Content-Length"
        )),
        other => other,
    }
}

#[async_trait::async_trait]
impl S3 for LocalBucket {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let key = req.input.key.clone();
        let broken = watch(&mut req.input.body);
        let response = unless_cut_short(self.inner.put_object(req).await, &broken)?;
        self.notifier
            .object_created("Put", &key, &etag_text(response.output.e_tag.as_ref()));
        Ok(response)
    }

    /// As S3: only an open upload of this key completes, the parts must be listed in
    /// ascending order with the ETags their uploads answered (`InvalidPartOrder`,
    /// `InvalidPart`), all but the last at least 5 MiB (`EntityTooSmall`), and the answer
    /// names the object's `Location` and `Key` (browser uploaders such as Uppy need both). The
    /// parts are joined without reading them (`crate::objects`); a conditional completion
    /// (`If-Match` / `If-None-Match`, which Stowage never sends) or an unusual key goes the
    /// slower way through `s3s-fs`.
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let upload_id = req.input.upload_id.clone();
        self.check_upload(&bucket, &key, &upload_id).await?;
        let plain = req.input.if_match.is_none()
            && req.input.if_none_match.is_none()
            && self.layout.object(&bucket, &key).is_some();
        let mut response = if plain {
            let parts = completed_parts(&req.input)?;
            let layout = self.layout.clone();
            let (b, k, u) = (bucket.clone(), key.clone(), upload_id.clone());
            let etag = tokio::task::spawn_blocking(move || layout.complete(&b, &k, &u, &parts))
                .await
                .map_err(|e| s3s::s3_error!(InternalError, "completing the upload: {e}"))??;
            S3Response::new(CompleteMultipartUploadOutput {
                e_tag: Some(ETag::Strong(etag)),
                ..Default::default()
            })
        } else {
            let mut response = self.inner.complete_multipart_upload(req).await?;
            // s3s-fs answers through a keep-alive future (S3's long-running completion); the
            // work is done already, so its result is the answer.
            if let Some(result) = response.output.future.take() {
                response.output = result.await?;
            }
            response
        };
        self.forget_upload(&upload_id).await;
        response.output.location = Some(format!("{}/{bucket}/{key}", self.base_url));
        response.output.bucket = Some(bucket);
        response.output.key = Some(key.clone());
        self.notifier.object_created(
            "CompleteMultipartUpload",
            &key,
            &etag_text(response.output.e_tag.as_ref()),
        );
        Ok(response)
    }

    /// `s3s-fs`'s answer, with the body read in large chunks (`objects::FileBody`) instead of
    /// its 4 KiB ones, and the `response-*` overrides of a presigned `GET` applied.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let content_type = req.input.response_content_type.clone();
        let disposition = req.input.response_content_disposition.clone();
        let path = self.layout.object(&req.input.bucket, &req.input.key);
        let mut response = self.inner.get_object(req).await?;
        let length = response
            .output
            .content_length
            .and_then(|n| usize::try_from(n).ok());
        // `bytes <first>-<last>/<size>` for a range, else the whole file.
        let start = match response.output.content_range.as_deref() {
            None => Some(0),
            Some(range) => range
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|first| first.parse::<u64>().ok()),
        };
        if let (Some(path), Some(length), Some(start)) = (path, length, start) {
            response.output.body = Some(StreamingBlob::new(FileBody::new(path, start, length)));
        }
        if content_type.is_some() {
            response.output.content_type = content_type;
        }
        if disposition.is_some() {
            response.output.content_disposition = disposition;
        }
        Ok(response)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.inner.copy_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.inner.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.inner.delete_objects(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.inner.get_bucket_location(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let owner = format!("{}/{}", req.input.bucket, req.input.key);
        let response = self.inner.create_multipart_upload(req).await?;
        let upload_id = response.output.upload_id.clone().unwrap_or_default();
        let Some(path) = self.upload_path(&upload_id) else {
            return Err(s3s::s3_error!(InternalError, "unexpected upload id"));
        };
        tokio::fs::write(path, owner)
            .await
            .map_err(|e| s3s::s3_error!(InternalError, "recording upload: {e}"))?;
        Ok(response)
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.check_upload(&req.input.bucket, &req.input.key, &req.input.upload_id)
            .await?;
        let (upload_id, number) = (req.input.upload_id.clone(), req.input.part_number);
        let broken = watch(&mut req.input.body);
        let response = unless_cut_short(self.inner.upload_part(req).await, &broken)?;
        self.record_part(&upload_id, number, response.output.e_tag.as_ref())
            .await?;
        Ok(response)
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.check_upload(&req.input.bucket, &req.input.key, &req.input.upload_id)
            .await?;
        let (upload_id, number) = (req.input.upload_id.clone(), req.input.part_number);
        let response = self.inner.upload_part_copy(req).await?;
        let etag = response
            .output
            .copy_part_result
            .as_ref()
            .and_then(|r| r.e_tag.as_ref());
        self.record_part(&upload_id, number, etag).await?;
        Ok(response)
    }

    /// `s3s-fs` lists parts unsorted, unpaged and without ETags; S3 sorts them, pages them by
    /// `max-parts` / `part-number-marker`, and gives each part's ETag (its MD5, as recorded when
    /// the part arrived).
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let upload_id = req.input.upload_id.clone();
        self.check_upload(&req.input.bucket, &req.input.key, &upload_id)
            .await?;
        let marker = req.input.part_number_marker.unwrap_or(0);
        let max_parts =
            usize::try_from(req.input.max_parts.unwrap_or(1_000).clamp(1, 1_000)).unwrap_or(1_000);
        let mut response = self.inner.list_parts(req).await?;
        let mut parts = response.output.parts.take().unwrap_or_default();
        parts.retain(|p| p.part_number.unwrap_or(0) > marker);
        parts.sort_by_key(|p| p.part_number.unwrap_or(0));
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        for part in &mut parts {
            let number = part.part_number.unwrap_or(0);
            let layout = self.layout.clone();
            let upload = upload_id.clone();
            let etag = tokio::task::spawn_blocking(move || layout.part_etag_of(&upload, number))
                .await
                .map_err(|e| s3s::s3_error!(InternalError, "part {number}: {e}"))?
                .map_err(|e| s3s::s3_error!(InternalError, "part {number}: {e}"))?;
            part.e_tag = Some(ETag::Strong(etag));
        }
        response.output.is_truncated = Some(truncated);
        response.output.next_part_number_marker = parts.last().and_then(|p| p.part_number);
        response.output.max_parts = i32::try_from(max_parts).ok();
        response.output.parts = Some(parts);
        Ok(response)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let upload_id = req.input.upload_id.clone();
        self.check_upload(&req.input.bucket, &req.input.key, &upload_id)
            .await?;
        let response = self.inner.abort_multipart_upload(req).await?;
        self.forget_upload(&upload_id).await;
        Ok(response)
    }
}
