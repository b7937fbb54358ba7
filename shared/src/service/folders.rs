//! Folders: `GET /folders` (the subfolders of one folder that hold a file the caller may read,
//! or were created explicitly), `POST /folders`, `POST /folders/move` and `DELETE /folders`.
//!
//! A folder is not stored with its files: a file's `directory` places it, and the path indexes
//! keep every file's place in the tree ([`crate::store::path_order_key`]). The subfolders of
//! `/a` are found by skipping through a path index: the first key after `/a/` names the first
//! subfolder `c`, the next read starts after every key under `/a/c/`, and so on, one item per
//! subfolder however many files are below. A caller who may not read every file walks only the
//! indexes of what it may read (the collections it reads whole, its own files, the files
//! granted to it), merged in order.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::access::Policies;
use super::list::{readers, Reader, Readers};
use super::write::{back_off, WRITE_ATTEMPTS};
use super::Service;
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{DirectoryPath, FileRecord, Right};
use crate::store::{folder_prefix, path_order_key, Change, MetadataStore, PathSource, StoreError};
use crate::validate::{FolderQuery, MoveFolder};

/// Most files one `POST /folders/move` moves: one transaction's worth.
pub const MAX_FOLDER_MOVE: usize = 100;
/// Most files one move call looks at (moved or not) before it answers with a cursor.
const MAX_MOVE_READS: usize = 1_000;

/// One subfolder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Folder {
    pub path: String,
    pub name: String,
}

/// A page of subfolders.
#[derive(Debug)]
pub struct FolderPage {
    pub items: Vec<Folder>,
    pub next_cursor: Option<String>,
    /// Keys the path indexes read to answer.
    pub items_read: u64,
}

/// What one move call did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderMoved {
    /// Files moved by this call.
    pub moved: usize,
    /// Files this call found that the caller may read but not change (left where they are;
    /// files it may not read are neither moved nor counted).
    pub skipped: usize,
    /// Present while files remain to look at: send the same move again with it.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// The last subfolder name listed, or the last path key a move looked at.
    after: String,
    /// Which listing or move it belongs to.
    of: u64,
}

fn fingerprint(parts: &[&str]) -> u64 {
    parts
        .join("\u{0}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn encode(after: &str, of: u64) -> String {
    let json = serde_json::to_vec(&Token {
        after: after.to_owned(),
        of,
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode(text: &str, of: u64) -> Result<String, ApiError> {
    let bad = || {
        ApiError::new(
            ProblemCode::InvalidCursor,
            "the cursor is not one this API issued",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.of != of {
        return Err(ApiError::new(
            ProblemCode::InvalidCursor,
            "the cursor belongs to another folder listing or move; send the same request or no cursor",
        ));
    }
    Ok(token.after)
}

use crate::store::folder_range_end as range_end;

/// A move that would give a file or folder a path over the limits: `400`, nothing moved.
fn too_long(target: &str, error: crate::model::FieldError) -> ApiError {
    let shown: String = target.chars().take(80).collect();
    ApiError::field(
        "to",
        format!(
            "moving there would put something at {shown}…, and a folder path {}; nothing was moved",
            error.message
        ),
    )
}

/// The subfolder of the folder with prefix `prefix` that `key` lies in.
fn child_of<'k>(prefix: &str, key: &'k str) -> Option<&'k str> {
    let rest = key.strip_prefix(prefix)?;
    let (child, _) = rest.split_once('/')?;
    (!child.is_empty()).then_some(child)
}

/// Where `directory` goes when the folder `from` moves to `to`.
fn moved_directory(directory: &str, from: &str, to: &str) -> Option<String> {
    let rest = directory.strip_prefix(from)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(match (to, rest) {
        ("/", "") => "/".to_owned(),
        ("/", rest) => rest.to_owned(),
        (to, rest) => format!("{to}{rest}"),
    })
}

/// One path index a folder listing walks, with the subfolder it has found next.
struct Walk {
    source: PathSource,
    /// The next read starts here.
    lo: String,
    /// The subfolder found and not yet listed.
    next: Option<String>,
    done: bool,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The path indexes that show `who` exactly the folders holding a file it may read, plus
    /// the explicit folders.
    async fn folder_sources(&self, who: &Identity) -> Result<Vec<PathSource>, ApiError> {
        if who.caller().app {
            return Ok(vec![PathSource::All, PathSource::Explicit]);
        }
        let policies = self.tenant_policies(&who.tenant).await?;
        let relevant: Vec<_> = policies.iter().collect();
        let mut sources: Vec<PathSource> = match readers(who, &relevant) {
            Readers::Everything => vec![PathSource::All],
            Readers::Through(through) => through
                .into_iter()
                .map(|reader| match reader {
                    Reader::Collection(name) => PathSource::Collection(name),
                    Reader::Owner(user) => PathSource::Uploader(user),
                    Reader::Grantee(principal) => PathSource::Grantee(principal),
                })
                .collect(),
        };
        sources.push(PathSource::Explicit);
        Ok(sources)
    }

    /// `GET /folders`: the subfolders of `query.parent`, in name order (by bytes).
    pub async fn list_folders(
        &self,
        who: &Identity,
        query: &FolderQuery,
    ) -> Result<FolderPage, ApiError> {
        let parent = query.parent.as_str();
        let prefix = folder_prefix(parent);
        let of = fingerprint(&[who.tenant.as_str(), parent]);
        // Direct files sort first (`<prefix>\u{1}<id>`): start after them.
        let start = match &query.cursor {
            Some(cursor) => format!("{prefix}{}0", decode(cursor, of)?),
            None => format!("{prefix}\u{2}"),
        };
        let hi = range_end(&prefix);
        let mut walks: Vec<Walk> = self
            .folder_sources(who)
            .await?
            .into_iter()
            .map(|source| Walk {
                source,
                lo: start.clone(),
                next: None,
                done: false,
            })
            .collect();
        let mut items: Vec<Folder> = Vec::with_capacity(query.limit + 1);
        let mut items_read = 0;
        while items.len() <= query.limit {
            // Every walk without a subfolder in hand reads its next key, all at once.
            let reads = walks
                .iter()
                .filter(|w| !w.done && w.next.is_none())
                .map(|w| {
                    self.store
                        .first_path_key(&who.tenant, &w.source, &w.lo, &hi)
                });
            let keys = futures_util::future::join_all(reads).await;
            let mut keys = keys.into_iter();
            for walk in walks.iter_mut().filter(|w| !w.done && w.next.is_none()) {
                items_read += 1;
                match keys.next().transpose()?.flatten() {
                    Some(key) => match child_of(&prefix, &key) {
                        Some(child) => walk.next = Some(child.to_owned()),
                        // Not a key below a subfolder (cannot happen): skip past it.
                        None => walk.lo = format!("{key}\u{1}"),
                    },
                    None => walk.done = true,
                }
            }
            // The smallest subfolder any walk found, in key order (`name/`).
            let Some(first) = walks
                .iter()
                .filter_map(|w| w.next.clone())
                .min_by(|a, b| format!("{a}/").cmp(&format!("{b}/")))
            else {
                if walks.iter().all(|w| w.done) {
                    break;
                }
                continue;
            };
            for walk in walks
                .iter_mut()
                .filter(|w| w.next.as_deref() == Some(&first))
            {
                walk.next = None;
                walk.lo = format!("{prefix}{first}0");
            }
            items.push(Folder {
                path: format!("{prefix}{first}"),
                name: first,
            });
        }
        let next_cursor = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|f| encode(&f.name, of))
        } else {
            None
        };
        Ok(FolderPage {
            items,
            next_cursor,
            items_read,
        })
    }

    /// `POST /folders`: stores the folder; `true` if it is new. The folders above it need no
    /// item of their own: they show while it (or a file below them) exists.
    pub async fn create_folder(
        &self,
        who: &Identity,
        path: &DirectoryPath,
    ) -> Result<(Folder, bool), ApiError> {
        let path = path.as_str();
        let created = self.store.put_folder(&who.tenant, path).await?;
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        Ok((
            Folder {
                path: path.to_owned(),
                name,
            },
            created,
        ))
    }

    /// `DELETE /folders`: deletes an explicit folder that holds no file and no folder.
    pub async fn delete_folder(
        &self,
        who: &Identity,
        path: &DirectoryPath,
    ) -> Result<(), ApiError> {
        let path = path.as_str();
        let prefix = folder_prefix(path);
        let hi = range_end(&prefix);
        let file = self
            .store
            .first_path_key(&who.tenant, &PathSource::All, &prefix, &hi)
            .await?;
        let folder = self
            .store
            .first_path_key(
                &who.tenant,
                &PathSource::Explicit,
                &format!("{prefix}\u{2}"),
                &hi,
            )
            .await?;
        if file.is_some() || folder.is_some() {
            return Err(ApiError::new(
                ProblemCode::FolderNotEmpty,
                format!("folder {path} holds files or folders; move or delete them first"),
            ));
        }
        if !self.store.delete_folder(&who.tenant, path).await? {
            return Err(ApiError::new(
                ProblemCode::FolderNotFound,
                format!("no folder {path} was created (a folder of files only goes with them)"),
            ));
        }
        Ok(())
    }

    /// `POST /folders/move`: moves up to [`MAX_FOLDER_MOVE`] of the files at or below `from`
    /// that the caller may change, all or none, in path order; the cursor continues after the
    /// last file looked at. The explicit folders move with the last call.
    pub async fn move_folder(
        &self,
        who: &Identity,
        request: &MoveFolder,
    ) -> Result<FolderMoved, ApiError> {
        Box::pin(self.move_folder_now(who, request)).await
    }

    async fn move_folder_now(
        &self,
        who: &Identity,
        request: &MoveFolder,
    ) -> Result<FolderMoved, ApiError> {
        let (from, to) = (request.from.as_str(), request.to.as_str());
        let of = fingerprint(&[who.tenant.as_str(), "move", from, to]);
        let prefix = folder_prefix(from);
        let after = match &request.cursor {
            Some(cursor) => {
                let key = decode(cursor, of)?;
                if !key.starts_with(&prefix) {
                    return Err(ApiError::new(
                        ProblemCode::InvalidCursor,
                        "the cursor is not one this API issued",
                    ));
                }
                Some(key)
            }
            None => {
                // Before anything moves: every folder made below `from` fits at its new place.
                for folder in self.store.folders_below(&who.tenant, from).await? {
                    if let Some(target) = moved_directory(&folder, from, to) {
                        DirectoryPath::parse(&target).map_err(|e| too_long(&target, e))?;
                    }
                }
                None
            }
        };
        for attempt in 0..WRITE_ATTEMPTS {
            back_off(attempt).await;
            let now = self.clock.now();
            let mut seen = Policies::default();
            let mut movable: Vec<(FileRecord, FileRecord)> = Vec::new();
            let mut skipped = 0;
            let mut looked = 0;
            let mut last: Option<String> = after.clone();
            let mut more = true;
            'read: while movable.len() < MAX_FOLDER_MOVE && looked < MAX_MOVE_READS && more {
                let (found, has_more) = self
                    .store
                    .records_below(&who.tenant, &prefix, last.as_deref(), MAX_FOLDER_MOVE + 1)
                    .await?;
                more = has_more && !found.is_empty();
                for (key, record) in found {
                    if movable.len() == MAX_FOLDER_MOVE {
                        more = true;
                        break 'read;
                    }
                    // The cursor follows the index, whatever became of the record since.
                    looked += 1;
                    last = Some(key);
                    // Gone, in the trash, or moved out of the folder since the index was read
                    // (DynamoDB's indexes are eventually consistent): not this move's.
                    let Some(record) = record else { continue };
                    if record.is_expired(now)
                        || !path_order_key(&record).is_some_and(|k| k.starts_with(&prefix))
                    {
                        continue;
                    }
                    // What the caller may not see is not its to move, nor to count.
                    if !self.sees(who, &record, &mut seen).await? {
                        continue;
                    }
                    if self.permit(who, &record, Right::Write).await.is_err() {
                        skipped += 1;
                        continue;
                    }
                    let directory = record.directory.as_ref().map_or("/", |d| d.as_str());
                    let Some(target) = moved_directory(directory, from, to) else {
                        continue;
                    };
                    let target = DirectoryPath::parse(&target).map_err(|e| too_long(&target, e))?;
                    let mut next = record.clone();
                    next.directory = Some(target);
                    next.version = record.version + 1;
                    next.updated_at = now;
                    next.actor = Some(who.actor());
                    movable.push((record, next));
                }
            }
            let changes: Vec<Change<'_>> = movable
                .iter()
                .map(|(previous, next)| Change { previous, next })
                .collect();
            if !changes.is_empty() {
                match self.store.replace_many(&changes, None, now).await {
                    Err(StoreError::Conflict) => continue,
                    other => other?,
                }
            }
            for (previous, next) in &movable {
                self.keep_public_in_step(previous, next).await?;
            }
            let next_cursor = if more {
                last.as_deref().map(|key| encode(key, of))
            } else {
                // The last call: the explicit folders follow the files.
                self.move_explicit(who, from, to).await?;
                None
            };
            return Ok(FolderMoved {
                moved: movable.len(),
                skipped,
                next_cursor,
            });
        }
        Err(ApiError::version_mismatch())
    }

    /// Moves the explicit folders at or below `from` to `to`.
    async fn move_explicit(&self, who: &Identity, from: &str, to: &str) -> Result<(), ApiError> {
        for folder in self.store.folders_below(&who.tenant, from).await? {
            if let Some(target) = moved_directory(&folder, from, to) {
                if target != "/" {
                    self.store.put_folder(&who.tenant, &target).await?;
                }
            }
            self.store.delete_folder(&who.tenant, &folder).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subfolders_and_moves_follow_whole_segments() {
        assert_eq!(child_of("/a/", "/a/b/\u{1}x"), Some("b"));
        assert_eq!(child_of("/a/", "/a/b/c/\u{1}x"), Some("b"));
        assert_eq!(child_of("/", "/a/\u{1}x"), Some("a"));
        assert_eq!(child_of("/a/", "/a/\u{1}x"), None);
        assert_eq!(range_end("/a/"), "/a0");
        assert_eq!(range_end("/"), "0");
        assert_eq!(moved_directory("/a", "/a", "/x/y").as_deref(), Some("/x/y"));
        assert_eq!(moved_directory("/a/b", "/a", "/x").as_deref(), Some("/x/b"));
        assert_eq!(moved_directory("/a/b", "/a", "/").as_deref(), Some("/b"));
        assert_eq!(moved_directory("/a", "/a", "/").as_deref(), Some("/"));
        assert_eq!(moved_directory("/ab", "/a", "/x"), None);
    }

    #[test]
    fn cursors_belong_to_their_listing() {
        let text = encode("b", 7);
        assert_eq!(decode(&text, 7).unwrap(), "b");
        assert!(decode(&text, 8).is_err());
        assert!(decode("garbage", 7).is_err());
    }
}
