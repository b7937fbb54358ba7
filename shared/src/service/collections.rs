//! Collections and usage: the `/collections` and `/usage` routes, and the
//! admission of a create or new upload by its collection's rules and the limits.

use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{
    Admission, Collection, CollectionName, Counter, FileKind, Limits, Rules, TenantId, Usage,
};
use crate::store::{MetadataStore, StoreError};
use crate::validate::{
    CreateFile, LimitsRequest, NewCollection, RulesPatch, UploadRequest, DEFAULT_TTL_SECONDS,
};

/// What [`MetadataStore::admission_facts`] reads: the collection, the stored limits and their
/// version.
type AdmissionFacts = (Option<Collection>, Limits, u64);

/// How long what admitted a create is used for the next ones without reading it again.
pub(super) const ADMISSION_CACHE_SECONDS: i64 = 30;
/// Most (tenant, collection) pairs the cache keeps; past that it starts afresh.
const ADMISSION_CACHE_ENTRIES: usize = 1_024;

/// What admitted recent creates, per tenant and collection, with when it was read. A Lambda
/// instance serves one request at a time, mostly for few tenants, so a warm create usually
/// finds its facts here and costs one round trip less; nothing rests on them but admissions,
/// which the write itself re-checks (see [`Service::admission_cached`]).
#[derive(Default)]
pub(super) struct AdmissionCache(
    std::sync::Mutex<std::collections::HashMap<(TenantId, CollectionName), (i64, AdmissionFacts)>>,
);

impl AdmissionCache {
    fn get(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
        now: crate::model::Timestamp,
    ) -> Option<AdmissionFacts> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (at, facts) = map.get(&(tenant.clone(), collection.clone()))?;
        let age = now.millis() - at;
        (0..ADMISSION_CACHE_SECONDS * 1_000)
            .contains(&age)
            .then(|| facts.clone())
    }

    fn put(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
        facts: AdmissionFacts,
        now: crate::model::Timestamp,
    ) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= ADMISSION_CACHE_ENTRIES {
            map.clear();
        }
        map.insert((tenant.clone(), collection.clone()), (now.millis(), facts));
    }

    fn forget(&self, tenant: &TenantId) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.retain(|(t, _), _| t != tenant);
    }
}

/// `GET /usage`: the tenant's counters, its limits in force, and each collection's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageReport {
    pub total: Counter,
    pub limits: Limits,
    pub collections: Vec<(CollectionName, Counter)>,
}

fn collection_not_found(name: &CollectionName) -> ApiError {
    ApiError::new(
        ProblemCode::CollectionNotFound,
        format!("this tenant has no collection {:?}", name.as_str()),
    )
}

fn check_version(collection: &Collection, if_match: Option<u64>) -> Result<(), ApiError> {
    match if_match {
        Some(v) if v != collection.version => Err(ApiError::new(
            ProblemCode::VersionMismatch,
            "the collection's version is not the one given in If-Match",
        )),
        _ => Ok(()),
    }
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The limits in force for a tenant with these stored ones (`0`: none).
    fn limits_in_force(&self, stored: Limits) -> Limits {
        let defaults = self.settings.default_tenant_limits;
        Limits {
            max_bytes: stored.max_bytes.or(defaults.max_bytes).filter(|&n| n > 0),
            max_files: stored.max_files.or(defaults.max_files).filter(|&n| n > 0),
        }
    }

    /// The collection as stored, `default` as it is when untouched, or `404`.
    async fn load_collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Collection, ApiError> {
        match self.store.collection(tenant, name).await? {
            Some(collection) => Ok(collection),
            None if name.is_default() => Ok(Collection::untouched_default(tenant)),
            None => Err(collection_not_found(name)),
        }
    }

    /// The rules and limits a write into `collection` is admitted by (one store read).
    pub(super) async fn admission(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Rules, Admission), ApiError> {
        let facts = self.store.admission_facts(tenant, collection).await?;
        let answer = self.admission_from(collection, facts.clone());
        if answer.is_ok() {
            self.admissions
                .put(tenant, collection, facts, self.clock.now());
        }
        answer
    }

    /// [`Service::admission`] from what admitted a create of the last
    /// [`ADMISSION_CACHE_SECONDS`] if there is one (`cached: true`), else read. Only an
    /// admission may rest on it: the write it goes with fails when the collection's version or
    /// the tenant's limits version moved (`AdmissionStale`), and a refusal is decided again on
    /// fresh facts by the caller.
    pub(super) async fn admission_cached(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Rules, Admission, bool), ApiError> {
        if let Some(facts) = self.admissions.get(tenant, collection, self.clock.now()) {
            if let Ok((rules, admission)) = self.admission_from(collection, facts) {
                return Ok((rules, admission, true));
            }
        }
        let (rules, admission) = self.admission(tenant, collection).await?;
        Ok((rules, admission, false))
    }

    /// Forgets what admitted creates of `tenant` (its collections or limits changed here).
    pub(super) fn forget_admissions(&self, tenant: &TenantId) {
        self.admissions.forget(tenant);
        self.tenant_policies.forget(tenant);
    }

    /// Forgets every remembered admission and policy, as a fresh instance starts (tests that
    /// hold each function's calls to its own policy: on AWS every function has its own cache).
    #[cfg(any(test, feature = "test-util"))]
    pub fn forget_everything_cached(&self) {
        self.admissions
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.tenant_policies.clear();
    }

    fn admission_from(
        &self,
        collection: &CollectionName,
        facts: AdmissionFacts,
    ) -> Result<(Rules, Admission), ApiError> {
        let (stored, limits, limits_version) = facts;
        let (rules, version) = match stored {
            Some(c) => (c.rules, Some(c.version)),
            None if collection.is_default() => (Rules::default(), None),
            None => return Err(collection_not_found(collection)),
        };
        let admission = Admission {
            collection: collection.clone(),
            collection_version: version,
            collection_limits: rules.limits,
            tenant_limits: self.limits_in_force(limits),
            tenant_limits_version: limits_version,
        };
        Ok((rules, admission))
    }

    /// `POST /collections`.
    pub async fn create_collection(
        &self,
        who: &Identity,
        request: NewCollection,
    ) -> Result<Collection, ApiError> {
        let exists = || {
            ApiError::new(
                ProblemCode::CollectionExists,
                format!(
                    "this tenant already has a collection {:?}",
                    request.name.as_str()
                ),
            )
        };
        if request.name.is_default() {
            return Err(exists());
        }
        let now = self.clock.now();
        let collection = Collection {
            tenant: who.tenant.clone(),
            name: request.name.clone(),
            // A collection created without a trash rule takes the deployment's, for good.
            rules: Rules {
                trash_days: request
                    .rules
                    .trash_days
                    .or(Some(self.settings.default_trash_days)),
                ..request.rules.clone()
            },
            version: 1,
            created_at: now,
            updated_at: now,
        };
        match self.store.put_collection(&collection, None).await {
            Ok(()) => {
                self.forget_admissions(&who.tenant);
                Ok(collection)
            }
            Err(StoreError::Conflict) => Err(exists()),
            Err(other) => Err(other.into()),
        }
    }

    /// `GET /collections`: `default` first, then the others by name.
    pub async fn list_collections(&self, who: &Identity) -> Result<Vec<Collection>, ApiError> {
        let mut stored = self.store.collections(&who.tenant).await?;
        if !stored.iter().any(|c| c.name.is_default()) {
            stored.push(Collection::untouched_default(&who.tenant));
        }
        stored
            .sort_by(|a, b| (!a.name.is_default(), &a.name).cmp(&(!b.name.is_default(), &b.name)));
        Ok(stored)
    }

    /// `GET /collections/{name}`.
    pub async fn get_collection(
        &self,
        who: &Identity,
        name: &CollectionName,
    ) -> Result<Collection, ApiError> {
        self.load_collection(&who.tenant, name).await
    }

    /// `PATCH /collections/{name}`: the rules with the merge patch applied.
    pub async fn update_collection(
        &self,
        who: &Identity,
        name: &CollectionName,
        patch: &RulesPatch,
        if_match: Option<u64>,
    ) -> Result<Collection, ApiError> {
        for _ in 0..8 {
            let current = self.load_collection(&who.tenant, name).await?;
            check_version(&current, if_match)?;
            let stored = (current.version > 0).then_some(current.version);
            let now = self.clock.now();
            let next = Collection {
                rules: patch.apply(&current.rules)?,
                version: current.version + 1,
                created_at: if stored.is_some() {
                    current.created_at
                } else {
                    now
                },
                updated_at: now,
                ..current
            };
            match self.store.put_collection(&next, stored).await {
                Ok(()) => {
                    self.forget_admissions(&who.tenant);
                    return Ok(next);
                }
                Err(StoreError::Conflict) if if_match.is_none() => continue,
                Err(StoreError::Conflict) => {
                    return Err(ApiError::new(
                        ProblemCode::VersionMismatch,
                        "the collection's version is not the one given in If-Match",
                    ))
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::version_mismatch())
    }

    /// `DELETE /collections/{name}`: only an empty one, never `default`.
    pub async fn delete_collection(
        &self,
        who: &Identity,
        name: &CollectionName,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        if name.is_default() {
            return Err(ApiError::new(
                ProblemCode::DefaultCollection,
                "the default collection always exists; change its rules instead",
            ));
        }
        let current = self.load_collection(&who.tenant, name).await?;
        check_version(&current, if_match)?;
        match self.store.delete_collection(&current).await {
            Ok(()) => {
                self.forget_admissions(&who.tenant);
                Ok(())
            }
            Err(StoreError::Conflict) => Err(ApiError::new(
                ProblemCode::VersionMismatch,
                "the collection changed while it was being deleted; read it again",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// `GET /usage`.
    pub async fn usage(&self, who: &Identity) -> Result<UsageReport, ApiError> {
        let usage: Usage = self.store.usage(&who.tenant).await?;
        Ok(UsageReport {
            total: usage.total,
            limits: self.limits_in_force(usage.limits),
            collections: usage.collections.into_iter().collect(),
        })
    }

    /// `PUT /usage/limits`: the tenant's own limits (`0`: none; absent: the deployment's).
    pub async fn put_limits(
        &self,
        who: &Identity,
        request: LimitsRequest,
    ) -> Result<UsageReport, ApiError> {
        for _ in 0..8 {
            let usage = self.store.usage(&who.tenant).await?;
            match self
                .store
                .put_limits(&who.tenant, request.0, usage.limits_version)
                .await
            {
                Ok(()) => {
                    self.forget_admissions(&who.tenant);
                    return self.usage(who).await;
                }
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::Unavailable(
            "the limits kept changing; retry".into(),
        ))
    }
}

/// A create's fields completed by the collection's defaults (the fields it left out).
pub(super) fn with_defaults(
    rules: &Rules,
    mut request: CreateFile,
) -> Result<CreateFile, ApiError> {
    let d = &rules.defaults;
    if !request.names("kind") {
        if let Some(kind) = d.kind {
            request.kind = kind;
            request.ttl_seconds = match kind {
                FileKind::Temp => Some(d.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS)),
                FileKind::Client => None,
            };
        }
    }
    if request.kind == FileKind::Temp && !request.names("ttlSeconds") {
        if let Some(ttl) = d.ttl_seconds {
            request.ttl_seconds = Some(ttl);
        }
    }
    if !request.names("privateAccess") {
        if let Some(private) = d.private_access {
            request.private_access = private;
        }
    }
    Ok(request)
}

/// Checks a new upload of a `mime_type` file against the collection's rules and the limits,
/// completing it with the collection's defaults and caps.
/// `400 mime_type_not_allowed` for `mime_type` in `collection`, naming what it takes.
fn mime_type_not_allowed(
    rules: &Rules,
    collection: &CollectionName,
    mime_type: &crate::model::MediaType,
) -> ApiError {
    let allowed: Vec<&str> = rules
        .allowed_mime_types
        .iter()
        .flatten()
        .map(|p| p.as_str())
        .collect();
    ApiError::new(
        ProblemCode::MimeTypeNotAllowed,
        format!(
            "collection {collection} takes only {}; mimeType {:?} is not one of them",
            allowed.join(", "),
            mime_type.as_str()
        ),
    )
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The rules of `tenant`'s collection `name` as stored (`None`: none bind, `default`
    /// untouched), for updates that change what a rule is about.
    pub(super) async fn stored_rules(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Rules>, ApiError> {
        Ok(self.store.collection(tenant, name).await?.map(|c| c.rules))
    }
}

/// An update may not give a file a media type its collection does not take (the rule that
/// creates and re-uploads meet, so a `PATCH` cannot turn an avatar into `text/html`).
pub(super) fn admit_mime_type_change(
    rules: Option<&Rules>,
    next: &crate::model::FileRecord,
) -> Result<(), ApiError> {
    match rules {
        Some(rules) if !rules.allows(&next.mime_type) => Err(mime_type_not_allowed(
            rules,
            &next.collection,
            &next.mime_type,
        )),
        _ => Ok(()),
    }
}

pub(super) fn admit_upload(
    rules: &Rules,
    admission: &Admission,
    mime_type: &crate::model::MediaType,
    upload: &mut UploadRequest,
) -> Result<(), ApiError> {
    if !rules.allows(mime_type) {
        return Err(mime_type_not_allowed(
            rules,
            &admission.collection,
            mime_type,
        ));
    }
    if upload.expected_size.is_none() {
        if rules.require_size {
            return Err(ApiError::new(
                ProblemCode::SizeRequired,
                format!(
                    "collection {} requires size (or expectedSize)",
                    admission.collection
                ),
            ));
        }
        if admission.bounds_bytes() {
            return Err(ApiError::new(
                ProblemCode::SizeRequired,
                "a byte limit applies, so the upload must declare size (or expectedSize) to reserve it",
            ));
        }
    }
    if let (Some(size), Some(max)) = (upload.expected_size, rules.max_file_size) {
        if size > max {
            return Err(ApiError::new(
                ProblemCode::FileTooLarge,
                format!(
                    "the file is {size} bytes; collection {} takes files up to {max} bytes (maxFileSize)",
                    admission.collection
                ),
            ));
        }
    }
    if !upload.url_expires_in_named {
        if let Some(default) = rules.defaults.upload_url_expires_in {
            upload.url_expires_in = default;
        }
    }
    if let Some(cap) = rules.max_upload_url_expires_in {
        if upload.url_expires_in > cap {
            if upload.url_expires_in_named {
                return Err(ApiError::field(
                    "uploadUrlExpiresIn",
                    format!(
                        "must not exceed {cap} in collection {} (maxUploadUrlExpiresIn)",
                        admission.collection
                    ),
                ));
            }
            upload.url_expires_in = cap;
        }
    }
    Ok(())
}
