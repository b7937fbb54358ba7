//! Receiving a request body: streamed into a temporary file, hashed as it comes, and checked
//! against `Content-MD5` and the checksums the request declares (headers or aws-chunked
//! trailers).

use std::path::PathBuf;
use std::pin::Pin;

use md5::Digest as _;
use s3s::checksum::ChecksumHasher;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Result};

use super::bucket::{internal, LocalBucket};
use crate::objects::Attributes;

/// The five checksum algorithms S3 takes, by their names in headers (`x-amz-checksum-<name>`).
pub(super) const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"];

/// Checksums by algorithm, in `ALGORITHMS` order.
pub(super) type Sums = [Option<String>; 5];

pub(super) fn sums_of(checksum: Checksum) -> Sums {
    [
        checksum.checksum_crc32,
        checksum.checksum_crc32c,
        checksum.checksum_sha1,
        checksum.checksum_sha256,
        checksum.checksum_crc64nvme,
    ]
}

/// A hasher for the algorithms `sums` names.
pub(super) fn hasher_for(sums: &Sums) -> ChecksumHasher {
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
pub(super) fn declared(headers: &http::HeaderMap, given: Sums) -> Sums {
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

/// S3's largest single `PUT` and largest part: a body past it is refused as it arrives.
const MAX_BODY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// A body received into a temporary file.
pub(super) struct Received {
    pub(super) tmp: PathBuf,
    pub(super) size: u64,
    pub(super) md5: String,
    /// The declared checksums, verified (those only named: computed).
    pub(super) checksums: Sums,
}

impl LocalBucket {
    /// Streams `body` into a temporary file, hashing it as it comes; checks `Content-MD5` and
    /// the checksums the request declares (`given` in its headers, or named for the trailer,
    /// whose values are read once the body has ended). Nothing is kept on failure.
    pub(super) async fn receive(
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
                    if size > MAX_BODY_BYTES {
                        return Err(s3_error!(
                            EntityTooLarge,
                            "Your proposed upload exceeds the maximum allowed size (5 GiB per PUT or part)."
                        ));
                    }
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
}

pub(super) fn checksum_map(sums: &Sums) -> std::collections::BTreeMap<String, String> {
    ALGORITHMS
        .iter()
        .zip(sums)
        .filter_map(|(name, sum)| Some(((*name).to_owned(), sum.clone()?)))
        .collect()
}

pub(super) fn stored_sums(attributes: &Attributes) -> Sums {
    ALGORITHMS.map(|name| attributes.checksums.get(name).cloned())
}
