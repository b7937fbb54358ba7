//! The endpoint's bucket: its layout, where it reports stored objects, and the checks and
//! error shapes every operation family shares.

use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Result};

use super::notify::Notifier;
use crate::objects::{check_bucket, check_key, is_collision, Attributes, BadName, Layout};

/// The endpoint's buckets: Stowage's S3 behaviour over `crate::objects`.
#[derive(Clone)]
pub struct LocalBucket {
    pub(super) layout: Arc<Layout>,
    pub(super) notifier: Notifier,
    /// Where clients reach the endpoint (for `Location` in completions).
    pub(super) base_url: String,
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
