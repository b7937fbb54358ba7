//! `GET /files`: one index read after another, filtered here, until the page is full.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use std::collections::VecDeque;

use super::access::Policies;
use super::{Service, Shown};
use crate::blob::ObjectStore;
use crate::error::{ApiError, ProblemCode};
use crate::identity::Identity;
use crate::model::{CollectionName, FileId, FileRecord, Policy};
use crate::store::MetadataStore;
use crate::store::{IndexQuery, ListIndex, NameQuery, NameScope};
use crate::validate::{ListQuery, Sort};

/// Upper bound on items one listing request reads; past it the page is returned short, with a
/// cursor, rather than running for long on a very selective combination of filters.
const MAX_ITEMS_READ: u64 = 10_000;

/// One page of a listing.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Shown>,
    pub next_cursor: Option<String>,
    /// Items the store read to serve this page (DynamoDB's `ScannedCount` and fetched records).
    pub items_read: u64,
}

/// Where a listing continues: past this id (in the listing's direction), or past this name
/// key in a name order.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Cursor {
    #[serde(rename = "i")]
    Id(FileId),
    #[serde(rename = "n")]
    Name(String),
}

/// What a cursor carries: where to continue, and which filters it belongs to.
#[derive(Serialize, Deserialize)]
struct Token {
    #[serde(flatten)]
    at: Cursor,
    /// `ListQuery::fingerprint` of the filters.
    filters: u64,
}

fn invalid_cursor(detail: &str) -> ApiError {
    ApiError::new(ProblemCode::InvalidCursor, detail)
}

fn encode_cursor(at: &Cursor, filters: u64) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        at: &'a Cursor,
        filters: u64,
    }
    let json = serde_json::to_vec(&Out { at, filters }).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(text: &str, filters: u64) -> Result<Cursor, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid_cursor("the cursor is not one this API issued"))?;
    let cursor: Token = serde_json::from_slice(&bytes)
        .map_err(|_| invalid_cursor("the cursor is not one this API issued"))?;
    if cursor.filters != filters {
        return Err(invalid_cursor(
            "the cursor belongs to another listing (other filters, or another tenant); send the same filters or no cursor",
        ));
    }
    Ok(cursor.at)
}

/// The most selective index the filters allow.
fn choose_index(query: &ListQuery) -> ListIndex {
    if let Some(name) = &query.name {
        ListIndex::Name(name.clone())
    } else if let Some(search) = &query.search {
        ListIndex::Word(search.index_key())
    } else if let Some(directory) = &query.directory {
        ListIndex::Directory(directory.clone())
    } else if let Some(purpose) = &query.purpose {
        ListIndex::Purpose(purpose.clone())
    } else if let Some(user) = &query.uploaded_by {
        ListIndex::UploadedBy(user.clone())
    } else if let Some(tag) = query.tags.first() {
        ListIndex::Tag(tag.clone())
    } else if let Some(collection) = &query.collection {
        ListIndex::Collection(collection.clone())
    } else {
        ListIndex::Recent
    }
}

/// Through what a caller sees the files of some collections.
pub(super) enum Readers {
    /// It reads every one of them through the collection.
    Everything,
    /// Only through these: a collection it reads whole, its own files, a grant to one of its
    /// principals.
    Through(Vec<Reader>),
}

/// One way a caller sees files, as an index key: a collection, an owner, a grantee (the
/// principal's wire form).
pub(super) enum Reader {
    Collection(String),
    Owner(String),
    Grantee(String),
}

/// What `who` reads of the collections `relevant` (a caller's listing and its folder view
/// walk exactly these, so both show the same files).
pub(super) fn readers(who: &Identity, relevant: &[&(CollectionName, Policy)]) -> Readers {
    let caller = who.caller();
    if caller.app || relevant.iter().all(|(_, p)| p.reads_all(&caller)) {
        return Readers::Everything;
    }
    let mut through: Vec<Reader> = relevant
        .iter()
        .filter(|(_, p)| p.reads_all(&caller))
        .map(|(name, _)| Reader::Collection(name.as_str().to_owned()))
        .collect();
    through.push(Reader::Owner(who.user.as_str().to_owned()));
    if relevant
        .iter()
        .any(|(_, p)| p.file_security && !p.reads_all(&caller))
    {
        through.extend(
            caller
                .principals()
                .iter()
                .map(|p| Reader::Grantee(p.to_wire())),
        );
    }
    Readers::Through(through)
}

/// One index a listing merges, with what it has read ahead.
struct Source {
    index: ListIndex,
    /// Records read but not yet merged, in the listing's order.
    buffer: VecDeque<FileRecord>,
    /// The next read starts at this id (and goes down, or up for an ascending listing).
    next: FileId,
    /// Nothing more below `highest`.
    done: bool,
    /// How many records the next read asks for.
    batch: usize,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// The indexes a listing by `who` merges, and the policies it already knows.
    /// An app, a selective index (name, directory, purpose, uploader, tag), or a caller who
    /// may read every collection in question through the collection reads one index.
    /// Otherwise the tenant's files are not read at all: the listing merges the
    /// collections the caller may read whole, its own files, and the files granted to it (to
    /// its user and each of its groups), so its cost follows what it can see.
    async fn sources(
        &self,
        who: &Identity,
        query: &ListQuery,
    ) -> Result<(Vec<ListIndex>, Policies), ApiError> {
        let index = choose_index(query);
        let caller = who.caller();
        let only = match &index {
            _ if caller.app => return Ok((vec![index], Policies::default())),
            ListIndex::Recent => None,
            ListIndex::Collection(name) => Some(name.clone()),
            _ => return Ok((vec![index], Policies::default())),
        };
        let policies = self.tenant_policies(&who.tenant).await?;
        let relevant: Vec<&(CollectionName, Policy)> = policies
            .iter()
            .filter(|(name, _)| only.as_deref().is_none_or(|o| o == name.as_str()))
            .collect();
        let sources = match readers(who, &relevant) {
            Readers::Everything => vec![index],
            Readers::Through(sources) => sources
                .into_iter()
                .map(|source| match source {
                    Reader::Collection(name) => ListIndex::Collection(name),
                    Reader::Owner(user) => ListIndex::UploadedBy(user),
                    Reader::Grantee(principal) => ListIndex::Grantee(principal),
                })
                .collect(),
        };
        Ok((sources, Policies::from(policies)))
    }

    /// Lists the tenant's live records that pass every filter and `who` may read, newest
    /// first.
    pub async fn list(&self, who: &Identity, query: &ListQuery) -> Result<ListPage, ApiError> {
        let (records, next_cursor, items_read) = self.read_page(who, query).await?;
        Ok(ListPage {
            items: self.show_all(records).await?,
            next_cursor,
            items_read,
        })
    }

    /// The records of one page, the cursor of the next, and how many items were read.
    pub(super) async fn read_page(
        &self,
        who: &Identity,
        query: &ListQuery,
    ) -> Result<(Vec<FileRecord>, Option<String>, u64), ApiError> {
        if query.sort.by_name() {
            return self.read_name_page(who, query).await;
        }
        let now = self.clock.now();
        let ascending = query.sort == Sort::OldestFirst;
        let fingerprint = query.fingerprint(who.tenant.as_str());
        let mut highest = FileId::MAX;
        let mut lowest = FileId::MIN;
        if let Some(text) = &query.cursor {
            let Cursor::Id(past) = decode_cursor(text, fingerprint)? else {
                return Err(invalid_cursor("the cursor is not one this API issued"));
            };
            let next = if ascending {
                past.successor()
            } else {
                past.predecessor()
            };
            match next {
                Some(id) if ascending => lowest = id,
                Some(id) => highest = id,
                None => return Ok((Vec::new(), None, 0)),
            }
        }
        if let Some(before) = query.created_before {
            match FileId::lowest_at(before).predecessor() {
                Some(id) => highest = highest.min(id),
                None => return Ok((Vec::new(), None, 0)),
            }
        }
        if let Some(after) = query.created_after {
            lowest = lowest.max(FileId::lowest_at(after.plus_millis(1)));
        }

        if let Some(external_id) = &query.external_id {
            // Unique per tenant: at most one record, read through its marker.
            let mut items = Vec::new();
            if let Some(id) = self
                .store
                .find_external_id(&who.tenant, external_id, now)
                .await?
            {
                if let Some(record) = self.store.get(&who.tenant, id).await? {
                    if !record.is_expired(now)
                        && query.matches(&record)
                        && (lowest..=highest).contains(&record.id)
                        && self.sees(who, &record, &mut Policies::default()).await?
                    {
                        items.push(record);
                    }
                }
            }
            return Ok((items, None, 2));
        }

        let (sources, mut seen) = self.sources(who, query).await?;
        let want = query.limit + 1; // one more than the page tells whether another page exists
        let start = if ascending { lowest } else { highest };
        let mut sources: Vec<Source> = sources
            .into_iter()
            .map(|index| Source {
                index,
                buffer: VecDeque::new(),
                next: start,
                done: false,
                batch: want,
            })
            .collect();
        // `a` comes before `b` in the listing's order.
        let before = |a: FileId, b: FileId| if ascending { a < b } else { a > b };
        let mut items: Vec<FileRecord> = Vec::with_capacity(want);
        let mut items_read = 0;
        let mut exhausted = false;
        while items.len() < want && items_read < MAX_ITEMS_READ {
            // Every source that may hold more but has nothing read ahead reads its next page;
            // only then is the first head the first record of the merge.
            let mut refilled = false;
            for source in sources
                .iter_mut()
                .filter(|s| !s.done && s.buffer.is_empty())
            {
                if source.next < lowest || source.next > highest {
                    source.done = true;
                    continue;
                }
                let (low, high) = if ascending {
                    (source.next, highest)
                } else {
                    (lowest, source.next)
                };
                let page = self
                    .store
                    .list(IndexQuery {
                        tenant: &who.tenant,
                        index: &source.index,
                        lowest: low,
                        highest: high,
                        limit: source.batch.min(1_000),
                        ascending,
                    })
                    .await?;
                // A first read of one page serves indexed filters; later reads (filters the
                // index does not cover) grow so that sparse matches do not take many trips.
                source.batch = (source.batch * 2).min(1_000);
                items_read += page.items_read;
                source.buffer.extend(page.records);
                let next = page.last_id.and_then(|id| {
                    if ascending {
                        id.successor()
                    } else {
                        id.predecessor()
                    }
                });
                match (page.more, next) {
                    (true, Some(next)) => source.next = next,
                    _ => source.done = true,
                }
                refilled = true;
            }
            if refilled {
                continue;
            }
            let Some(top) = sources
                .iter()
                .filter_map(|s| s.buffer.front().map(|r| r.id))
                .reduce(|a, b| if before(b, a) { b } else { a })
            else {
                exhausted = true;
                break;
            };
            let mut record = None;
            for source in &mut sources {
                if source.buffer.front().is_some_and(|r| r.id == top) {
                    record = source.buffer.pop_front();
                }
            }
            let Some(record) = record else { break };
            if !record.is_expired(now)
                && query.matches(&record)
                && self.sees(who, &record, &mut seen).await?
            {
                items.push(record);
            }
        }
        // Everything before the first unconsumed id of any source has been merged.
        let frontier = sources
            .iter()
            .filter(|s| !(s.done && s.buffer.is_empty()))
            .map(|s| s.buffer.front().map_or(s.next, |r| r.id))
            .reduce(|a, b| if before(b, a) { b } else { a });
        let frontier = match frontier {
            Some(id) => id,
            None => {
                exhausted = true;
                start
            }
        };
        let next_cursor = if items.len() > query.limit {
            items.truncate(query.limit);
            items
                .last()
                .map(|r| encode_cursor(&Cursor::Id(r.id), fingerprint))
        } else if !exhausted && (lowest..=highest).contains(&frontier) {
            // Stopped at the read bound: continue where the reading stopped.
            let past = if ascending {
                frontier.predecessor()
            } else {
                frontier.successor()
            };
            past.map(|id| encode_cursor(&Cursor::Id(id), fingerprint))
        } else {
            None
        };
        Ok((items, next_cursor, items_read))
    }

    /// A page in name order: one folder's or collection's index, read in the order of its
    /// folded names, filtered here (the caller's rights included).
    async fn read_name_page(
        &self,
        who: &Identity,
        query: &ListQuery,
    ) -> Result<(Vec<FileRecord>, Option<String>, u64), ApiError> {
        let now = self.clock.now();
        let fingerprint = query.fingerprint(who.tenant.as_str());
        let scope = match (&query.directory, &query.collection) {
            (Some(directory), _) => NameScope::Directory(directory.clone()),
            (None, Some(collection)) => NameScope::Collection(collection.clone()),
            (None, None) => {
                return Err(ApiError::Validation(vec![crate::model::FieldError::new(
                    "sort",
                    "a name order needs directory= (a folder) or collection=",
                )]))
            }
        };
        let mut after = match &query.cursor {
            Some(text) => match decode_cursor(text, fingerprint)? {
                Cursor::Name(key) => Some(key),
                Cursor::Id(_) => {
                    return Err(invalid_cursor("the cursor is not one this API issued"))
                }
            },
            None => None,
        };
        let descending = query.sort == Sort::NameDescending;
        let mut seen = Policies::default();
        let want = query.limit + 1;
        let mut items: Vec<(String, FileRecord)> = Vec::with_capacity(want);
        let mut items_read = 0;
        let mut batch = want;
        let mut more = true;
        while items.len() < want && more && items_read < MAX_ITEMS_READ {
            let page = self
                .store
                .list_by_name(NameQuery {
                    tenant: &who.tenant,
                    scope: &scope,
                    after: after.as_deref(),
                    descending,
                    limit: batch.min(1_000),
                })
                .await?;
            batch = (batch * 2).min(1_000);
            items_read += page.items_read;
            more = page.more && page.last_key.is_some();
            for record in page.records {
                let key = crate::store::name_order_key(&record);
                if items.len() < want
                    && !record.is_expired(now)
                    && query.matches(&record)
                    && self.sees(who, &record, &mut seen).await?
                {
                    items.push((key, record));
                }
            }
            // Records past the page's `want` are read again by the next page.
            if items.len() >= want {
                break;
            }
            after = page.last_key;
        }
        let next_cursor = if items.len() > query.limit {
            items.truncate(query.limit);
            items
                .last()
                .map(|(key, _)| encode_cursor(&Cursor::Name(key.clone()), fingerprint))
        } else if more {
            after.map(|key| encode_cursor(&Cursor::Name(key), fingerprint))
        } else {
            None
        };
        Ok((
            items.into_iter().map(|(_, r)| r).collect(),
            next_cursor,
            items_read,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_filters() {
        let id = FileId::generate();
        let text = encode_cursor(&Cursor::Id(id), 7);
        assert_eq!(decode_cursor(&text, 7).unwrap(), Cursor::Id(id));
        let name = encode_cursor(&Cursor::Name("a\u{1}b".into()), 7);
        assert_eq!(
            decode_cursor(&name, 7).unwrap(),
            Cursor::Name("a\u{1}b".into())
        );
        assert_eq!(
            decode_cursor(&text, 8).unwrap_err().code(),
            ProblemCode::InvalidCursor
        );
        for garbage in ["", "!!!", "e30", "bm90IGpzb24"] {
            assert_eq!(
                decode_cursor(garbage, 7).unwrap_err().code(),
                ProblemCode::InvalidCursor
            );
        }
    }

    #[test]
    fn the_most_selective_index_is_chosen() {
        let query = ListQuery {
            tags: vec!["t".into()],
            purpose: Some("p".into()),
            name: Some("n".into()),
            ..ListQuery::default()
        };
        assert_eq!(choose_index(&query), ListIndex::Name("n".into()));
        let tag_only = ListQuery {
            tags: vec!["t".into()],
            ..ListQuery::default()
        };
        assert_eq!(choose_index(&tag_only), ListIndex::Tag("t".into()));
        assert_eq!(choose_index(&ListQuery::default()), ListIndex::Recent);
    }
}
