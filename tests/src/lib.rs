//! Test support: one behaviour suite, every backend. A test written as
//! `async fn name(env: TestEnv)` and listed in [`on_every_backend!`] runs twice:
//!
//! - **moto**: DynamoDB + S3 through the real AWS SDK, against the moto server that the test
//!   command starts (a fresh table, made from `template.yaml`, and bucket per test), with the app
//!   wired exactly as the Lambda functions wire it;
//! - **embedded**: a `stowage-local` server on a random port with a fresh data dir (SQLite
//!   store, the `s3s` endpoint, which really checks presigned URLs).
//!
//! In both, S3 events are delivered by the test itself (moto sends none; the embedded server's
//! own notifications are switched off here and tested end to end in `local/tests`).
//!
//! The moto address comes from `STOWAGE_TEST_MOTO_ENDPOINT`. Without it the tests fail (they
//! never skip): run them through `scripts/test`.

pub mod appsync;
mod moto;
mod reply;
mod requests;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use lambda_http::Request;
use serde_json::Value;
use stowage::service::ManualClock;
use stowage::App;

pub use moto::{
    acting_as, acting_credentials, conflicts_seen, create_table_from_template, denials, hold_items,
    moto_dynamodb_client, moto_endpoint, moto_eventbridge_client, moto_s3_client, moto_storage,
    register_world, sdk_config, world_of, Outage, PUBLIC_BASE_URL,
};
pub use reply::Reply;
pub use requests::{
    api_request, create_request, get_request, raw_request, s3_event, sample, sample_record,
    scoped_request, template, to_request, upload_key, valid_body, with_identity,
};

/// Per-tenant request limits far above what any test sends, so that every route call counts
/// its request (on moto, through the function's policy) without being refused; a test that
/// needs tighter limits sets its own.
pub const COUNTED_REQUESTS: [(&str, &str); 2] = [
    ("STOWAGE_TENANT_REQUESTS_PER_SECOND", "100000"),
    ("STOWAGE_TENANT_CONCURRENT_REQUESTS", "100000"),
];

/// The repository root, for reading `template.yaml` and `events/`.
pub const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs each listed `async fn(TestEnv)` once per backend, as `moto::<name>` and
/// `embedded::<name>`; `settings = [("NAME", "value"), …];` first configures both apps.
#[macro_export]
macro_rules! on_every_backend {
    (settings = $settings:expr; $($name:ident),* $(,)?) => {
        mod moto {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::moto_with(&$settings).await).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::embedded_with(&$settings).await).await
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod moto {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::moto().await).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::embedded().await).await
                }
            )*
        }
    };
}

/// Which backend a [`TestEnv`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Moto,
    Embedded,
}

/// One test's private world: its own storage and clock, and the app over them.
pub struct TestEnv {
    pub backend: Backend,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    /// An S3 client for the backend's bucket (moto, or the embedded endpoint).
    pub s3: aws_sdk_s3::Client,
    /// The DynamoDB client and table (moto only).
    pub dynamodb: Option<(aws_sdk_dynamodb::Client, String)>,
    /// The SDK configuration for moto (moto only), for clients of other services: it signs as
    /// the function the task acts as ([`acting_as`]).
    pub sdk: Option<aws_config::SdkConfig>,
    /// The test world moto holds each function's calls to its policy in (moto only).
    pub world: Option<String>,
    pub bucket: String,
    pub http: reqwest::Client,
    /// moto only: switches that cut the app's S3 and DynamoDB clients off.
    outages: Option<(Outage, Outage)>,
    /// moto only: a switch that fails the app's server-side part copies.
    part_copy_outage: Outage,
    /// moto only: stream batches whose cleanup failed, to be delivered again (as Lambda does).
    undelivered: std::sync::Mutex<Vec<aws_lambda_events::dynamodb::Event>>,
    /// Each route call runs as a fresh function instance would: caches emptied first.
    policy_checks: std::sync::atomic::AtomicBool,
    /// Keeps the embedded server (it stops when dropped) and its data dir alive for the test.
    _local: Option<(stowage_local::RunningServer, tempfile::TempDir)>,
}

impl TestEnv {
    /// A fresh `stowage-local` (embedded backend) on a random loopback port.
    pub async fn embedded() -> Self {
        Self::embedded_with(&[]).await
    }

    /// [`TestEnv::embedded`] with `settings` (environment variables) on top.
    pub async fn embedded_with(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary data dir");
        let clock = Arc::new(ManualClock::starting_now());
        let server = stowage_local::start(stowage_local::LocalConfig {
            // Tests deliver S3 events themselves.
            object_events: false,
            // Tests sweep explicitly (after moving the clock).
            sweep_interval: Duration::from_secs(3_600),
            clock: clock.clone(),
            settings: COUNTED_REQUESTS
                .iter()
                .chain(settings)
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            // Tests make thumbnails themselves (`TestEnv::make_thumbnails`).
            thumbnails: false,
            ..stowage_local::LocalConfig::new(dir.path())
        })
        .await
        .expect("stowage-local starts");
        let s3 = server.s3_client().await;
        TestEnv {
            backend: Backend::Embedded,
            app: server.app.clone(),
            clock,
            s3,
            dynamodb: None,
            sdk: None,
            world: None,
            bucket: stowage_local::BUCKET.to_owned(),
            http: reqwest::Client::new(),
            outages: None,
            part_copy_outage: Outage::default(),
            undelivered: Default::default(),
            policy_checks: Default::default(),
            _local: Some((server, dir)),
        }
    }

    /// A table (from `template.yaml`'s definition) and a bucket with unique names on moto.
    pub async fn moto() -> Self {
        Self::moto_with(&[]).await
    }

    /// [`TestEnv::moto`] with `settings` (environment variables) on top.
    pub async fn moto_with(settings: &[(&str, &str)]) -> Self {
        let (sdk, config) = moto_storage(settings).await;
        let (s3_outage, dynamodb_outage) = (Outage::default(), Outage::default());
        let dynamodb = moto_dynamodb_client(&sdk, dynamodb_outage.clone());
        let part_copy_outage = Outage::default();
        let s3 = moto::moto_s3_client_with(&sdk, s3_outage.clone(), part_copy_outage.clone());
        let (table, bucket) = (config.table.clone(), config.bucket.clone());
        let world = moto::world_of(&table).to_owned();
        let clock = Arc::new(ManualClock::starting_now());
        let app = Arc::new(
            stowage::bootstrap::aws_app_with_clients(
                &config,
                &sdk,
                dynamodb.clone(),
                s3.clone(),
                clock.clone(),
            )
            .expect("the test SDK configuration has credentials"),
        );
        TestEnv {
            backend: Backend::Moto,
            app,
            clock,
            s3,
            dynamodb: Some((dynamodb, table)),
            sdk: Some(sdk),
            world: Some(world),
            bucket,
            http: reqwest::Client::new(),
            outages: Some((s3_outage, dynamodb_outage)),
            part_copy_outage,
            undelivered: Default::default(),
            policy_checks: Default::default(),
            _local: None,
        }
    }

    /// The embedded server's base URL (`None` on moto).
    pub fn local_url(&self) -> Option<&str> {
        self._local
            .as_ref()
            .map(|(server, _)| server.base_url.as_str())
    }

    /// Runs an HTTP route the way its Lambda function does: as that function, so on moto each
    /// AWS call it makes must be allowed by the function's policy in `template.yaml`.
    pub async fn call(&self, route: stowage::http::RouteId, req: Request) -> Reply {
        if self.policy_checks.load(std::sync::atomic::Ordering::SeqCst) {
            // Each function has a cache of its own: what another route read is not there.
            self.app.service.forget_everything_cached();
        }
        let function = stowage::http::ROUTES
            .iter()
            .find(|r| r.id == route)
            .expect("a route of the table")
            .function;
        self.acting(function, async {
            Reply::from(stowage::http::handle(&self.app, route, req).await)
        })
        .await
    }

    /// Runs `work` as the Lambda function `binary` ([`acting_as`]); on moto, fails the test if
    /// moto refused any call of this world (a function called AWS outside its policy).
    pub async fn acting<F: std::future::Future>(&self, binary: &'static str, work: F) -> F::Output {
        // Boxed: a handler's future is large in a debug build, and nested in the scope it
        // would overflow a test thread's stack.
        let output = acting_as(binary, Box::pin(work)).await;
        self.assert_no_denials().await;
        output
    }

    /// Fails the test if moto refused a call of this world's functions since the last look:
    /// a function called AWS with an action or on a resource its policy does not allow.
    pub async fn assert_no_denials(&self) {
        if let Some(world) = &self.world {
            let denied = moto::denials(world).await;
            assert!(
                denied.is_empty(),
                "a function called AWS outside its policy in template.yaml (moto answered AccessDenied): {denied:#?}"
            );
        }
    }

    /// `POST /files` for `tenant`/`user` with `body`; asserts `201` and returns the reply.
    pub async fn create(&self, tenant: &str, body: Value) -> Reply {
        let reply = self
            .call(
                stowage::http::RouteId::CreateFile,
                create_request(tenant, "alice", &body),
            )
            .await;
        assert_eq!(reply.status, 201, "create failed: {}", reply.json);
        reply
    }

    /// A request to `route` as `tenant` (user `alice`), built from the route's sample in
    /// `events/` with named steps — `.id(..)`, `.query(..)`, `.body(..)`, `.headers(..)` —
    /// then `.send().await`.
    pub fn route(&self, route: stowage::http::RouteId, tenant: &str) -> ApiCall<'_> {
        ApiCall {
            env: self,
            route,
            tenant: tenant.to_owned(),
            id: None,
            query: String::new(),
            body: None,
            headers: Vec::new(),
            acting: None,
        }
    }

    /// From now on, every route call ([`TestEnv::call`], [`ApiCall::send`]) runs as a fresh
    /// instance of its function would, with the per-instance caches emptied first: on moto, then
    /// every call a function needs is made (none is saved by what another route cached) and
    /// held to its policy (every route call is, always). Calls must then be made one at a time.
    pub fn check_policies(&self) {
        self.policy_checks
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Writes a record straight into the backend's metadata store.
    pub async fn insert_record(&self, record: &stowage::model::FileRecord) {
        self.insert_record_in(record, None).await
    }

    /// [`TestEnv::insert_record`] into a stored collection at `collection_version`.
    pub async fn insert_record_in(
        &self,
        record: &stowage::model::FileRecord,
        collection_version: Option<u64>,
    ) {
        let admission = stowage::model::Admission {
            collection_version,
            ..stowage::model::Admission::unlimited(record)
        };
        self.app
            .service
            .store()
            .insert(record, &admission, record.created_at)
            .await
            .expect("insert");
    }

    /// Creates a file for `tenant`, uploads `bytes` and delivers its S3 event; returns the
    /// record as `GET` shows it afterwards.
    pub async fn uploaded(&self, tenant: &str, body: Value, bytes: &[u8]) -> Value {
        let created = self.create(tenant, body).await;
        self.upload(&created.json["upload"], bytes).await;
        let key = upload_key(&created.json["upload"]);
        self.deliver(
            self.object_created_event(&key, &self.next_sequencer())
                .await,
        )
        .await;
        let id = created.json["file"]["id"].as_str().unwrap();
        let got = self.get(tenant, id).await;
        assert_eq!(got.json["status"], "uploaded", "{}", got.json);
        got.json
    }

    /// A sequencer larger than every one this env handed out before.
    pub fn next_sequencer(&self) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "{:016X}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        )
    }

    /// Downloads `url` without credentials; returns the status and the body.
    pub async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let response = self.http.get(url).send().await.expect("download");
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default().to_vec();
        // A presigned URL acts as the function that signed it.
        self.assert_no_denials().await;
        (status, body)
    }

    /// Lets every record whose `expiresAt` has passed disappear the way the backend removes
    /// them: on DynamoDB, TTL deletes the items and the stream function receives the `REMOVE`
    /// records; on the embedded backend, the sweep runs. Returns how many records expired.
    pub async fn expire(&self) -> usize {
        match (&self.dynamodb, &self._local) {
            (Some((client, table)), _) => {
                let event = moto::expire_by_ttl(client, table, self.clock.now_millis()).await;
                let count = event.records.len();
                self.deliver_stream(event).await;
                count
            }
            (None, Some((server, _))) => server.sweep().await,
            (None, None) => unreachable!("every env has a backend"),
        }
    }

    /// moto only: lets DynamoDB's TTL delete every item whose time has passed (records and
    /// their markers) without running the stream function; returns the expired file ids. The
    /// removals are then in the table's own stream ([`TestEnv::table_stream`]).
    pub async fn ttl_delete(&self) -> Vec<String> {
        let Some((client, table)) = &self.dynamodb else {
            panic!("TTL is DynamoDB's: use a moto env");
        };
        moto::ttl_delete(client, table, self.clock.now_millis())
            .await
            .iter()
            .map(|item| item["id"].as_s().expect("a record has its id").clone())
            .collect()
    }

    /// Makes file `id`'s thumbnails, as the `make-thumbnails` function (or `stowage-local`'s
    /// background maker) does when the upload's event arrives.
    pub async fn make_thumbnails(&self, tenant: &str, id: &str) {
        // As the bus delivers the upload's event to the function (its detail trimmed to what
        // the function reads).
        let event: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "version": "0",
                "id": format!("{id}.2.uploaded"),
                "detail-type": "stowage.file.uploaded",
                "source": "stowage",
                "account": "123456789012",
                "time": "2026-11-23T10:00:00Z",
                "region": "eu-west-1",
                "resources": [],
                "detail": {"tenant": tenant, "file": {"id": id, "status": "uploaded"}},
            }))
            .unwrap();
        let made = self.acting(
            "make-thumbnails",
            stowage::events::on_image_uploaded(&self.app, &event.detail),
        );
        if let Err(err) = made.await {
            panic!("thumbnails are made, or recorded as none: {err:?}");
        }
    }

    /// Every record of the table's stream so far, as the stream functions receive them (moto
    /// only); removals of the files in `expired_by_ttl` carry TTL's principal.
    pub async fn table_stream(
        &self,
        expired_by_ttl: &[String],
    ) -> aws_lambda_events::dynamodb::Event {
        let (Some(sdk), Some((_, table))) = (&self.sdk, &self.dynamodb) else {
            panic!("the table stream is DynamoDB's: use a moto env");
        };
        moto::table_stream(sdk, table, expired_by_ttl).await
    }

    /// Runs the stream function on `event`; a batch with failures is kept to be delivered
    /// again by [`TestEnv::retry_stream`], as Lambda retries it.
    pub async fn deliver_stream(&self, event: aws_lambda_events::dynamodb::Event) {
        let response = self
            .acting(
                "on-records-removed",
                stowage::events::on_records_removed(&self.app, event.clone()),
            )
            .await;
        if !response.batch_item_failures.is_empty() {
            self.undelivered.lock().unwrap().push(event);
        }
    }

    /// Removals whose cleanup failed and is still to be retried: failed stream batches (moto),
    /// or removals the sweep has not got past (embedded).
    pub fn unfinished_cleanups(&self) -> usize {
        match &self._local {
            Some((server, _)) => {
                let store = server.metadata_store().expect("embedded");
                let unread = store
                    .unread_changes(stowage_local::REMOVALS, 10_000)
                    .unwrap();
                unread.iter().filter(|c| c.new.is_none()).count()
            }
            None => self
                .undelivered
                .lock()
                .unwrap()
                .iter()
                .map(|e| e.records.len())
                .sum(),
        }
    }

    /// Retries the cleanups that failed: Lambda delivering the failed stream batches again
    /// (moto), or the next sweep (embedded).
    pub async fn retry_stream(&self) {
        match &self._local {
            Some((server, _)) => {
                server.sweep().await;
            }
            None => {
                let batches = std::mem::take(&mut *self.undelivered.lock().unwrap());
                for event in batches {
                    self.deliver_stream(event).await;
                }
            }
        }
    }

    /// Cuts the app off from its object store (`true`) or restores it: moto's S3 client fails
    /// to connect; the embedded S3 endpoint answers `503 SlowDown`.
    pub fn s3_outage(&self, down: bool) {
        match (&self.outages, &self._local) {
            (Some((s3, _)), _) => s3.store(down, std::sync::atomic::Ordering::SeqCst),
            (None, Some((server, _))) => server
                .faults
                .s3_outage
                .store(down, std::sync::atomic::Ordering::SeqCst),
            (None, None) => unreachable!("every env has a backend"),
        }
    }

    /// moto only: fails (`true`) or restores the app's server-side part copies
    /// (`UploadPartCopy`), the parts of a large public copy.
    pub fn part_copy_outage(&self, down: bool) {
        assert!(self.outages.is_some(), "part copies fail on moto only");
        self.part_copy_outage
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Cuts the app off from its metadata store (`true`) or restores it: moto's DynamoDB client
    /// fails to connect; the embedded SQLite store answers as a locked database.
    pub fn metadata_outage(&self, down: bool) {
        match (&self.outages, &self._local) {
            (Some((_, dynamodb)), _) => dynamodb.store(down, std::sync::atomic::Ordering::SeqCst),
            (None, Some((server, _))) => {
                server.metadata_store().expect("embedded").set_outage(down)
            }
            (None, None) => unreachable!("every env has a backend"),
        }
    }

    /// `GET /files/{id}` for `tenant`.
    pub async fn get(&self, tenant: &str, id: &str) -> Reply {
        self.call(
            stowage::http::RouteId::GetFile,
            get_request(tenant, "alice", id),
        )
        .await
    }

    /// Sends the presigned upload from a create reply with `bytes`, exactly as a client would;
    /// asserts that the store accepted it and returns the HTTP status.
    pub async fn upload(&self, upload: &Value, bytes: &[u8]) -> u16 {
        let method = upload["method"].as_str().expect("upload.method");
        let mut req = self.http.request(
            method.parse().expect("method"),
            upload["url"].as_str().expect("upload.url"),
        );
        for (name, value) in upload["headers"].as_object().expect("upload.headers") {
            req = req.header(name, value.as_str().expect("header value"));
        }
        let response = req
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        // A presigned URL acts as the function that signed it.
        self.assert_no_denials().await;
        assert!(
            (200..300).contains(&status),
            "upload refused: {status} {body}"
        );
        status
    }

    /// The S3 event that the bucket would send for the object now at `key`, with `sequencer`.
    pub async fn object_created_event(&self, key: &str, sequencer: &str) -> S3Event {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("the object exists");
        s3_event(
            &self.bucket,
            key,
            u64::try_from(head.content_length.unwrap_or(0)).unwrap(),
            head.e_tag.as_deref().unwrap_or_default(),
            sequencer,
        )
    }

    /// Runs the `on-object-created` handler on `event`, as that function.
    pub async fn deliver(&self, event: S3Event) -> Vec<stowage::service::Outcome> {
        self.acting(
            "on-object-created",
            stowage::events::on_object_created(&self.app, event),
        )
        .await
        .expect("the event is handled")
    }

    /// Runs the publish jobs whose markers the bucket holds, as their S3 events would (the
    /// `publish-file` function); returns how many succeeded, or the failure.
    pub async fn run_jobs(&self) -> Result<usize, stowage::events::EventError> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(stowage::keys::PUBLISH_JOBS)
            .send()
            .await
            .expect("list job markers");
        let mut done = 0;
        for object in listed.contents() {
            let key = object.key().unwrap_or_default();
            let event = s3_event(&self.bucket, key, 0, "", &self.next_sequencer());
            done += self
                .acting(
                    "publish-file",
                    stowage::events::on_publish_requested(&self.app, event),
                )
                .await?;
        }
        Ok(done)
    }

    /// The bytes of the object at `key`, read from the bucket; `None` if there is none.
    pub async fn object_bytes(&self, key: &str) -> Option<Vec<u8>> {
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(output.body.collect().await.ok()?.to_vec())
    }

    /// Whether the bucket holds an object at `key`.
    pub async fn object_exists(&self, key: &str) -> bool {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(err) => panic!("HEAD {key}: {err:?}"),
        }
    }

    /// The acting identity of `tenant`'s user alice, for direct service calls.
    pub fn who(&self, tenant: &str) -> stowage::identity::Identity {
        stowage::identity::Identity {
            tenant: stowage::model::TenantId::parse(tenant).unwrap(),
            user: stowage::model::UserId::parse("alice").unwrap(),
            scopes: stowage::identity::Scopes::all(),
            groups: Vec::new(),
        }
    }

    /// `POST /files` for `tenant`; the new file's id.
    pub async fn create_id(&self, tenant: &str, body: Value) -> String {
        id_of(&self.create(tenant, body).await.json["file"])
    }

    /// The bytes of `acme`'s file `id`, through `GET /files/{id}/content`.
    pub async fn download(&self, id: &str) -> Vec<u8> {
        let reply = self
            .route(stowage::http::RouteId::GetContent, "acme")
            .id(id)
            .send()
            .await;
        assert_eq!(reply.status, 302, "{}", reply.json);
        self.fetch(reply.headers["location"].to_str().unwrap())
            .await
            .1
    }

    /// The object key that holds the content of `acme`'s file `id`.
    pub async fn content_key(&self, id: &str) -> String {
        let id = stowage::model::FileId::parse(id).unwrap();
        let shown = self.app.service.get(&self.who("acme"), id).await.unwrap();
        shown.record.content.expect("uploaded").key
    }

    /// Every id of `tenant`'s listing (up to 1,000), newest first.
    pub async fn listed(&self, tenant: &str) -> Vec<String> {
        let reply = self
            .route(stowage::http::RouteId::ListFiles, tenant)
            .query("limit=1000")
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        ids(&reply.json)
    }

    /// Advances the app's clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// The `id` of a file as JSON.
pub fn id_of(file: &Value) -> String {
    file["id"].as_str().expect("an id").to_owned()
}

/// The ids of a listing page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

/// One API request being built ([`TestEnv::route`]).
#[must_use = "a request does nothing until it is sent"]
pub struct ApiCall<'a> {
    env: &'a TestEnv,
    route: stowage::http::RouteId,
    tenant: String,
    id: Option<String>,
    query: String,
    body: Option<Value>,
    headers: Vec<(String, String)>,
    /// Who the token names instead of the sample's alice: user, groups claim, scope claim.
    acting: Option<(String, Vec<String>, Option<String>)>,
}

/// The scopes of an app's token (`files:admin` makes it an app).
pub const APP_SCOPES: &str = "files:read files:write files:delete files:admin";

impl ApiCall<'_> {
    /// The token names `user`, member of `groups` (sent as API Gateway renders an array claim,
    /// `"[a b]"`), with the sample's member scopes.
    pub fn as_user(mut self, user: &str, groups: &[&str]) -> Self {
        self.acting = Some((
            user.to_owned(),
            groups.iter().map(|g| g.to_string()).collect(),
            None,
        ));
        self
    }

    /// The token is an app's (`files:admin`), for `user`.
    pub fn as_app(mut self, user: &str) -> Self {
        self.acting = Some((user.to_owned(), Vec::new(), Some(APP_SCOPES.to_owned())));
        self
    }

    /// The `{id}` of the path.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// The `{id}` of the path, if any.
    pub fn maybe_id(mut self, id: Option<&str>) -> Self {
        self.id = id.map(str::to_owned);
        self
    }

    /// The raw query string (`a=1&b=2`).
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    /// The JSON body (`Content-Type: application/json`).
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The JSON body, if any.
    pub fn maybe_body(mut self, body: Option<Value>) -> Self {
        self.body = body;
        self
    }

    /// Extra headers (the sample's `If-Match` is dropped unless given here).
    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        self.headers
            .extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        self
    }

    /// The request, as API Gateway hands it to the route's function.
    pub fn request(&self) -> Request {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let acting = self
            .acting
            .as_ref()
            .map(|(user, groups, scopes)| requests::Acting {
                user,
                groups,
                scopes: scopes.as_deref(),
            });
        requests::api_request_as(
            self.route,
            &self.tenant,
            acting,
            self.id.as_deref(),
            &self.query,
            self.body.as_ref(),
            &headers,
        )
    }

    /// Runs the route's handler on the request.
    pub async fn send(self) -> Reply {
        let request = self.request();
        self.env.call(self.route, request).await
    }
}
