//! `stowage smoke`: the life of one small image against any deployment, each step
//! timed — the upload limits, create, upload to the presigned URL, wait for `uploaded`, read,
//! list with a filter, download and compare, its thumbnail (unless told the deployment makes
//! none), delete and check it is gone, and, given an address to receive the deployment's
//! webhook on ([`Receiver`]), the file's events. It stops at the first step that fails, names
//! it, and deletes what it made, so a deployment is left as it was.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::{Api, Error, Result};

/// How long `uploaded` may take to show (the S3 event, or the read's own repair).
const UPLOAD_DEADLINE: Duration = Duration::from_secs(60);

/// How long a thumbnail may take to be made.
const THUMBNAIL_DEADLINE: Duration = Duration::from_secs(60);

/// The steps, in order.
pub const STEPS: [&str; 10] = [
    "limits",
    "create",
    "upload",
    "uploaded",
    "read",
    "list",
    "download",
    "thumbnail",
    "delete",
    "events",
];

/// The events one smoke run's file must cause, in this order of its versions.
const EXPECTED_EVENTS: [&str; 3] = [
    "stowage.file.created",
    "stowage.file.uploaded",
    "stowage.file.deleted",
];

/// A webhook receiver of the smoke run's own: it answers every `POST` with `200` and keeps
/// the events (JSON bodies) whose secret header is right.
pub struct Receiver {
    /// How long the file's events may take to arrive after its delete.
    deadline: Duration,
    received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    /// Requests refused for a missing or wrong secret.
    refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on `addr`; with `secret`, only requests carrying it count; the events must
    /// arrive within `deadline` of the delete.
    pub async fn listen(
        addr: std::net::SocketAddr,
        secret: Option<String>,
        deadline: Duration,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (kept, turned_away) = (received.clone(), refused.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, turned_away, secret) =
                    (kept.clone(), turned_away.clone(), secret.clone());
                tokio::spawn(async move {
                    match receive(stream, secret.as_deref()).await {
                        Ok(Some(event)) => kept.lock().unwrap().push(event),
                        Ok(None) => {
                            turned_away.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(_) => {}
                    }
                });
            }
        });
        Ok(Receiver {
            deadline,
            received,
            refused,
            task,
        })
    }

    /// The types of the events received for file `id`, in the order of its versions.
    fn types_of(&self, id: &str) -> Vec<String> {
        let mut events: Vec<(u64, String)> = self
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["detail"]["file"]["id"] == id)
            .map(|e| {
                (
                    e["detail"]["file"]["version"].as_u64().unwrap_or_default(),
                    e["detail-type"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        events.sort();
        events.dedup();
        events.into_iter().map(|(_, kind)| kind).collect()
    }
}

/// Reads one HTTP/1.1 request; answers `200` (the event, if the secret is right) or `401`.
async fn receive(
    mut stream: tokio::net::TcpStream,
    secret: Option<&str>,
) -> std::io::Result<Option<Value>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > 64 * 1024 {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let allowed = secret.is_none_or(|s| header("x-stowage-webhook-secret").as_deref() == Some(s));
    let status = if allowed {
        "200 OK"
    } else {
        "401 Unauthorized"
    };
    stream
        .write_all(
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let body = &buffer[head_end..buffer.len().min(head_end + length)];
    Ok(allowed.then(|| serde_json::from_slice(body).ok()).flatten())
}

/// Waits for `id`'s created, uploaded and deleted events.
async fn events(receiver: &Receiver, id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let types = receiver.types_of(id);
        let seen: Vec<&str> = EXPECTED_EVENTS
            .iter()
            .copied()
            .filter(|t| types.iter().any(|kind| kind == t))
            .collect();
        if seen.len() == EXPECTED_EVENTS.len() {
            let order: Vec<&str> = types
                .iter()
                .map(String::as_str)
                .filter(|t| EXPECTED_EVENTS.contains(t))
                .collect();
            if order != EXPECTED_EVENTS {
                return Err(Error(format!("the events arrived as {order:?}")));
            }
            return Ok(());
        }
        if started.elapsed() > receiver.deadline {
            let refused = receiver.refused.load(std::sync::atomic::Ordering::SeqCst);
            return Err(Error(format!(
                "after {:.0?}, of {EXPECTED_EVENTS:?} only {seen:?} arrived for file {id} ({refused} requests refused for their secret)",
                started.elapsed()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the steps, printing each with its time through `report` (`thumbnails: false`: the
/// thumbnail step is reported as skipped; no `receiver`: the events step); answers how many
/// steps were skipped, or the failed step and why.
pub async fn run(
    api: &Api,
    thumbnails: bool,
    receiver: Option<&Receiver>,
    mut report: impl FnMut(&str),
) -> std::result::Result<usize, (String, Error)> {
    let tag = format!("stowage-smoke-{}", std::process::id());
    let body: Vec<u8> = png(16, 12);
    let mut made: Option<String> = None;
    let report = std::cell::RefCell::new(&mut report);
    let step_of = |name: &'static str, started: Instant| {
        (report.borrow_mut())(&format!(
            "ok   {name:<9} {:>7.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ))
    };
    let skipped = std::cell::Cell::new(0);
    let report_skip = |name: &'static str, why: &str| {
        skipped.set(skipped.get() + 1);
        (report.borrow_mut())(&format!("skip {name:<9} ({why})"))
    };
    let outcome: std::result::Result<(), (String, Error)> = async {
        let fail = |step: &str| {
            let step = step.to_owned();
            move |err: Error| (step, err)
        };

        let started = Instant::now();
        let limits = api.limits().await.map_err(fail("limits"))?;
        if limits.as_object().is_none_or(|l| l.is_empty()) {
            return Err((
                "limits".into(),
                Error(format!("unexpected limits: {limits}")),
            ));
        }
        step_of("limits", started);

        let started = Instant::now();
        let created = api
            .create(json!({
                "name": format!("{tag}.png"),
                "mimeType": "image/png",
                "size": body.len(),
                "tags": [tag],
            }))
            .await
            .map_err(fail("create"))?;
        let id = created["file"]["id"]
            .as_str()
            .ok_or_else(|| {
                (
                    "create".to_owned(),
                    Error(format!("no file id in {created}")),
                )
            })?
            .to_owned();
        made = Some(id.clone());
        step_of("create", started);

        let started = Instant::now();
        put(api, &created["upload"], &body)
            .await
            .map_err(fail("upload"))?;
        step_of("upload", started);

        let started = Instant::now();
        let record = loop {
            let record = api.get(&id).await.map_err(fail("uploaded"))?;
            match record["status"].as_str() {
                Some("uploaded") => break record,
                Some("pending") if started.elapsed() < UPLOAD_DEADLINE => {
                    tokio::time::sleep(Duration::from_millis(250)).await
                }
                other => {
                    return Err((
                        "uploaded".into(),
                        Error(format!(
                            "the file is {other:?}, not uploaded, after {:.0?}",
                            started.elapsed()
                        )),
                    ))
                }
            }
        };
        step_of("uploaded", started);

        let started = Instant::now();
        if record["size"].as_u64() != Some(body.len() as u64) {
            return Err((
                "read".into(),
                Error(format!("size {} instead of {}", record["size"], body.len())),
            ));
        }
        let again = api.get(&id).await.map_err(fail("read"))?;
        if again["id"] != record["id"] || again["name"] != json!(format!("{tag}.png")) {
            return Err((
                "read".into(),
                Error(format!("the record read back differs: {again}")),
            ));
        }
        step_of("read", started);

        let started = Instant::now();
        let page = api
            .list(&format!("tag={tag}"))
            .await
            .map_err(fail("list"))?;
        let ids: Vec<&str> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str())
            .collect();
        if ids != [id.as_str()] {
            return Err((
                "list".into(),
                Error(format!("listing by tag={tag} gave {ids:?}, not [{id}]")),
            ));
        }
        step_of("list", started);

        let started = Instant::now();
        let url = api
            .download_url(&id, None)
            .await
            .map_err(fail("download"))?;
        let response = api
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ("download".to_owned(), Error::from(e)))?;
        let status = response.status();
        let downloaded = response
            .bytes()
            .await
            .map_err(|e| ("download".to_owned(), Error::from(e)))?;
        if !status.is_success() || downloaded.as_ref() != body.as_slice() {
            return Err((
                "download".into(),
                Error(format!(
                    "HTTP {status}: {} bytes that differ from the {} uploaded",
                    downloaded.len(),
                    body.len()
                )),
            ));
        }
        step_of("download", started);

        let started = Instant::now();
        if thumbnails {
            thumbnail(api, &id).await.map_err(fail("thumbnail"))?;
            step_of("thumbnail", started);
        } else {
            report_skip("thumbnail", "--no-thumbnail: the deployment makes none");
        }

        let started = Instant::now();
        api.delete(&id).await.map_err(fail("delete"))?;
        made = None;
        match api.get(&id).await {
            Err(err) if err.0.contains("404") => {}
            Ok(record) => return Err(("delete".into(), Error(format!("still there: {record}")))),
            Err(err) => return Err(("delete".into(), err)),
        }
        step_of("delete", started);

        let started = Instant::now();
        match receiver {
            Some(receiver) => {
                events(receiver, &id).await.map_err(fail("events"))?;
                step_of("events", started);
            }
            None => report_skip("events", "no --events-listen: no webhook receiver"),
        }
        Ok(())
    }
    .await;
    if let Some(id) = made {
        // Leave nothing behind: the file of a run that failed part-way.
        match api.delete(&id).await {
            Ok(()) => (report.borrow_mut())(&format!("     cleaned up file {id}")),
            Err(err) => (report.borrow_mut())(&format!("     could not delete file {id}: {err}")),
        }
    }
    outcome.map(|()| skipped.get())
}

/// The single `PUT` the create's `upload` describes, with the headers it binds.
async fn put(api: &Api, upload: &Value, body: &[u8]) -> Result<()> {
    let url = upload["url"]
        .as_str()
        .ok_or_else(|| Error(format!("no upload URL in {upload}")))?;
    let mut request = api.http.put(url).body(body.to_vec());
    for (name, value) in upload["headers"].as_object().into_iter().flatten() {
        request = request.header(name, value.as_str().unwrap_or_default());
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(Error(format!(
            "PUT to the upload URL: HTTP {status} {}",
            &text[..text.len().min(300)]
        )));
    }
    Ok(())
}

/// Waits for the image's 64-pixel thumbnail (asking with `wait`, then as `Retry-After` says)
/// and reads it.
async fn thumbnail(api: &Api, id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        match api.thumbnail_url(id).await? {
            Some(url) => {
                let response = api.http.get(&url).send().await?;
                let status = response.status();
                let bytes = response.bytes().await?;
                if !status.is_success() || bytes.len() < 8 {
                    return Err(Error(format!(
                        "reading the thumbnail: HTTP {status}, {} bytes",
                        bytes.len()
                    )));
                }
                return Ok(());
            }
            None if started.elapsed() < THUMBNAIL_DEADLINE => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            None => {
                return Err(Error(format!(
                    "no thumbnail after {:.0?}",
                    started.elapsed()
                )))
            }
        }
    }
}

/// A `width` × `height` RGB PNG (a gradient), stored without compression: a real image for
/// the thumbnail maker, made without an image library.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            raw.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
        }
    }
    // zlib: a header, one stored deflate block, Adler-32.
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = raw.len() as u16;
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], header),
        (&b"IDAT"[..], zlib),
        (&b"IEND"[..], Vec::new()),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_png_is_well_formed() {
        // The CRC of "IEND" alone is fixed by the PNG specification.
        assert_eq!(super::crc32(b"IEND"), 0xAE42_6082);
        let png = super::png(16, 12);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
    }
}
