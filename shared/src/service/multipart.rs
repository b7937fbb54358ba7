//! The multipart routes: re-sign part URLs, list the parts S3 holds, complete (checked against
//! the plan), and abort. The upload id always comes from the tenant's own record, never from the
//! client, so no route can reach another tenant's or another record's upload.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{check_version, pending_expiry, ObjectEvent, Outcome, PartUrl, Service};
use crate::blob::UploadedPart;
use crate::error::{ApiError, FieldError};
use crate::identity::Identity;
use crate::model::{FileId, FileRecord, FileStatus, MultipartPlan, OpenUpload, Timestamp};
use crate::validate::{DEFAULT_UPLOAD_URL_EXPIRY_SECONDS, MAX_URL_EXPIRY_SECONDS};

/// Most part numbers one `POST /files/{id}/upload/parts` signs.
pub const MAX_PARTS_PER_SIGNING: usize = 1_000;

/// Fresh part URLs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedParts {
    pub parts: Vec<PartUrl>,
    pub expires_at: Timestamp,
}

fn no_multipart_upload() -> ApiError {
    ApiError::Conflict {
        code: "no_multipart_upload",
        detail: "the file has no open multipart upload".into(),
    }
}

fn open_multipart(record: &FileRecord) -> Result<(&OpenUpload, &MultipartPlan), ApiError> {
    match &record.upload {
        Some(
            upload @ OpenUpload {
                multipart: Some(plan),
                ..
            },
        ) => Ok((upload, plan)),
        _ => Err(no_multipart_upload()),
    }
}

impl Service {
    /// `POST /files/{id}/upload/parts`: presigned URLs for the given part numbers (resume,
    /// retry, lazy signing, re-signing after expiry). Body: `{"partNumbers": [..],
    /// "uploadUrlExpiresIn"?}`. Re-signing keeps a never-uploaded record from expiring.
    pub async fn sign_parts(
        &self,
        who: &Identity,
        id: FileId,
        body: Value,
    ) -> Result<SignedParts, ApiError> {
        let Value::Object(mut map) = body else {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the request body must be a JSON object",
            ));
        };
        let mut errors = Vec::new();
        if let Some(field) = map
            .keys()
            .find(|k| *k != "partNumbers" && *k != "uploadUrlExpiresIn")
        {
            errors.push(FieldError::new(field.clone(), "is not a known field"));
        }
        let expires_in = match map.remove("uploadUrlExpiresIn") {
            None | Some(Value::Null) => DEFAULT_UPLOAD_URL_EXPIRY_SECONDS,
            Some(v) => match v
                .as_u64()
                .filter(|n| (1..=MAX_URL_EXPIRY_SECONDS).contains(n))
            {
                Some(n) => n,
                None => {
                    errors.push(FieldError::new(
                        "uploadUrlExpiresIn",
                        "must be an integer from 1 to 604800",
                    ));
                    DEFAULT_UPLOAD_URL_EXPIRY_SECONDS
                }
            },
        };
        let numbers: Vec<u32> = match map.remove("partNumbers") {
            Some(Value::Array(items))
                if !items.is_empty() && items.len() <= MAX_PARTS_PER_SIGNING =>
            {
                let parsed: Option<Vec<u32>> = items
                    .iter()
                    .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                    .collect();
                parsed.unwrap_or_else(|| {
                    errors.push(FieldError::new(
                        "partNumbers",
                        "must be an array of part numbers",
                    ));
                    Vec::new()
                })
            }
            _ => {
                errors.push(FieldError::new(
                    "partNumbers",
                    "must be an array of 1 to 1000 part numbers",
                ));
                Vec::new()
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        for _ in 0..3 {
            let now = self.clock.now();
            let current = self.load(&who.tenant, id).await?;
            let (upload, plan) = open_multipart(&current)?;
            if let Some(bad) = numbers.iter().find(|n| **n == 0 || **n > plan.part_count) {
                return Err(ApiError::field(
                    "partNumbers",
                    format!("part {bad} is not in this upload's 1..={}", plan.part_count),
                ));
            }
            let mut numbers = numbers.clone();
            numbers.sort_unstable();
            numbers.dedup();
            let total = current.expected_size.unwrap_or(0);
            let parts = self
                .part_urls(
                    &upload.key,
                    plan,
                    total,
                    &numbers,
                    now,
                    Duration::from_secs(expires_in),
                )
                .await?;
            let expires_at = now.plus_seconds(expires_in);
            if expires_at > upload.url_expires_at {
                // The upload lives on: so does a record that has no content yet.
                let mut next = current.clone();
                if let Some(open) = next.upload.as_mut() {
                    open.url_expires_at = expires_at;
                }
                if next.content.is_none() {
                    next.expires_at = Some(pending_expiry(&next, expires_at));
                }
                next.version += 1;
                next.updated_at = now;
                match self.write(&current, &next, now).await {
                    Ok(()) => {}
                    Err(ApiError::PreconditionFailed) => continue,
                    Err(other) => return Err(other),
                }
            }
            return Ok(SignedParts { parts, expires_at });
        }
        Err(ApiError::PreconditionFailed)
    }

    /// `GET /files/{id}/upload/parts`: the parts S3 holds for the open upload, sorted.
    pub async fn uploaded_parts(
        &self,
        who: &Identity,
        id: FileId,
    ) -> Result<Vec<UploadedPart>, ApiError> {
        let record = self.load(&who.tenant, id).await?;
        let (upload, plan) = open_multipart(&record)?;
        self.objects
            .list_parts(&upload.key, &plan.upload_id)
            .await?
            .ok_or_else(no_multipart_upload)
    }

    /// `POST /files/{id}/upload/complete`: checks the parts S3 holds against the plan (numbers
    /// 1..=n, every part but the last of the planned size, the total equal to `expectedSize`,
    /// and the client's ETags when given), completes, and returns the uploaded record.
    /// Completing an upload that already completed returns the record again.
    pub async fn complete_upload(
        &self,
        who: &Identity,
        id: FileId,
        body: Option<Value>,
    ) -> Result<FileRecord, ApiError> {
        let claimed = parse_claimed_parts(body)?;
        let record = self.load(&who.tenant, id).await?;
        let Ok((upload, plan)) = open_multipart(&record) else {
            // Completed before (a retry after a lost response): the same answer again.
            if record.status == FileStatus::Uploaded && record.upload.is_none() {
                return Ok(record);
            }
            return Err(no_multipart_upload());
        };
        let key = upload.key.clone();
        let total = record.expected_size.unwrap_or(0);
        let Some(parts) = self.objects.list_parts(&key, &plan.upload_id).await? else {
            // S3 already completed it (our write after that was lost): finish from the object.
            return match self.get(who, id).await? {
                done if done.upload.is_none() => Ok(done),
                _ => Err(no_multipart_upload()),
            };
        };
        check_parts(plan, total, &parts, claimed.as_deref())?;
        let etag = self
            .objects
            .complete_multipart(&key, &plan.upload_id, &parts)
            .await?;
        let event = ObjectEvent {
            key,
            size: total,
            etag: etag.trim_matches('"').to_owned(),
            sequencer: None,
            at: self.clock.now(),
        };
        match self.object_created(event).await? {
            Outcome::Updated(record) => Ok(*record),
            _ => self.load(&who.tenant, id).await,
        }
    }

    /// `DELETE /files/{id}/upload`: abandons the open upload (aborting it in S3 if multipart).
    /// The record keeps its previous content, or becomes `failed` if it never had any.
    pub async fn abort_upload(
        &self,
        who: &Identity,
        id: FileId,
        if_match: Option<u64>,
    ) -> Result<FileRecord, ApiError> {
        for _ in 0..3 {
            let now = self.clock.now();
            let current = self.load(&who.tenant, id).await?;
            check_version(&current, if_match)?;
            let Some(upload) = current.upload.clone() else {
                return Err(ApiError::Conflict {
                    code: "no_open_upload",
                    detail: "the file has no open upload".into(),
                });
            };
            let mut next = current.clone();
            next.upload = None;
            next.version += 1;
            next.updated_at = now;
            if next.content.is_none() {
                next.status = FileStatus::Failed;
                next.failure_reason = Some("the upload was aborted".into());
            }
            match self.write(&current, &next, now).await {
                Ok(()) => {}
                Err(ApiError::PreconditionFailed) if if_match.is_none() => continue,
                Err(other) => return Err(other),
            }
            match &upload.multipart {
                Some(plan) => {
                    self.objects
                        .abort_multipart(&upload.key, &plan.upload_id)
                        .await?
                }
                // A single PUT that landed without its event: its object goes too.
                None => self.objects.delete(&upload.key).await?,
            }
            return Ok(next);
        }
        Err(ApiError::PreconditionFailed)
    }
}

/// The client's `{"parts": [{"partNumber", "etag"}]}`, if it sent any.
fn parse_claimed_parts(body: Option<Value>) -> Result<Option<Vec<UploadedPart>>, ApiError> {
    let Some(body) = body else {
        return Ok(None);
    };
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body must be a JSON object",
        ));
    };
    if let Some(field) = map.keys().find(|k| *k != "parts") {
        return Err(ApiError::field(field.clone(), "is not a known field"));
    }
    let Some(parts) = map.remove("parts") else {
        return Ok(None);
    };
    let Value::Array(items) = parts else {
        return Err(ApiError::field(
            "parts",
            "must be an array of {partNumber, etag}",
        ));
    };
    let mut claimed = Vec::with_capacity(items.len());
    for (at, item) in items.iter().enumerate() {
        let number = item
            .get("partNumber")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let etag = item.get("etag").and_then(Value::as_str);
        match (number, etag) {
            (Some(part_number), Some(etag)) => claimed.push(UploadedPart {
                part_number,
                size: 0,
                etag: etag.trim_matches('"').to_owned(),
            }),
            _ => {
                return Err(ApiError::field(
                    format!("parts[{at}]"),
                    "must be {\"partNumber\": n, \"etag\": \"…\"}",
                ))
            }
        }
    }
    Ok(Some(claimed))
}

fn incomplete(code: &'static str, detail: String) -> ApiError {
    ApiError::BadRequest { code, detail }
}

/// The parts must be exactly 1..=n of the plan, each of its planned size, adding up to
/// `total`, and match the client's list when it sent one.
fn check_parts(
    plan: &MultipartPlan,
    total: u64,
    parts: &[UploadedPart],
    claimed: Option<&[UploadedPart]>,
) -> Result<(), ApiError> {
    for (index, part) in parts.iter().enumerate() {
        let want = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if part.part_number != want {
            return Err(incomplete(
                "missing_parts",
                format!("part {want} has not been uploaded"),
            ));
        }
    }
    if parts.len() != plan.part_count as usize {
        let next = parts.len() + 1;
        return Err(incomplete(
            "missing_parts",
            format!(
                "{} of {} parts are uploaded; part {next} is missing",
                parts.len(),
                plan.part_count
            ),
        ));
    }
    for part in parts {
        let want = plan.part_len(part.part_number, total);
        if part.size != want {
            return Err(incomplete(
                "part_size_mismatch",
                format!(
                    "part {} is {} bytes; the plan says {want}",
                    part.part_number, part.size
                ),
            ));
        }
    }
    let sum: u64 = parts.iter().map(|p| p.size).sum();
    if sum != total {
        return Err(incomplete(
            "size_mismatch",
            format!("the parts add up to {sum} bytes; expectedSize is {total}"),
        ));
    }
    if let Some(claimed) = claimed {
        let mut claimed = claimed.to_vec();
        claimed.sort_by_key(|p| p.part_number);
        let same = claimed.len() == parts.len()
            && claimed
                .iter()
                .zip(parts)
                .all(|(c, p)| c.part_number == p.part_number && c.etag == p.etag);
        if !same {
            return Err(incomplete(
                "etag_mismatch",
                "the parts sent do not match the parts S3 holds (numbers and ETags)".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> MultipartPlan {
        MultipartPlan {
            upload_id: "u".into(),
            part_size: 10,
            part_count: 3,
        }
    }

    fn part(n: u32, size: u64) -> UploadedPart {
        UploadedPart {
            part_number: n,
            size,
            etag: format!("e{n}"),
        }
    }

    #[test]
    fn a_complete_upload_passes() {
        assert!(check_parts(&plan(), 25, &[part(1, 10), part(2, 10), part(3, 5)], None).is_ok());
    }

    #[test]
    fn missing_wrong_sized_and_mismatched_parts_are_refused() {
        let code = |r: Result<(), ApiError>| r.unwrap_err().code();
        assert_eq!(
            code(check_parts(&plan(), 25, &[part(1, 10), part(3, 5)], None)),
            "missing_parts"
        );
        assert_eq!(
            code(check_parts(&plan(), 25, &[part(1, 10), part(2, 10)], None)),
            "missing_parts"
        );
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &[part(1, 10), part(2, 9), part(3, 5)],
                None
            )),
            "part_size_mismatch"
        );
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &[part(1, 10), part(2, 10), part(3, 6)],
                None
            )),
            "part_size_mismatch"
        );
        let mut wrong = part(2, 10);
        wrong.etag = "other".into();
        let parts = [part(1, 10), part(2, 10), part(3, 5)];
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &parts,
                Some(&[part(1, 10), wrong, part(3, 5)])
            )),
            "etag_mismatch"
        );
        assert_eq!(
            code(check_parts(&plan(), 25, &parts, Some(&[part(1, 10)]))),
            "etag_mismatch"
        );
        assert!(check_parts(
            &plan(),
            25,
            &parts,
            Some(&[part(3, 0), part(1, 0), part(2, 0)])
        )
        .is_ok());
    }

    #[test]
    fn the_last_part_takes_the_remainder() {
        assert_eq!(plan().part_len(1, 25), 10);
        assert_eq!(plan().part_len(3, 25), 5);
    }
}
