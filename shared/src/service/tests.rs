//! Fast tests of the write path: the service over the in-memory SQLite store and the in-memory
//! object store, with a store wrapper that lets another writer win a race on demand. They run
//! in milliseconds; the moto and embedded suites in `tests/` remain the proof that the real
//! stores behave.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::{ManualClock, ObjectEvent, Outcome, Service, Settings};
use crate::blob::memory::{MemoryObjects, Op};
use crate::error::ProblemCode;
use crate::identity::Identity;
use crate::keys::public_key;
use crate::model::{
    Admission, Collection, CollectionName, FileId, FileRecord, FileStatus, Limits, Source,
    TenantId, Timestamp, Usage, UserId,
};
use crate::store::embedded::SqliteStore;
use crate::store::{Change, IndexPage, IndexQuery, MetadataStore, StoreError};
use crate::validate::{BatchUpdate, CreateFile, FilePatch, UpdateMode, UploadRequest};
use serde_json::json;

/// The SQLite store, with a rival writer that changes each record first on the next `races`
/// writes (so those writes lose their compare-and-swap).
struct Racing {
    inner: SqliteStore,
    /// Writes to let through before the rival starts racing.
    skip: AtomicUsize,
    races: AtomicUsize,
    writes: AtomicUsize,
    /// What the rival changes (default: the record's `source`).
    rival: std::sync::Mutex<Option<fn(&mut FileRecord)>>,
}

impl Racing {
    async fn rival_writes(&self, records: &[&FileRecord], now: Timestamp) {
        for record in records {
            let Some(current) = self.inner.get(&record.tenant, record.id).await.unwrap() else {
                continue;
            };
            let mut raced = current.clone();
            // A new version, unless the rival takes it back (as the publish step does).
            raced.version += 1;
            match *self.rival.lock().unwrap() {
                Some(change) => change(&mut raced),
                None => raced.source = Some(Source::parse("rival").unwrap()),
            }
            self.inner.replace(&current, &raced, now).await.unwrap();
        }
    }

    fn take_race(&self) -> bool {
        if self
            .skip
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return false;
        }
        self.races
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[async_trait]
impl MetadataStore for Racing {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.inner.get(tenant, id).await
    }

    async fn find_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<FileId>, StoreError> {
        self.inner.find_external_id(tenant, external_id, now).await
    }

    async fn insert(
        &self,
        record: &FileRecord,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.insert(record, admission, now).await
    }

    async fn replace_many(
        &self,
        changes: &[Change<'_>],
        admission: Option<&Admission>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.take_race() {
            let previous: Vec<&FileRecord> = changes.iter().map(|c| c.previous).collect();
            self.rival_writes(&previous, now).await;
        }
        self.inner.replace_many(changes, admission, now).await
    }

    async fn release_expired(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.inner.release_expired(record).await
    }

    async fn begin_request(
        &self,
        tenant: &TenantId,
        limits: crate::store::RequestLimits,
        now: crate::model::Timestamp,
    ) -> Result<crate::store::Admitted, StoreError> {
        self.inner.begin_request(tenant, limits, now).await
    }

    async fn end_request(&self, ticket: &crate::store::RequestTicket) -> Result<(), StoreError> {
        self.inner.end_request(ticket).await
    }

    async fn collection(
        &self,
        tenant: &TenantId,
        name: &CollectionName,
    ) -> Result<Option<Collection>, StoreError> {
        self.inner.collection(tenant, name).await
    }

    async fn admission_facts(
        &self,
        tenant: &TenantId,
        collection: &CollectionName,
    ) -> Result<(Option<Collection>, Limits, u64), StoreError> {
        self.inner.admission_facts(tenant, collection).await
    }

    async fn collections(&self, tenant: &TenantId) -> Result<Vec<Collection>, StoreError> {
        self.inner.collections(tenant).await
    }

    async fn put_collection(
        &self,
        next: &Collection,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_collection(next, expected).await
    }

    async fn delete_collection(&self, collection: &Collection) -> Result<(), StoreError> {
        self.inner.delete_collection(collection).await
    }

    async fn usage(&self, tenant: &TenantId) -> Result<Usage, StoreError> {
        self.inner.usage(tenant).await
    }

    async fn put_limits(
        &self,
        tenant: &TenantId,
        limits: Limits,
        expected: u64,
    ) -> Result<(), StoreError> {
        self.inner.put_limits(tenant, limits, expected).await
    }

    async fn delete(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.take_race() {
            self.rival_writes(&[record], record.updated_at).await;
        }
        self.inner.delete(record).await
    }

    async fn expired_public(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.inner.expired_public(now, limit).await
    }

    async fn list(&self, query: IndexQuery<'_>) -> Result<IndexPage, StoreError> {
        self.inner.list(query).await
    }

    async fn list_by_name(
        &self,
        query: crate::store::NameQuery<'_>,
    ) -> Result<crate::store::NamePage, StoreError> {
        self.inner.list_by_name(query).await
    }

    async fn first_path_key(
        &self,
        tenant: &TenantId,
        source: &crate::store::PathSource,
        lo: &str,
        hi: &str,
    ) -> Result<Option<String>, StoreError> {
        self.inner.first_path_key(tenant, source, lo, hi).await
    }

    async fn records_below(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Option<FileRecord>)>, bool), StoreError> {
        self.inner.records_below(tenant, prefix, after, limit).await
    }

    async fn put_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.inner.put_folder(tenant, path).await
    }

    async fn delete_folder(&self, tenant: &TenantId, path: &str) -> Result<bool, StoreError> {
        self.inner.delete_folder(tenant, path).await
    }

    async fn folders_below(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.folders_below(tenant, path).await
    }
}

pub(super) struct World {
    service: Service<Racing, MemoryObjects>,
    store: Arc<Racing>,
    objects: Arc<MemoryObjects>,
    who: Identity,
}

pub(super) fn world() -> World {
    let store = Arc::new(Racing {
        inner: SqliteStore::in_memory().unwrap(),
        skip: AtomicUsize::new(0),
        races: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
        rival: std::sync::Mutex::new(None),
    });
    let objects = Arc::new(MemoryObjects::new());
    let service = Service::new(
        store.clone(),
        objects.clone(),
        Arc::new(ManualClock::starting_now()),
        Settings {
            bucket: "bucket".into(),
            download_url_expires_in: std::time::Duration::from_secs(60),
            multipart_threshold: 100 * 1024 * 1024,
            public_base_url: Some("https://public.example".into()),
            inline_copy_limit: 5 * 1024 * 1024,
            default_tenant_limits: Limits::default(),
            default_trash_days: 0,
            realtime: None,
            request_limits: Default::default(),
        },
    );
    World {
        service,
        store,
        objects,
        who: Identity {
            tenant: TenantId::parse("acme").unwrap(),
            user: UserId::parse("alice").unwrap(),
            scopes: crate::identity::Scopes::all(),
            groups: Vec::new(),
        },
    }
}

impl World {
    fn race(&self, times: usize) {
        self.store.races.store(times, Ordering::SeqCst);
    }

    /// The rival changes the record as `change` says on the write after the next `skip`.
    fn race_later(&self, skip: usize, change: fn(&mut FileRecord)) {
        *self.store.rival.lock().unwrap() = Some(change);
        self.store.skip.store(skip, Ordering::SeqCst);
        self.store.races.store(1, Ordering::SeqCst);
    }

    async fn create(&self, body: serde_json::Value) -> FileRecord {
        let command = CreateFile::from_json(body).unwrap();
        self.service
            .create(&self.who, command)
            .await
            .unwrap()
            .file
            .record
    }

    /// Lands the record's open upload as a client and S3 would.
    async fn land(&self, record: &FileRecord, size: u64) -> FileRecord {
        let key = record.upload.as_ref().unwrap().key.clone();
        let etag = self.objects.put(&key, size);
        let event = ObjectEvent {
            key,
            size,
            etag,
            sequencer: None,
            at: self.service.now(),
        };
        match self.service.object_created(event).await.unwrap() {
            Outcome::Updated(record) => *record,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    async fn patch(
        &self,
        id: FileId,
        body: serde_json::Value,
        if_match: Option<u64>,
    ) -> FileRecord {
        let patch = FilePatch::from_json(body, UpdateMode::Merge).unwrap();
        self.service
            .update(&self.who, id, &patch, if_match)
            .await
            .unwrap()
            .record
    }
}

fn small() -> serde_json::Value {
    json!({"name": "a.txt", "mimeType": "text/plain"})
}

#[tokio::test]
async fn an_update_without_if_match_is_applied_on_top_of_a_rival_write() {
    let w = world();
    let record = w.create(small()).await;
    w.race(1);
    let updated = w.patch(record.id, json!({"purpose": "mine"}), None).await;
    assert_eq!(updated.purpose.unwrap().as_str(), "mine");
    assert_eq!(
        updated.source.unwrap().as_str(),
        "rival",
        "the rival's change is kept"
    );
    assert_eq!(updated.version, record.version + 2);
}

#[tokio::test]
async fn an_update_with_if_match_loses_to_a_rival_write() {
    let w = world();
    let record = w.create(small()).await;
    w.race(1);
    let patch = FilePatch::from_json(json!({"purpose": "mine"}), UpdateMode::Merge).unwrap();
    let err = w
        .service
        .update(&w.who, record.id, &patch, Some(record.version))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ProblemCode::VersionMismatch);
    let stored = w.service.get(&w.who, record.id).await.unwrap().record;
    assert_eq!(stored.purpose, None);
}

#[tokio::test]
async fn a_writer_that_always_loses_gives_up_with_412() {
    let w = world();
    let record = w.create(small()).await;
    w.race(usize::MAX);
    let before = w.store.writes.load(Ordering::SeqCst);
    let patch = FilePatch::from_json(json!({"purpose": "mine"}), UpdateMode::Merge).unwrap();
    let err = w
        .service
        .update(&w.who, record.id, &patch, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ProblemCode::VersionMismatch);
    assert_eq!(
        w.store.writes.load(Ordering::SeqCst) - before,
        8,
        "one policy: 8 attempts"
    );
}

#[tokio::test]
async fn an_unchanged_patch_writes_nothing() {
    let w = world();
    let record = w.create(small()).await;
    let before = w.store.writes.load(Ordering::SeqCst);
    let same = w.patch(record.id, json!({"name": "a.txt"}), None).await;
    assert_eq!(same.version, record.version);
    assert_eq!(w.store.writes.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn the_public_copy_follows_every_write() {
    let w = world();
    let record = w.create(small()).await;
    let uploaded = w.land(&record, 5).await;
    let alias = public_key(&record.tenant, record.id);
    assert!(!w.objects.exists(&alias));

    w.patch(record.id, json!({"privateAccess": false}), None)
        .await;
    assert!(w.objects.exists(&alias), "made public: copied");

    // A re-upload of a public file refreshes the copy once the new bytes land.
    let copies = w.objects.calls(Op::Copy);
    let reopened = w
        .service
        .start_upload(&w.who, record.id, UploadRequest::default(), None)
        .await
        .unwrap()
        .file
        .record;
    assert_eq!(
        w.objects.calls(Op::Copy),
        copies,
        "not before the bytes land"
    );
    let relanded = w.land(&reopened, 7).await;
    assert_eq!(w.objects.calls(Op::Copy), copies + 1);
    assert!(
        !w.objects.exists(&uploaded.content.unwrap().key),
        "replaced content deleted"
    );

    w.patch(record.id, json!({"privateAccess": true}), None)
        .await;
    assert!(!w.objects.exists(&alias), "made private: withdrawn");

    w.patch(record.id, json!({"privateAccess": false}), None)
        .await;
    w.service
        .delete(&w.who, record.id, None, false)
        .await
        .unwrap();
    assert!(!w.objects.exists(&alias));
    assert!(!w.objects.exists(&relanded.content.unwrap().key));
    assert!(w.objects.keys().is_empty(), "{:?}", w.objects.keys());
}

#[tokio::test]
async fn a_lost_race_aborts_the_multipart_upload_it_opened() {
    let w = world();
    let record = w.create(small()).await;
    w.race(1);
    let request = UploadRequest {
        expected_size: Some(20 * 1024 * 1024),
        multipart: true,
        ..UploadRequest::default()
    };
    let created = w
        .service
        .start_upload(&w.who, record.id, request, None)
        .await
        .unwrap();
    assert_eq!(w.objects.calls(Op::CreateMultipart), 2, "one per attempt");
    assert_eq!(
        w.objects.open_uploads(),
        1,
        "the losing attempt's upload is aborted"
    );
    assert!(created.file.record.upload.unwrap().multipart.is_some());
}

#[tokio::test]
async fn a_new_upload_aborts_the_multipart_upload_it_replaces() {
    let w = world();
    let request = json!({"name": "big.bin", "mimeType": "application/octet-stream",
                         "size": 20 * 1024 * 1024, "multipart": true});
    let record = w.create(request).await;
    assert_eq!(w.objects.open_uploads(), 1);
    w.service
        .start_upload(&w.who, record.id, UploadRequest::default(), None)
        .await
        .unwrap();
    assert_eq!(w.objects.open_uploads(), 0);
}

/// A browser's abort (signed through the sign route) ends only the multipart upload it names:
/// when a new single-PUT upload replaced it meanwhile, the new one is left alone (no object
/// deleted, no record changed) and the caller is told.
#[tokio::test]
async fn a_signed_abort_never_ends_an_upload_that_replaced_its_own() {
    let w = world();
    let record = w
        .create(
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                       "size": 20 * 1024 * 1024, "multipart": true}),
        )
        .await;
    let upload_id = record
        .upload
        .as_ref()
        .unwrap()
        .multipart
        .as_ref()
        .unwrap()
        .upload_id
        .clone();
    *w.store.rival.lock().unwrap() = Some(|record: &mut FileRecord| {
        let upload = record.upload.as_mut().unwrap();
        upload.multipart = None;
        upload.key.push_str("-single");
    });
    w.race(1);
    let request =
        crate::validate::SignRequest::from_json(json!({"method": "DELETE", "uploadId": upload_id}))
            .unwrap();
    let err = w
        .service
        .sign_request(&w.who, record.id, &request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ProblemCode::NoMultipartUpload);
    assert_eq!(
        w.objects.calls(Op::Delete),
        0,
        "the new upload's object is not deleted"
    );
    let stored = w.service.get(&w.who, record.id).await.unwrap().record;
    let upload = stored.upload.expect("the new upload stays open");
    assert!(upload.multipart.is_none() && upload.key.ends_with("-single"));
}

#[tokio::test]
async fn a_batch_update_retries_all_or_nothing() {
    let w = world();
    let a = w.create(small()).await;
    let b = w.create(small()).await;
    w.race(1);
    let batch = BatchUpdate::from_json(json!([
        {"id": a.id.to_string(), "purpose": "x"},
        {"id": b.id.to_string(), "tags": ["t"]}
    ]))
    .unwrap();
    let updated = w.service.update_many(&w.who, &batch).await.unwrap();
    assert_eq!(updated[0].record.purpose.as_ref().unwrap().as_str(), "x");
    assert_eq!(updated[1].record.tags.as_slice(), ["t"]);
    assert!(
        updated.iter().all(|s| s.record.source.is_some()),
        "on top of the rival"
    );
}

#[tokio::test]
async fn a_completion_racing_a_writer_still_lands() {
    let w = world();
    let record = w.create(small()).await;
    w.race(1);
    let landed = w.land(&record, 3).await;
    assert_eq!(landed.status, FileStatus::Uploaded);
    assert_eq!(landed.source.unwrap().as_str(), "rival");
}

#[tokio::test]
async fn a_delete_racing_a_writer_deletes_the_newer_record() {
    let w = world();
    let record = w.create(small()).await;
    w.race(1);
    w.service
        .delete(&w.who, record.id, None, false)
        .await
        .unwrap();
    let err = w.service.get(&w.who, record.id).await.unwrap_err();
    assert_eq!(err.code(), ProblemCode::NotFound);
}

#[tokio::test]
async fn a_public_copy_that_failed_is_requested_again_by_the_next_write() {
    let w = world();
    let record = w.create(small()).await;
    w.land(&record, 5).await;
    w.objects.fail(Op::Copy, 1);
    w.objects.fail(Op::PutEmpty, 1);
    let patch = FilePatch::from_json(json!({"privateAccess": false}), UpdateMode::Merge).unwrap();
    let err = w
        .service
        .update(&w.who, record.id, &patch, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        ProblemCode::Internal,
        "neither the copy nor the job took"
    );
    let alias = public_key(&record.tenant, record.id);
    assert!(!w.objects.exists(&alias));
    // The same patch again changes nothing in the record, but asks for the copy.
    w.patch(record.id, json!({"privateAccess": false}), None)
        .await;
    let job = crate::keys::publish_job_key(&record.tenant, record.id);
    assert!(w.objects.exists(&job));
    w.service.publish(&record.tenant, record.id).await.unwrap();
    assert!(w.objects.exists(&alias));
    // In step now: neither a write nor the worker does anything more.
    let copies = w.objects.calls(Op::Copy);
    w.service.publish(&record.tenant, record.id).await.unwrap();
    w.patch(record.id, json!({"tags": ["t"]}), None).await;
    assert_eq!(w.objects.calls(Op::Copy), copies);
}

#[tokio::test]
async fn a_copy_that_lands_after_the_file_was_made_private_is_withdrawn() {
    let w = world();
    let record = w.create(small()).await;
    w.land(&record, 5).await;
    let alias = public_key(&record.tenant, record.id);
    // Made public: the write, then the copy, then the step that records the copy. Between the
    // copy and that record, another request makes it private (and found nothing to withdraw
    // yet).
    w.race_later(1, |record| record.private_access = true);
    w.patch(record.id, json!({"privateAccess": false}), None)
        .await;
    let stored = w
        .store
        .get(&record.tenant, record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.private_access);
    assert!(!w.objects.exists(&alias), "the late copy is withdrawn");
    assert_eq!(stored.published, None);
}

#[tokio::test]
async fn a_write_between_the_copy_and_its_record_does_not_lose_it() {
    let w = world();
    let record = w.create(small()).await;
    w.land(&record, 5).await;
    let alias = public_key(&record.tenant, record.id);
    // The publish step records its copy (same version) while a rename is on its way: the
    // rename's compare-and-swap must see it, and keep it.
    w.objects.fail(Op::Copy, 1);
    let public = w
        .patch(record.id, json!({"privateAccess": false}), None)
        .await;
    assert_eq!(
        public.published, None,
        "the copy failed, so it is asked for again"
    );
    w.race_later(0, |record| {
        record.version -= 1;
        record.published = record.content.as_ref().map(|c| c.key.clone());
    });
    let renamed = w.patch(record.id, json!({"name": "b.txt"}), None).await;
    assert_eq!(
        renamed.published,
        renamed.content.as_ref().map(|c| c.key.clone()),
        "the rename kept the record of the copy"
    );
    // And making it private withdraws the copy, whatever the record said.
    w.objects.put(&alias, 5);
    w.patch(record.id, json!({"privateAccess": true}), None)
        .await;
    let stored = w
        .store
        .get(&record.tenant, record.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.published, None);
    assert!(!w.objects.exists(&alias));
}

#[tokio::test]
async fn making_a_file_private_withdraws_a_copy_the_record_does_not_know_of() {
    let w = world();
    let record = w.create(small()).await;
    w.land(&record, 5).await;
    let alias = public_key(&record.tenant, record.id);
    // A copy in flight for a public write that the record does not show yet (it failed
    // to record, or is being made): the private write deletes what is there.
    w.objects.fail(Op::Copy, 1);
    w.patch(record.id, json!({"privateAccess": false}), None)
        .await;
    w.objects.put(&alias, 5);
    w.patch(record.id, json!({"privateAccess": true}), None)
        .await;
    assert!(!w.objects.exists(&alias));
}

#[tokio::test]
async fn an_update_by_filter_reads_a_bounded_number_of_records() {
    let w = world();
    let now = w.service.now();
    // 10,050 files, none of which the filter (a field no index serves) matches.
    for i in 0..10_050u64 {
        let mut record = FileRecord::fixture(
            "acme",
            FileId::generate_at(Timestamp::from_millis(now.millis() - 1_000_000 + i as i64)),
            now,
        );
        record.uploaded_by = w.who.user.clone();
        w.store
            .insert(&record, &Admission::unlimited(&record), now)
            .await
            .unwrap();
    }
    let query = crate::validate::ListQuery::from_params([("mimeType", vec!["image/png"])]).unwrap();
    let patch = FilePatch::from_json(json!({"tags": ["x"]}), UpdateMode::Merge).unwrap();
    let err = w
        .service
        .update_matching(&w.who, &query, &patch)
        .await
        .unwrap_err();
    assert!(err.is(ProblemCode::TooManyMatches), "{err:?}");
    assert!(format!("{err:?}").contains("10000"), "{err:?}");
}
