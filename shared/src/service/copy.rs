//! `POST /files/{id}/copy`: a new file with the bytes of one the caller may read, copied in
//! storage (any size), into the same or another collection, whose rules, quota and access
//! admit it as they admit a create.

use super::access::admit_publish;
use super::collections::admit_upload;
use super::create::cannot_create;
use super::plan::pending_expiry;
use super::read::Shown;
use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::keys::ObjectKey;
use crate::model::{FileId, FileRecord, FileStatus, OpenUpload, Right};
use crate::store::MetadataStore;
use crate::validate::{CopyRequest, UploadRequest};

/// How long the copy's own upload is open (it lands in the request that makes it).
const COPY_UPLOAD_SECONDS: u64 = 3_600;

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Copies file `id` to a new file of the caller's: its fields (not its `externalId`,
    /// grants or versions), with the request's name, directory and collection if given.
    pub async fn copy(
        &self,
        who: &Identity,
        id: FileId,
        request: CopyRequest,
    ) -> Result<Shown, ApiError> {
        // Boxed: a read, a create, a copy and a completion make a large future.
        Box::pin(self.copy_now(who, id, request)).await
    }

    async fn copy_now(
        &self,
        who: &Identity,
        id: FileId,
        request: CopyRequest,
    ) -> Result<Shown, ApiError> {
        let source = self.load_for(who, id, Right::Read).await?;
        let (Some(content), FileStatus::Uploaded) = (&source.content, source.status) else {
            return Err(ApiError::new(
                ProblemCode::NotUploaded,
                format!("file {id} has no content to copy"),
            ));
        };
        let collection = request
            .collection
            .clone()
            .unwrap_or_else(|| source.collection.clone());
        let (rules, admission) = self.admission(&who.tenant, &collection).await?;
        let policy = rules.policy();
        if !policy.allows_create(&who.caller()) {
            return Err(cannot_create(&collection));
        }
        let mut upload = UploadRequest {
            expected_size: Some(content.size),
            ..UploadRequest::default()
        };
        admit_upload(&rules, &admission, &source.mime_type, &mut upload)?;
        if !source.private_access {
            admit_publish(who, &policy, &who.user, &collection)?;
        }
        let now = self.clock.now();
        let name = request.name.clone().unwrap_or_else(|| source.name.clone());
        let key = ObjectKey {
            kind: source.kind,
            tenant: who.tenant.clone(),
            id: FileId::generate_at(now),
            revision: 1,
        };
        let url_expires_at = now.plus_seconds(COPY_UPLOAD_SECONDS);
        let mut record = FileRecord {
            id: key.id,
            collection,
            extension: name.extension(),
            name,
            expected_size: Some(content.size),
            checksum_sha256: source.checksum_sha256.clone(),
            status: FileStatus::Pending,
            failure_reason: None,
            size: None,
            external_id: None,
            directory: match request.directory {
                Some(directory) => Some(directory),
                None => source.directory.clone(),
            },
            uploaded_by: who.user.clone(),
            created_at: now,
            updated_at: now,
            uploaded_at: None,
            expires_at: None,
            version: 1,
            revision: 1,
            content: None,
            upload: Some(OpenUpload {
                revision: 1,
                key: key.render(),
                url_expires_at,
                multipart: None,
                max_size: rules.max_file_size,
                opened_by: Some(who.user.clone()),
                keep_versions: rules.versions,
                restoring: None,
            }),
            published: None,
            grants: Vec::new(),
            actor: Some(who.actor()),
            deleting: false,
            versions: Vec::new(),
            trashed_at: None,
            ..source.clone()
        };
        record.expires_at = Some(pending_expiry(&record, url_expires_at));
        self.store.insert(&record, &admission, now).await?;
        let target = key.render();
        match self
            .copy_and_land(&content.key, &target, content.size)
            .await
        {
            Ok(Some(landed)) => self.show(landed).await,
            // Its S3 event got there first.
            Ok(None) => self.show(self.load(&who.tenant, record.id).await?).await,
            Err(err) => {
                // Nothing half-made stays: the record goes (its reservation with it), and the
                // removal's own cleanup (the table stream, the local sweep) deletes whatever
                // part of the copy landed.
                if let Err(cleanup) = self.store.delete(&record).await {
                    tracing::warn!(id = %record.id, error = ?cleanup, "a failed copy's record remains until it expires");
                }
                Err(err)
            }
        }
    }
}
