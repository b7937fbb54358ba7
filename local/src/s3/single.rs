//! Single objects: `PutObject` (and form `POST`s), `GetObject`, `HeadObject`, deletes and
//! `CopyObject`.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::bucket::{internal, storing, strong, timestamp, LocalBucket};
use super::receive::{checksum_map, stored_sums, Sums};
use crate::objects::{check_key, is_missing, Attributes, FileBody, Placing};

/// S3's answer when a conditional write's condition does not hold.
pub(super) fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

/// Whether `condition` (an `If-Match` / `If-None-Match` value) matches `etag`.
pub(super) fn matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(given) => given.value().trim_matches('"') == etag,
    }
}

/// S3's checks of `If-Match` / `If-None-Match` on a read.
pub(super) fn check_read_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    etag: &str,
) -> S3Result<()> {
    if if_match.is_some_and(|c| !matches(c, etag)) {
        return Err(precondition_failed());
    }
    if if_none_match.is_some_and(|c| matches(c, etag)) {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

pub(super) fn copy_source(source: &CopySource) -> S3Result<(String, String)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket.to_string(), key.to_string())),
        _ => Err(s3_error!(
            NotImplemented,
            "copies from access points and outposts are not supported"
        )),
    }
}

impl LocalBucket {
    /// Stores an object from a `PutObject` or a form `POST`, then reports it as `event`.
    pub(super) async fn store(
        &self,
        req: S3Request<PutObjectInput>,
        event: &'static str,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let (bucket, key) = (input.bucket, input.key);
        self.check_object(&bucket, &key)?;
        // If-None-Match: * is checked as the object is placed (atomically); an ETag condition
        // (If-Match, or If-None-Match with an ETag) against the object there now.
        let placing = match &input.if_none_match {
            Some(ETagCondition::Any) => Placing::New,
            _ => Placing::Replace,
        };
        let etag_conditions = input.if_match.is_some()
            || matches!(&input.if_none_match, Some(ETagCondition::ETag(_)));
        if etag_conditions {
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
                return Err(precondition_failed());
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
                .place(&tmp, &b, &k, &attributes, placing)
                .map_err(|e| {
                    // A file where a directory of the key would be is a collision, not the
                    // condition: only the object itself answers If-None-Match.
                    let taken = placing == Placing::New
                        && e.kind() == std::io::ErrorKind::AlreadyExists
                        && layout.object(&b, &k).is_file();
                    if taken {
                        precondition_failed()
                    } else {
                        storing(&k, e)
                    }
                })
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

    /// A `PUT`, or a form `POST` (its policy checked by `s3s`, which hands it here), each
    /// reported under S3's name for it.
    pub(super) async fn put_object(
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
    pub(super) async fn get_object(
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

    pub(super) async fn head_object(
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
    pub(super) async fn delete_object(
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

    pub(super) async fn delete_objects(
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
    pub(super) async fn copy_object(
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
                    .place(&tmp, &bucket, &key, &attributes, Placing::Replace)
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
}
