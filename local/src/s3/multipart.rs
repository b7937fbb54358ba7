//! Multipart uploads as S3 checks them: only an open upload of the key takes parts, a
//! completion lists parts in ascending order with their ETags, all but the last ≥ 5 MiB; the
//! parts are joined in the kernel.

use std::path::PathBuf;
use std::time::SystemTime;

use md5::Digest as _;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result};

use super::bucket::{internal, strong, timestamp, LocalBucket};
use super::single::copy_source;
use crate::objects::{Attributes, Placing, Refusal, Upload};

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
            Refusal::Exists => super::single::precondition_failed(),
            Refusal::Io(err) => internal("completing the upload", err),
        }
    }
}

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

impl LocalBucket {
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

    pub(super) async fn create_multipart_upload(
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

    pub(super) async fn upload_part(
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
    pub(super) async fn upload_part_copy(
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
    pub(super) async fn list_parts(
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
    pub(super) async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        // S3's conditional completion: If-None-Match: * lands the object only where there is
        // none (Stowage signs its completions so; an upload URL writes once).
        let placing = match &input.if_none_match {
            None => Placing::Replace,
            Some(ETagCondition::Any) => Placing::New,
            Some(ETagCondition::ETag(_)) => {
                return Err(s3_error!(
                    NotImplemented,
                    "a completion's If-None-Match takes only *"
                ))
            }
        };
        if input.if_match.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "If-Match on a completion is not supported"
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
                let etag = layout.complete(&id, &upload, &parts, placing)?;
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

    pub(super) async fn abort_multipart_upload(
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
