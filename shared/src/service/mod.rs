//! The service logic, written against the metadata-store and object-store ports only: the same
//! code runs on Lambda (DynamoDB + S3) and in `stowage-local`.

mod completion;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use completion::{ObjectEvent, Outcome};

use crate::blob::{content_disposition, ObjectStore, PresignedRequest, PutConditions};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::keys::ObjectKey;
use crate::model::{FileId, FileRecord, FileStatus, OpenUpload, TenantId, Timestamp};
use crate::store::{MetadataStore, StoreError};
use crate::validate::CreateFile;

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

/// How a client uploads bytes (single-part form of SPEC section 4.1).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadInstructions {
    pub method: String,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

impl From<PresignedRequest> for UploadInstructions {
    fn from(request: PresignedRequest) -> Self {
        UploadInstructions {
            method: request.method,
            url: request.url,
            headers: request.headers,
            expires_at: request.expires_at,
        }
    }
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

    /// The service's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current instant on the service's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `POST /files`: stores a pending record and returns it with a presigned PUT.
    pub async fn create(&self, who: &Identity, request: CreateFile) -> Result<Created, ApiError> {
        if request.multipart {
            return Err(ApiError::field(
                "multipart",
                "multipart uploads are not available yet; send a single PUT of up to 5 GiB",
            ));
        }
        if request
            .expected_size
            .is_some_and(|size| size > MAX_SINGLE_PUT_SIZE)
        {
            return Err(ApiError::field(
                "size",
                "files over 5 GiB need a multipart upload, which is not available yet",
            ));
        }
        let now = self.clock.now();
        let id = FileId::generate();
        let revision = 1;
        let key = ObjectKey {
            kind: request.kind,
            tenant: who.tenant.clone(),
            id,
            revision,
        }
        .render();
        let presigned = self
            .objects
            .presign_put(
                &key,
                PutConditions {
                    content_type: request.mime_type.as_str(),
                    checksum_sha256: request.checksum_sha256.as_ref().map(|c| c.as_str()),
                },
                now,
                Duration::from_secs(request.upload_url_expires_in),
            )
            .await?;
        let pending_expiry = presigned.expires_at.plus_seconds(PENDING_GRACE_SECONDS);
        let expires_at = match request.ttl_seconds {
            Some(ttl) => pending_expiry.min(now.plus_seconds(ttl)),
            None => pending_expiry,
        };
        let record = FileRecord {
            tenant: who.tenant.clone(),
            id,
            kind: request.kind,
            extension: request.name.extension(),
            name: request.name,
            mime_type: request.mime_type,
            size: None,
            expected_size: request.expected_size,
            checksum_sha256: request.checksum_sha256,
            status: FileStatus::Pending,
            failure_reason: None,
            purpose: request.purpose,
            tags: request.tags,
            metadata: request.metadata,
            external_id: request.external_id,
            directory: request.directory,
            source: request.source,
            private_access: request.private_access,
            uploaded_by: who.user.clone(),
            created_at: now,
            updated_at: now,
            uploaded_at: None,
            expires_at: Some(expires_at),
            ttl_seconds: request.ttl_seconds,
            version: 1,
            revision,
            content: None,
            upload: Some(OpenUpload {
                revision,
                key,
                url_expires_at: presigned.expires_at,
            }),
        };
        self.store.insert(&record).await.map_err(|err| match err {
            StoreError::Conflict => ApiError::internal("generated file id already exists"),
            other => other.into(),
        })?;
        Ok(Created {
            record,
            upload: presigned.into(),
        })
    }

    /// `GET /files/{id}`: the record, repaired first if it is pending but its object has
    /// already arrived (an S3 event that was lost or is late).
    pub async fn get(&self, who: &Identity, id: FileId) -> Result<FileRecord, ApiError> {
        let record = self.load(&who.tenant, id).await?;
        if record.status != FileStatus::Pending {
            return Ok(record);
        }
        let Some(upload) = &record.upload else {
            return Ok(record);
        };
        let Some(info) = self.objects.head(&upload.key).await? else {
            return Ok(record);
        };
        tracing::info!(tenant = %who.tenant, %id, key = %upload.key, "repairing a pending record whose object exists");
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

    /// The presigned download URL for an uploaded record, else `None`.
    pub async fn content_url(&self, record: &FileRecord) -> Result<Option<String>, ApiError> {
        let (FileStatus::Uploaded, Some(content)) = (record.status, &record.content) else {
            return Ok(None);
        };
        let presigned = self
            .objects
            .presign_get(
                &content.key,
                record.mime_type.as_str(),
                &content_disposition("attachment", record.name.as_str()),
                self.clock.now(),
                self.settings.download_url_expires_in,
            )
            .await?;
        Ok(Some(presigned.url))
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
