//! The local server: one HTTP listener that serves the API routes through the very handlers the
//! Lambda functions run, and (in embedded mode) the S3-compatible endpoint that presigned URLs
//! point at. Requests whose first path segment is the bucket go to S3; all others to the API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::config::SharedCredentialsProvider;
use stowage::blob::s3::{S3Store, SigningIdentity};
use stowage::config::Config;
use stowage::service::Clock;
use stowage::store::embedded::SqliteStore;
use stowage::App;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{LocalSecret, S3_ACCESS_KEY};
use crate::dispatch::{Cors, Dispatcher, Faults};
use crate::s3::{LocalBucket, Notifier};
use crate::BUCKET;

/// The SQLite file under the data dir.
pub const METADATA_FILE: &str = "metadata.sqlite3";
/// The folder under the data dir that holds the bucket's objects.
pub const OBJECTS_DIR: &str = "objects";

/// Where file records and bytes live.
pub enum Backend {
    /// SQLite and the embedded S3 endpoint under the data dir: no AWS, no other server.
    Embedded,
    /// DynamoDB and S3 (real, or any compatible endpoint) configured like the Lambda functions
    /// (`Config::from_env` and the AWS SDK's own settings, in `main`).
    Aws {
        config: Box<Config>,
        sdk: Box<aws_config::SdkConfig>,
    },
}

/// How to run the server.
pub struct LocalConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub backend: Backend,
    /// The URL clients reach this server at (presigned URLs point here); default
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Run the `on-object-created` handler when the embedded endpoint stores an object.
    pub object_events: bool,
    /// How often the embedded backend deletes expired records and their bytes (the local
    /// stand-in for DynamoDB TTL and the stream function).
    pub sweep_interval: Duration,
    pub clock: Arc<dyn Clock>,
    /// Settings that take precedence over the environment (`STOWAGE_REQUIRE_SCOPES`, …).
    pub settings: std::collections::HashMap<String, String>,
    /// Where file events are POSTed (embedded backend only).
    pub webhooks: crate::Webhooks,
    /// Make the thumbnails of uploaded images in the background (embedded backend; the
    /// behaviour suite makes them itself, as it delivers S3 events itself).
    pub thumbnails: bool,
    /// How long a client may take to send a request's headers before its connection closes.
    pub header_timeout: Duration,
}

impl LocalConfig {
    /// What `stowage-local` runs with by default, on `data_dir`: the embedded backend on a free
    /// loopback port, the system clock, S3 events and thumbnails in-process, a sweep every 30
    /// seconds, no webhooks and no settings beyond the environment. `main` and the tests change
    /// the fields they are about.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LocalConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            backend: Backend::Embedded,
            public_url: None,
            object_events: true,
            sweep_interval: Duration::from_secs(30),
            clock: Arc::new(stowage::service::SystemClock),
            settings: Default::default(),
            webhooks: Default::default(),
            thumbnails: true,
            header_timeout: HEADER_TIMEOUT,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data dir {path} is in use by another stowage-local (process {holder}); stop it, or use another --data-dir")]
    Locked { path: PathBuf, holder: String },
    #[error("data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] stowage::config::ConfigError),
    #[error("metadata store: {0}")]
    Store(#[from] stowage::store::StoreError),
    #[error("AWS: {0}")]
    Aws(stowage::lambda_http::Error),
    #[error("console: {0}")]
    Console(String),
    #[error("{0}")]
    Webhooks(String),
}

/// A started server. Dropping it stops the accept loop; [`RunningServer::stop`] also waits
/// for the loop to end.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub app: Arc<App>,
    pub secret: LocalSecret,
    /// Faults tests can switch on.
    pub faults: Arc<Faults>,
    sqlite: Option<Arc<SqliteStore>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// The data dir's lock, released when the server is dropped.
    _lock: std::fs::File,
}

impl RunningServer {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Runs one sweep now (embedded backend): expiry, then the cleanup of removed records;
    /// returns how many records expired.
    pub async fn sweep(&self) -> usize {
        match &self.sqlite {
            Some(store) => crate::sweep::sweep(&self.app, store).await,
            None => 0,
        }
    }

    /// The embedded metadata store (embedded backend only).
    pub fn metadata_store(&self) -> Option<&Arc<SqliteStore>> {
        self.sqlite.as_ref()
    }

    /// An S3 client for the embedded endpoint, signed with this data dir's credentials.
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        embedded_s3_client(&self.base_url, &self.secret).await
    }
}

/// The region the embedded endpoint signs for.
pub const REGION: &str = "us-east-1";

/// The embedded endpoint's credentials, derived from the data dir's secret.
fn embedded_credentials(secret: &LocalSecret) -> Credentials {
    Credentials::new(
        S3_ACCESS_KEY,
        secret.s3_secret_key(),
        None,
        None,
        "stowage-local",
    )
}

async fn embedded_s3_client(base_url: &str, secret: &LocalSecret) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(base_url)
        .credentials_provider(embedded_credentials(secret))
        // The endpoint is in this process: a refusal is not worth waiting seconds for.
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .load()
        .await;
    stowage::bootstrap::s3_client(&sdk, true)
}

fn data_dir_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// Most connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a client may take to send a request's headers (the default of
/// [`LocalConfig::header_timeout`]).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Multipart uploads left open longer than this are aborted (the stack's lifecycle rule).
pub const STALE_UPLOAD_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The lock file under the data dir: one server per data dir.
pub const LOCK_FILE: &str = "stowage-local.lock";

/// Creates the data dir readable by its owner only (`0700`: everything under it is then out
/// of other users' reach) and takes its lock, held until the returned file is dropped; a data
/// dir another process holds is refused, naming that process.
fn claim_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    use std::io::{Read as _, Seek as _, Write as _};
    std::fs::create_dir_all(data_dir).map_err(data_dir_error(data_dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(data_dir_error(data_dir))?;
    }
    let path = data_dir.join(LOCK_FILE);
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(data_dir_error(data_dir))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            return Err(StartError::Locked {
                path: data_dir.to_owned(),
                holder: holder.trim().to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(data_dir_error(data_dir)(err)),
    }
    // Who holds it, for the next one to name.
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = write!(lock, "{}", std::process::id());
    let _ = lock.flush();
    Ok(lock)
}

/// Binds the listener, builds the app once, and serves until stopped.
pub async fn start(config: LocalConfig) -> Result<RunningServer, StartError> {
    let data_dir = config.data_dir.clone();
    let lock = claim_data_dir(&data_dir)?;
    let secret = LocalSecret::load_or_create(&data_dir).map_err(data_dir_error(&data_dir))?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();

    // Every setting is read through this one lookup: the test's settings first, then the
    // environment, and each by its one reader (`Config`, `Cors::parse`, the console's).
    let setting = |name: &str| {
        config
            .settings
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    let mut sqlite = None;
    let mut janitor: Option<LocalBucket> = None;
    let (app, s3) = match config.backend {
        Backend::Embedded => {
            // The same validation as on Lambda, with the embedded table and bucket filled in.
            let mut settings = Config::from_lookup(|name| match name {
                "STOWAGE_TABLE" => Some(METADATA_FILE.to_owned()),
                "STOWAGE_BUCKET" => Some(BUCKET.to_owned()),
                other => setting(other),
            })?;
            // This server serves public copies itself, at <base>/public/….
            settings.public_base_url = settings.public_base_url.or_else(|| Some(base_url.clone()));
            // And the realtime endpoint, on the same address.
            settings.realtime = settings.realtime.or_else(|| {
                let (scheme, rest) = base_url.split_once("://")?;
                let ws = if scheme == "https" { "wss" } else { "ws" };
                Some(stowage::service::RealtimeEndpoint {
                    url: format!("{ws}://{rest}{}", crate::realtime::PATH),
                    host: rest.trim_end_matches('/').to_owned(),
                })
            });
            let store = Arc::new(SqliteStore::open(&data_dir.join(METADATA_FILE))?);
            sqlite = Some(store.clone());
            let objects_root = data_dir.join(OBJECTS_DIR);
            std::fs::create_dir_all(objects_root.join(BUCKET))
                .map_err(data_dir_error(&data_dir))?;
            let signing = SigningIdentity {
                credentials: SharedCredentialsProvider::new(embedded_credentials(&secret)),
                region: REGION.to_owned(),
            };
            let objects = S3Store::new(
                embedded_s3_client(&base_url, &secret).await,
                BUCKET,
                signing,
            );
            let app: Arc<App> = Arc::new(App::new(
                &settings,
                store as Arc<dyn stowage::store::MetadataStore>,
                Arc::new(objects) as Arc<dyn stowage::blob::ObjectStore>,
                config.clock.clone(),
            ));
            let root = objects_root
                .canonicalize()
                .map_err(data_dir_error(&data_dir))?;
            let notifier = Notifier::new(app.clone(), BUCKET, config.object_events);
            let bucket =
                LocalBucket::new(&root, notifier, &base_url).map_err(data_dir_error(&data_dir))?;
            janitor = Some(bucket.clone());
            let mut builder = s3s::service::S3ServiceBuilder::new(bucket);
            builder.set_auth(s3s::auth::SimpleAuth::from_single(
                S3_ACCESS_KEY,
                secret.s3_secret_key(),
            ));
            builder.set_access(crate::s3::PresignedScope);
            (
                app,
                Some((
                    builder.build(),
                    embedded_s3_client(&base_url, &secret).await,
                )),
            )
        }
        Backend::Aws {
            config: settings,
            sdk,
        } => {
            let app = Arc::new(
                stowage::bootstrap::aws_app(&settings, &sdk, config.clock.clone())
                    .map_err(StartError::Aws)?,
            );
            (app, None)
        }
    };

    let faults = Arc::new(Faults::default());
    // The console names the claims the app reads (with --backend aws, the app's own Config).
    let console = stowage_console::ConsoleSettings::from_lookup(
        setting,
        &app.claims.tenant,
        &app.claims.user,
    )
    .map(|settings| stowage_console::ConsoleSettings {
        allow_plain_http: true,
        groups_claim: app.claims.groups.clone(),
        ..settings
    })
    .map_err(StartError::Console)?;
    let dispatcher = Arc::new(Dispatcher {
        app: app.clone(),
        faults: faults.clone(),
        cors: Cors::parse(setting("STOWAGE_CORS_ORIGINS").as_deref()),
        s3,
        secret: secret.clone(),
        console: stowage_console::Console::new(&console),
        realtime: sqlite.as_ref().map(|_| crate::realtime::Hub::new()),
    });
    config.webhooks.validate().map_err(StartError::Webhooks)?;
    if !config.webhooks.urls.is_empty() && sqlite.is_none() {
        return Err(StartError::Webhooks(
            "--webhook needs the embedded backend; with --backend aws, the stack's publish-events function and its WebhookUrl deliver events".into(),
        ));
    }
    // Every reader of the change log is registered before the first request, so none misses a
    // change (the log is pruned past the slowest registered reader).
    let deliverers = match &sqlite {
        Some(store) => {
            store.register_reader(crate::REMOVALS)?;
            config.webhooks.register(store)?;
            let mut tasks = config.webhooks.spawn(store.clone());
            if config.thumbnails {
                store.register_reader(crate::thumbnails::THUMBNAILS)?;
                tasks.push(crate::thumbnails::spawn(app.clone(), store.clone()));
            }
            if let Some(hub) = &dispatcher.realtime {
                store.register_reader(crate::realtime::REALTIME)?;
                tasks.push(hub.spawn(app.clone(), store.clone()));
            }
            tasks
        }
        None => Vec::new(),
    };
    let sweeper = sqlite.clone().map(|store| {
        let app = app.clone();
        let every = config.sweep_interval;
        tokio::spawn(async move {
            loop {
                crate::sweep::sweep(&app, &store).await;
                if let Some(bucket) = &janitor {
                    bucket.abort_stale_uploads(STALE_UPLOAD_AGE).await;
                }
                tokio::time::sleep(every).await;
            }
        })
    });
    let header_timeout = config.header_timeout;
    let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _sweeper = AbortOnDrop(sweeper);
        let _deliverers: Vec<AbortOnDrop> = deliverers
            .into_iter()
            .map(|task| AbortOnDrop(Some(task)))
            .collect();
        let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            // A connection slot first: past the cap, clients wait in the listen backlog.
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                _ = &mut shutdown_rx => break,
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let dispatcher = dispatcher.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let service = hyper::service::service_fn(move |req| {
                            let dispatcher = dispatcher.clone();
                            async move { dispatcher.dispatch(req).await }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        if let Err(err) = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(header_timeout)
                            .serve_connection(io, service)
                            .with_upgrades()
                            .await
                        {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                    });
                }
                _ = &mut shutdown_rx => break,
            }
        }
    });
    Ok(RunningServer {
        addr,
        base_url,
        app,
        secret,
        faults,
        sqlite,
        shutdown: Some(shutdown_tx),
        task,
        _lock: lock,
    })
}

struct AbortOnDrop(Option<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
