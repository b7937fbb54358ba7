//! Who may do what inside a tenant: a file's collection's policy, its grants and its
//! owner decide each right. A file the caller may not read is `404` exactly like another
//! tenant's; one it may read but not change is `403 forbidden` naming the right.

use super::Service;
use crate::blob::ObjectStore;
use crate::error::ApiError;
use crate::identity::Identity;
use crate::model::{CollectionName, FileFacts, FileRecord, FileStatus, Policy, Right, TenantId};
use crate::store::MetadataStore;

/// Who a write acts for: the system (the S3 event, the expiry, an internal step), which may do
/// anything within its tenant, or a caller whose right on the file is checked after it is read.
#[derive(Clone, Copy)]
pub(crate) enum By<'a> {
    System(&'a TenantId),
    Caller(&'a Identity, Right),
}

impl By<'_> {
    pub(crate) fn tenant(&self) -> &TenantId {
        match self {
            By::System(tenant) => tenant,
            By::Caller(who, _) => &who.tenant,
        }
    }

    /// The `actor` of the change (`None`: the system's).
    pub(crate) fn actor(&self) -> Option<crate::model::Actor> {
        match self {
            By::System(_) => None,
            By::Caller(who, _) => Some(who.actor()),
        }
    }
}

/// `Ok` if `who` opened `record`'s open upload (or is an app): only they may sign its requests,
/// list its parts or abort it. Else `403 forbidden`. A record with no open upload passes (the
/// caller's route answers that itself).
pub(crate) fn check_opener(who: &Identity, record: &FileRecord) -> Result<(), ApiError> {
    let Some(upload) = &record.upload else {
        return Ok(());
    };
    // Uploads opened before the opener was recorded: the file's owner's.
    let opener = upload.opened_by.as_ref().unwrap_or(&record.uploaded_by);
    if who.caller().app || *opener == who.user {
        Ok(())
    } else {
        Err(ApiError::new(
            crate::error::ProblemCode::Forbidden,
            "this upload was opened by another member: only they (or an app) may sign its requests, list its parts or abort it",
        ))
    }
}

/// Whether `who` may make a file owned by `owner` in `collection` (with `policy`) public
/// (`privateAccess: false`, which makes it world-readable): publishing is sharing, so only its
/// owner or an app may, and the collection's `publicFiles` may narrow that to apps (`403`) or
/// to nobody (`400`).
pub(crate) fn admit_publish(
    who: &Identity,
    policy: &Policy,
    owner: &crate::model::UserId,
    collection: &CollectionName,
) -> Result<(), ApiError> {
    use crate::error::ProblemCode;
    use crate::model::PublicFiles;
    let app = who.caller().app;
    match policy.public_files {
        PublicFiles::Never => Err(ApiError::field(
            "privateAccess",
            format!("collection {collection} does not allow public files (publicFiles: never)"),
        )),
        PublicFiles::Apps if !app => Err(ApiError::new(
            ProblemCode::Forbidden,
            format!("collection {collection} lets only apps make files public (publicFiles: apps)"),
        )),
        _ if app || *owner == who.user => Ok(()),
        _ => Err(ApiError::new(
            ProblemCode::Forbidden,
            "you may read this file but lack the right to share it, which making it public needs (its owner or an app may)",
        )),
    }
}

/// The facts of `record` that rights depend on.
pub(crate) fn facts(record: &FileRecord) -> FileFacts<'_> {
    FileFacts {
        owner: record.uploaded_by.as_str(),
        grants: &record.grants,
        uploaded: record.status == FileStatus::Uploaded,
    }
}

/// Policies already looked up while serving one request (a listing page), by collection.
#[derive(Default)]
pub(crate) struct Policies(Vec<(CollectionName, Policy)>);

impl From<Vec<(CollectionName, Policy)>> for Policies {
    fn from(known: Vec<(CollectionName, Policy)>) -> Self {
        Policies(known)
    }
}

/// Tenants' collection policies as a listing last read them (one `Query` of the tenant's
/// collection items), with when: used for [`super::collections::ADMISSION_CACHE_SECONDS`] like
/// the admission cache, and forgotten with it when this instance changes a collection.
#[derive(Default)]
pub(crate) struct TenantPolicies(std::sync::Mutex<PoliciesByTenant>);

/// Each tenant's policies, by collection, with when they were read (epoch milliseconds).
type PoliciesByTenant = std::collections::HashMap<TenantId, (i64, Vec<(CollectionName, Policy)>)>;

/// Most tenants whose policies one instance remembers; past that it starts afresh.
const TENANT_POLICY_ENTRIES: usize = 1_024;

impl TenantPolicies {
    fn map(&self) -> std::sync::MutexGuard<'_, PoliciesByTenant> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, tenant: &TenantId, now: i64) -> Option<Vec<(CollectionName, Policy)>> {
        let map = self.map();
        let (at, policies) = map.get(tenant)?;
        (0..super::collections::ADMISSION_CACHE_SECONDS * 1_000)
            .contains(&(now - at))
            .then(|| policies.clone())
    }

    fn put(&self, tenant: &TenantId, policies: Vec<(CollectionName, Policy)>, now: i64) {
        let mut map = self.map();
        if map.len() >= TENANT_POLICY_ENTRIES {
            map.clear();
        }
        map.insert(tenant.clone(), (now, policies));
    }

    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.map().remove(tenant);
    }

    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn clear(&self) {
        self.map().clear();
    }
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The policy of every collection of `tenant` (`default` among them even when never
    /// written), remembered per instance as [`TenantPolicies`] says.
    pub(crate) async fn tenant_policies(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(CollectionName, Policy)>, ApiError> {
        let now = self.clock.now().millis();
        if let Some(known) = self.tenant_policies.get(tenant, now) {
            return Ok(known);
        }
        let mut policies: Vec<(CollectionName, Policy)> = self
            .store
            .collections(tenant)
            .await?
            .into_iter()
            .map(|c| (c.name, c.rules.policy()))
            .collect();
        if !policies.iter().any(|(name, _)| name.is_default()) {
            policies.push((CollectionName::default(), Policy::default()));
        }
        self.tenant_policies.put(tenant, policies.clone(), now);
        Ok(policies)
    }

    /// The policy of `tenant`'s collection `name`: from what admitted creates in the last
    /// [`super::collections::ADMISSION_CACHE_SECONDS`], else read (one item). A collection
    /// other than `default` that no longer exists (it cannot be deleted while its counter shows
    /// files, but a counter can drift) fails closed: only the owner, apps and grantees.
    pub async fn policy(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Policy, ApiError> {
        self.event_policy(tenant, name).await
    }

    /// The policy that decides who may do what with, and who receives events of, a file in
    /// `tenant`'s collection `name`: the collection's; but for a collection other
    /// than `default` that no longer exists (the events of its last files can still be in the
    /// stream, or the change log, after it was deleted), only the apps, the owner and the
    /// grantees: never the whole tenant, whatever the collection allowed.
    pub async fn event_policy(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Policy, ApiError> {
        Ok(match self.stored_policy(tenant, name).await? {
            Some(policy) => policy,
            None if name.is_default() => Policy::default(),
            None => Policy {
                access: crate::model::CollectionAccess {
                    read: Vec::new(),
                    ..crate::model::CollectionAccess::default()
                },
                file_security: true,
                ..Policy::default()
            },
        })
    }

    /// The stored collection's policy (remembered as admissions are), `None` if there is no
    /// such collection.
    async fn stored_policy(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Policy>, ApiError> {
        match self.admission_cached(tenant, name).await {
            Ok((rules, _, _)) => Ok(Some(rules.policy())),
            Err(err) if err.is(crate::error::ProblemCode::CollectionNotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `Ok` if `who` may `right` on `record`; else `404` if it may not even read it, `403`
    /// naming the right if it may. Apps may do everything without a lookup.
    pub(crate) async fn permit(
        &self,
        who: &Identity,
        record: &FileRecord,
        right: Right,
    ) -> Result<(), ApiError> {
        let caller = who.caller();
        if caller.app {
            return Ok(());
        }
        let policy = self.policy(&record.tenant, &record.collection).await?;
        if policy.allows(&caller, facts(record), right) {
            Ok(())
        } else if right != Right::Read && policy.allows(&caller, facts(record), Right::Read) {
            Err(ApiError::forbidden(right))
        } else {
            Err(ApiError::not_found())
        }
    }

    /// Whether `who` may read `record`, remembering policies in `seen` (one lookup per
    /// collection per request).
    pub(crate) async fn sees(
        &self,
        who: &Identity,
        record: &FileRecord,
        seen: &mut Policies,
    ) -> Result<bool, ApiError> {
        let caller = who.caller();
        if caller.app {
            return Ok(true);
        }
        let policy = match seen.0.iter().find(|(name, _)| *name == record.collection) {
            Some((_, policy)) => policy,
            None => {
                let policy = self.policy(&record.tenant, &record.collection).await?;
                seen.0.push((record.collection.clone(), policy));
                &seen.0.last().expect("just pushed").1
            }
        };
        Ok(policy.allows(&caller, facts(record), Right::Read))
    }
}
