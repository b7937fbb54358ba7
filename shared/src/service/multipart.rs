//! The multipart routes: re-sign part URLs, list the parts S3 holds, complete (checked against
//! the plan), and abort. The upload id always comes from the tenant's own record, never from the
//! client, so no route can reach another tenant's or another record's upload.

use std::time::Duration;

use super::access::{check_opener, By};
use super::create::PartUrl;
use super::plan::pending_expiry;
use super::write::{Cleanup, Plan};
use super::{ObjectEvent, Outcome, Service, Shown};
use crate::blob::ObjectStore;
use crate::blob::UploadedPart;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{FileId, FileRecord, FileStatus, MultipartPlan, OpenUpload, Right, Timestamp};
use crate::store::MetadataStore;
use crate::validate::{ClaimedPart, CompleteParts, SignParts};

/// Fresh part URLs.
#[derive(Debug)]
pub struct SignedParts {
    pub parts: Vec<PartUrl>,
    pub expires_at: Timestamp,
}

fn no_multipart_upload() -> ApiError {
    ApiError::new(
        ProblemCode::NoMultipartUpload,
        "the file has no open multipart upload",
    )
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

/// The open upload kept open until `until`: `None` when it already is; else the record with
/// its upload's expiry moved there (and a record without content kept from expiring before).
pub(super) fn kept_open(current: &FileRecord, until: Timestamp) -> Option<FileRecord> {
    let upload = current.upload.as_ref()?;
    if until <= upload.url_expires_at {
        return None;
    }
    let mut next = current.clone();
    if let Some(open) = next.upload.as_mut() {
        open.url_expires_at = until;
    }
    if next.content.is_none() {
        next.expires_at = Some(pending_expiry(&next, until));
    }
    Some(next)
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// How long a URL signed for an open upload of `record` may live when `requested`: at most
    /// the collection's `maxUploadUrlExpiresIn`.
    pub(super) async fn upload_url_lifetime(
        &self,
        record: &FileRecord,
        requested: u64,
    ) -> Result<u64, ApiError> {
        let (rules, _, _) = self
            .admission_cached(&record.tenant, &record.collection)
            .await?;
        Ok(rules
            .max_upload_url_expires_in
            .map_or(requested, |cap| requested.min(cap)))
    }

    /// `POST /files/{id}/upload/parts`: presigned URLs for the given part numbers (resume,
    /// retry, lazy signing, re-signing after expiry). Re-signing keeps a never-uploaded record
    /// from expiring.
    pub async fn sign_parts(
        &self,
        who: &Identity,
        id: FileId,
        request: &SignParts,
    ) -> Result<SignedParts, ApiError> {
        let (_, signed) = self
            .modify_with(
                By::Caller(who, Right::Write),
                id,
                None,
                move |current, now| async move {
                    let (upload, plan) = open_multipart(&current)?;
                    check_opener(who, &current)?;
                    let lifetime = self
                        .upload_url_lifetime(&current, request.url_expires_in)
                        .await?;
                    let numbers = &request.part_numbers;
                    if let Some(bad) = numbers.iter().find(|n| **n == 0 || **n > plan.part_count) {
                        return Err(ApiError::field(
                            "partNumbers",
                            format!("part {bad} is not in this upload's 1..={}", plan.part_count),
                        ));
                    }
                    let total = current.expected_size.unwrap_or(0);
                    let expires_in = Duration::from_secs(lifetime);
                    let parts = self
                        .part_urls(&upload.key, plan, total, numbers, now, expires_in)
                        .await?;
                    let expires_at = now.plus_seconds(lifetime);
                    let signed = SignedParts { parts, expires_at };
                    // The upload lives on: so does a record that has no content yet.
                    match kept_open(&current, expires_at) {
                        None => Ok((Plan::keep(), signed)),
                        Some(next) => Ok((Plan::write(next), signed)),
                    }
                },
            )
            .await?;
        Ok(signed)
    }

    /// `GET /files/{id}/upload/parts`: the parts S3 holds for the open upload, sorted.
    pub async fn uploaded_parts(
        &self,
        who: &Identity,
        id: FileId,
    ) -> Result<Vec<UploadedPart>, ApiError> {
        let record = self.load_for(who, id, Right::Write).await?;
        let (upload, plan) = open_multipart(&record)?;
        check_opener(who, &record)?;
        self.objects
            .list_parts(&upload.key, &plan.upload_id)
            .await?
            .ok_or_else(no_multipart_upload)
    }

    /// `POST /files/{id}/upload/complete`: checks the parts S3 holds against the plan (numbers
    /// 1..=n, every part but the last of the planned size, the total equal to `expectedSize`,
    /// and the client's ETags when given), completes, and returns the uploaded record.
    /// Completing an upload that already completed returns the record again.
    pub(crate) async fn complete_upload(
        &self,
        who: &Identity,
        id: FileId,
        request: &CompleteParts,
    ) -> Result<Shown, ApiError> {
        let record = self.load_for(who, id, Right::Write).await?;
        let Ok((upload, plan)) = open_multipart(&record) else {
            // Completed before (a retry after a lost response): the same answer again.
            if record.status == FileStatus::Uploaded && record.upload.is_none() {
                return self.show(record).await;
            }
            return Err(no_multipart_upload());
        };
        let key = upload.key.clone();
        let total = record.expected_size.unwrap_or(0);
        let Some(parts) = self.objects.list_parts(&key, &plan.upload_id).await? else {
            // S3 already completed it (our write after that was lost): finish from the object.
            return match self.get(who, id).await? {
                done if done.record.upload.is_none() => Ok(done),
                _ => Err(no_multipart_upload()),
            };
        };
        check_parts(plan, total, &parts, request.parts.as_deref())?;
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
            Outcome::Updated(record) => self.show(*record).await,
            _ => self.get(who, id).await,
        }
    }

    /// `DELETE /files/{id}/upload`: abandons the open upload (aborting it in S3 if multipart).
    /// The record keeps its previous content, or becomes `failed` if it never had any.
    pub(crate) async fn abort_upload(
        &self,
        who: &Identity,
        id: FileId,
        if_match: Option<u64>,
    ) -> Result<Shown, ApiError> {
        let record = self
            .modify(By::Caller(who, Right::Write), id, if_match, |current, _| {
                check_opener(who, current)?;
                closing_upload(current)
            })
            .await?;
        self.show(record).await
    }
}

/// The write that abandons a record's open upload (aborting it in S3 if multipart, deleting a
/// single PUT's object if one landed without its event): the record keeps its previous
/// content, or becomes `failed` if it never had any.
pub(super) fn closing_upload(current: &FileRecord) -> Result<Plan, ApiError> {
    let Some(upload) = &current.upload else {
        return Err(ApiError::new(
            ProblemCode::NoOpenUpload,
            "the file has no open upload",
        ));
    };
    let cleanup = match &upload.multipart {
        Some(plan) => Cleanup::AbortUpload {
            key: upload.key.clone(),
            upload_id: plan.upload_id.clone(),
        },
        None => Cleanup::DeleteObject(upload.key.clone()),
    };
    let mut next = current.clone();
    next.upload = None;
    if next.content.is_none() {
        next.status = FileStatus::Failed;
        next.failure_reason = Some("the upload was aborted".into());
    }
    Ok(Plan::write(next).then([cleanup]))
}

fn incomplete(code: ProblemCode, detail: String) -> ApiError {
    ApiError::new(code, detail)
}

/// The parts must be exactly 1..=n of the plan, each of its planned size, adding up to
/// `total`, and match the client's list when it sent one.
fn check_parts(
    plan: &MultipartPlan,
    total: u64,
    parts: &[UploadedPart],
    claimed: Option<&[ClaimedPart]>,
) -> Result<(), ApiError> {
    for (index, part) in parts.iter().enumerate() {
        let want = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if part.part_number != want {
            return Err(incomplete(
                ProblemCode::MissingParts,
                format!("part {want} has not been uploaded"),
            ));
        }
    }
    if parts.len() != plan.part_count as usize {
        let next = parts.len() + 1;
        return Err(incomplete(
            ProblemCode::MissingParts,
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
                ProblemCode::PartSizeMismatch,
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
            ProblemCode::SizeMismatch,
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
                ProblemCode::EtagMismatch,
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

    fn claim(n: u32) -> ClaimedPart {
        ClaimedPart {
            part_number: n,
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
            ProblemCode::MissingParts
        );
        assert_eq!(
            code(check_parts(&plan(), 25, &[part(1, 10), part(2, 10)], None)),
            ProblemCode::MissingParts
        );
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &[part(1, 10), part(2, 9), part(3, 5)],
                None
            )),
            ProblemCode::PartSizeMismatch
        );
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &[part(1, 10), part(2, 10), part(3, 6)],
                None
            )),
            ProblemCode::PartSizeMismatch
        );
        let mut wrong = claim(2);
        wrong.etag = "other".into();
        let parts = [part(1, 10), part(2, 10), part(3, 5)];
        assert_eq!(
            code(check_parts(
                &plan(),
                25,
                &parts,
                Some(&[claim(1), wrong, claim(3)])
            )),
            ProblemCode::EtagMismatch
        );
        assert_eq!(
            code(check_parts(&plan(), 25, &parts, Some(&[claim(1)]))),
            ProblemCode::EtagMismatch
        );
        assert!(check_parts(&plan(), 25, &parts, Some(&[claim(3), claim(1), claim(2)])).is_ok());
    }

    #[test]
    fn the_last_part_takes_the_remainder() {
        assert_eq!(plan().part_len(1, 25), 10);
        assert_eq!(plan().part_len(3, 25), 5);
    }
}
