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

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::s3::S3Event;
use md5::Digest as _;
use s3s::checksum::ChecksumHasher;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};
use serde_json::json;
use stowage::App;

use crate::objects::{
    check_bucket, check_key, is_collision, is_missing, Attributes, BadName, FileBody, Layout,
    Refusal, Upload,
};

/// Where completed uploads are reported.
#[derive(Clone)]
pub struct Notifier {
    app: Arc<App>,
    bucket: String,
    sequencer: Arc<AtomicU64>,
    enabled: bool,
}

impl Notifier {
    /// Reports the objects of `bucket` to `app`; `enabled: false` turns the
    /// notifications off (the behaviour suite delivers its own events, as with moto).
    pub fn new(app: Arc<App>, bucket: &str, enabled: bool) -> Self {
        // Sequencers must grow across restarts too: start from the clock.
        let start = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0) << 12;
        Notifier {
            app,
            bucket: bucket.to_owned(),
            sequencer: Arc::new(AtomicU64::new(start)),
            enabled,
        }
    }

    /// Sends `ObjectCreated:<event_name>` for `key` (of `size` bytes) in the background, as S3 does, retrying
    /// like Lambda's asynchronous invocation (3 attempts). A record left pending by a failure
    /// is repaired by the next `GET /files/{id}`.
    fn object_created(&self, event_name: &str, bucket: &str, key: &str, size: u64, etag: &str) {
        if !self.enabled || bucket != self.bucket {
            return;
        }
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
                    let handled = stowage::events::on_object_created(&app, event.clone()).await;
                    stowage::metrics::object_events(
                        "on-object-created",
                        handled.as_ref().map(Vec::as_slice).unwrap_or_default(),
                        handled.as_ref().err().map_or(0, |e| e.failed),
                        false,
                    )
                    .record();
                    handled.map(|_| ())
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

/// The endpoint's buckets: Stowage's S3 behaviour over `crate::objects`.
pub struct LocalBucket {
    layout: Arc<Layout>,
    notifier: Notifier,
    /// Where clients reach the endpoint (for `Location` in completions).
    base_url: String,
}

/// The five checksum algorithms S3 takes, by their names in headers (`x-amz-checksum-<name>`).
const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"];

/// Checksums by algorithm, in `ALGORITHMS` order.
type Sums = [Option<String>; 5];

fn sums_of(checksum: Checksum) -> Sums {
    [
        checksum.checksum_crc32,
        checksum.checksum_crc32c,
        checksum.checksum_sha1,
        checksum.checksum_sha256,
        checksum.checksum_crc64nvme,
    ]
}

/// A hasher for the algorithms `sums` names.
fn hasher_for(sums: &Sums) -> ChecksumHasher {
    let mut hasher = ChecksumHasher::default();
    if sums[0].is_some() {
        hasher.crc32 = Some(Default::default());
    }
    if sums[1].is_some() {
        hasher.crc32c = Some(Default::default());
    }
    if sums[2].is_some() {
        hasher.sha1 = Some(Default::default());
    }
    if sums[3].is_some() {
        hasher.sha256 = Some(Default::default());
    }
    if sums[4].is_some() {
        hasher.crc64nvme = Some(Default::default());
    }
    hasher
}

/// What a request declares about its body's checksums: values in headers, and the algorithms
/// whose values come in the aws-chunked trailer (`x-amz-trailer`) or are only named
/// (`x-amz-sdk-checksum-algorithm`), to be computed and returned.
fn declared(headers: &http::HeaderMap, given: Sums) -> Sums {
    let mut sums = given;
    let named = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    let (trailer, algorithm) = (
        named("x-amz-trailer"),
        named("x-amz-sdk-checksum-algorithm"),
    );
    for (index, name) in ALGORITHMS.iter().enumerate() {
        let in_trailer = trailer
            .split(',')
            .any(|t| t.trim() == format!("x-amz-checksum-{name}"));
        if sums[index].is_none() && (in_trailer || algorithm == *name) {
            // Computed, and compared when the trailer brings a value.
            sums[index] = Some(String::new());
        }
    }
    sums
}

/// A body received into a temporary file.
struct Received {
    tmp: PathBuf,
    size: u64,
    md5: String,
    /// The declared checksums, verified (those only named: computed).
    checksums: Sums,
}

fn internal(context: &str, err: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{context}: {err}")
}

fn bad_name(err: BadName) -> S3Error {
    match err {
        BadName::KeyTooLong => s3_error!(KeyTooLongError, "{err}"),
        BadName::Bucket(_) => s3_error!(InvalidBucketName, "{err}"),
        BadName::Key(_) => s3_error!(InvalidArgument, "{err}"),
    }
}

/// An I/O error while storing `key`: a path collision is the client's (`409`-like
/// `InvalidArgument`), anything else the endpoint's.
fn storing(key: &str, err: std::io::Error) -> S3Error {
    if is_collision(&err) {
        s3_error!(
            InvalidArgument,
            "stowage-local stores keys as paths, and {key:?} collides with another key (one is a prefix directory of the other)"
        )
    } else {
        internal(&format!("storing {key}"), err)
    }
}

fn timestamp(at: SystemTime) -> Timestamp {
    Timestamp::from(at)
}

fn strong(etag: &str) -> ETag {
    ETag::Strong(etag.to_owned())
}

/// Whether `condition` (an `If-Match` / `If-None-Match` value) matches `etag`.
fn matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(given) => given.value().trim_matches('"') == etag,
    }
}

/// S3's checks of `If-Match` / `If-None-Match` on a read.
fn check_read_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    etag: &str,
) -> S3Result<()> {
    if if_match.is_some_and(|c| !matches(c, etag)) {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if if_none_match.is_some_and(|c| matches(c, etag)) {
        return Err(s3_error!(NotModified));
    }
    Ok(())
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

    /// Runs file work on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Layout) -> S3Result<T> + Send + 'static,
    ) -> S3Result<T> {
        let layout = self.layout.clone();
        tokio::task::spawn_blocking(move || work(&layout))
            .await
            .map_err(|e| internal("file work", e))?
    }

    /// `NoSuchBucket` unless `bucket` exists.
    fn check_bucket_exists(&self, bucket: &str) -> S3Result<()> {
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
    fn check_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.check_bucket_exists(bucket)?;
        check_key(key).map_err(bad_name)
    }

    /// An existing object's attributes, or `NoSuchKey`.
    async fn existing(&self, bucket: &str, key: &str) -> S3Result<Attributes> {
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

    /// Streams `body` into a temporary file, hashing it as it comes; checks `Content-MD5` and
    /// the checksums the request declares (`given` in its headers, or named for the trailer,
    /// whose values are read once the body has ended). Nothing is kept on failure.
    async fn receive(
        &self,
        body: Option<StreamingBlob>,
        content_md5: Option<&str>,
        given: Sums,
        headers: &http::HeaderMap,
        trailers: Option<&s3s::TrailingHeaders>,
    ) -> S3Result<Received> {
        let declared = declared(headers, given);
        use tokio::io::AsyncWriteExt as _;
        let tmp = self.layout.tmp();
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| internal("creating a temporary file", e))?;
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = md5::Md5::new();
        let mut hasher = hasher_for(&declared);
        let mut size = 0u64;
        let result: S3Result<()> = async {
            if let Some(mut body) = body {
                while let Some(chunk) = std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(Pin::new(&mut body), cx)
                })
                .await
                {
                    let chunk = chunk.map_err(|_| {
                        s3_error!(
                            IncompleteBody,
                            "the request body ended before its Content-Length"
                        )
                    })?;
                    md5.update(&chunk);
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| internal("writing the body", e))?;
                }
            }
            out.flush()
                .await
                .map_err(|e| internal("writing the body", e))
        }
        .await;
        let fail = |err: S3Error| {
            let _ = std::fs::remove_file(&tmp);
            Err(err)
        };
        if let Err(err) = result {
            return fail(err);
        }
        let md5 = hex::encode(md5.finalize());
        if let Some(given) = content_md5 {
            use base64::Engine as _;
            let given = base64::engine::general_purpose::STANDARD
                .decode(given)
                .map(hex::encode);
            if given.as_deref() != Ok(md5.as_str()) {
                return fail(s3_error!(
                    BadDigest,
                    "The Content-MD5 you specified did not match what we received."
                ));
            }
        }
        let computed = sums_of(hasher.finalize());
        let trailer = trailers.and_then(s3s::TrailingHeaders::take);
        let mut checksums: Sums = Default::default();
        for (index, name) in ALGORITHMS.iter().enumerate() {
            let Some(given) = &declared[index] else {
                continue;
            };
            let given = match trailer
                .as_ref()
                .and_then(|t| t.get(format!("x-amz-checksum-{name}")))
            {
                Some(value) => value.to_str().unwrap_or_default().to_owned(),
                None => given.clone(),
            };
            let actual = computed[index].clone().unwrap_or_default();
            if !given.is_empty() && given != actual {
                return fail(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    name.to_ascii_uppercase()
                ));
            }
            checksums[index] = Some(actual);
        }
        Ok(Received {
            tmp,
            size,
            md5,
            checksums,
        })
    }

    /// Stores an object from a `PutObject` or a form `POST`, then reports it as `event`.
    async fn store(
        &self,
        req: S3Request<PutObjectInput>,
        event: &'static str,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let (bucket, key) = (input.bucket, input.key);
        self.check_object(&bucket, &key)?;
        if input.if_match.is_some() || input.if_none_match.is_some() {
            let current = self.existing(&bucket, &key).await;
            let etag = current.as_ref().map(|a| a.etag.clone()).ok();
            let holds_match = input
                .if_match
                .as_ref()
                .is_none_or(|c| etag.as_deref().is_some_and(|etag| matches(c, etag)));
            let holds_none_match = input
                .if_none_match
                .as_ref()
                .is_none_or(|c| etag.as_deref().is_none_or(|etag| !matches(c, etag)));
            if !holds_match || !holds_none_match {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let given = [
            input.checksum_crc32,
            input.checksum_crc32c,
            input.checksum_sha1,
            input.checksum_sha256,
            input.checksum_crc64nvme,
        ];
        let received = self
            .receive(
                input.body,
                input.content_md5.as_deref(),
                given,
                &req.headers,
                req.trailing_headers.as_ref(),
            )
            .await?;
        let attributes = Attributes {
            etag: received.md5.clone(),
            content_type: input.content_type,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            cache_control: input.cache_control,
            metadata: input.metadata.unwrap_or_default().into_iter().collect(),
            checksums: checksum_map(&received.checksums),
        };
        let (b, k, tmp) = (bucket.clone(), key.clone(), received.tmp.clone());
        self.blocking(move |layout| {
            layout
                .place(&tmp, &b, &k, &attributes)
                .map_err(|e| storing(&k, e))
        })
        .await?;
        self.notifier
            .object_created(event, &bucket, &key, received.size, &received.md5);
        let [crc32, crc32c, sha1, sha256, crc64nvme] = received.checksums;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(strong(&received.md5)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            checksum_crc64nvme: crc64nvme,
            ..Default::default()
        }))
    }

    /// `NoSuchUpload` unless `upload_id` is an open upload of `bucket`/`key`, as S3 answers.
    async fn open_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<Upload> {
        self.check_object(bucket, key)?;
        let id = upload_id.to_owned();
        let upload = self
            .blocking(move |layout| {
                layout
                    .upload(&id)
                    .map_err(|e| internal("reading the upload", e))
            })
            .await?;
        match upload {
            Some(upload) if upload.bucket == bucket && upload.key == key => Ok(upload),
            _ => Err(s3_error!(NoSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")),
        }
    }

    /// Stores part `number` of `upload_id` from `tmp`.
    async fn keep_part(
        &self,
        upload_id: &str,
        number: i32,
        tmp: PathBuf,
        etag: &str,
    ) -> S3Result<()> {
        let (id, etag) = (upload_id.to_owned(), etag.to_owned());
        self.blocking(move |layout| {
            layout
                .place_part(&tmp, &id, number, &etag)
                .map_err(|e| internal(&format!("storing part {number}"), e))
        })
        .await
    }
}

fn checksum_map(sums: &Sums) -> std::collections::BTreeMap<String, String> {
    ALGORITHMS
        .iter()
        .zip(sums)
        .filter_map(|(name, sum)| Some(((*name).to_owned(), sum.clone()?)))
        .collect()
}

fn stored_sums(attributes: &Attributes) -> Sums {
    ALGORITHMS.map(|name| attributes.checksums.get(name).cloned())
}

fn part_number(number: i32) -> S3Result<i32> {
    if (1..=10_000).contains(&number) {
        Ok(number)
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive."
        ))
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
        return Err(s3_error!(
            MalformedXML,
            "You must specify at least one part."
        ));
    }
    let mut parts = Vec::with_capacity(listed.len());
    for part in listed {
        let number = part_number(part.part_number.unwrap_or(0))?;
        if parts
            .last()
            .is_some_and(|(previous, _)| *previous >= number)
        {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        parts.push((number, part.e_tag.as_ref().map(|e| e.value().to_owned())));
    }
    Ok(parts)
}

impl From<Refusal> for S3Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidPart(number) => s3_error!(
                InvalidPart,
                "Part {number} could not be found, or its entity tag is not the one given."
            ),
            Refusal::TooSmall(number) => s3_error!(
                EntityTooSmall,
                "Part {number} is smaller than the minimum allowed size (5 MiB) and is not the last part."
            ),
            Refusal::Io(err) => internal("completing the upload", err),
        }
    }
}

/// The bucket and key a copy reads.
fn copy_source(source: &CopySource) -> S3Result<(String, String)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket.to_string(), key.to_string())),
        _ => Err(s3_error!(
            NotImplemented,
            "copies from access points and outposts are not supported"
        )),
    }
}

/// A new multipart upload id (a random UUID, version 4).
fn new_upload_id() -> S3Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| internal("drawing an upload id", e))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[async_trait::async_trait]
impl S3 for LocalBucket {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .blocking(|layout| layout.buckets().map_err(|e| internal("listing buckets", e)))
            .await?
            .into_iter()
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(created)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        check_bucket(&bucket).map_err(bad_name)?;
        let path = self.layout.bucket(&bucket);
        if path.is_dir() {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        std::fs::create_dir_all(&path).map_err(|e| internal("creating the bucket", e))?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.check_bucket_exists(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.check_bucket_exists(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    /// Keys in byte order under `prefix`, after `start-after` or the continuation token (the
    /// last key of the previous page), grouped by `delimiter`, `max-keys` (≤ 1,000) a page.
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        self.check_bucket_exists(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input
            .continuation_token
            .clone()
            .or_else(|| input.start_after.clone())
            .unwrap_or_default();
        let max_keys =
            usize::try_from(input.max_keys.unwrap_or(1_000).clamp(0, 1_000)).unwrap_or(1_000);
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let bucket = input.bucket.clone();
        // The walk and each listed object's attributes are file reads: all on the blocking pool.
        let (contents, prefixes, last, truncated) = self
            .blocking(move |layout| {
                let keys = layout
                    .keys(&bucket, &prefix)
                    .map_err(|e| internal("listing keys", e))?;
                let mut contents = Vec::new();
                let mut prefixes: Vec<String> = Vec::new();
                let mut last = None;
                let mut truncated = false;
                for (key, size, modified) in keys
                    .into_iter()
                    .filter(|(key, _, _)| key.as_str() > after.as_str())
                {
                    // A key under a common prefix already listed is part of it.
                    let common = delimiter.as_deref().and_then(|d| {
                        key[prefix.len()..]
                            .find(d)
                            .map(|at| key[..prefix.len() + at + d.len()].to_owned())
                    });
                    if let Some(common) = &common {
                        if prefixes.last() == Some(common) {
                            continue;
                        }
                    }
                    if contents.len() + prefixes.len() == max_keys {
                        truncated = true;
                        break;
                    }
                    match common {
                        Some(common) => {
                            // The page goes on after everything under the prefix.
                            last = Some(format!("{common}\u{10FFFF}"));
                            prefixes.push(common);
                        }
                        None => {
                            let etag = match layout.attributes(&bucket, &key) {
                                Ok(Some(attributes)) => attributes.etag,
                                _ => continue,
                            };
                            last = Some(key.clone());
                            contents.push(Object {
                                key: Some(key),
                                size: i64::try_from(size).ok(),
                                e_tag: Some(strong(&etag)),
                                last_modified: Some(timestamp(modified)),
                                storage_class: Some(ObjectStorageClass::from_static(
                                    ObjectStorageClass::STANDARD,
                                )),
                                ..Default::default()
                            });
                        }
                    }
                }
                Ok((contents, prefixes, last, truncated))
            })
            .await?;
        let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: i32::try_from(max_keys).ok(),
            key_count: Some(key_count),
            is_truncated: Some(truncated),
            continuation_token: input.continuation_token,
            next_continuation_token: truncated.then_some(last).flatten(),
            start_after: input.start_after,
            encoding_type: input.encoding_type,
            contents: Some(contents),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    /// A `PUT`, or a form `POST` (its policy checked by `s3s`, which hands it here), each
    /// reported under S3's name for it.
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let event = if req.method == http::Method::POST {
            "Post"
        } else {
            "Put"
        };
        self.store(req, event).await
    }

    /// The object's bytes (a range of them), in 1 MiB chunks, with the `response-*` overrides
    /// of a presigned `GET` applied.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "GetObject by partNumber is not supported"
            ));
        }
        let attributes = self.existing(&input.bucket, &input.key).await?;
        check_read_conditions(
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            &attributes.etag,
        )?;
        let path = self.layout.object(&input.bucket, &input.key);
        let meta = std::fs::metadata(&path).map_err(|e| internal("reading the object", e))?;
        let size = meta.len();
        let (range, content_range) = match &input.range {
            None => (0..size, None),
            Some(range) => {
                let range = range.check(size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?;
                let text = format!(
                    "bytes {}-{}/{size}",
                    range.start,
                    range.end.saturating_sub(1)
                );
                (range, Some(text))
            }
        };
        let length = range.end - range.start;
        let body = FileBody::open(
            &path,
            range.start,
            usize::try_from(length).unwrap_or(usize::MAX),
        )
        .map_err(|e| {
            if is_missing(&e) {
                s3_error!(NoSuchKey, "The specified key does not exist.")
            } else {
                internal("reading the object", e)
            }
        })?;
        let sums = if content_range.is_none() {
            stored_sums(&attributes)
        } else {
            Sums::default()
        };
        let [crc32, crc32c, sha1, sha256, crc64nvme] = sums;
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::new(body)),
            content_length: i64::try_from(length).ok(),
            content_range,
            accept_ranges: Some("bytes".to_owned()),
            e_tag: Some(strong(&attributes.etag)),
            last_modified: meta.modified().ok().map(timestamp),
            content_type: input.response_content_type.or(attributes.content_type),
            content_disposition: input
                .response_content_disposition
                .or(attributes.content_disposition),
            content_encoding: input
                .response_content_encoding
                .or(attributes.content_encoding),
            content_language: input
                .response_content_language
                .or(attributes.content_language),
            cache_control: input.response_cache_control.or(attributes.cache_control),
            metadata: (!attributes.metadata.is_empty())
                .then(|| attributes.metadata.into_iter().collect()),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            checksum_crc64nvme: crc64nvme,
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let attributes = self.existing(&input.bucket, &input.key).await?;
        check_read_conditions(
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            &attributes.etag,
        )?;
        let meta = std::fs::metadata(self.layout.object(&input.bucket, &input.key))
            .map_err(|e| internal("reading the object", e))?;
        let [crc32, crc32c, sha1, sha256, crc64nvme] = stored_sums(&attributes);
        Ok(S3Response::new(HeadObjectOutput {
            content_length: i64::try_from(meta.len()).ok(),
            accept_ranges: Some("bytes".to_owned()),
            e_tag: Some(strong(&attributes.etag)),
            last_modified: meta.modified().ok().map(timestamp),
            content_type: attributes.content_type,
            content_disposition: attributes.content_disposition,
            content_encoding: attributes.content_encoding,
            content_language: attributes.content_language,
            cache_control: attributes.cache_control,
            metadata: (!attributes.metadata.is_empty())
                .then(|| attributes.metadata.into_iter().collect()),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            checksum_crc64nvme: crc64nvme,
            ..Default::default()
        }))
    }

    /// Removes the object; a key with no object is already gone (`204`, as S3 answers).
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket, req.input.key);
        self.check_bucket_exists(&bucket)?;
        if check_key(&key).is_ok() {
            self.blocking(move |layout| {
                layout
                    .remove(&bucket, &key)
                    .map_err(|e| internal("deleting", e))
            })
            .await?;
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket;
        self.check_bucket_exists(&bucket)?;
        let quiet = req.input.delete.quiet.unwrap_or(false);
        let keys: Vec<String> = req
            .input
            .delete
            .objects
            .into_iter()
            .map(|o| o.key)
            .collect();
        if keys.len() > 1_000 {
            return Err(s3_error!(
                MalformedXML,
                "A DeleteObjects request names at most 1,000 keys."
            ));
        }
        let results = self
            .blocking(move |layout| {
                Ok(keys
                    .into_iter()
                    .map(|key| {
                        let result = if check_key(&key).is_ok() {
                            layout.remove(&bucket, &key).map_err(|e| e.to_string())
                        } else {
                            Ok(())
                        };
                        (key, result)
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (key, result) in results {
            match result {
                Ok(()) if !quiet => deleted.push(DeletedObject {
                    key: Some(key),
                    ..Default::default()
                }),
                Ok(()) => {}
                Err(message) => errors.push(Error {
                    key: Some(key),
                    code: Some("InternalError".to_owned()),
                    message: Some(message),
                    ..Default::default()
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    /// Copies within the endpoint; the copy keeps the source's attributes and ETag
    /// (`x-amz-metadata-directive: REPLACE` takes the request's content type and metadata).
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let (from_bucket, from_key) = copy_source(&input.copy_source)?;
        let source = self.existing(&from_bucket, &from_key).await?;
        self.check_object(&input.bucket, &input.key)?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let attributes = if replace {
            Attributes {
                etag: source.etag.clone(),
                content_type: input.content_type,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                cache_control: input.cache_control,
                metadata: input.metadata.unwrap_or_default().into_iter().collect(),
                checksums: source.checksums.clone(),
            }
        } else {
            source.clone()
        };
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let (size, modified) = self
            .blocking(move |layout| {
                let tmp = layout.tmp();
                // File to file: copy_file_range(2), or a reflink where the filesystem has them.
                let size = std::fs::copy(layout.object(&from_bucket, &from_key), &tmp)
                    .map_err(|e| internal("copying", e))?;
                layout
                    .place(&tmp, &bucket, &key, &attributes)
                    .map_err(|e| storing(&key, e))?;
                let modified = std::fs::metadata(layout.object(&bucket, &key))
                    .and_then(|m| m.modified())
                    .map_err(|e| internal("copying", e))?;
                Ok((size, modified))
            })
            .await?;
        self.notifier
            .object_created("Copy", &input.bucket, &input.key, size, &source.etag);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(strong(&source.etag)),
                last_modified: Some(timestamp(modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        self.check_object(&input.bucket, &input.key)?;
        let id = new_upload_id()?;
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            attributes: Attributes {
                content_type: input.content_type,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                cache_control: input.cache_control,
                metadata: input.metadata.unwrap_or_default().into_iter().collect(),
                ..Attributes::default()
            },
            initiated: chrono::Utc::now().timestamp_millis(),
        };
        let upload_id = id.clone();
        self.blocking(move |layout| {
            layout
                .open_upload(&upload_id, &upload)
                .map_err(|e| internal("recording the upload", e))
        })
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        self.open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let number = part_number(input.part_number)?;
        let given = [
            input.checksum_crc32,
            input.checksum_crc32c,
            input.checksum_sha1,
            input.checksum_sha256,
            input.checksum_crc64nvme,
        ];
        let received = self
            .receive(
                input.body,
                input.content_md5.as_deref(),
                given,
                &req.headers,
                req.trailing_headers.as_ref(),
            )
            .await?;
        self.keep_part(&input.upload_id, number, received.tmp, &received.md5)
            .await?;
        let [crc32, crc32c, sha1, sha256, crc64nvme] = received.checksums;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(strong(&received.md5)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            checksum_crc64nvme: crc64nvme,
            ..Default::default()
        }))
    }

    /// A part copied from (a range of) an object, e.g. a large file's public copy.
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        self.open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let number = part_number(input.part_number)?;
        let (from_bucket, from_key) = copy_source(&input.copy_source)?;
        self.existing(&from_bucket, &from_key).await?;
        let range = match &input.copy_source_range {
            Some(text) => Some(Range::parse(text).map_err(|_| {
                s3_error!(
                    InvalidArgument,
                    "The x-amz-copy-source-range value must be of the form bytes=first-last."
                )
            })?),
            None => None,
        };
        let (etag, tmp) = self
            .blocking(move |layout| {
                use std::io::{Read as _, Seek as _, Write as _};
                let path = layout.object(&from_bucket, &from_key);
                let mut file = std::fs::File::open(&path).map_err(|e| internal("copying", e))?;
                let size = file.metadata().map_err(|e| internal("copying", e))?.len();
                let range = match range {
                    Some(range) => range.check(size).map_err(|_| {
                        s3_error!(
                            InvalidRange,
                            "The x-amz-copy-source-range is not within the source object."
                        )
                    })?,
                    None => 0..size,
                };
                file.seek(std::io::SeekFrom::Start(range.start))
                    .map_err(|e| internal("copying", e))?;
                let tmp = layout.tmp();
                let mut out = std::fs::File::create(&tmp).map_err(|e| internal("copying", e))?;
                let mut hash = md5::Md5::new();
                let mut left = range.end - range.start;
                let mut buf = vec![0u8; 1 << 20];
                while left > 0 {
                    let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                    file.read_exact(&mut buf[..want])
                        .map_err(|e| internal("copying", e))?;
                    hash.update(&buf[..want]);
                    out.write_all(&buf[..want])
                        .map_err(|e| internal("copying", e))?;
                    left -= want as u64;
                }
                Ok((hex::encode(hash.finalize()), tmp))
            })
            .await?;
        self.keep_part(&input.upload_id, number, tmp, &etag).await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(strong(&etag)),
                last_modified: Some(timestamp(SystemTime::now())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    /// The parts by number, paged by `max-parts` / `part-number-marker`, with each part's ETag.
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        self.open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let marker = input.part_number_marker.unwrap_or(0);
        let max_parts =
            usize::try_from(input.max_parts.unwrap_or(1_000).clamp(1, 1_000)).unwrap_or(1_000);
        let id = input.upload_id.clone();
        let mut parts: Vec<Part> = self
            .blocking(move |layout| layout.parts(&id).map_err(|e| internal("listing parts", e)))
            .await?
            .into_iter()
            .filter(|(number, ..)| *number > marker)
            .map(|(number, size, etag, modified)| Part {
                part_number: Some(number),
                size: i64::try_from(size).ok(),
                e_tag: Some(strong(&etag)),
                last_modified: Some(timestamp(modified)),
                ..Default::default()
            })
            .collect();
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: parts.last().and_then(|p| p.part_number),
            max_parts: i32::try_from(max_parts).ok(),
            is_truncated: Some(truncated),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    /// As S3: only an open upload of this key completes, the parts must be listed in
    /// ascending order with the ETags their uploads answered (`InvalidPartOrder`,
    /// `InvalidPart`), all but the last at least 5 MiB (`EntityTooSmall`), and the answer
    /// names the object's `Location` and `Key` (browser uploaders such as Uppy need both). The
    /// parts are joined without reading them (`Layout::complete`).
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        if input.if_match.is_some() || input.if_none_match.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "conditional completions are not supported"
            ));
        }
        let upload = self
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let parts = completed_parts(&input)?;
        let (id, bucket, key) = (
            input.upload_id.clone(),
            input.bucket.clone(),
            input.key.clone(),
        );
        let (etag, size) = self
            .blocking(move |layout| {
                let etag = layout.complete(&id, &upload, &parts)?;
                let size = std::fs::metadata(layout.object(&bucket, &key))
                    .map_err(|e| internal("completing the upload", e))?
                    .len();
                Ok((etag, size))
            })
            .await?;
        self.notifier.object_created(
            "CompleteMultipartUpload",
            &input.bucket,
            &input.key,
            size,
            &etag,
        );
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("{}/{}/{}", self.base_url, input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(strong(&etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let id = input.upload_id;
        self.blocking(move |layout| {
            layout
                .close_upload(&id)
                .map_err(|e| internal("aborting the upload", e))
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}
