//! The metadata-store port and its adapters.
//!
//! Every backend gives the same guarantees: reads are strongly consistent, `insert` never
//! overwrites, and `replace` is a compare-and-swap on `version`. Expiry is judged by the service
//! from `expiresAt` on every read, so a backend that deletes expired items late (DynamoDB TTL)
//! and one that never deletes them behave alike.

pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;

use async_trait::async_trait;

use crate::model::{FileId, FileRecord, TenantId};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: the item exists (`insert`) or its version moved on
    /// (`replace`).
    #[error("the stored item changed or already exists")]
    Conflict,
    /// Throttled or unreachable; worth retrying later.
    #[error("the metadata store is unavailable")]
    Unavailable(#[source] Source),
    /// Anything else, including an item that does not decode.
    #[error("metadata store error")]
    Backend(#[source] Source),
}

/// Where file records live.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// The record, expired or not; `None` if there is none.
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError>;

    /// Stores a new record; `Conflict` if one with that id exists.
    async fn insert(&self, record: &FileRecord) -> Result<(), StoreError>;

    /// Replaces the record if its stored version is still `expected_version`; `Conflict`
    /// otherwise (including when it no longer exists).
    async fn replace(&self, record: &FileRecord, expected_version: u64) -> Result<(), StoreError>;
}
