//! How an upload is cut: one `PUT`, or multipart with a part size that fits S3's rules; and how
//! long a record without content lives.

use crate::error::ApiError;
use crate::model::{FileRecord, Timestamp};
use crate::validate::UploadRequest;

/// S3's smallest part (but the last).
pub(super) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub(super) const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one upload.
pub(super) const MAX_PARTS: u64 = 10_000;
/// Largest single-part upload S3 accepts (5 GiB).
const MAX_SINGLE_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The default part size, for files small enough to fit 10,000 of them.
pub(super) const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// How long a never-uploaded record outlives its upload URL.
const PENDING_GRACE_SECONDS: u64 = 86_400;

/// Single `PUT` (`None`) or multipart `(part size, part count)` for this request: multipart
/// when asked, above `threshold`, and always above 5 GiB; then `expectedSize` is required.
pub(super) fn plan_upload(
    request: &UploadRequest,
    threshold: u64,
) -> Result<Option<(u64, u32)>, ApiError> {
    let size = request.expected_size;
    let multipart =
        request.multipart || size.is_some_and(|s| s > threshold || s > MAX_SINGLE_PUT_SIZE);
    if !multipart {
        return Ok(None);
    }
    let Some(size) = size else {
        return Err(ApiError::field(
            "size",
            "is required for a multipart upload",
        ));
    };
    if request.checksum_sha256.is_some() {
        return Err(ApiError::field(
            "checksumSha256",
            "is only supported for single-PUT uploads (up to the multipart threshold)",
        ));
    }
    let smallest_fitting = size.div_ceil(MAX_PARTS);
    let part_size = request
        .part_size
        .unwrap_or(DEFAULT_PART_SIZE)
        .clamp(MIN_PART_SIZE, MAX_PART_SIZE)
        .max(smallest_fitting);
    let part_count = size.div_ceil(part_size).max(1);
    Ok(Some((
        part_size,
        u32::try_from(part_count).unwrap_or(u32::MAX),
    )))
}

/// When a record without content disappears: a day after its upload URL expires (sooner for a
/// temp file whose life ends first).
pub(super) fn pending_expiry(record: &FileRecord, url_expires_at: Timestamp) -> Timestamp {
    let pending = url_expires_at.plus_seconds(PENDING_GRACE_SECONDS);
    match record.ttl_seconds {
        Some(ttl) => pending.min(record.created_at.plus_seconds(ttl)),
        None => pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn request(size: u64) -> UploadRequest {
        UploadRequest {
            expected_size: Some(size),
            ..UploadRequest::default()
        }
    }

    #[test]
    fn small_files_are_one_put_and_large_ones_multipart() {
        assert_eq!(plan_upload(&request(10), 100 * MIB).unwrap(), None);
        assert_eq!(
            plan_upload(&request(200 * MIB), 100 * MIB).unwrap(),
            Some((8 * MIB, 25))
        );
        let forced = UploadRequest {
            multipart: true,
            ..request(1)
        };
        assert_eq!(plan_upload(&forced, 100 * MIB).unwrap(), Some((8 * MIB, 1)));
    }

    #[test]
    fn part_sizes_follow_s3_rules() {
        let tiny = UploadRequest {
            part_size: Some(1),
            multipart: true,
            ..request(20 * MIB)
        };
        assert_eq!(plan_upload(&tiny, 100 * MIB).unwrap(), Some((5 * MIB, 4)));
        // 5 TiB needs parts of at least 5 TiB / 10,000.
        let (size, count) = plan_upload(&request(5 * 1024 * 1024 * MIB), 100 * MIB)
            .unwrap()
            .unwrap();
        assert!(count as u64 <= MAX_PARTS && size >= 5 * 1024 * 1024 * MIB / MAX_PARTS);
    }

    #[test]
    fn multipart_needs_a_size_and_no_checksum() {
        let no_size = UploadRequest {
            multipart: true,
            ..UploadRequest::default()
        };
        assert!(plan_upload(&no_size, 100 * MIB).is_err());
    }
}
