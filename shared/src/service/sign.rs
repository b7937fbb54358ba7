//! `POST /files/{id}/upload/sign`: signs exactly one S3 request of the caller's own open upload
//! for a browser uploader (Uppy 6's `signRequest`). The record, its key and its upload id are
//! checked against what the request names; anything else is refused and nothing is signed.
//!
//! A browser creates its multipart upload itself (Uppy always does). Its upload id reaches
//! Stowage with the first request that names it, is checked against S3 (an upload of this
//! file's key, which only this file's owner could have been signed to create), and is then
//! recorded in place of the one Stowage opened, so abort and cleanup find it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::access::{check_opener, By};
use super::multipart::{closing_upload, kept_open};
use super::write::{Cleanup, Plan};
use super::Service;
use crate::blob::ObjectStore;
use crate::blob::{PutConditions, UploadCall};
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::Right;
use crate::model::{FileId, FileRecord, Timestamp};
use crate::store::MetadataStore;
use crate::validate::{S3Call, SignRequest};

/// One signed S3 request.
#[derive(Debug)]
pub struct SignedRequest {
    pub method: String,
    pub url: String,
    /// Headers the request must carry exactly.
    pub headers: BTreeMap<String, String>,
    /// The object key the request is for.
    pub key: String,
    pub expires_at: Timestamp,
}

fn mismatch(detail: &str) -> ApiError {
    ApiError::new(ProblemCode::UploadMismatch, detail)
}

fn no_multipart_upload() -> ApiError {
    ApiError::new(
        ProblemCode::NoMultipartUpload,
        "the file's open upload is a single PUT, not a multipart upload",
    )
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Signs `request` for the open upload of `id`.
    pub(crate) async fn sign_request(
        &self,
        who: &Identity,
        id: FileId,
        request: &SignRequest,
    ) -> Result<SignedRequest, ApiError> {
        let mut record = self.load_for(who, id, Right::Write).await?;
        let upload = record.upload.as_ref().ok_or_else(|| {
            ApiError::new(ProblemCode::NoOpenUpload, "the file has no open upload")
        })?;
        if request.key.as_ref().is_some_and(|key| key != &upload.key) {
            return Err(mismatch("the key is not this file's open upload"));
        }
        check_opener(who, &record)?;
        let key = upload.key.clone();
        if request.call.needs_upload_id() {
            let Some(plan) = &upload.multipart else {
                return Err(no_multipart_upload());
            };
            let upload_id = request.upload_id.as_deref().unwrap_or_default();
            if upload_id != plan.upload_id {
                record = self.adopt_upload(who, &record, &key, upload_id).await?;
            }
        }
        let now = self.clock.now();
        let lifetime = self
            .upload_url_lifetime(&record, request.expires_in)
            .await?;
        if request.call != S3Call::AbortMultipartUpload {
            self.keep_open(who, &record, now.plus_seconds(lifetime))
                .await?;
        }
        let expires_in = Duration::from_secs(lifetime);
        let mime = record.mime_type.as_str();
        let upload_id = request.upload_id.as_deref().unwrap_or_default();
        let presigned = match request.call {
            S3Call::PutObject => {
                if upload_is_multipart(&record) {
                    return Err(mismatch(
                        "the open upload is multipart: sign CreateMultipartUpload and its parts",
                    ));
                }
                if request.content_type.as_deref().is_some_and(|ct| ct != mime) {
                    return Err(ApiError::field(
                        "contentType",
                        format!("must be the file's mimeType, {mime:?}"),
                    ));
                }
                let conditions = PutConditions {
                    content_type: mime,
                    checksum_sha256: record.checksum_sha256.as_ref().map(|c| c.as_str()),
                };
                self.objects
                    .presign_put(&key, conditions, now, expires_in)
                    .await?
            }
            S3Call::CreateMultipartUpload => {
                if !upload_is_multipart(&record) {
                    return Err(no_multipart_upload());
                }
                let call = UploadCall::Create { content_type: mime };
                self.objects
                    .presign_upload_call(&key, call, now, expires_in)
                    .await?
            }
            S3Call::UploadPart { part_number } => {
                let count = part_count(&record);
                if part_number > count {
                    return Err(ApiError::field(
                        "partNumber",
                        format!("part {part_number} is not in this upload's 1..={count}"),
                    ));
                }
                self.objects
                    .presign_part(&key, upload_id, part_number, now, expires_in)
                    .await?
            }
            S3Call::ListParts => {
                let call = UploadCall::ListParts { upload_id };
                self.objects
                    .presign_upload_call(&key, call, now, expires_in)
                    .await?
            }
            S3Call::CompleteMultipartUpload => {
                let call = UploadCall::Complete { upload_id };
                self.objects
                    .presign_upload_call(&key, call, now, expires_in)
                    .await?
            }
            S3Call::AbortMultipartUpload => {
                // The record lets the upload go first (aborting it in S3 too, so no part is
                // left even if the browser's own abort never arrives) — only if it is still
                // the multipart upload being aborted: an upload started meanwhile is not this
                // caller's to end.
                self.modify(
                    By::Caller(who, Right::Write),
                    id,
                    None,
                    |current, _| match current.upload.as_ref().and_then(|u| u.multipart.as_ref()) {
                        Some(plan) if plan.upload_id == upload_id => {
                            check_opener(who, current)?;
                            closing_upload(current)
                        }
                        Some(_) => Err(mismatch(
                            "the file's open upload is no longer the one being aborted",
                        )),
                        None => Err(no_multipart_upload()),
                    },
                )
                .await?;
                let call = UploadCall::Abort { upload_id };
                self.objects
                    .presign_upload_call(&key, call, now, expires_in)
                    .await?
            }
        };
        Ok(SignedRequest {
            method: presigned.method,
            url: presigned.url,
            headers: presigned.headers,
            key,
            expires_at: presigned.expires_at,
        })
    }

    /// Keeps the open upload of `record` open until `until` at least (no URL signed for it
    /// outlives it), extending it by twice what is needed so that signing part after part
    /// writes the record about once per URL lifetime, not once per part.
    async fn keep_open(
        &self,
        who: &Identity,
        record: &FileRecord,
        until: Timestamp,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        if kept_open(record, until).is_none() {
            return Ok(());
        }
        let ahead = until.millis().saturating_sub(now.millis()).max(0) / 1_000;
        let target = until.plus_seconds(u64::try_from(ahead).unwrap_or(0));
        let key = record.upload.as_ref().map(|u| u.key.clone());
        self.modify(
            By::Caller(who, Right::Write),
            record.id,
            None,
            |current, _| {
                if current.upload.as_ref().map(|u| &u.key) != key.as_ref() {
                    return Err(mismatch("the file's open upload has changed"));
                }
                Ok(match kept_open(current, target) {
                    Some(next) => Plan::write(next),
                    None => Plan::keep(),
                })
            },
        )
        .await?;
        Ok(())
    }

    /// Records `upload_id`, which a browser created for this file's key, as its multipart
    /// upload (aborting the one it replaces); `409` unless S3 holds such an upload of the key.
    async fn adopt_upload(
        &self,
        who: &Identity,
        record: &FileRecord,
        key: &str,
        upload_id: &str,
    ) -> Result<FileRecord, ApiError> {
        if self.objects.list_parts(key, upload_id).await?.is_none() {
            return Err(mismatch("the upload id is not an upload of this file"));
        }
        self.modify(
            By::Caller(who, Right::Write),
            record.id,
            None,
            |current, _| {
                let mut next = current.clone();
                let Some(upload) = next.upload.as_mut().filter(|u| u.key == key) else {
                    return Err(mismatch("the file's open upload has changed"));
                };
                let Some(plan) = upload.multipart.as_mut() else {
                    return Err(no_multipart_upload());
                };
                if plan.upload_id == upload_id {
                    return Ok(Plan::keep());
                }
                let replaced = std::mem::replace(&mut plan.upload_id, upload_id.to_owned());
                Ok(Plan::write(next).then([Cleanup::AbortReplacedUpload {
                    key: key.to_owned(),
                    upload_id: replaced,
                }]))
            },
        )
        .await
    }
}

fn upload_is_multipart(record: &FileRecord) -> bool {
    record
        .upload
        .as_ref()
        .is_some_and(|u| u.multipart.is_some())
}

fn part_count(record: &FileRecord) -> u32 {
    record
        .upload
        .as_ref()
        .and_then(|u| u.multipart.as_ref())
        .map_or(0, |plan| plan.part_count)
}
