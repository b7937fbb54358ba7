//! Object I/O the embedded endpoint does itself instead of through `s3s-fs`, for speed:
//!
//! - **completing a multipart upload**: `s3s-fs` re-reads every part to hash it and copies the
//!   parts through a 64 KiB buffer into the object (1 GiB took ~5 s). Here each part's ETag is
//!   recorded when the part arrives (`record_part_etag`), so completion reads no part: it checks
//!   the list against the recorded ETags and sizes, then has the kernel join the part files
//!   (`copy_file_range(2)` through `std::io::copy`, which reflinks where the filesystem can and
//!   otherwise copies inside the kernel), and renames the result into place;
//! - **streaming an object**: `s3s-fs` sends a `GetObject` body in 4 KiB reads; `FileBody`
//!   reads 1 MiB at a time on a blocking thread, two chunks ahead of the connection.
//!
//! Both keep `s3s-fs`'s on-disk layout (version pinned in `Cargo.lock`), which it otherwise
//! owns: part files `<root>/.upload_id-<upload>.part-<n>`; an upload's object attributes
//! `<root>/.bucket-<b64 bucket>.object-<b64 key>.upload-<upload>.metadata.json`, an object's
//! the same without `.upload-<upload>`; an object's internal info (its ETag)
//! `<root>/.bucket-<b64>.object-<b64>.internal.json`; an upload's owner
//! `<root>/.upload-<upload>.json`; temporary files `<root>/.tmp.*.internal.part`, which
//! `s3s-fs` removes when it starts. The behaviour suite's multipart and download tests on the
//! embedded backend, and `tests/api/multipart.rs`' endpoint test, hold the two to it.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use md5::Digest as _;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::StdError;

/// Where the endpoint records the ETag of each part it receives.
pub const PART_ETAGS_DIR: &str = ".stowage-uploads";

/// S3's smallest part, except the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// Why a completion was refused: S3's error for each.
#[derive(Debug)]
pub enum Refusal {
    /// No such part was uploaded, or its ETag is not the one given (`InvalidPart`).
    InvalidPart(i32),
    /// A part other than the last is under 5 MiB (`EntityTooSmall`).
    TooSmall(i32),
    /// Reading or writing the files failed (`InternalError`); the parts are kept.
    Io(std::io::Error),
}

impl From<std::io::Error> for Refusal {
    fn from(err: std::io::Error) -> Self {
        Refusal::Io(err)
    }
}

impl From<Refusal> for s3s::S3Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidPart(number) => s3s::s3_error!(
                InvalidPart,
                "Part {number} could not be found, or its entity tag is not the one given."
            ),
            Refusal::TooSmall(number) => s3s::s3_error!(
                EntityTooSmall,
                "Part {number} is smaller than the minimum allowed size (5 MiB) and is not the last part."
            ),
            Refusal::Io(err) => s3s::s3_error!(InternalError, "completing the upload: {err}"),
        }
    }
}

/// `s3s-fs`'s files under one root.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn b64(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            root: root.to_owned(),
        }
    }

    /// The object's file, when `key` is a plain relative path (no `..`, `.` or root), which
    /// every key Stowage makes is; others are left to `s3s-fs`.
    pub fn object(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let plain = |text: &str| {
            !text.is_empty()
                && Path::new(text)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
        };
        (plain(bucket) && plain(key)).then(|| self.root.join(bucket).join(key))
    }

    pub fn part(&self, upload: &str, number: i32) -> PathBuf {
        self.root.join(format!(".upload_id-{upload}.part-{number}"))
    }

    fn part_etag(&self, upload: &str, number: i32) -> PathBuf {
        self.root
            .join(PART_ETAGS_DIR)
            .join(format!("{upload}.part-{number}.etag"))
    }

    fn attributes(&self, bucket: &str, key: &str, upload: Option<&str>) -> PathBuf {
        let upload = upload.map(|u| format!(".upload-{u}")).unwrap_or_default();
        self.root.join(format!(
            ".bucket-{}.object-{}{upload}.metadata.json",
            b64(bucket),
            b64(key)
        ))
    }

    fn internal_info(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(format!(
            ".bucket-{}.object-{}.internal.json",
            b64(bucket),
            b64(key)
        ))
    }

    fn upload_info(&self, upload: &str) -> PathBuf {
        self.root.join(format!(".upload-{upload}.json"))
    }

    fn tmp(&self, upload: &str) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(format!(".tmp.stowage-{upload}-{n}.internal.part"))
    }

    /// Records the ETag `s3s-fs` answered for a part it stored (its MD5, hex).
    pub async fn record_part_etag(
        &self,
        upload: &str,
        number: i32,
        etag: &str,
    ) -> std::io::Result<()> {
        let tmp = self.tmp(upload);
        tokio::fs::write(&tmp, etag).await?;
        tokio::fs::rename(&tmp, self.part_etag(upload, number)).await
    }

    /// A part's ETag: the recorded one, or (a part stored before ETags were recorded) its MD5.
    pub fn part_etag_of(&self, upload: &str, number: i32) -> std::io::Result<String> {
        match std::fs::read_to_string(self.part_etag(upload, number)) {
            Ok(etag) => Ok(etag),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut file = std::fs::File::open(self.part(upload, number))?;
                let mut hash = md5::Md5::new();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hash.update(&buf[..n]);
                }
                Ok(hex(&hash.finalize()))
            }
            Err(err) => Err(err),
        }
    }

    /// Forgets the recorded ETags of `upload`'s parts.
    pub async fn forget_part_etags(&self, upload: &str) {
        let prefix = format!("{upload}.part-");
        let Ok(mut dir) = tokio::fs::read_dir(self.root.join(PART_ETAGS_DIR)).await else {
            return;
        };
        while let Ok(Some(entry)) = dir.next_entry().await {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }

    /// Completes `upload` of `bucket`/`key` from `parts` (part numbers ascending, with the
    /// ETags the client was given): checks each part, joins them into the object and moves the
    /// upload's attributes onto it; returns the object's ETag (S3's: the MD5 of the parts'
    /// MD5s, `-<count>`). The part files go only once the object is in place, so a refused or
    /// failed completion can be retried.
    pub fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload: &str,
        parts: &[(i32, Option<String>)],
    ) -> Result<String, Refusal> {
        let object = self
            .object(bucket, key)
            .ok_or_else(|| Refusal::Io(std::io::Error::other("not a plain key")))?;
        let mut digests = Vec::with_capacity(parts.len() * 16);
        for (index, (number, given)) in parts.iter().enumerate() {
            let number = *number;
            let size = match std::fs::metadata(self.part(upload, number)) {
                Ok(meta) => meta.len(),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Refusal::InvalidPart(number))
                }
                Err(err) => return Err(err.into()),
            };
            let recorded = self.part_etag_of(upload, number)?;
            let given = given.as_deref().map(|e| e.trim_matches('"'));
            if given != Some(recorded.trim()) {
                return Err(Refusal::InvalidPart(number));
            }
            if index + 1 < parts.len() && size < MIN_PART_BYTES {
                return Err(Refusal::TooSmall(number));
            }
            digests.extend(unhex(recorded.trim()).ok_or(Refusal::InvalidPart(number))?);
        }
        let etag = format!("{}-{}", hex(&md5::Md5::digest(&digests)), parts.len());

        // Join the parts beside the object, then move the whole into place.
        let tmp = self.tmp(upload);
        let joined = (|| -> std::io::Result<()> {
            let mut out = std::fs::File::create(&tmp)?;
            for (number, _) in parts {
                let mut part = std::fs::File::open(self.part(upload, *number))?;
                // File to file: copy_file_range(2), no bytes through this process.
                std::io::copy(&mut part, &mut out)?;
            }
            if let Some(dir) = object.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&tmp, &object)
        })();
        if let Err(err) = joined {
            let _ = std::fs::remove_file(&tmp);
            return Err(err.into());
        }

        // The upload's attributes (content type, metadata) become the object's.
        let attributes = self.attributes(bucket, key, None);
        match std::fs::rename(self.attributes(bucket, key, Some(upload)), &attributes) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&attributes);
            }
            Err(err) => return Err(err.into()),
        }
        // A fresh internal info: the new ETag, and none of the replaced object's checksums.
        let info = self.tmp(upload);
        let mut file = std::fs::File::create(&info)?;
        file.write_all(serde_json::json!({ "e_tag": etag }).to_string().as_bytes())?;
        drop(file);
        std::fs::rename(&info, self.internal_info(bucket, key))?;

        // S3 discards the parts a completion leaves out too.
        let prefix = format!(".upload_id-{upload}.part-");
        for entry in std::fs::read_dir(&self.root)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let _ = std::fs::remove_file(self.upload_info(upload));
        Ok(etag)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// How much `FileBody` reads at a time, and how many chunks it reads ahead.
const CHUNK_BYTES: usize = 1 << 20;
const CHUNKS_AHEAD: usize = 2;

/// A response body of `len` bytes of a file from `start`, read on a blocking thread in 1 MiB
/// chunks. A file that turns out shorter ends the body with an error (the connection is cut, as
/// for any body that fails), never with short content under a longer `Content-Length`.
pub struct FileBody {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: usize,
}

impl FileBody {
    pub fn new(path: PathBuf, start: u64, len: usize) -> Self {
        let (tx, chunks) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        tokio::task::spawn_blocking(move || {
            let read = || -> std::io::Result<std::fs::File> {
                let mut file = std::fs::File::open(&path)?;
                file.seek(SeekFrom::Start(start))?;
                Ok(file)
            };
            let mut file = match read() {
                Ok(file) => file,
                Err(err) => {
                    let _ = tx.blocking_send(Err(err));
                    return;
                }
            };
            let mut left = len;
            while left > 0 {
                let mut chunk = vec![0u8; left.min(CHUNK_BYTES)];
                let result = file.read_exact(&mut chunk).map(|()| Bytes::from(chunk));
                let failed = result.is_err();
                left -= result.as_ref().map_or(0, Bytes::len);
                // The receiver is gone when the client is: stop reading.
                if tx.blocking_send(result).is_err() || failed {
                    return;
                }
            }
        });
        FileBody {
            chunks,
            remaining: len,
        }
    }
}

impl futures_core::Stream for FileBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len());
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Box::new(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ByteStream for FileBody {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001abff").unwrap(), bytes);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }

    #[test]
    fn only_plain_keys_are_handled_here() {
        let layout = Layout::new(Path::new("/data"));
        assert_eq!(
            layout.object("b", "files/t/1"),
            Some(PathBuf::from("/data/b/files/t/1"))
        );
        for key in ["../x", "a/../../x", "/etc/passwd", "./a", ""] {
            assert_eq!(layout.object("b", key), None, "{key}");
        }
    }
}
