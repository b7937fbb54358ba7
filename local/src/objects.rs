//! The embedded endpoint's objects on disk: a layout Stowage defines, versioned by a `FORMAT`
//! file, so no other crate's private file names are read or written here.
//!
//! Under the data directory's `objects/`:
//!
//! ```text
//! FORMAT                                   "stowage-local objects 1"
//! <bucket>/<key>                           an object's bytes (a key is a relative path)
//! .stowage/meta/<bucket>/<key>.json        its attributes: ETag, content headers, user
//!                                          metadata, checksums (`Attributes`)
//! .stowage/uploads/<upload>/upload.json    an open multipart upload: bucket, key, attributes
//! .stowage/uploads/<upload>/<n>            the bytes of its part n
//! .stowage/uploads/<upload>/<n>.etag       that part's ETag (its MD5, hex)
//! .stowage/tmp/                            files being written; emptied at start
//! ```
//!
//! Every file is written beside its place under `.stowage/tmp/` and renamed into it, so a
//! reader never sees half an object and a crash leaves only temporaries. Keys are stored as
//! paths: a key with an empty, `.` or `..` segment, a leading or trailing `/`, or a NUL is
//! refused, and so is a key that is a file where another key needs a directory (`a` and `a/b`);
//! Stowage makes no such keys. A data directory without `FORMAT` holds `s3s-fs` 0.14's layout
//! (what `stowage-local` wrote before) and is migrated once (`crate::migrate`); an unknown
//! `FORMAT` is refused with a message naming it.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use md5::Digest as _;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::StdError;
use serde::{Deserialize, Serialize};

/// The file naming the layout's version.
pub const FORMAT_FILE: &str = "FORMAT";
/// This layout's version, as `FORMAT` holds it.
pub const FORMAT: &str = "stowage-local objects 1";
/// Stowage's own files, beside the buckets (a bucket name cannot start with `.`).
const STATE_DIR: &str = ".stowage";

/// S3's smallest part, except the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's longest key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// An object's attributes, kept beside its bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// The object's ETag without quotes (its MD5, or S3's `<md5 of the parts' MD5s>-<count>`).
    #[serde(default)]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `x-amz-meta-*`, without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The checksums the upload declared (and the endpoint verified), base64, by algorithm
    /// (`crc32`, `crc32c`, `sha1`, `sha256`, `crc64nvme`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

/// An open multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    /// What the object gets on completion (its ETag is set then).
    pub attributes: Attributes,
    /// When it was created, in milliseconds since the epoch.
    pub initiated: i64,
}

/// Why a key or bucket cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum BadName {
    #[error("stowage-local stores keys as relative paths: {0:?} has an empty, `.` or `..` segment, a leading or trailing `/`, or a NUL")]
    Key(String),
    #[error("the key is longer than {MAX_KEY_BYTES} bytes")]
    KeyTooLong,
    #[error("{0:?} is not a bucket name")]
    Bucket(String),
}

/// Why a completion was refused: S3's error for each.
#[derive(Debug)]
pub enum Refusal {
    /// No such part was uploaded, or its ETag is not the one given (`InvalidPart`).
    InvalidPart(i32),
    /// A part other than the last is under 5 MiB (`EntityTooSmall`).
    TooSmall(i32),
    /// `If-None-Match: *` and the key already holds an object (`PreconditionFailed`); the parts
    /// are kept.
    Exists,
    /// Reading or writing the files failed (`InternalError`); the parts are kept.
    Io(std::io::Error),
}

/// How an object is put in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placing {
    /// Replacing whatever the key holds.
    Replace,
    /// Only where the key holds nothing (`If-None-Match: *`): atomically, so of two such
    /// writes at once exactly one lands.
    New,
}

impl From<std::io::Error> for Refusal {
    fn from(err: std::io::Error) -> Self {
        Refusal::Io(err)
    }
}

/// The layout under one root.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    tmp_counter: AtomicU64,
}

/// Checks that `bucket` can name a directory of the layout.
pub fn check_bucket(bucket: &str) -> Result<(), BadName> {
    let ok = !bucket.is_empty()
        && !bucket.starts_with('.')
        && !bucket.contains(['/', '\\', '\0'])
        && bucket != "..";
    ok.then_some(())
        .ok_or_else(|| BadName::Bucket(bucket.to_owned()))
}

/// Checks that `key` is a relative path of plain segments.
pub fn check_key(key: &str) -> Result<(), BadName> {
    if key.len() > MAX_KEY_BYTES {
        return Err(BadName::KeyTooLong);
    }
    let plain = !key.is_empty()
        && !key.contains('\0')
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    plain
        .then_some(())
        .ok_or_else(|| BadName::Key(key.to_owned()))
}

impl Layout {
    /// The layout at `root`, which must already hold it (see [`crate::migrate::open`]).
    pub fn at(root: &Path) -> Self {
        Layout {
            root: root.to_owned(),
            tmp_counter: AtomicU64::new(0),
        }
    }

    /// Creates the state directories and empties `tmp/`.
    pub fn prepare(&self) -> std::io::Result<()> {
        for dir in ["meta", "uploads"] {
            std::fs::create_dir_all(self.state().join(dir))?;
        }
        let tmp = self.state().join("tmp");
        match std::fs::remove_dir_all(&tmp) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        std::fs::create_dir_all(tmp)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn state(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// A bucket's directory.
    pub fn bucket(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    /// The buckets: every directory under the root but the state directory.
    pub fn buckets(&self) -> std::io::Result<Vec<(String, SystemTime)>> {
        let mut buckets = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() && check_bucket(&name).is_ok() {
                let created = entry.metadata()?.modified()?;
                buckets.push((name, created));
            }
        }
        buckets.sort();
        Ok(buckets)
    }

    /// An object's bytes (`bucket` and `key` checked by the caller).
    pub fn object(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    fn meta(&self, bucket: &str, key: &str) -> PathBuf {
        self.state()
            .join("meta")
            .join(bucket)
            .join(format!("{key}.json"))
    }

    /// An upload's directory; `None` for an id this endpoint cannot have made.
    pub fn upload_dir(&self, upload: &str) -> Option<PathBuf> {
        let uuid_like =
            upload.len() == 36 && upload.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        uuid_like.then(|| self.state().join("uploads").join(upload))
    }

    /// A new temporary file's path.
    pub fn tmp(&self) -> PathBuf {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        self.state().join("tmp").join(format!("{n}"))
    }

    /// Writes `bytes` to `path` through a temporary file.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.tmp();
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// An object's attributes; `None` when there is no such object.
    pub fn attributes(&self, bucket: &str, key: &str) -> std::io::Result<Option<Attributes>> {
        match std::fs::metadata(self.object(bucket, key)) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Ok(None),
            Err(err) if is_missing(&err) => return Ok(None),
            Err(err) => return Err(err),
        }
        match std::fs::read(self.meta(bucket, key)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            // Bytes without attributes (written by hand into the directory): their MD5.
            Err(err) if is_missing(&err) => Ok(Some(Attributes {
                etag: md5_of_file(&self.object(bucket, key))?,
                ..Attributes::default()
            })),
            Err(err) => Err(err),
        }
    }

    /// Moves the file at `tmp` into place as the object, with `attributes`; with
    /// [`Placing::New`], an existing object is an `AlreadyExists` error and stays.
    pub fn place(
        &self,
        tmp: &Path,
        bucket: &str,
        key: &str,
        attributes: &Attributes,
        placing: Placing,
    ) -> std::io::Result<()> {
        let object = self.object(bucket, key);
        let placed = (|| {
            if let Some(dir) = object.parent() {
                std::fs::create_dir_all(dir)?;
            }
            match placing {
                Placing::Replace => std::fs::rename(tmp, &object),
                // link(2) fails if the name exists: the check and the write are one step.
                Placing::New => {
                    std::fs::hard_link(tmp, &object)?;
                    std::fs::remove_file(tmp)
                }
            }
        })();
        if let Err(err) = placed {
            let _ = std::fs::remove_file(tmp);
            return Err(err);
        }
        self.set_attributes(bucket, key, attributes)
    }

    /// Writes an object's attributes.
    pub fn set_attributes(
        &self,
        bucket: &str,
        key: &str,
        attributes: &Attributes,
    ) -> std::io::Result<()> {
        let json = serde_json::to_vec(attributes).map_err(std::io::Error::other)?;
        self.write_atomically(&self.meta(bucket, key), &json)
    }

    /// Removes an object (nothing if there is none), and the directories it leaves empty.
    pub fn remove(&self, bucket: &str, key: &str) -> std::io::Result<()> {
        for (path, stop) in [
            (self.object(bucket, key), self.bucket(bucket)),
            (
                self.meta(bucket, key),
                self.state().join("meta").join(bucket),
            ),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if is_missing(&err) => {}
                Err(err) => return Err(err),
            }
            let mut dir = path.parent().map(Path::to_owned);
            while let Some(current) = dir {
                if current == stop || std::fs::remove_dir(&current).is_err() {
                    break;
                }
                dir = current.parent().map(Path::to_owned);
            }
        }
        Ok(())
    }

    /// Every key of `bucket` that starts with `prefix`, in S3's order (by bytes), with its
    /// size and modification time.
    pub fn keys(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> std::io::Result<Vec<(String, u64, SystemTime)>> {
        let base = self.bucket(bucket);
        // Walk only the directory the prefix is inside.
        let start = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut keys = Vec::new();
        let mut stack = vec![if start.is_empty() || check_key(start).is_err() {
            base.clone()
        } else {
            base.join(start)
        }];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if is_missing(&err) || err.kind() == std::io::ErrorKind::NotADirectory => {
                    continue
                }
                Err(err) => return Err(err),
            };
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    let path = entry.path();
                    let Ok(relative) = path.strip_prefix(&base) else {
                        continue;
                    };
                    let key = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) {
                        let meta = entry.metadata()?;
                        keys.push((key, meta.len(), meta.modified()?));
                    }
                }
            }
        }
        keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(keys)
    }

    // --- multipart uploads -----------------------------------------------------------------

    /// Records a new upload.
    pub fn open_upload(&self, id: &str, upload: &Upload) -> std::io::Result<()> {
        let dir = self
            .upload_dir(id)
            .ok_or_else(|| std::io::Error::other("not an upload id"))?;
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_vec(upload).map_err(std::io::Error::other)?;
        self.write_atomically(&dir.join("upload.json"), &json)
    }

    /// An open upload; `None` if there is none with that id.
    pub fn upload(&self, id: &str) -> std::io::Result<Option<Upload>> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(None);
        };
        match std::fs::read(dir.join("upload.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(err) if is_missing(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn part(&self, upload: &str, number: i32) -> Option<PathBuf> {
        self.upload_dir(upload)
            .map(|dir| dir.join(number.to_string()))
    }

    /// Moves the file at `tmp` into place as part `number` of `upload`, with its ETag.
    pub fn place_part(
        &self,
        tmp: &Path,
        upload: &str,
        number: i32,
        etag: &str,
    ) -> std::io::Result<()> {
        let part = self
            .part(upload, number)
            .ok_or_else(|| std::io::Error::other("not an upload id"))?;
        // The ETag goes first: a part whose bytes are in place always has its own.
        let etag_file = part.with_extension("etag");
        let _ = std::fs::remove_file(&part);
        self.write_atomically(&etag_file, etag.as_bytes())?;
        std::fs::rename(tmp, &part).inspect_err(|_| {
            let _ = std::fs::remove_file(tmp);
        })
    }

    /// The parts of `upload` (number, size, ETag, modified), by number.
    pub fn parts(&self, upload: &str) -> std::io::Result<Vec<(i32, u64, String, SystemTime)>> {
        let Some(dir) = self.upload_dir(upload) else {
            return Ok(Vec::new());
        };
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(number) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<i32>().ok())
            else {
                continue;
            };
            let meta = entry.metadata()?;
            let etag = std::fs::read_to_string(entry.path().with_extension("etag"))?;
            parts.push((number, meta.len(), etag.trim().to_owned(), meta.modified()?));
        }
        parts.sort_by_key(|p| p.0);
        Ok(parts)
    }

    /// Aborts every open upload initiated before `before` (milliseconds since the epoch), as
    /// S3's lifecycle rule for incomplete multipart uploads does; returns how many.
    pub fn abort_uploads_before(&self, before: i64) -> std::io::Result<usize> {
        let mut aborted = 0;
        for entry in std::fs::read_dir(self.state().join("uploads"))? {
            let id = entry?.file_name().to_string_lossy().into_owned();
            match self.upload(&id) {
                Ok(Some(upload)) if upload.initiated < before => {
                    self.close_upload(&id)?;
                    aborted += 1;
                }
                _ => {}
            }
        }
        Ok(aborted)
    }

    /// Forgets an upload and its parts.
    pub fn close_upload(&self, upload: &str) -> std::io::Result<()> {
        match self.upload_dir(upload).map(std::fs::remove_dir_all) {
            Some(Err(err)) if !is_missing(&err) => Err(err),
            _ => Ok(()),
        }
    }

    /// Completes `upload` from `parts` (part numbers ascending, with the ETags the client was
    /// given): checks each part, joins them into the object and gives it the upload's
    /// attributes; returns the object's ETag (S3's: the MD5 of the parts' MD5s, `-<count>`). The
    /// upload goes only once the object is in place, so a refused or failed completion can be
    /// retried.
    pub fn complete(
        &self,
        id: &str,
        upload: &Upload,
        parts: &[(i32, Option<String>)],
        placing: Placing,
    ) -> Result<String, Refusal> {
        let stored: BTreeMap<i32, (u64, String)> = self
            .parts(id)?
            .into_iter()
            .map(|(number, size, etag, _)| (number, (size, etag)))
            .collect();
        let mut digests = Vec::with_capacity(parts.len() * 16);
        for (index, (number, given)) in parts.iter().enumerate() {
            let number = *number;
            let Some((size, recorded)) = stored.get(&number) else {
                return Err(Refusal::InvalidPart(number));
            };
            let given = given.as_deref().map(|e| e.trim_matches('"'));
            if given != Some(recorded.as_str()) {
                return Err(Refusal::InvalidPart(number));
            }
            if index + 1 < parts.len() && *size < MIN_PART_BYTES {
                return Err(Refusal::TooSmall(number));
            }
            digests.extend(hex::decode(recorded).map_err(|_| Refusal::InvalidPart(number))?);
        }
        let etag = format!(
            "{}-{}",
            hex::encode(md5::Md5::digest(&digests)),
            parts.len()
        );

        // Join the parts into a temporary file, then move the whole into place.
        let tmp = self.tmp();
        let joined = (|| -> std::io::Result<()> {
            let mut out = std::fs::File::create(&tmp)?;
            for (number, _) in parts {
                let path = self
                    .part(id, *number)
                    .ok_or_else(|| std::io::Error::other("not an upload id"))?;
                // File to file: copy_file_range(2), no bytes through this process.
                std::io::copy(&mut std::fs::File::open(path)?, &mut out)?;
            }
            Ok(())
        })();
        if let Err(err) = joined {
            let _ = std::fs::remove_file(&tmp);
            return Err(err.into());
        }
        let attributes = Attributes {
            etag: etag.clone(),
            ..upload.attributes.clone()
        };
        self.place(&tmp, &upload.bucket, &upload.key, &attributes, placing)
            .map_err(|err| {
                let taken = placing == Placing::New
                    && err.kind() == std::io::ErrorKind::AlreadyExists
                    && self.object(&upload.bucket, &upload.key).is_file();
                if taken {
                    Refusal::Exists
                } else {
                    Refusal::Io(err)
                }
            })?;
        // S3 discards the parts a completion leaves out too.
        self.close_upload(id)?;
        Ok(etag)
    }
}

/// Whether an I/O error says the path is not there (or a file stands where a directory would).
pub fn is_missing(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Whether an I/O error says a key collides with another's path (`a` and `a/b`).
pub fn is_collision(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::IsADirectory
            | std::io::ErrorKind::AlreadyExists
            | std::io::ErrorKind::DirectoryNotEmpty
    )
}

/// The MD5 of a file, hex.
pub fn md5_of_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
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
    /// Opens the file now, so a missing one is an error of the request, not of its body.
    pub fn open(path: &Path, start: u64, len: usize) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(start))?;
        let (tx, chunks) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        tokio::task::spawn_blocking(move || {
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
        Ok(FileBody {
            chunks,
            remaining: len,
        })
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
    fn uploads_left_open_too_long_are_aborted() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        layout.prepare().unwrap();
        let upload = |initiated: i64| Upload {
            bucket: "b".into(),
            key: "k".into(),
            attributes: Attributes::default(),
            initiated,
        };
        let (old, new) = (
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-000000000002",
        );
        layout.open_upload(old, &upload(1_000)).unwrap();
        layout.open_upload(new, &upload(5_000)).unwrap();
        assert_eq!(layout.abort_uploads_before(2_000).unwrap(), 1);
        assert!(layout.upload(old).unwrap().is_none());
        assert!(layout.upload(new).unwrap().is_some());
        assert_eq!(layout.abort_uploads_before(2_000).unwrap(), 0);
    }

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(check_key("files/t/1").is_ok());
        assert!(check_key("a b/ü.txt").is_ok());
        for key in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "./a",
            "",
            "a//b",
            "a/",
            "a\0b",
        ] {
            assert!(check_key(key).is_err(), "{key:?}");
        }
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(BadName::KeyTooLong)
        ));
        assert!(check_bucket("stowage").is_ok());
        for bucket in ["", ".stowage", "a/b", ".."] {
            assert!(check_bucket(bucket).is_err(), "{bucket:?}");
        }
    }

    #[test]
    fn objects_are_placed_listed_and_removed_with_their_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        layout.prepare().unwrap();
        std::fs::create_dir_all(layout.bucket("b")).unwrap();
        let put = |key: &str, body: &[u8]| {
            let tmp = layout.tmp();
            std::fs::write(&tmp, body).unwrap();
            let attributes = Attributes {
                etag: hex::encode(md5::Md5::digest(body)),
                content_type: Some("text/plain".into()),
                ..Attributes::default()
            };
            layout
                .place(&tmp, "b", key, &attributes, Placing::Replace)
                .unwrap();
        };
        put("files/t/2", b"two");
        put("files/t/1", b"one");
        put("other", b"x");
        let keys: Vec<_> = layout
            .keys("b", "files/")
            .unwrap()
            .into_iter()
            .map(|(key, size, _)| (key, size))
            .collect();
        assert_eq!(
            keys,
            [("files/t/1".to_owned(), 3), ("files/t/2".to_owned(), 3)]
        );
        let attributes = layout.attributes("b", "files/t/1").unwrap().unwrap();
        assert_eq!(attributes.etag, hex::encode(md5::Md5::digest(b"one")));
        assert_eq!(attributes.content_type.as_deref(), Some("text/plain"));

        // A key that needs a file to be a directory collides.
        let tmp = layout.tmp();
        std::fs::write(&tmp, b"y").unwrap();
        let err = layout
            .place(
                &tmp,
                "b",
                "other/y",
                &Attributes::default(),
                Placing::Replace,
            )
            .unwrap_err();
        assert!(is_collision(&err), "{err:?}");

        // If-None-Match: * — an existing object stays, a free key takes the new one.
        let tmp = layout.tmp();
        std::fs::write(&tmp, b"again").unwrap();
        let err = layout
            .place(&tmp, "b", "files/t/1", &Attributes::default(), Placing::New)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(
            std::fs::read(layout.object("b", "files/t/1")).unwrap(),
            b"one"
        );
        assert!(!tmp.exists());
        let tmp = layout.tmp();
        std::fs::write(&tmp, b"new").unwrap();
        layout
            .place(&tmp, "b", "files/t/3", &Attributes::default(), Placing::New)
            .unwrap();
        assert_eq!(
            std::fs::read(layout.object("b", "files/t/3")).unwrap(),
            b"new"
        );
        layout.remove("b", "files/t/3").unwrap();

        layout.remove("b", "files/t/1").unwrap();
        layout.remove("b", "files/t/2").unwrap();
        layout.remove("b", "files/t/2").unwrap();
        assert!(layout.attributes("b", "files/t/1").unwrap().is_none());
        // The emptied directories went with them; the bucket stays.
        assert!(!layout.bucket("b").join("files").exists());
        assert!(layout.bucket("b").is_dir());
        // Nothing is left behind in tmp.
        assert_eq!(
            std::fs::read_dir(dir.path().join(".stowage/tmp"))
                .unwrap()
                .count(),
            0
        );
    }
}
