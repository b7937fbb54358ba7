//! Upload completion: what an `ObjectCreated` event (or a `HeadObject` repair) does to a record.
//!
//! Events may repeat, arrive late or out of order. The decision is a pure function of the
//! stored record and the event ([`decide`]), and the write is a compare-and-swap on the record's
//! version, retried on contention. An upload URL writes once (its `PUT` or completion is signed
//! with `If-None-Match: *`): the first object that lands at an upload's key is the file's
//! content, and any later event for that key (a duplicate, or bytes sent again where the
//! condition is not enforced) changes nothing — it neither replaces nor fails the file.

use super::access::By;
use super::write::{Cleanup, Plan};
use super::{Service, View};
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::keys::{ObjectKey, PUBLISH_JOBS, THUMBNAILS};
use crate::model::{FileKind, FileRecord, FileStatus, Landed, Sequencer, StoredObject, Timestamp};
use crate::store::MetadataStore;

/// An object that now exists in the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEvent {
    /// The decoded object key.
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// The event's sequencer; `None` when the facts come from `HeadObject`.
    pub sequencer: Option<Sequencer>,
    /// When the object was written.
    pub at: Timestamp,
}

/// What handling an object event did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The record now reflects the object (uploaded, refreshed, or failed).
    Updated(Box<FileRecord>),
    /// Nothing to do: a duplicate or an event older than what the record holds.
    Unchanged,
    /// No live record wants this object, so it was deleted.
    OrphanDeleted,
}

/// The decision for one event against the current record.
#[derive(Debug, PartialEq)]
enum Decision {
    Ignore,
    DeleteOrphan,
    Write {
        record: Box<FileRecord>,
        /// Objects to delete once the write has succeeded.
        delete: Vec<String>,
    },
}

/// What `event` does to the live record that owns its key.
fn decide(record: &FileRecord, event: &ObjectEvent, now: Timestamp) -> Decision {
    if record
        .upload
        .as_ref()
        .is_some_and(|upload| upload.key == event.key)
    {
        return apply(record, event, now);
    }
    if record.versions.iter().any(|v| v.key == event.key) {
        // An earlier content kept as a version (a late or repeated event for it).
        return Decision::Ignore;
    }
    match &record.content {
        // Landed already: the first object at an upload's key is the content, for good.
        Some(content) if content.key == event.key => {
            // (A `HeadObject` repair records S3's quoted ETag; events carry it bare.)
            let same_etag = content.etag.trim_matches('"') == event.etag.trim_matches('"');
            if !same_etag || content.size != event.size {
                tracing::warn!(
                    key = %event.key,
                    "other bytes were reported at a key whose upload already landed; the record keeps the first"
                );
            }
            Decision::Ignore
        }
        _ => Decision::DeleteOrphan,
    }
}

/// The record with `event`'s object as its content, or failed if the size is not the declared
/// one (version and `updatedAt` are the write path's).
fn apply(record: &FileRecord, event: &ObjectEvent, _now: Timestamp) -> Decision {
    let mut next = record.clone();
    next.upload = None;
    let too_large = record
        .upload
        .as_ref()
        .filter(|upload| upload.key == event.key)
        .and_then(|upload| upload.max_size)
        .filter(|&max| event.size > max);
    let failure = match (record.expected_size, too_large) {
        (Some(expected), _) if expected != event.size => Some(format!(
            "the uploaded object is {} bytes but expectedSize is {expected}; upload again",
            event.size
        )),
        (_, Some(max)) => Some(format!(
            "the uploaded object is {} bytes; collection {} takes files up to {max} bytes (maxFileSize)",
            event.size, record.collection
        )),
        _ => None,
    };
    if let Some(reason) = failure {
        next.failure_reason = Some(reason);
        // The object is deleted; only content other than it (a previous upload) stays.
        if next.content.as_ref().is_some_and(|c| c.key == event.key) || next.content.is_none() {
            next.content = None;
            next.status = FileStatus::Failed;
            next.size = None;
            next.uploaded_at = None;
        }
        return Decision::Write {
            record: Box::new(next),
            delete: vec![event.key.clone()],
        };
    }
    let upload = record.upload.as_ref().filter(|u| u.key == event.key);
    let keep = upload.map_or(0, |u| u.keep_versions) as usize;
    let mut delete = Vec::new();
    if let Some(old) = record.current_version().filter(|old| old.key != event.key) {
        if keep > 0 {
            next.versions.insert(0, old);
        } else {
            delete.push(old.key);
        }
    }
    if next.versions.len() > keep {
        // The newest `keep` stay; older ones go with their bytes.
        delete.extend(next.versions.drain(keep..).map(|v| v.key));
    }
    next.content = Some(StoredObject {
        key: event.key.clone(),
        size: event.size,
        etag: event.etag.clone(),
        sequencer: event.sequencer.clone(),
        landed: Some(Landed {
            mime_type: record.mime_type.clone(),
            checksum_sha256: record.checksum_sha256.clone(),
            uploaded_at: event.at,
            uploaded_by: upload
                .and_then(|u| u.opened_by.clone())
                .unwrap_or_else(|| record.uploaded_by.clone()),
        }),
    });
    next.status = FileStatus::Uploaded;
    next.size = Some(event.size);
    next.uploaded_at = Some(event.at);
    next.failure_reason = None;
    next.expires_at = match (record.kind, record.ttl_seconds) {
        (FileKind::Temp, Some(ttl)) => Some(record.created_at.plus_seconds(ttl)),
        _ => None,
    };
    Decision::Write {
        record: Box::new(next),
        delete,
    }
}

/// What the write path saw, to say what handling the event did.
enum Seen {
    Applied,
    Ignored,
    Orphan,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Brings the record that owns `event.key` up to date with the object, or deletes the
    /// object if no live record owns it.
    pub async fn object_created(&self, event: ObjectEvent) -> Result<Outcome, ApiError> {
        if event.key.starts_with("public/")
            || event.key.starts_with(PUBLISH_JOBS)
            || event.key.starts_with(THUMBNAILS)
        {
            // The public copies, job markers and thumbnails Stowage makes itself (S3 reports
            // them as ObjectCreated too; the bucket sends them elsewhere, if at all).
            return Ok(Outcome::Unchanged);
        }
        let Some(key) = ObjectKey::parse(&event.key) else {
            tracing::warn!(key = %event.key, "deleting an object whose key Stowage did not make");
            self.objects.delete(&event.key).await?;
            return Ok(Outcome::OrphanDeleted);
        };
        let event = &event;
        let result = self
            .modify_in(
                View::Any,
                By::System(&key.tenant),
                key.id,
                None,
                move |current, now| async move {
                    Ok(match decide(&current, event, now) {
                        Decision::Ignore => (Plan::keep(), Seen::Ignored),
                        Decision::DeleteOrphan => (
                            Plan::keep().then([Cleanup::DeleteObject(event.key.clone())]),
                            Seen::Orphan,
                        ),
                        Decision::Write { record, delete } => (
                            Plan::write(*record)
                                .then(delete.into_iter().map(Cleanup::DeleteObject)),
                            Seen::Applied,
                        ),
                    })
                },
            )
            .await;
        match result {
            Ok((record, Seen::Applied)) => Ok(Outcome::Updated(Box::new(record))),
            Ok((_, Seen::Ignored)) => Ok(Outcome::Unchanged),
            Ok((_, Seen::Orphan)) => {
                tracing::warn!(key = %event.key, "deleted an object that its record does not own");
                Ok(Outcome::OrphanDeleted)
            }
            Err(err) if err.is(ProblemCode::NotFound) => {
                tracing::warn!(key = %event.key, "deleting an object that no live record owns");
                self.objects.delete(&event.key).await?;
                Ok(Outcome::OrphanDeleted)
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileId, OpenUpload, TenantId};

    fn pending(expected_size: Option<u64>) -> FileRecord {
        let tenant = TenantId::parse("acme").unwrap();
        let id = FileId::generate();
        let key = ObjectKey {
            kind: FileKind::Client,
            tenant: tenant.clone(),
            id,
            revision: 1,
        }
        .render();
        let at = Timestamp::from_millis(1_000_000);
        FileRecord {
            expected_size,
            expires_at: Some(at.plus_seconds(90_000)),
            upload: Some(OpenUpload {
                revision: 1,
                key,
                url_expires_at: at.plus_seconds(1_800),
                multipart: None,
                max_size: None,
                opened_by: None,
                keep_versions: 0,
                restoring: None,
            }),
            ..FileRecord::fixture(tenant.as_str(), id, at)
        }
    }

    fn event(record: &FileRecord, size: u64, etag: &str, sequencer: &str) -> ObjectEvent {
        ObjectEvent {
            key: record.upload.as_ref().unwrap().key.clone(),
            size,
            etag: etag.into(),
            sequencer: Sequencer::parse(sequencer),
            at: Timestamp::from_millis(2_000_000),
        }
    }

    fn written(decision: Decision) -> (FileRecord, Vec<String>) {
        match decision {
            Decision::Write { record, delete } => (*record, delete),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    const NOW: Timestamp = Timestamp::from_millis(3_000_000);

    #[test]
    fn first_event_marks_the_record_uploaded_and_clears_the_pending_expiry() {
        let record = pending(Some(5));
        let (next, delete) = written(decide(&record, &event(&record, 5, "e1", "0A"), NOW));
        assert_eq!(next.status, FileStatus::Uploaded);
        assert_eq!(next.size, Some(5));
        assert_eq!(next.uploaded_at, Some(Timestamp::from_millis(2_000_000)));
        assert_eq!(next.expires_at, None);
        assert!(next.upload.is_none());
        assert!(delete.is_empty());
    }

    #[test]
    fn the_same_event_twice_changes_nothing_the_second_time() {
        let record = pending(None);
        let ev = event(&record, 5, "e1", "0A");
        let (next, _) = written(decide(&record, &ev, NOW));
        assert_eq!(decide(&next, &ev, NOW), Decision::Ignore);
    }

    #[test]
    fn bytes_sent_again_to_a_landed_upload_neither_replace_nor_fail_the_file() {
        let record = pending(Some(5));
        let (landed, _) = written(decide(&record, &event(&record, 5, "e1", "0A"), NOW));
        // Same size, other bytes (a replacement), and another size (which would fail it): in
        // either order, nothing changes and nothing is deleted.
        for (size, etag) in [(5, "e2"), (6, "e3")] {
            for sequencer in ["0B", "09"] {
                let again = event(&record, size, etag, sequencer);
                assert_eq!(decide(&landed, &again, NOW), Decision::Ignore);
            }
        }
    }

    #[test]
    fn a_size_mismatch_fails_the_record_and_deletes_the_object() {
        let record = pending(Some(10));
        let ev = event(&record, 11, "e1", "0A");
        let (next, delete) = written(decide(&record, &ev, NOW));
        assert_eq!(next.status, FileStatus::Failed);
        assert!(next.failure_reason.unwrap().contains("expectedSize is 10"));
        assert_eq!(next.size, None);
        assert_eq!(delete, vec![ev.key.clone()]);
        // The pending expiry stays, so a failed record eventually disappears.
        assert_eq!(next.expires_at, record.expires_at);
    }

    #[test]
    fn objects_the_record_does_not_own_are_orphans() {
        let record = pending(None);
        let ev = event(&record, 5, "e1", "0A");
        let stray = ObjectEvent {
            key: format!("{}9", ev.key),
            ..ev
        };
        assert_eq!(decide(&record, &stray, NOW), Decision::DeleteOrphan);
    }

    /// `record` with a new upload of `revision` that keeps `keep` versions.
    fn reuploading(record: &FileRecord, revision: u32, keep: u32) -> FileRecord {
        let mut next = record.clone();
        next.revision = revision;
        next.expected_size = None;
        next.upload = Some(OpenUpload {
            revision,
            key: ObjectKey {
                kind: FileKind::Client,
                tenant: record.tenant.clone(),
                id: record.id,
                revision,
            }
            .render(),
            url_expires_at: NOW,
            multipart: None,
            max_size: None,
            opened_by: None,
            keep_versions: keep,
            restoring: None,
        });
        next
    }

    #[test]
    fn a_new_upload_keeps_the_newest_versions_and_deletes_older_ones() {
        let record = pending(None);
        let (mut current, _) = written(decide(&record, &event(&record, 1, "e1", "01"), NOW));
        let mut keys = vec![current.content.as_ref().unwrap().key.clone()];
        for revision in 2..=4 {
            let next = reuploading(&current, revision, 2);
            let ev = event(&next, u64::from(revision), "e", &format!("0{revision}"));
            keys.push(ev.key.clone());
            let (landed, delete) = written(decide(&next, &ev, NOW));
            // Revision 4 pushes revision 1 out of the two kept, with its bytes.
            let expected: Vec<String> = if revision == 4 {
                vec![keys[0].clone()]
            } else {
                vec![]
            };
            assert_eq!(delete, expected, "revision {revision}");
            current = landed;
        }
        let kept: Vec<u32> = current.versions.iter().map(|v| v.version).collect();
        assert_eq!(kept, [3, 2]);
        assert_eq!(current.versions[0].size, 3);
        // An event for a kept version's key changes nothing and deletes nothing.
        let late = ObjectEvent {
            key: keys[1].clone(),
            ..event(&reuploading(&current, 5, 2), 2, "e", "09")
        };
        assert_eq!(decide(&current, &late, NOW), Decision::Ignore);
        // With no versions kept, a new upload deletes the old content and every kept version.
        let next = reuploading(&current, 5, 0);
        let ev = event(&next, 5, "e", "0A");
        let (landed, mut delete) = written(decide(&next, &ev, NOW));
        delete.sort();
        let mut old = keys[1..].to_vec();
        old.sort();
        assert_eq!(delete, old);
        assert!(landed.versions.is_empty());
    }

    #[test]
    fn temp_files_keep_their_ttl_after_upload() {
        let mut record = pending(None);
        record.kind = FileKind::Temp;
        record.ttl_seconds = Some(60);
        let (next, _) = written(decide(&record, &event(&record, 1, "e", "01"), NOW));
        assert_eq!(next.expires_at, Some(record.created_at.plus_seconds(60)));
    }

    #[test]
    fn an_event_after_a_head_repair_is_ignored() {
        let record = pending(None);
        let repair = ObjectEvent {
            sequencer: None,
            ..event(&record, 5, "e1", "01")
        };
        let (repaired, _) = written(decide(&record, &repair, NOW));
        let same = event(&record, 5, "e1", "0A");
        assert_eq!(decide(&repaired, &same, NOW), Decision::Ignore);
        let different = event(&record, 6, "e2", "0B");
        assert_eq!(decide(&repaired, &different, NOW), Decision::Ignore);
        // A repair never overrides an event-derived state.
        let (from_event, _) = written(decide(&record, &same, NOW));
        assert_eq!(decide(&from_event, &repair, NOW), Decision::Ignore);
    }
}
