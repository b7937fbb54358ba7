//! Buckets: listing, creating and checking them, and listing their keys.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::bucket::{bad_name, internal, strong, timestamp, LocalBucket};
use crate::objects::check_bucket;

impl LocalBucket {
    pub(super) async fn list_buckets(
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

    pub(super) async fn create_bucket(
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

    pub(super) async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.check_bucket_exists(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    pub(super) async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.check_bucket_exists(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    /// Keys in byte order under `prefix`, after `start-after` or the continuation token (the
    /// last key of the previous page), grouped by `delimiter`, `max-keys` (≤ 1,000) a page.
    pub(super) async fn list_objects_v2(
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
}
