//! The service logic, written against the metadata-store and object-store ports only: the same
//! code runs on Lambda (DynamoDB + S3) and in `stowage-local`.

mod completion;
mod delete;
mod list;
mod multipart;
mod update;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use completion::{ObjectEvent, Outcome};
pub use delete::Deleted;
pub use list::ListPage;

use crate::blob::{content_disposition, ObjectStore, PresignedRequest, PutConditions};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::keys::{public_key, ObjectKey};
use crate::model::{
    Checksum, FileId, FileRecord, FileStatus, MultipartPlan, OpenUpload, TenantId, Timestamp,
};
use crate::store::{MetadataStore, StoreError};
use crate::validate::CreateFile;

/// What a new upload binds.
#[derive(Clone, Debug, Default)]
pub struct UploadRequest {
    pub expected_size: Option<u64>,
    pub checksum_sha256: Option<Checksum>,
    pub url_expires_in: u64,
    /// Asks for a multipart upload whatever the size.
    pub multipart: bool,
    /// The client's wish for the part size; clamped to S3's rules.
    pub part_size: Option<u64>,
}

/// S3's smallest part (but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// The default part size, for files small enough to fit 10,000 of them.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Most part URLs in a create (or re-upload) response; the rest come from
/// `POST /files/{id}/upload/parts`.
pub const MAX_PART_URLS_ON_CREATE: u32 = 100;

/// Single `PUT` (`None`) or multipart `(part size, part count)` for this request: multipart
/// when asked, above `threshold`, and always above 5 GiB; then `expectedSize` is required.
fn plan_upload(request: &UploadRequest, threshold: u64) -> Result<Option<(u64, u32)>, ApiError> {
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
fn pending_expiry(record: &FileRecord, url_expires_at: Timestamp) -> Timestamp {
    let pending = url_expires_at.plus_seconds(PENDING_GRACE_SECONDS);
    match record.ttl_seconds {
        Some(ttl) => pending.min(record.created_at.plus_seconds(ttl)),
        None => pending,
    }
}

fn external_id_conflict(external_id: &str) -> ApiError {
    ApiError::Conflict {
        code: "external_id_conflict",
        detail: format!(
            "another file of this tenant has externalId {external_id:?}; send overwrite: true to upload a new version of it"
        ),
    }
}

/// `412` unless `if_match` is absent or the record's version.
pub(crate) fn check_version(record: &FileRecord, if_match: Option<u64>) -> Result<(), ApiError> {
    match if_match {
        Some(version) if version != record.version => Err(ApiError::PreconditionFailed),
        _ => Ok(()),
    }
}

fn status_name(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Pending => "pending",
        FileStatus::Uploaded => "uploaded",
        FileStatus::Failed => "failed",
    }
}

/// Largest single-part upload S3 accepts (5 GiB).
pub const MAX_SINGLE_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// How long a never-uploaded record outlives its upload URL.
pub const PENDING_GRACE_SECONDS: u64 = 86_400;

/// The time source; tests substitute a [`ManualClock`].
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(AtomicI64::new(at.millis()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl ManualClock {
    /// The clock's time in epoch milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Tunables of the service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The bucket whose events this service owns; events from other buckets are ignored.
    pub bucket: String,
    /// Life of a private file's presigned `contentUrl`.
    pub download_url_expires_in: Duration,
    /// Uploads larger than this many bytes are multipart (always above 5 GiB).
    pub multipart_threshold: u64,
    /// Where public files are served: their `contentUrl` is `<this>/public/<tenant>/<id>`.
    /// `None`: public files get presigned URLs like private ones.
    pub public_base_url: Option<String>,
}

/// The file service.
pub struct Service {
    store: Arc<dyn MetadataStore>,
    objects: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

/// A created record and the request that uploads its bytes.
#[derive(Debug)]
pub struct Created {
    pub record: FileRecord,
    pub upload: UploadInstructions,
}

/// How a client uploads bytes (SPEC section 4.1): one presigned `PUT`, or a multipart plan.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum UploadInstructions {
    Single(SinglePut),
    Multipart(MultipartInstructions),
}

/// A single presigned `PUT`: send exactly `headers`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SinglePut {
    pub method: String,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

impl From<PresignedRequest> for SinglePut {
    fn from(request: PresignedRequest) -> Self {
        SinglePut {
            method: request.method,
            url: request.url,
            headers: request.headers,
            expires_at: request.expires_at,
        }
    }
}

/// A multipart upload: the plan and presigned `PUT`s for (up to 100 of) its parts.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartInstructions {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
    pub parts: Vec<PartUrl>,
    pub expires_at: Timestamp,
}

/// Where to `PUT` one part, and how many bytes it must hold.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    pub part_number: u32,
    pub url: String,
    pub size: u64,
}

impl Service {
    /// A service over the given ports.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        objects: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Service {
            store,
            objects,
            clock,
            settings,
        }
    }

    /// The metadata store (for tools and tests that write records directly).
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// The service's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current instant on the service's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `POST /files`: stores a pending record and returns it with a presigned PUT. With
    /// `externalId` and `overwrite`, an existing live record with that `externalId` gets the
    /// body's fields and a new upload instead (its content stays readable until that upload
    /// lands); without `overwrite`, an existing one is a `409`.
    pub async fn create(&self, who: &Identity, request: CreateFile) -> Result<Created, ApiError> {
        let now = self.clock.now();
        if request.overwrite {
            if let Some(existing) = self.live_by_external_id(&who.tenant, &request, now).await? {
                return self.overwrite(existing, request).await;
            }
        }
        let id = FileId::generate_at(now);
        let mut record = FileRecord {
            tenant: who.tenant.clone(),
            id,
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
            version: 0,
            revision: 0,
            content: None,
            upload: None,
        };
        let upload = self
            .open_upload(
                &mut record,
                UploadRequest {
                    expected_size: request.expected_size,
                    checksum_sha256: request.checksum_sha256.clone(),
                    url_expires_in: request.upload_url_expires_in,
                    multipart: request.multipart,
                    part_size: request.part_size,
                },
                now,
            )
            .await?;
        match self.store.insert(&record, now).await {
            Ok(()) => Ok(Created { record, upload }),
            Err(StoreError::ExternalIdTaken(external_id)) if request.overwrite => {
                // Lost a race with another create of the same externalId: overwrite that one.
                let existing = self
                    .live_by_external_id(&who.tenant, &request, now)
                    .await?
                    .ok_or_else(|| external_id_conflict(&external_id))?;
                self.overwrite(existing, request).await
            }
            Err(StoreError::ExternalIdTaken(external_id)) => {
                Err(external_id_conflict(&external_id))
            }
            Err(StoreError::Conflict) => {
                Err(ApiError::internal("generated file id already exists"))
            }
            Err(other) => Err(other.into()),
        }
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

    /// The `overwrite` path of create: the body's fields replace the record's, and a new upload
    /// opens.
    async fn overwrite(
        &self,
        existing: FileRecord,
        request: CreateFile,
    ) -> Result<Created, ApiError> {
        if existing.kind != request.kind {
            return Err(ApiError::Conflict {
                code: "kind_mismatch",
                detail: format!(
                    "the file with this externalId is a {} file; overwrite cannot make it {}",
                    existing.kind.as_str(),
                    request.kind.as_str()
                ),
            });
        }
        let now = self.clock.now();
        let mut next = existing.clone();
        next.extension = request.name.extension();
        next.name = request.name;
        next.mime_type = request.mime_type;
        next.purpose = request.purpose;
        next.tags = request.tags;
        next.metadata = request.metadata;
        next.directory = request.directory;
        next.source = request.source;
        next.private_access = request.private_access;
        next.ttl_seconds = request.ttl_seconds.or(existing.ttl_seconds);
        let upload = self
            .open_upload(
                &mut next,
                UploadRequest {
                    expected_size: request.expected_size,
                    checksum_sha256: request.checksum_sha256,
                    url_expires_in: request.upload_url_expires_in,
                    multipart: request.multipart,
                    part_size: request.part_size,
                },
                now,
            )
            .await?;
        self.write(&existing, &next, now).await?;
        self.sync_public(&existing, &next).await?;
        Ok(Created {
            record: next,
            upload,
        })
    }

    /// `POST /files/{id}/upload`: a new upload for an existing record. Its current content
    /// stays readable until the new bytes land.
    pub async fn start_upload(
        &self,
        who: &Identity,
        id: FileId,
        request: UploadRequest,
        if_match: Option<u64>,
    ) -> Result<Created, ApiError> {
        let now = self.clock.now();
        let current = self.load(&who.tenant, id).await?;
        check_version(&current, if_match)?;
        let mut next = current.clone();
        let upload = self.open_upload(&mut next, request, now).await?;
        self.write(&current, &next, now).await?;
        Ok(Created {
            record: next,
            upload,
        })
    }

    /// Gives `record` a new revision and open upload (single or multipart), presigned; bumps
    /// its version. A multipart upload left open by an earlier upload is aborted.
    async fn open_upload(
        &self,
        record: &mut FileRecord,
        request: UploadRequest,
        now: Timestamp,
    ) -> Result<UploadInstructions, ApiError> {
        let plan = plan_upload(&request, self.settings.multipart_threshold)?;
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
            None => {
                let presigned = self
                    .objects
                    .presign_put(
                        &key,
                        PutConditions {
                            content_type: record.mime_type.as_str(),
                            checksum_sha256: request.checksum_sha256.as_ref().map(|c| c.as_str()),
                        },
                        now,
                        expires_in,
                    )
                    .await?;
                let expires_at = presigned.expires_at;
                (
                    UploadInstructions::Single(presigned.into()),
                    None,
                    expires_at,
                )
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
        if let Some(OpenUpload {
            key: old_key,
            multipart: Some(old),
            ..
        }) = &record.upload
        {
            if let Err(err) = self.objects.abort_multipart(old_key, &old.upload_id).await {
                tracing::warn!(key = %old_key, error = ?err, "could not abort a replaced multipart upload");
            }
        }
        record.revision = revision;
        record.version += 1;
        record.updated_at = now;
        record.expected_size = request.expected_size;
        record.checksum_sha256 = request.checksum_sha256;
        record.upload = Some(OpenUpload {
            revision,
            key,
            url_expires_at,
            multipart,
        });
        if record.content.is_none() {
            // Never uploaded: pending, and gone a day after the upload URL expires.
            record.status = FileStatus::Pending;
            record.failure_reason = None;
            record.expires_at = Some(pending_expiry(record, url_expires_at));
        }
        Ok(instructions)
    }

    /// Presigned part URLs for `numbers` of an open multipart upload.
    async fn part_urls(
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

    /// Compare-and-swap of one record, with store errors mapped for clients.
    async fn write(
        &self,
        previous: &FileRecord,
        next: &FileRecord,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        self.store
            .replace(previous, next, now)
            .await
            .map_err(|err| match err {
                StoreError::Conflict => ApiError::PreconditionFailed,
                StoreError::ExternalIdTaken(external_id) => external_id_conflict(&external_id),
                other => other.into(),
            })
    }

    /// `GET /files/{id}`: the record, repaired first if an upload is open but its object has
    /// already arrived (an S3 event that was lost or is late). Costs one `HeadObject` only
    /// while an upload is open.
    pub async fn get(&self, who: &Identity, id: FileId) -> Result<FileRecord, ApiError> {
        let record = self.load(&who.tenant, id).await?;
        let Some(upload) = &record.upload else {
            return Ok(record);
        };
        let Some(info) = self.objects.head(&upload.key).await? else {
            return Ok(record);
        };
        tracing::info!(tenant = %who.tenant, %id, key = %upload.key, "repairing a record whose upload arrived without its event");
        let event = ObjectEvent {
            key: upload.key.clone(),
            size: info.size,
            etag: info.etag,
            sequencer: None,
            at: info.last_modified.unwrap_or_else(|| self.clock.now()),
        };
        match self.object_created(event).await? {
            Outcome::Updated(repaired) => Ok(*repaired),
            // Someone else finished it meanwhile, or it failed and went away: read again.
            _ => self.load(&who.tenant, id).await,
        }
    }

    /// The record's `contentUrl`: `None` until uploaded; for public files the stable public URL
    /// (when a public base URL is configured), else a presigned GET carrying the original name.
    pub async fn content_url(&self, record: &FileRecord) -> Result<Option<String>, ApiError> {
        let (FileStatus::Uploaded, Some(_)) = (record.status, &record.content) else {
            return Ok(None);
        };
        if !record.private_access {
            if let Some(base) = &self.settings.public_base_url {
                return Ok(Some(format!(
                    "{base}/{}",
                    public_key(&record.tenant, record.id)
                )));
            }
        }
        self.download_url(record, "attachment").await.map(Some)
    }

    /// A presigned GET of the record's content with `Content-Disposition: <disposition>` and
    /// the original name.
    async fn download_url(
        &self,
        record: &FileRecord,
        disposition: &str,
    ) -> Result<String, ApiError> {
        let Some(content) = &record.content else {
            return Err(ApiError::Conflict {
                code: "not_uploaded",
                detail: "the file has no content yet".into(),
            });
        };
        let presigned = self
            .objects
            .presign_get(
                &content.key,
                record.mime_type.as_str(),
                &content_disposition(disposition, record.name.as_str()),
                self.clock.now(),
                self.settings.download_url_expires_in,
            )
            .await?;
        Ok(presigned.url)
    }

    /// `GET /files/{id}/content`: where to redirect for the bytes.
    pub async fn content_redirect(
        &self,
        who: &Identity,
        id: FileId,
        disposition: &str,
    ) -> Result<String, ApiError> {
        let record = self.get(who, id).await?;
        if record.status != FileStatus::Uploaded {
            return Err(ApiError::Conflict {
                code: "not_uploaded",
                detail: format!(
                    "the file is {}; it has no content to download",
                    status_name(record.status)
                ),
            });
        }
        self.download_url(&record, disposition).await
    }

    /// Keeps the public copy in step: present while the record is public and uploaded, absent
    /// otherwise. Called after every write that may change either.
    async fn sync_public(&self, previous: &FileRecord, next: &FileRecord) -> Result<(), ApiError> {
        let alias = public_key(&next.tenant, next.id);
        let is_public = |r: &FileRecord| !r.private_access && r.status == FileStatus::Uploaded;
        match (&next.content, is_public(next)) {
            (Some(content), true) => {
                let unchanged = is_public(previous)
                    && previous.content.as_ref().map(|c| &c.key) == Some(&content.key);
                if !unchanged {
                    self.objects.copy(&content.key, &alias).await?;
                }
            }
            _ if is_public(previous) => self.objects.delete(&alias).await?,
            _ => {}
        }
        Ok(())
    }

    /// Deletes every object a removed record may have left: its content, an upload in flight,
    /// and its public copy. Deleting what is already gone succeeds.
    pub async fn remove_objects(&self, record: &FileRecord) -> Result<(), ApiError> {
        let mut keys: Vec<String> = Vec::new();
        if let Some(content) = &record.content {
            keys.push(content.key.clone());
        }
        if let Some(upload) = &record.upload {
            if let Some(plan) = &upload.multipart {
                self.objects
                    .abort_multipart(&upload.key, &plan.upload_id)
                    .await?;
            }
            keys.push(upload.key.clone());
        }
        keys.push(public_key(&record.tenant, record.id));
        for key in keys {
            self.objects.delete(&key).await?;
        }
        Ok(())
    }

    /// The live (unexpired) record, or `404`.
    async fn load(&self, tenant: &TenantId, id: FileId) -> Result<FileRecord, ApiError> {
        let now = self.clock.now();
        self.store
            .get(tenant, id)
            .await?
            .filter(|record| !record.is_expired(now))
            .ok_or(ApiError::NotFound)
    }
}
