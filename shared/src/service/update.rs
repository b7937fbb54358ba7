//! `PATCH /files/{id}`, `PUT /files/{id}` and the all-or-nothing `PATCH /files`: a parsed
//! [`FilePatch`] applied to the current record through the write path.

use std::collections::BTreeMap;

use super::access::{admit_publish, By};
use super::collections::admit_mime_type_change;
use super::write::Plan;
use super::{Service, Shown};
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{CollectionName, FieldError, FileId, FileRecord, Policy, Right, Rules};
use crate::store::MetadataStore;
use crate::validate::{BatchUpdate, FilePatch, ListQuery, MetadataChange, MAX_BATCH_UPDATES};

/// Most records an update by filter reads to find its matches before it gives up (`409`): one
/// request's work stays bounded whatever the tenant holds.
const MAX_FILTER_READS: u64 = 10_000;

impl FilePatch {
    /// `record` with this patch applied (version and timestamps untouched: the write path sets
    /// them). Read-only and fixed fields the body repeats must hold their current values.
    fn applied_to(&self, record: &FileRecord) -> Result<FileRecord, ApiError> {
        let mut errors = Vec::new();
        if !self.echoed.is_empty() {
            let current = serde_json::to_value(crate::wire::FileView::of(record, None))
                .map_err(ApiError::internal)?;
            for echo in &self.echoed {
                if !echo.matches(current.get(echo.field)) {
                    errors.push(FieldError::new(
                        echo.field,
                        "is read-only; send it only with its current value",
                    ));
                }
            }
        }
        let mut next = record.clone();
        if let Some(name) = &self.name {
            next.extension = name.extension();
            next.name = name.clone();
        }
        if let Some(mime_type) = &self.mime_type {
            next.mime_type = mime_type.clone();
        }
        if let Some(private_access) = self.private_access {
            next.private_access = private_access;
        }
        if let Some(collection) = &self.collection {
            next.collection = collection.clone();
        }
        next.purpose = self.purpose.applied_to(&record.purpose);
        next.external_id = self.external_id.applied_to(&record.external_id);
        next.directory = self.directory.applied_to(&record.directory);
        next.source = self.source.applied_to(&record.source);
        if let Some(tags) = &self.tags {
            next.tags = tags.clone();
        }
        if let Some(grants) = &self.grants {
            next.grants = grants.clone();
        }
        match &self.metadata {
            None => {}
            Some(MetadataChange::Replace(metadata)) => next.metadata = metadata.clone(),
            Some(MetadataChange::Merge(patch)) => match patch.apply(&record.metadata) {
                Ok(metadata) => next.metadata = metadata,
                Err(err) => errors.push(err),
            },
        }
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// A change of `grants` needs a collection with `fileSecurity` (`400`) and the owner or
    /// an app (`403` naming `share`).
    async fn admit_grants(
        &self,
        who: &Identity,
        current: &FileRecord,
        next: &FileRecord,
    ) -> Result<(), ApiError> {
        if next.grants == current.grants {
            return Ok(());
        }
        let policy = self.policy(&current.tenant, &current.collection).await?;
        if !policy.file_security && !next.grants.is_empty() {
            return Err(super::create::grants_need_file_security());
        }
        self.permit(who, current, Right::Share).await
    }

    /// A move of `current` to `next`'s collection: delete right where it is, create right
    /// where it goes, and the target's rules (type, size), limits, sharing and publishing.
    /// Returns what admits the write (the target's limits, checked in the write itself).
    async fn admit_move(
        &self,
        who: &Identity,
        current: &FileRecord,
        next: &FileRecord,
    ) -> Result<crate::model::Admission, ApiError> {
        self.permit(who, current, Right::Delete).await?;
        if current.upload.is_some() {
            return Err(ApiError::new(
                ProblemCode::UploadOpen,
                format!(
                    "file {} has an open upload; it moves to another collection once the upload lands or is aborted",
                    current.id
                ),
            ));
        }
        let (rules, admission) = self.admission(&who.tenant, &next.collection).await?;
        let policy = rules.policy();
        if !policy.allows_create(&who.caller()) {
            return Err(super::create::cannot_create(&next.collection));
        }
        let mut upload = crate::validate::UploadRequest {
            expected_size: Some(next.size.unwrap_or(0)),
            ..crate::validate::UploadRequest::default()
        };
        super::collections::admit_upload(&rules, &admission, &next.mime_type, &mut upload)?;
        if !next.grants.is_empty() && !policy.file_security {
            return Err(super::create::grants_need_file_security());
        }
        if next.grants != current.grants {
            self.permit(who, current, Right::Share).await?;
        }
        if !next.private_access {
            admit_publish(who, &policy, &current.uploaded_by, &next.collection)?;
        }
        Ok(admission)
    }

    /// Applies a merge patch (`PATCH`) or a replacement (`PUT`) to one record. Without
    /// `If-Match`, a concurrent change is merged by applying the patch to the fresh record.
    pub async fn update(
        &self,
        who: &Identity,
        id: FileId,
        patch: &FilePatch,
        if_match: Option<u64>,
    ) -> Result<Shown, ApiError> {
        let (record, ()) = self
            .modify_with(
                By::Caller(who, Right::Write),
                id,
                if_match,
                |current, _| async move {
                    let next = patch.applied_to(&current)?;
                    if next == current {
                        return Ok((Plan::keep(), ()));
                    }
                    if next.collection != current.collection {
                        let admission = self.admit_move(who, &current, &next).await?;
                        return Ok((Plan::write(next).within(admission), ()));
                    }
                    self.admit_grants(who, &current, &next).await?;
                    if current.private_access && !next.private_access {
                        let policy = self.policy(&current.tenant, &current.collection).await?;
                        admit_publish(who, &policy, &current.uploaded_by, &current.collection)?;
                    }
                    // A new media type meets the collection's rule (read only then).
                    if next.mime_type != current.mime_type {
                        let rules = self.stored_rules(&who.tenant, &next.collection).await?;
                        admit_mime_type_change(rules.as_ref(), &next)?;
                    }
                    Ok((Plan::write(next), ()))
                },
            )
            .await?;
        self.show(record).await
    }

    /// Applies one merge patch to every file `query`'s filters match, all or none; more than
    /// 100 matches is `409 too_many_matches` with nothing changed.
    pub(crate) async fn update_matching(
        &self,
        who: &Identity,
        query: &ListQuery,
        patch: &FilePatch,
    ) -> Result<Vec<Shown>, ApiError> {
        let mut query = ListQuery {
            limit: MAX_BATCH_UPDATES + 1,
            cursor: None,
            ..query.clone()
        };
        let mut ids: Vec<FileId> = Vec::new();
        let mut read = 0;
        loop {
            let (records, next_cursor, items_read) = self.read_page(who, &query).await?;
            ids.extend(records.iter().map(|r| r.id));
            read += items_read;
            if read > MAX_FILTER_READS && next_cursor.is_some() {
                return Err(ApiError::new(
                    ProblemCode::TooManyMatches,
                    format!(
                        "finding the files this filter matches would read more than {MAX_FILTER_READS} records; nothing was changed (narrow the filter: a collection, tag, purpose or time range, or update by ids)"
                    ),
                ));
            }
            if ids.len() > MAX_BATCH_UPDATES {
                return Err(ApiError::new(
                    ProblemCode::TooManyMatches,
                    format!(
                        "the filter matches more than {MAX_BATCH_UPDATES} files; nothing was changed (narrow the filter, or update by ids)"
                    ),
                ));
            }
            match next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let batch = BatchUpdate {
            items: ids.into_iter().map(|id| (id, patch.clone())).collect(),
        };
        self.update_many(who, &batch).await
    }

    /// Applies merge patches to up to 100 records, all or none.
    pub(crate) async fn update_many(
        &self,
        who: &Identity,
        batch: &BatchUpdate,
    ) -> Result<Vec<Shown>, ApiError> {
        let ids: Vec<FileId> = batch.items.iter().map(|(id, _)| *id).collect();
        // The rules of the collections whose files may get a new media type, read first (a
        // file's collection is fixed, so reading its record tells which).
        // And the policies of those that may be made public.
        let mut rules: BTreeMap<CollectionName, Option<Rules>> = BTreeMap::new();
        let mut policies: BTreeMap<CollectionName, Policy> = BTreeMap::new();
        for (id, patch) in &batch.items {
            let publishes = patch.private_access == Some(false);
            if patch.mime_type.is_none() && !publishes {
                continue;
            }
            if let Some(record) = self.store.get(&who.tenant, *id).await? {
                if patch.mime_type.is_some() && !rules.contains_key(&record.collection) {
                    let stored = self.stored_rules(&who.tenant, &record.collection).await?;
                    rules.insert(record.collection.clone(), stored);
                }
                if publishes && !policies.contains_key(&record.collection) {
                    let policy = self.policy(&who.tenant, &record.collection).await?;
                    policies.insert(record.collection.clone(), policy);
                }
            }
        }
        let records = self
            .modify_many(who, &ids, |at, current| {
                let next = batch.items[at].1.applied_to(current)?;
                if next.collection != current.collection {
                    return Err(ApiError::field(
                        "collection",
                        "a file moves to another collection alone, with PATCH /files/{id}",
                    ));
                }
                if next.grants != current.grants {
                    // Grants change one file at a time (PATCH /files/{id}).
                    return Err(ApiError::field(
                        "grants",
                        "grants change one file at a time, with PATCH /files/{id}",
                    ));
                }
                if next.mime_type != current.mime_type {
                    let known = rules.get(&next.collection).and_then(Option::as_ref);
                    admit_mime_type_change(known, &next)?;
                }
                if current.private_access && !next.private_access {
                    // Read above for every file this patch publishes (a file's collection is
                    // fixed); a record created since fails closed.
                    let policy = policies.get(&current.collection).ok_or_else(|| {
                        ApiError::new(
                            ProblemCode::VersionMismatch,
                            "a file changed while the batch was read; send it again",
                        )
                    })?;
                    admit_publish(who, policy, &current.uploaded_by, &current.collection)?;
                }
                Ok((&next != current).then_some(next))
            })
            .await?;
        self.show_all(records).await
    }
}
