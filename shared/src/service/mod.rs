//! The service logic, written against the metadata-store and object-store ports only: the same
//! code runs on Lambda (DynamoDB + S3) and in `stowage-local`.
//!
//! Every change of an existing record goes through one write path ([`write`]): load, check
//! `If-Match`, apply, compare-and-swap, retry on contention, then the side effects a change
//! implies (the public copy, replaced objects, a removed record's bytes). Each route's logic is
//! a change handed to that path.

mod access;
mod clock;
mod collections;
mod completion;
mod copy;
mod create;
mod delete;
mod folders;
mod list;
mod many;
mod multipart;
mod plan;
mod public;
mod read;
mod requests;
mod sign;
mod thumbnail;
mod update;
mod versions;
mod write;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

#[cfg(any(test, feature = "test-util"))]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use collections::UsageReport;
pub use completion::ObjectEvent;
pub use completion::Outcome;
pub use create::Created;
pub use create::{MultipartInstructions, PartUrl, UploadInstructions};
pub use delete::Deleted;
pub use folders::{Folder, FolderMoved, FolderPage, MAX_FOLDER_MOVE};
pub use list::ListPage;
pub use many::{Link, ManyFiles, ManyLinks};
pub use multipart::SignedParts;
pub use read::Shown;
pub use sign::SignedRequest;
pub use thumbnail::ThumbnailAnswer;
pub use versions::VersionEntry;

use crate::blob::ObjectStore;
use crate::config::Config;
use crate::error::ApiError;
use crate::model::{FileId, FileRecord, TenantId};
use crate::store::MetadataStore;

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
    /// Public copies up to this many bytes are made in the request that needs them; larger
    /// ones by the publish worker, in parts of at least this size.
    pub inline_copy_limit: u64,
    /// A tenant's limits until it has its own (`PUT /usage/limits`).
    pub default_tenant_limits: crate::model::Limits,
    /// Days a deleted file stays in the trash where its collection sets no `trashDays`.
    pub default_trash_days: u32,
    /// Where clients subscribe to changes, if anywhere.
    pub realtime: Option<RealtimeEndpoint>,
    /// How many requests each tenant may start per second and have running.
    pub request_limits: crate::store::RequestLimits,
}

/// Where clients subscribe to changes: AppSync Events' realtime URL and the host its
/// `header-` subprotocol names (`stowage-local`: its own `/event/realtime`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealtimeEndpoint {
    pub url: String,
    pub host: String,
}

/// `GET /realtime`: where to connect, and the channels this identity may subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealtimeInfo {
    pub endpoint: RealtimeEndpoint,
    pub channels: Vec<String>,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Settings {
            bucket: config.bucket.clone(),
            download_url_expires_in: config.download_url_expires_in,
            multipart_threshold: config.multipart_threshold,
            public_base_url: config.public_base_url.clone(),
            inline_copy_limit: config.inline_copy_limit,
            default_tenant_limits: config.default_tenant_limits,
            default_trash_days: config.default_trash_days,
            realtime: config.realtime.clone(),
            request_limits: config.tenant_requests,
        }
    }
}

/// What `GET /files/limits` tells clients (all sizes in bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Uploads larger than this are multipart (and always above 5 GiB).
    pub multipart_threshold: u64,
    /// The part size the server plans when the client names none (raised to fit 10,000 parts).
    pub default_part_size: u64,
    pub min_part_size: u64,
    pub max_part_size: u64,
    pub max_parts: u64,
    pub max_object_size: u64,
    /// Longest life of a presigned URL, in seconds.
    pub max_url_expires_in: u64,
}

/// The file service over its two stores. The default, `dyn` ports, is what `stowage-local` and
/// the tests run (either backend, chosen at run time); a Lambda function names the AWS adapters
/// (`bootstrap`), so its calls are static and its binary links only the adapter methods its
/// route reaches (a `dyn` port's vtable would keep every method of both adapters, and the SDK
/// operations behind them).
pub struct Service<M: ?Sized = dyn MetadataStore, O: ?Sized = dyn ObjectStore> {
    store: Arc<M>,
    objects: Arc<O>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    /// What admitted recent creates (collections::AdmissionCache): a warm create skips the
    /// read; the write's own conditions catch anything that changed since.
    admissions: collections::AdmissionCache,
    /// Each tenant's collection policies, for listings (access::TenantPolicies).
    tenant_policies: access::TenantPolicies,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// A service over the given ports.
    pub fn new(store: Arc<M>, objects: Arc<O>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Service {
            store,
            objects,
            clock,
            settings,
            admissions: Default::default(),
            tenant_policies: Default::default(),
        }
    }

    /// The service's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current instant on the service's clock.
    pub fn now(&self) -> crate::model::Timestamp {
        self.clock.now()
    }

    /// The upload limits a client needs to plan uploads the way the server will.
    pub(crate) fn upload_limits(&self) -> UploadLimits {
        UploadLimits {
            multipart_threshold: self.settings.multipart_threshold,
            default_part_size: plan::DEFAULT_PART_SIZE,
            min_part_size: plan::MIN_PART_SIZE,
            max_part_size: plan::MAX_PART_SIZE,
            max_parts: plan::MAX_PARTS,
            max_object_size: crate::validate::MAX_OBJECT_SIZE,
            max_url_expires_in: crate::validate::MAX_URL_EXPIRY_SECONDS,
        }
    }

    /// The metadata store, for tests that write records directly.
    #[cfg(any(test, feature = "test-util"))]
    pub fn store(&self) -> &Arc<M> {
        &self.store
    }

    /// The object store, for tests that act on it directly (a cold start's priming).
    #[cfg(any(test, feature = "test-util"))]
    pub fn objects(&self) -> &Arc<O> {
        &self.objects
    }

    /// The live (unexpired, not trashed) record, or `404`.
    async fn load(&self, tenant: &TenantId, id: FileId) -> Result<FileRecord, ApiError> {
        self.load_in(View::Live, tenant, id).await
    }

    /// The unexpired record `view` shows, or `404`.
    async fn load_in(
        &self,
        view: View,
        tenant: &TenantId,
        id: FileId,
    ) -> Result<FileRecord, ApiError> {
        let now = self.clock.now();
        self.store
            .get(tenant, id)
            .await?
            .filter(|record| !record.is_expired(now) && view.shows(record))
            .ok_or_else(ApiError::not_found)
    }

    /// `GET /realtime`: where `who` connects, and its channels; `404
    /// realtime_unavailable` where this deployment has no realtime endpoint.
    pub fn realtime(&self, who: &crate::identity::Identity) -> Result<RealtimeInfo, ApiError> {
        let endpoint = self.settings.realtime.clone().ok_or_else(|| {
            ApiError::new(
                crate::error::ProblemCode::RealtimeUnavailable,
                "this deployment has no realtime endpoint (stowage-local with --backend aws, or a stack without one)",
            )
        })?;
        Ok(RealtimeInfo {
            endpoint,
            channels: crate::realtime::channels_for(who),
        })
    }

    /// The live record if `who` may `right` on it: `404` if it may not read it (or
    /// it is missing), `403` if it may read but not `right`.
    async fn load_for(
        &self,
        who: &crate::identity::Identity,
        id: FileId,
        right: crate::model::Right,
    ) -> Result<FileRecord, ApiError> {
        self.load_for_in(View::Live, who, id, right).await
    }

    /// [`Service::load_for`] for the records `view` shows.
    async fn load_for_in(
        &self,
        view: View,
        who: &crate::identity::Identity,
        id: FileId,
        right: crate::model::Right,
    ) -> Result<FileRecord, ApiError> {
        let record = self.load_in(view, &who.tenant, id).await?;
        self.permit(who, &record, right).await?;
        Ok(record)
    }
}

/// Which records a read or a write finds: the live ones (every route but the trash's), the
/// trashed ones, or both (upload completion, which must not mistake a trashed file's bytes for
/// an orphan; deleting for good; restoring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    Live,
    Trashed,
    Any,
}

impl View {
    fn shows(self, record: &FileRecord) -> bool {
        match self {
            View::Live => !record.is_trashed(),
            View::Trashed => record.is_trashed(),
            View::Any => true,
        }
    }
}
