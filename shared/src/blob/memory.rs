//! An in-memory object store for fast service tests (feature `test-util`): objects, multipart
//! uploads with their parts, copies and deletes, with sizes and ETags but no bytes; presigned
//! URLs are `memory://` placeholders. Failures can be injected per operation, so the tests can
//! check what the service does when S3 fails. The moto and embedded suites remain the proof that
//! the real stores behave.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    BlobError, ObjectInfo, ObjectStore, PostConditions, PresignedPost, PresignedRequest,
    PutConditions, UploadCall, UploadedPart,
};
use crate::model::Timestamp;

/// An operation of the store, for counting calls and injecting failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Presign,
    Head,
    CreateMultipart,
    ListParts,
    CompleteMultipart,
    AbortMultipart,
    Copy,
    CopyInParts,
    PutEmpty,
    PutBytes,
    GetBytes,
    Delete,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, ObjectInfo>,
    /// The bytes of objects stored with `put_bytes` (others have sizes only).
    bytes: HashMap<String, Vec<u8>>,
    /// upload id → (key, parts by number).
    uploads: HashMap<String, (String, BTreeMap<u32, UploadedPart>)>,
    next_upload: u64,
    failures: HashMap<Op, usize>,
    calls: HashMap<Op, usize>,
}

/// Objects and uploads in memory.
#[derive(Default)]
pub struct MemoryObjects {
    state: Mutex<State>,
}

impl MemoryObjects {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Counts the call; fails it if a failure is pending for `op`.
    fn enter(&self, op: Op, context: &str) -> Result<(), BlobError> {
        self.with(|state| {
            *state.calls.entry(op).or_default() += 1;
            match state.failures.get_mut(&op) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    Err(BlobError::new(
                        context,
                        format!("injected failure of {op:?}"),
                    ))
                }
                _ => Ok(()),
            }
        })
    }

    /// Makes the next `times` calls of `op` fail.
    pub fn fail(&self, op: Op, times: usize) {
        self.with(|state| state.failures.insert(op, times));
    }

    /// How many times `op` was called.
    pub fn calls(&self, op: Op) -> usize {
        self.with(|state| state.calls.get(&op).copied().unwrap_or(0))
    }

    /// Stores an object as a client's upload would; returns its ETag.
    pub fn put(&self, key: &str, size: u64) -> String {
        let etag = format!("etag-{key}-{size}");
        self.with(|state| {
            state.objects.insert(
                key.to_owned(),
                ObjectInfo {
                    size,
                    etag: etag.clone(),
                    last_modified: None,
                },
            )
        });
        etag
    }

    /// Stores one part of an open multipart upload, as a client's part upload would.
    pub fn put_part(&self, upload_id: &str, part_number: u32, size: u64) {
        self.with(|state| {
            if let Some((_, parts)) = state.uploads.get_mut(upload_id) {
                parts.insert(
                    part_number,
                    UploadedPart {
                        part_number,
                        size,
                        etag: format!("part-{part_number}-{size}"),
                    },
                );
            }
        });
    }

    /// Whether an object exists at `key`.
    pub fn exists(&self, key: &str) -> bool {
        self.with(|state| state.objects.contains_key(key))
    }

    /// Every object key, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.with(|state| state.objects.keys().cloned().collect())
    }

    /// How many multipart uploads are open.
    pub fn open_uploads(&self) -> usize {
        self.with(|state| state.uploads.len())
    }

    fn presigned(
        &self,
        method: &str,
        key: &str,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        self.enter(Op::Presign, key)?;
        Ok(PresignedRequest {
            method: method.to_owned(),
            url: format!("memory://bucket/{key}?expires={}", expires_in.as_secs()),
            headers: BTreeMap::new(),
            expires_at: now.plus_seconds(expires_in.as_secs()),
        })
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn presign_put(
        &self,
        key: &str,
        conditions: PutConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let mut request = self.presigned("PUT", key, now, expires_in)?;
        request
            .headers
            .insert("content-type".into(), conditions.content_type.to_owned());
        request
            .headers
            .insert("if-none-match".into(), "*".to_owned());
        Ok(request)
    }

    async fn presign_get(
        &self,
        key: &str,
        _content_type: &str,
        _disposition: &str,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        self.presigned("GET", key, now, expires_in)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, BlobError> {
        self.enter(Op::Head, key)?;
        Ok(self.with(|state| state.objects.get(key).cloned()))
    }

    async fn create_multipart(&self, key: &str, _content_type: &str) -> Result<String, BlobError> {
        self.enter(Op::CreateMultipart, key)?;
        Ok(self.with(|state| {
            state.next_upload += 1;
            let id = format!("upload-{}", state.next_upload);
            state
                .uploads
                .insert(id.clone(), (key.to_owned(), BTreeMap::new()));
            id
        }))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let mut request = self.presigned("PUT", key, now, expires_in)?;
        request.url = format!(
            "{}&uploadId={upload_id}&partNumber={part_number}",
            request.url
        );
        Ok(request)
    }

    async fn presign_post(
        &self,
        key: &str,
        conditions: PostConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedPost, BlobError> {
        let request = self.presigned("POST", key, now, expires_in)?;
        let fields = BTreeMap::from([
            ("key".to_owned(), key.to_owned()),
            (
                "Content-Type".to_owned(),
                conditions.content_type.to_owned(),
            ),
            (
                "content-length-range".to_owned(),
                format!("{}-{}", conditions.min_size, conditions.max_size),
            ),
        ]);
        Ok(PresignedPost {
            url: "memory://bucket".to_owned(),
            fields,
            expires_at: request.expires_at,
        })
    }

    async fn presign_upload_call(
        &self,
        key: &str,
        call: UploadCall<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let (method, query) = match call {
            UploadCall::Create { .. } => ("POST", "uploads".to_owned()),
            UploadCall::ListParts { upload_id } => ("GET", format!("uploadId={upload_id}")),
            UploadCall::Complete { upload_id } => ("POST", format!("uploadId={upload_id}")),
            UploadCall::Abort { upload_id } => ("DELETE", format!("uploadId={upload_id}")),
        };
        let mut request = self.presigned(method, key, now, expires_in)?;
        request.url = format!("{}&{query}", request.url);
        Ok(request)
    }

    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, BlobError> {
        self.enter(Op::ListParts, key)?;
        Ok(self.with(|state| match state.uploads.get(upload_id) {
            Some((upload_key, parts)) if upload_key == key => {
                Some(parts.values().cloned().collect())
            }
            _ => None,
        }))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<String, BlobError> {
        self.enter(Op::CompleteMultipart, key)?;
        self.with(|state| {
            let Some((upload_key, held)) = state.uploads.remove(upload_id) else {
                return Err(BlobError::new(key, "NoSuchUpload"));
            };
            if upload_key != key {
                return Err(BlobError::new(key, "the upload is of another key"));
            }
            let size = parts
                .iter()
                .filter_map(|p| held.get(&p.part_number))
                .map(|p| p.size)
                .sum();
            let etag = format!("\"multipart-{}\"", parts.len());
            state.objects.insert(
                key.to_owned(),
                ObjectInfo {
                    size,
                    etag: etag.clone(),
                    last_modified: None,
                },
            );
            Ok(etag)
        })
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        self.enter(Op::AbortMultipart, key)?;
        self.with(|state| state.uploads.remove(upload_id));
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.enter(Op::Copy, to)?;
        self.with(|state| match state.objects.get(from).cloned() {
            Some(info) => {
                state.objects.insert(to.to_owned(), info);
                match state.bytes.get(from).cloned() {
                    Some(bytes) => state.bytes.insert(to.to_owned(), bytes),
                    None => state.bytes.remove(to),
                };
                Ok(())
            }
            None => Err(BlobError::new(format!("COPY {from}"), "NoSuchKey")),
        })
    }

    async fn copy_in_parts(
        &self,
        from: &str,
        to: &str,
        _size: u64,
        _part_size: u64,
    ) -> Result<(), BlobError> {
        self.enter(Op::CopyInParts, to)?;
        self.with(|state| match state.objects.get(from).cloned() {
            Some(info) => {
                state.objects.insert(to.to_owned(), info);
                match state.bytes.get(from).cloned() {
                    Some(bytes) => state.bytes.insert(to.to_owned(), bytes),
                    None => state.bytes.remove(to),
                };
                Ok(())
            }
            None => Err(BlobError::new(format!("COPY {from}"), "NoSuchKey")),
        })
    }

    async fn put_empty(&self, key: &str) -> Result<(), BlobError> {
        self.enter(Op::PutEmpty, key)?;
        self.put(key, 0);
        Ok(())
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), BlobError> {
        self.enter(Op::PutBytes, key)?;
        self.put(key, bytes.len() as u64);
        self.with(|state| state.bytes.insert(key.to_owned(), bytes));
        Ok(())
    }

    async fn get_bytes(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, BlobError> {
        self.enter(Op::GetBytes, key)?;
        self.with(|state| {
            let Some(info) = state.objects.get(key) else {
                return Ok(None);
            };
            if info.size > max_bytes {
                return Err(BlobError::new(format!("GET {key}"), "too large"));
            }
            let size = info.size as usize;
            Ok(Some(
                state
                    .bytes
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| vec![0; size]),
            ))
        })
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.enter(Op::Delete, key)?;
        self.with(|state| {
            state.objects.remove(key);
            state.bytes.remove(key);
        });
        Ok(())
    }
}
