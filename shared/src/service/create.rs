//! `POST /files` (with `overwrite` by `externalId`) and `POST /files/{id}/upload`: a record gets
//! a new revision and an open upload, single `PUT` or multipart, presigned.

use std::time::Duration;

use super::access::{admit_publish, By};
use super::collections::{admit_upload, with_defaults};
use super::plan::{pending_expiry, plan_upload};
use super::write::{Cleanup, Plan};
use super::{Service, Shown};
use crate::blob::ObjectStore;
use crate::blob::{PostConditions, PresignedPost, PresignedRequest, PutConditions};
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::keys::ObjectKey;
use crate::model::{
    Admission, FileId, FileRecord, FileStatus, MultipartPlan, OpenUpload, Right, TenantId,
    Timestamp,
};
use crate::store::MetadataStore;
use crate::store::StoreError;
use crate::validate::{CreateFile, UploadMethod, UploadRequest};

/// Most part URLs in a create (or re-upload) response; the rest come from
/// `POST /files/{id}/upload/parts`.
const MAX_PART_URLS_ON_CREATE: u32 = 100;
/// Attempts of a create whose collection or limits keep changing between read and write.
const ADMISSION_ATTEMPTS: u32 = 4;

/// A record with a new upload, and the request(s) that upload its bytes.
#[derive(Debug)]
pub struct Created {
    pub file: Shown,
    pub upload: UploadInstructions,
}

/// How a client uploads bytes: one presigned `PUT`, a POST form,
/// or a multipart plan (on the wire: `crate::wire::Upload`).
#[derive(Clone, Debug)]
pub enum UploadInstructions {
    Single(PresignedRequest),
    Form(PresignedPost),
    Multipart(MultipartInstructions),
}

/// A multipart upload: the plan and presigned `PUT`s for (up to 100 of) its parts.
#[derive(Clone, Debug)]
pub struct MultipartInstructions {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
    pub parts: Vec<PartUrl>,
    pub expires_at: Timestamp,
}

/// Where to `PUT` one part, and how many bytes it must hold.
#[derive(Clone, Debug)]
pub struct PartUrl {
    pub part_number: u32,
    pub url: String,
    pub size: u64,
}

/// A record with a new upload opened, before it is written.
struct Opened {
    record: FileRecord,
    instructions: UploadInstructions,
    /// A multipart upload the new one replaces: aborted once the record is written.
    replaced: Option<Cleanup>,
    /// The multipart upload just opened: aborted if the record is not written.
    opened: Option<Cleanup>,
}

/// Why one create attempt did not create: refused on the facts it read (final), or on facts
/// remembered from an earlier create (to be decided again on fresh ones).
enum Refusal {
    Fresh(ApiError),
    Cached,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// `POST /files`: stores a pending record and returns it with its upload. With
    /// `externalId` and `overwrite`, an existing live record with that `externalId` gets the
    /// body's fields and a new upload instead (its content stays readable until that upload
    /// lands); without `overwrite`, an existing one is a `409`.
    pub async fn create(&self, who: &Identity, request: CreateFile) -> Result<Created, ApiError> {
        // The first attempt may rest on what admitted an earlier create (no read); a refusal,
        // or a write that finds the collection or limits changed, is tried again on fresh ones.
        let mut cached_ok = true;
        for _ in 0..ADMISSION_ATTEMPTS {
            match self.create_once(who, request.clone(), cached_ok).await {
                Ok(Some(created)) => return Ok(created),
                // The collection or limits changed between their read and the write.
                Ok(None) => cached_ok = false,
                Err(Refusal::Cached) => cached_ok = false,
                Err(Refusal::Fresh(err)) => return Err(err),
            }
        }
        Err(StoreError::AdmissionStale.into())
    }

    /// One attempt of [`Service::create`]; `None` if its admission went stale.
    async fn create_once(
        &self,
        who: &Identity,
        request: CreateFile,
        cached_ok: bool,
    ) -> Result<Option<Created>, Refusal> {
        let now = self.clock.now();
        if request.overwrite {
            if let Some(existing) = self
                .live_by_external_id(&who.tenant, &request, now)
                .await
                .map_err(Refusal::Fresh)?
            {
                return self
                    .overwrite(who, existing, &request)
                    .await
                    .map(Some)
                    .map_err(Refusal::Fresh);
            }
        }
        let (rules, admission, cached) = if cached_ok {
            self.admission_cached(&who.tenant, &request.collection)
                .await
                .map_err(Refusal::Fresh)?
        } else {
            let (rules, admission) = self
                .admission(&who.tenant, &request.collection)
                .await
                .map_err(Refusal::Fresh)?;
            (rules, admission, false)
        };
        // A refusal on remembered rules is decided again on fresh ones.
        let refuse = |err: ApiError| {
            if cached {
                Refusal::Cached
            } else {
                Refusal::Fresh(err)
            }
        };
        let policy = rules.policy();
        if !policy.allows_create(&who.caller()) {
            return Err(refuse(cannot_create(&request.collection)));
        }
        if !request.grants.is_empty() && !policy.file_security {
            return Err(refuse(grants_need_file_security()));
        }
        let mut request = with_defaults(&rules, request).map_err(refuse)?;
        if !request.private_access {
            admit_publish(who, &policy, &who.user, &request.collection).map_err(refuse)?;
        }
        admit_upload(&rules, &admission, &request.mime_type, &mut request.upload)
            .map_err(refuse)?;
        let record = FileRecord {
            tenant: who.tenant.clone(),
            id: FileId::generate_at(now),
            collection: request.collection.clone(),
            kind: request.kind,
            extension: request.name.extension(),
            name: request.name.clone(),
            mime_type: request.mime_type.clone(),
            size: None,
            expected_size: None,
            checksum_sha256: None,
            status: FileStatus::Pending,
            failure_reason: None,
            purpose: request.purpose.clone(),
            tags: request.tags.clone(),
            metadata: request.metadata.clone(),
            external_id: request.external_id.clone(),
            directory: request.directory.clone(),
            source: request.source.clone(),
            private_access: request.private_access,
            uploaded_by: who.user.clone(),
            created_at: now,
            updated_at: now,
            uploaded_at: None,
            expires_at: None,
            ttl_seconds: request.ttl_seconds,
            version: 1,
            revision: 0,
            content: None,
            upload: None,
            published: None,
            grants: request.grants.clone(),
            actor: Some(who.actor()),
            deleting: false,
            versions: Vec::new(),
            trashed_at: None,
        };
        let opened = self
            .open_upload(who, &record, &request.upload, &rules, now)
            .await
            .map_err(Refusal::Fresh)?;
        let inserted = self.store.insert(&opened.record, &admission, now).await;
        if inserted.is_err() {
            self.abandon(opened.opened.as_slice()).await;
        }
        if let Err(StoreError::QuotaExceeded(_)) = &inserted {
            if cached {
                // Told on remembered limits: decided again on fresh ones.
                return Err(Refusal::Cached);
            }
        }
        let answer: Result<Option<Created>, ApiError> = match inserted {
            Ok(()) => Ok(Some(Created {
                file: Shown::without_url(opened.record),
                upload: opened.instructions,
            })),
            Err(StoreError::AdmissionStale) => Ok(None),
            Err(StoreError::ExternalIdTaken(external_id)) if request.overwrite => {
                // Lost a race with another create of the same externalId: overwrite that one.
                match self
                    .live_by_external_id(&who.tenant, &request, now)
                    .await
                    .map_err(Refusal::Fresh)?
                {
                    Some(existing) => self.overwrite(who, existing, &request).await.map(Some),
                    None => Err(StoreError::ExternalIdTaken(external_id).into()),
                }
            }
            Err(StoreError::Conflict) => {
                Err(ApiError::internal("generated file id already exists"))
            }
            Err(other) => Err(other.into()),
        };
        answer.map_err(Refusal::Fresh)
    }

    async fn live_by_external_id(
        &self,
        tenant: &TenantId,
        request: &CreateFile,
        now: Timestamp,
    ) -> Result<Option<FileRecord>, ApiError> {
        let Some(external_id) = &request.external_id else {
            return Ok(None);
        };
        let Some(id) = self
            .store
            .find_external_id(tenant, external_id.as_str(), now)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .get(tenant, id)
            .await?
            .filter(|record| !record.is_expired(now)))
    }

    /// The `overwrite` path of create: the fields the body names replace the record's (the
    /// others stay as they are), and a new upload opens.
    async fn overwrite(
        &self,
        who: &Identity,
        existing: FileRecord,
        request: &CreateFile,
    ) -> Result<Created, ApiError> {
        let tenant = &who.tenant;
        let by = By::Caller(who, Right::Upload);
        let written = self
            .modify_with(by, existing.id, None, move |current, now| async move {
                // externalId is one namespace per tenant: overwrite adopts only the caller's
                // own file (apps: any), so no member's upload lands in a file another owns.
                if !who.caller().app && current.uploaded_by != who.user {
                    return Err(external_id_taken(request));
                }
                if request.names("kind") && current.kind != request.kind {
                    return Err(ApiError::new(
                        ProblemCode::KindMismatch,
                        format!(
                            "the file with this externalId is a {} file; overwrite cannot make it {}",
                            current.kind.as_str(),
                            request.kind.as_str()
                        ),
                    ));
                }
                if request.names("collection") && current.collection != request.collection {
                    return Err(ApiError::new(
                        ProblemCode::CollectionMismatch,
                        format!(
                            "the file with this externalId is in collection {}; a file's collection is fixed at create",
                            current.collection
                        ),
                    ));
                }
                let (rules, admission) = self.admission(tenant, &current.collection).await?;
                let next = overwritten(&current, request);
                if current.private_access && !next.private_access {
                    admit_publish(who, &rules.policy(), &current.uploaded_by, &current.collection)?;
                }
                if next.grants != current.grants {
                    if !rules.file_security {
                        return Err(grants_need_file_security());
                    }
                    self.permit(who, &current, Right::Share).await?;
                }
                let mut upload = request.upload.clone();
                admit_upload(&rules, &admission, &next.mime_type, &mut upload)?;
                let opened = self
                    .open_upload(who, &next, &upload, &rules, now)
                    .await?;
                Ok(opened.into_plan(admission))
            })
            .await;
        let (record, instructions) = match written {
            // The externalId is held by a file the caller may not see: it learns no more
            // than that the id is taken (as without overwrite).
            Err(err) if err.is(ProblemCode::NotFound) => return Err(external_id_taken(request)),
            other => other?,
        };
        Ok(Created {
            file: Shown::without_url(record),
            upload: instructions,
        })
    }

    /// `POST /files/{id}/upload`: a new upload for an existing record. Its current content
    /// stays readable until the new bytes land.
    pub(crate) async fn start_upload(
        &self,
        who: &Identity,
        id: FileId,
        request: UploadRequest,
        if_match: Option<u64>,
    ) -> Result<Created, ApiError> {
        let request = &request;
        let (record, instructions) = self
            .modify_with(
                By::Caller(who, Right::Upload),
                id,
                if_match,
                move |current, now| async move {
                    let (rules, admission) =
                        self.admission(&current.tenant, &current.collection).await?;
                    let mut upload = request.clone();
                    admit_upload(&rules, &admission, &current.mime_type, &mut upload)?;
                    let opened = self
                        .open_upload(who, &current, &upload, &rules, now)
                        .await?;
                    Ok(opened.into_plan(admission))
                },
            )
            .await?;
        Ok(Created {
            file: self.show(record).await?,
            upload: instructions,
        })
    }

    /// `record` with a new revision and open upload (single or multipart), presigned. A
    /// multipart upload left open by an earlier upload is to be aborted once it is written.
    async fn open_upload(
        &self,
        who: &Identity,
        record: &FileRecord,
        request: &UploadRequest,
        rules: &crate::model::Rules,
        now: Timestamp,
    ) -> Result<Opened, ApiError> {
        let max_size = rules.max_file_size;
        let plan = plan_upload(request, self.settings.multipart_threshold)?;
        let revision = record.revision + 1;
        let key = ObjectKey {
            kind: record.kind,
            tenant: record.tenant.clone(),
            id: record.id,
            revision,
        }
        .render();
        let expires_in = Duration::from_secs(request.url_expires_in);
        let (instructions, multipart, url_expires_at) = match plan {
            None if request.method == UploadMethod::Post => {
                // The declared size exactly, or anything up to the multipart threshold.
                let (min_size, max_size) = match request.expected_size {
                    Some(size) => (size, size),
                    None => (
                        0,
                        max_size.map_or(self.settings.multipart_threshold, |max| {
                            max.min(self.settings.multipart_threshold)
                        }),
                    ),
                };
                let conditions = PostConditions {
                    content_type: record.mime_type.as_str(),
                    min_size,
                    max_size,
                };
                let form = self
                    .objects
                    .presign_post(&key, conditions, now, expires_in)
                    .await?;
                let expires_at = form.expires_at;
                (UploadInstructions::Form(form), None, expires_at)
            }
            Some(_) if request.method == UploadMethod::Post => {
                return Err(ApiError::field(
                    "uploadMethod",
                    format!(
                        "POST uploads are single requests, up to the multipart threshold of {} bytes",
                        self.settings.multipart_threshold
                    ),
                ));
            }
            None => {
                let conditions = PutConditions {
                    content_type: record.mime_type.as_str(),
                    checksum_sha256: request.checksum_sha256.as_ref().map(|c| c.as_str()),
                };
                let presigned = self
                    .objects
                    .presign_put(&key, conditions, now, expires_in)
                    .await?;
                let expires_at = presigned.expires_at;
                (UploadInstructions::Single(presigned), None, expires_at)
            }
            Some((part_size, part_count)) => {
                let upload_id = self
                    .objects
                    .create_multipart(&key, record.mime_type.as_str())
                    .await?;
                let plan = MultipartPlan {
                    upload_id,
                    part_size,
                    part_count,
                };
                let total = request.expected_size.unwrap_or(0);
                let first: Vec<u32> = (1..=part_count.min(MAX_PART_URLS_ON_CREATE)).collect();
                let parts = self
                    .part_urls(&key, &plan, total, &first, now, expires_in)
                    .await?;
                let expires_at = now.plus_seconds(request.url_expires_in);
                let instructions = UploadInstructions::Multipart(MultipartInstructions {
                    upload_id: plan.upload_id.clone(),
                    part_size,
                    part_count,
                    parts,
                    expires_at,
                });
                (instructions, Some(plan), expires_at)
            }
        };
        let replaced = match &record.upload {
            Some(OpenUpload {
                key,
                multipart: Some(old),
                ..
            }) => Some(Cleanup::AbortReplacedUpload {
                key: key.clone(),
                upload_id: old.upload_id.clone(),
            }),
            _ => None,
        };
        let opened = multipart.as_ref().map(|plan| Cleanup::AbortUpload {
            key: key.clone(),
            upload_id: plan.upload_id.clone(),
        });
        let mut next = record.clone();
        next.revision = revision;
        next.expected_size = request.expected_size;
        next.checksum_sha256 = request.checksum_sha256.clone();
        next.upload = Some(OpenUpload {
            revision,
            key,
            url_expires_at,
            multipart,
            max_size,
            opened_by: Some(who.user.clone()),
            keep_versions: rules.versions,
            restoring: None,
        });
        if next.content.is_none() {
            // Never uploaded: pending, and gone a day after the upload URL expires.
            next.status = FileStatus::Pending;
            next.failure_reason = None;
            next.expires_at = Some(pending_expiry(&next, url_expires_at));
        }
        Ok(Opened {
            record: next,
            instructions,
            replaced,
            opened,
        })
    }

    /// Presigned part URLs for `numbers` of an open multipart upload.
    pub(super) async fn part_urls(
        &self,
        key: &str,
        plan: &MultipartPlan,
        total: u64,
        numbers: &[u32],
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<Vec<PartUrl>, ApiError> {
        let mut parts = Vec::with_capacity(numbers.len());
        for &number in numbers {
            let presigned = self
                .objects
                .presign_part(key, &plan.upload_id, number, now, expires_in)
                .await?;
            parts.push(PartUrl {
                part_number: number,
                url: presigned.url,
                size: plan.part_len(number, total),
            });
        }
        Ok(parts)
    }
}

/// `current` with the fields `request` names taken from it (`null` removes an optional one).
fn overwritten(current: &FileRecord, request: &CreateFile) -> FileRecord {
    let mut next = current.clone();
    // name and mimeType are required in a create body: always named.
    next.extension = request.name.extension();
    next.name = request.name.clone();
    next.mime_type = request.mime_type.clone();
    if request.names("purpose") {
        next.purpose = request.purpose.clone();
    }
    if request.names("tags") {
        next.tags = request.tags.clone();
    }
    if request.names("metadata") {
        next.metadata = request.metadata.clone();
    }
    if request.names("directory") {
        next.directory = request.directory.clone();
    }
    if request.names("source") {
        next.source = request.source.clone();
    }
    if request.names("privateAccess") {
        next.private_access = request.private_access;
    }
    if request.names("ttlSeconds") {
        next.ttl_seconds = request.ttl_seconds;
    }
    if request.names("grants") {
        next.grants = request.grants.clone();
    }
    next
}

/// `403`: the caller is not on the collection's `access.write` list.
pub(super) fn cannot_create(collection: &crate::model::CollectionName) -> ApiError {
    ApiError::new(
        ProblemCode::Forbidden,
        format!("you lack the right to write (create files) in collection {collection}"),
    )
}

/// `409 external_id_conflict`: another file of the tenant holds the request's `externalId`,
/// and the caller may not adopt it.
fn external_id_taken(request: &CreateFile) -> ApiError {
    let external_id = request
        .external_id
        .as_ref()
        .map(|e| e.as_str())
        .unwrap_or_default();
    ApiError::new(
        ProblemCode::ExternalIdConflict,
        format!(
            "another member's file of this tenant has externalId {external_id:?}; overwrite adopts only your own files (apps: any)"
        ),
    )
}

/// `400`: `grants` on a file of a collection without `fileSecurity`.
pub(super) fn grants_need_file_security() -> ApiError {
    ApiError::field(
        "grants",
        "the file's collection has no fileSecurity; its access is the collection's",
    )
}

impl Opened {
    /// The write of the opened record within `admission`, with its cleanup either way.
    fn into_plan(self, admission: Admission) -> (Plan, UploadInstructions) {
        let plan = Plan::write(self.record)
            .then(self.replaced)
            .or_else(self.opened)
            .within(admission);
        (plan, self.instructions)
    }
}
