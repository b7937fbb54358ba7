//! `stowage download`: a file (or one of its versions) streamed to disk, never whole in memory.

use std::path::PathBuf;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::api::{Api, Error, Result};
use crate::progress::Progress;
use crate::{out, print_record};

/// How much a download gathers before each write to disk.
const DOWNLOAD_WRITE_BYTES: usize = 4 << 20;

/// Streams the file (or its version `version`) to disk and checks its size.
pub(crate) async fn download(
    api: &Api,
    id: &str,
    version: Option<u32>,
    output: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let record = api.get(id).await?;
    let size = match version {
        None => record["size"].as_u64().ok_or_else(|| {
            Error(format!(
                "file {id} has no content yet ({})",
                record["status"]
            ))
        })?,
        Some(v) => {
            let versions = api.versions(id).await?;
            versions["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|item| item["version"].as_u64() == Some(u64::from(v)))
                .and_then(|item| item["size"].as_u64())
                .ok_or_else(|| Error(format!("file {id} has no version {v}")))?
        }
    };
    let path = output.unwrap_or_else(|| PathBuf::from(record["name"].as_str().unwrap_or(id)));
    let url = api.download_url(id, version).await?;
    let response = api.http.get(&url).send().await?;
    if !response.status().is_success() {
        return Err(Error(format!(
            "download of {id}: HTTP {}",
            response.status()
        )));
    }
    let io = |e: std::io::Error| Error(format!("{}: {e}", path.display()));
    // Network chunks are a few KiB; each write to a tokio file is a trip to a blocking thread,
    // so they are gathered into 4 MiB writes (with the endpoint's 1 MiB reads, 109 → ~800 MiB/s
    // from stowage-local; docs/src/measurements/README.md).
    let mut file = tokio::io::BufWriter::with_capacity(
        DOWNLOAD_WRITE_BYTES,
        tokio::fs::File::create(&path).await.map_err(io)?,
    );
    let progress = Progress::new("download", size);
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        file.write_all(&chunk).await.map_err(io)?;
        written += chunk.len() as u64;
        progress.add(chunk.len() as u64);
    }
    file.flush().await.map_err(io)?;
    progress.finish();
    if written != size {
        drop(file);
        let _ = tokio::fs::remove_file(&path).await;
        return Err(Error(format!(
            "download of {id} got {written} bytes, expected {size}; removed {}",
            path.display()
        )));
    }
    if json {
        print_record(&record, true);
    } else {
        out!("{} ({written} bytes)", path.display());
    }
    Ok(())
}
