//! `stowage smoke` (SPEC 21): the life of one small image against any deployment, each step
//! timed — the upload limits, create, upload to the presigned URL, wait for `uploaded`, read,
//! list with a filter, download and compare, its thumbnail (unless told the deployment makes
//! none), delete and check it is gone. It stops at the
//! first step that fails, names it, and deletes what it made, so a deployment is left as it
//! was.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::{Api, Error, Result};

/// How long `uploaded` may take to show (the S3 event, or the read's own repair).
const UPLOAD_DEADLINE: Duration = Duration::from_secs(60);

/// How long a thumbnail may take to be made.
const THUMBNAIL_DEADLINE: Duration = Duration::from_secs(60);

/// The steps, in order.
pub const STEPS: [&str; 9] = [
    "limits",
    "create",
    "upload",
    "uploaded",
    "read",
    "list",
    "download",
    "thumbnail",
    "delete",
];

/// Runs the steps, printing each with its time through `report` (`thumbnails: false`: the
/// thumbnail step is reported as skipped); answers the failed step and why.
pub async fn run(
    api: &Api,
    thumbnails: bool,
    mut report: impl FnMut(&str),
) -> std::result::Result<(), (String, Error)> {
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
    let report_skip = |name: &'static str| {
        (report.borrow_mut())(&format!(
            "skip {name:<9} (--no-thumbnail: the deployment makes none)"
        ))
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
        let url = api.download_url(&id).await.map_err(fail("download"))?;
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
            report_skip("thumbnail");
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
    outcome
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
