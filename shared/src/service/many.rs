//! Many files in one call: `POST /files/get` (their records) and `POST /files/links` (their
//! download links), up to 100 ids in one store read, in the order asked.

use super::access::Policies;
use super::read::Shown;
use super::Service;
use crate::blob::{Disposition, ObjectStore};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::model::{FileId, FileRecord, FileStatus};
use crate::store::MetadataStore;

/// The records of `POST /files/get`, in the order asked; ids that are unknown, expired, in the
/// trash, another tenant's or not readable by the caller are `not_found` (the same answer for
/// each, so nothing tells them apart).
#[derive(Debug, Default)]
pub struct ManyFiles {
    pub items: Vec<Shown>,
    pub not_found: Vec<FileId>,
}

/// One download link of `POST /files/links`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub id: FileId,
    pub url: String,
}

/// The links of `POST /files/links`, in the order asked; files without content yet are
/// `not_uploaded`.
#[derive(Debug, Default)]
pub struct ManyLinks {
    pub items: Vec<Link>,
    pub not_found: Vec<FileId>,
    pub not_uploaded: Vec<FileId>,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The records of `ids` the caller may read (one batch read; each collection's policy
    /// looked up once), and the ids it may not see.
    async fn readable(
        &self,
        who: &Identity,
        ids: &[FileId],
    ) -> Result<(Vec<FileRecord>, Vec<FileId>), ApiError> {
        let now = self.clock.now();
        let mut found = self.store.get_many(&who.tenant, ids).await?;
        let mut seen = Policies::default();
        let mut records = Vec::with_capacity(ids.len());
        let mut not_found = Vec::new();
        for id in ids {
            let record = found
                .iter()
                .position(|r| r.id == *id)
                .map(|at| found.swap_remove(at));
            match record {
                Some(record)
                    if !record.is_expired(now)
                        && !record.is_trashed()
                        && self.sees(who, &record, &mut seen).await? =>
                {
                    records.push(record)
                }
                _ => not_found.push(*id),
            }
        }
        Ok((records, not_found))
    }

    /// `POST /files/get`: the records of `ids`, as `GET /files/{id}` shows each (without its
    /// repair of an upload whose event is late: a pending record reads as stored).
    pub async fn get_many(&self, who: &Identity, ids: &[FileId]) -> Result<ManyFiles, ApiError> {
        let (records, not_found) = self.readable(who, ids).await?;
        Ok(ManyFiles {
            items: self.show_all(records).await?,
            not_found,
        })
    }

    /// `POST /files/links`: a download link of each of `ids` (a presigned GET with the file's
    /// name, or the public URL), as `GET /files/{id}/content` would redirect to.
    pub async fn links(
        &self,
        who: &Identity,
        ids: &[FileId],
        disposition: Disposition,
        expires_in: Option<std::time::Duration>,
    ) -> Result<ManyLinks, ApiError> {
        let (records, not_found) = self.readable(who, ids).await?;
        let mut answer = ManyLinks {
            not_found,
            ..ManyLinks::default()
        };
        for record in records {
            if record.status != FileStatus::Uploaded || record.content.is_none() {
                answer.not_uploaded.push(record.id);
                continue;
            }
            let url = self.download_url(&record, disposition, expires_in).await?;
            answer.items.push(Link { id: record.id, url });
        }
        Ok(answer)
    }
}
