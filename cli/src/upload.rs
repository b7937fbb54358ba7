//! Uploads: one presigned `PUT` for small files; for big ones, parts streamed from disk with
//! bounded concurrency (only `parallel` parts are ever in memory), retried with backoff,
//! re-signed when their URL expires, and resumable from the parts the server already holds.

use std::collections::{BTreeSet, HashMap};
use std::io::SeekFrom;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::Mutex;

use crate::api::{Api, Error, Result};
use crate::progress::Progress;

/// Part size when the user does not choose one (the server's default too).
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Attempts per part before the upload gives up.
const ATTEMPTS: u32 = 6;

/// What `stowage upload` was asked for.
pub struct UploadOptions {
    pub name: Option<String>,
    pub mime_type: Option<String>,
    pub tags: Vec<String>,
    pub purpose: Option<String>,
    pub collection: Option<String>,
    pub directory: Option<String>,
    pub temp: bool,
    pub ttl: Option<u64>,
    pub parallel: usize,
    pub part_size: Option<u64>,
    /// Bytes per second, all parts together.
    pub limit_rate: Option<u64>,
}

/// Creates the record and uploads `path`; returns the final record.
pub async fn upload(api: &Api, path: &Path, options: &UploadOptions) -> Result<Value> {
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| Error(format!("{}: {e}", path.display())))?
        .len();
    let name = match &options.name {
        Some(name) => name.clone(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error(format!("{}: give the file a --name", path.display())))?
            .to_owned(),
    };
    let mime_type = options.mime_type.clone().unwrap_or_else(|| {
        mime_guess::from_path(path)
            .first_or_octet_stream()
            .essence_str()
            .to_owned()
    });
    let part_size = options.part_size.unwrap_or(DEFAULT_PART_SIZE);
    let multipart = size > part_size;
    let mut body = json!({"name": name, "mimeType": mime_type, "size": size, "tags": options.tags});
    if let Some(purpose) = &options.purpose {
        body["purpose"] = json!(purpose);
    }
    if let Some(collection) = &options.collection {
        body["collection"] = json!(collection);
    }
    if let Some(directory) = &options.directory {
        body["directory"] = json!(directory);
    }
    if options.temp {
        body["kind"] = json!("temp");
        if let Some(ttl) = options.ttl {
            body["ttlSeconds"] = json!(ttl);
        }
    }
    if multipart {
        body["multipart"] = json!(true);
        body["partSize"] = json!(part_size);
    }
    let created = api.create(body).await?;
    let id = created["file"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    eprintln!("stowage: created file {id}");
    let upload = &created["upload"];
    let progress = Progress::new("upload", size);
    if upload.get("method").is_some() {
        single_put(api, path, upload, &progress).await?;
        progress.finish();
        return wait_uploaded(api, &id).await;
    }
    let plan = Plan::from_upload(upload, size)?;
    let urls: HashMap<u32, String> = upload["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                u32::try_from(p["partNumber"].as_u64()?).ok()?,
                p["url"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let todo: Vec<u32> = (1..=plan.part_count).collect();
    send_parts(api, &id, path, &plan, urls, todo, options, &progress).await?;
    progress.finish();
    api.complete(&id).await
}

/// Finishes an interrupted multipart upload of `path` to file `id`: only the parts the server
/// does not hold yet are sent.
pub async fn resume(api: &Api, id: &str, path: &Path, options: &UploadOptions) -> Result<Value> {
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| Error(format!("{}: {e}", path.display())))?
        .len();
    let record = api.get(id).await?;
    if record["expectedSize"].as_u64() != Some(size) {
        return Err(Error(format!(
            "{} is {size} bytes but file {id} expects {}",
            path.display(),
            record["expectedSize"]
        )));
    }
    let held = api.uploaded_parts(id).await?;
    // The plan: part 1's size is the part size (or the whole file, if it is one part).
    let first = api.sign_parts(id, &[1]).await?;
    let part_size = first["parts"][0]["size"]
        .as_u64()
        .filter(|n| *n > 0)
        .unwrap_or(size.max(1));
    let plan = Plan {
        part_size,
        part_count: u32::try_from(size.div_ceil(part_size).max(1)).unwrap_or(u32::MAX),
        size,
    };
    let done: BTreeSet<u32> = held["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let number = u32::try_from(p["partNumber"].as_u64()?).ok()?;
            (p["size"].as_u64()? == plan.len(number)).then_some(number)
        })
        .collect();
    eprintln!(
        "stowage: resuming file {id}: {} of {} parts already uploaded",
        done.len(),
        plan.part_count
    );
    let progress = Progress::new("upload", size);
    progress.add(done.iter().map(|n| plan.len(*n)).sum());
    let todo: Vec<u32> = (1..=plan.part_count)
        .filter(|n| !done.contains(n))
        .collect();
    send_parts(
        api,
        id,
        path,
        &plan,
        HashMap::new(),
        todo,
        options,
        &progress,
    )
    .await?;
    progress.finish();
    api.complete(id).await
}

struct Plan {
    part_size: u64,
    part_count: u32,
    size: u64,
}

impl Plan {
    fn from_upload(upload: &Value, size: u64) -> Result<Self> {
        let part_size = upload["partSize"]
            .as_u64()
            .ok_or_else(|| Error("no partSize in the upload plan".into()))?;
        let part_count = upload["partCount"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Error("no partCount in the upload plan".into()))?;
        Ok(Plan {
            part_size,
            part_count,
            size,
        })
    }

    fn offset(&self, number: u32) -> u64 {
        u64::from(number - 1) * self.part_size
    }

    fn len(&self, number: u32) -> u64 {
        if number < self.part_count {
            self.part_size
        } else {
            self.size - self.offset(number)
        }
    }
}

/// Keeps the total upload rate under a limit.
struct RateLimit {
    bytes_per_second: u64,
    started: Instant,
    sent: AtomicU64,
}

impl RateLimit {
    async fn before_sending(&self, bytes: u64) {
        let sent = self.sent.fetch_add(bytes, Ordering::SeqCst) + bytes;
        let due = Duration::from_secs_f64(sent as f64 / self.bytes_per_second as f64);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    api: &Api,
    id: &str,
    path: &Path,
    plan: &Plan,
    urls: HashMap<u32, String>,
    todo: Vec<u32>,
    options: &UploadOptions,
    progress: &Progress,
) -> Result<()> {
    let urls = Arc::new(Mutex::new(urls));
    let limit = options.limit_rate.map(|bytes_per_second| RateLimit {
        bytes_per_second: bytes_per_second.max(1),
        started: Instant::now(),
        sent: AtomicU64::new(0),
    });
    let limit = &limit;
    stream::iter(todo)
        .map(|number| {
            let urls = urls.clone();
            async move {
                let mut last_error = String::new();
                for attempt in 0..ATTEMPTS {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                    let url = part_url(api, id, plan, &urls, number).await?;
                    // Read the part only now: at most `parallel` parts are in memory.
                    let bytes = read_part(path, plan, number).await?;
                    if let Some(limit) = limit {
                        limit.before_sending(bytes.len() as u64).await;
                    }
                    match api.http.put(&url).body(bytes).send().await {
                        Ok(response) if response.status().is_success() => {
                            progress.add(plan.len(number));
                            return Ok(());
                        }
                        Ok(response) if response.status() == reqwest::StatusCode::FORBIDDEN => {
                            // Expired (or the signing credentials went away): re-sign.
                            urls.lock().await.remove(&number);
                            last_error = format!("part {number}: 403");
                        }
                        Ok(response) => {
                            last_error = format!("part {number}: HTTP {}", response.status())
                        }
                        Err(err) => last_error = format!("part {number}: {err}"),
                    }
                }
                Err(Error(format!(
                    "giving up after {ATTEMPTS} attempts: {last_error}"
                )))
            }
        })
        .buffer_unordered(options.parallel.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// The URL for part `number`, signing it (and the next ones) when it is missing.
async fn part_url(
    api: &Api,
    id: &str,
    plan: &Plan,
    urls: &Mutex<HashMap<u32, String>>,
    number: u32,
) -> Result<String> {
    let mut urls = urls.lock().await;
    if let Some(url) = urls.get(&number) {
        return Ok(url.clone());
    }
    let batch: Vec<u32> = (number..=plan.part_count.min(number.saturating_add(99)))
        .filter(|n| !urls.contains_key(n))
        .collect();
    let signed = api.sign_parts(id, &batch).await?;
    for part in signed["parts"].as_array().into_iter().flatten() {
        if let (Some(n), Some(url)) = (part["partNumber"].as_u64(), part["url"].as_str()) {
            urls.insert(u32::try_from(n).unwrap_or(0), url.to_owned());
        }
    }
    urls.get(&number)
        .cloned()
        .ok_or_else(|| Error(format!("the server signed no URL for part {number}")))
}

async fn read_part(path: &Path, plan: &Plan, number: u32) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error(format!("{}: {e}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    file.seek(SeekFrom::Start(plan.offset(number)))
        .await
        .map_err(io)?;
    let mut bytes = vec![0u8; usize::try_from(plan.len(number)).unwrap_or(usize::MAX)];
    file.read_exact(&mut bytes).await.map_err(io)?;
    Ok(bytes)
}

async fn single_put(api: &Api, path: &Path, upload: &Value, progress: &Progress) -> Result<()> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    let url = upload["url"].as_str().unwrap_or_default();
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        let mut request = api.http.put(url).body(bytes.clone());
        for (name, value) in upload["headers"].as_object().into_iter().flatten() {
            request = request.header(name, value.as_str().unwrap_or_default());
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                progress.add(bytes.len() as u64);
                return Ok(());
            }
            Ok(response) => last_error = format!("HTTP {}", response.status()),
            Err(err) => last_error = err.to_string(),
        }
    }
    Err(Error(format!(
        "upload failed after {ATTEMPTS} attempts: {last_error}"
    )))
}

/// The record once the server has seen the bytes (reading it completes it if the storage event
/// has not arrived yet).
async fn wait_uploaded(api: &Api, id: &str) -> Result<Value> {
    for _ in 0..100 {
        let record = api.get(id).await?;
        if record["status"] != "pending" {
            return Ok(record);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error(format!("file {id} is still pending")))
}
