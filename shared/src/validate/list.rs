//! `GET /files`: the query parameters of a listing.

use super::wire_enum;
use crate::error::ApiError;
use crate::model::words::SearchQuery;
use crate::model::{FieldError, FileKind, FileRecord, FileStatus, Tags, Timestamp};

/// The order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// `-createdAt`: newest first (the default).
    #[default]
    NewestFirst,
    /// `createdAt`: oldest first.
    OldestFirst,
    /// `name`: by name as people read it (case and accents ignored), within one folder or
    /// collection.
    Name,
    /// `-name`: the reverse.
    NameDescending,
}

impl Sort {
    /// A name order (which needs `directory=` or `collection=`).
    pub fn by_name(self) -> bool {
        matches!(self, Sort::Name | Sort::NameDescending)
    }
}

/// Most `tag` filters one listing takes (each is checked against every record read).
pub(crate) const MAX_TAG_FILTERS: usize = 10;

/// Largest page a listing returns.
pub(crate) const MAX_LIST_LIMIT: usize = 1_000;
/// Page size when `limit` is not given.
pub(crate) const DEFAULT_LIST_LIMIT: usize = 30;

/// A validated `GET /files` query. All filters combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListQuery {
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub purpose: Option<String>,
    pub status: Option<FileStatus>,
    pub kind: Option<FileKind>,
    pub external_id: Option<String>,
    pub directory: Option<String>,
    pub directory_prefix: Option<String>,
    pub mime_type: Option<String>,
    pub uploaded_by: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
    pub collection: Option<String>,
    /// List the trash (files deleted in collections with `trashDays`) instead of live files.
    pub trashed: bool,
    /// `q`: every word must start a word of the name.
    pub search: Option<SearchQuery>,
    pub sort: Sort,
}

impl ListQuery {
    /// Validates query parameters (each name with all its values, in order).
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut query = ListQuery {
            limit: DEFAULT_LIST_LIMIT,
            ..ListQuery::default()
        };
        let mut errors = Vec::new();
        for (name, values) in params {
            if name == "tag" {
                for tag in values {
                    match Tags::parse([tag]) {
                        Ok(_) if query.tags.iter().any(|t| t == tag) => {}
                        Ok(_) => query.tags.push(tag.to_owned()),
                        Err(e) => errors.push(FieldError::new("tag", e.message)),
                    }
                }
                if query.tags.len() > MAX_TAG_FILTERS {
                    errors.push(FieldError::new(
                        "tag",
                        format!("at most {MAX_TAG_FILTERS} tag filters per listing"),
                    ));
                }
                continue;
            }
            let [value] = values.as_slice() else {
                errors.push(FieldError::new(name, "must be given once"));
                continue;
            };
            let value = *value;
            let text = |max: usize| -> Result<Option<String>, FieldError> {
                if value.is_empty()
                    || value.chars().count() > max
                    || value.chars().any(char::is_control)
                {
                    Err(FieldError::new(
                        name,
                        format!("must be 1 to {max} characters without control characters"),
                    ))
                } else {
                    Ok(Some(value.to_owned()))
                }
            };
            let time = || {
                Timestamp::parse(value)
                    .map(Some)
                    .ok_or_else(|| FieldError::new(name, "must be an RFC 3339 time"))
            };
            let result = match name {
                "name" => text(255).map(|v| query.name = v),
                "purpose" => text(64).map(|v| query.purpose = v),
                "externalId" => text(255).map(|v| query.external_id = v),
                "directory" => text(512).map(|v| query.directory = v),
                "directoryPrefix" => text(512).map(|v| query.directory_prefix = v),
                "mimeType" => text(255).map(|v| query.mime_type = v),
                "uploadedBy" => text(256).map(|v| query.uploaded_by = v),
                "createdAfter" => time().map(|v| query.created_after = v),
                "createdBefore" => time().map(|v| query.created_before = v),
                "status" => wire_enum(value)
                    .map(|status| query.status = Some(status))
                    .ok_or_else(|| FieldError::new(name, "must be pending, uploaded or failed")),
                "kind" => wire_enum(value)
                    .map(|kind| query.kind = Some(kind))
                    .ok_or_else(|| FieldError::new(name, "must be client or temp")),
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) && !value.starts_with('+') => {
                        query.limit = n;
                        Ok(())
                    }
                    _ => Err(FieldError::new(name, "must be an integer from 1 to 1000")),
                },
                "cursor" => text(1024).map(|v| query.cursor = v),
                "collection" => crate::model::CollectionName::parse_as(name, value)
                    .map(|c| query.collection = Some(c.as_str().to_owned())),
                "trashed" => super::flag(name, value).map(|v| query.trashed = v),
                "q" => SearchQuery::parse(name, value).map(|q| query.search = Some(q)),
                "sort" => match value {
                    "-createdAt" => Ok(Sort::NewestFirst),
                    "createdAt" => Ok(Sort::OldestFirst),
                    "name" => Ok(Sort::Name),
                    "-name" => Ok(Sort::NameDescending),
                    _ => Err(FieldError::new(
                        name,
                        "must be name, -name, createdAt or -createdAt",
                    )),
                }
                .map(|sort| query.sort = sort),
                _ => Err(FieldError::new(name, "is not a known query parameter")),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
        if query.sort.by_name() && query.directory.is_none() && query.collection.is_none() {
            errors.push(FieldError::new(
                "sort",
                "a name order needs directory= (a folder) or collection=",
            ));
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// True if `record` passes every filter.
    pub fn matches(&self, record: &FileRecord) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        eq(&self.name, Some(record.name.as_str()))
            && eq(&self.purpose, record.purpose.as_ref().map(|p| p.as_str()))
            && eq(
                &self.external_id,
                record.external_id.as_ref().map(|e| e.as_str()),
            )
            // A file without a directory is in the top folder, `/`.
            && eq(
                &self.directory,
                Some(record.directory.as_ref().map_or("/", |d| d.as_str())),
            )
            && eq(&self.mime_type, Some(record.mime_type.as_str()))
            && eq(&self.uploaded_by, Some(record.uploaded_by.as_str()))
            && eq(&self.collection, Some(record.collection.as_str()))
            && self.status.is_none_or(|s| s == record.status)
            && self.kind.is_none_or(|k| k == record.kind)
            && self.directory_prefix.as_deref().is_none_or(|prefix| {
                within_directory(
                    record.directory.as_ref().map_or("/", |d| d.as_str()),
                    prefix,
                )
            })
            && self.tags.iter().all(|t| record.tags.as_slice().contains(t))
            && self.created_after.is_none_or(|at| record.created_at > at)
            && self.created_before.is_none_or(|at| record.created_at < at)
            && record.is_trashed() == self.trashed
            && self
                .search
                .as_ref()
                .is_none_or(|q| q.matches(record.name.as_str()))
    }

    /// A fingerprint of the tenant and the filters (not `limit` or `cursor`), so a cursor is
    /// only honoured by the tenant and with the filters it was made for.
    pub(crate) fn fingerprint(&self, tenant: &str) -> u64 {
        let filters = ListQuery {
            limit: 0,
            cursor: None,
            ..self.clone()
        };
        // FNV-1a over a stable rendering: the same on every build and process.
        let text = format!("{tenant:?} {filters:?}");
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// Whether `directory` is `prefix` or below it, by whole path segments: `/docs` holds `/docs`
/// and `/docs/x`, not `/docs-old`; `/docs/` holds only what is below `/docs`.
fn within_directory(directory: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        return directory.starts_with(prefix);
    }
    match directory.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::within_directory;

    #[test]
    fn a_listing_takes_at_most_ten_distinct_tag_filters() {
        let tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        let ten: Vec<&str> = tags[..10].iter().map(String::as_str).collect();
        let query = super::ListQuery::from_params([("tag", ten.clone())]).unwrap();
        assert_eq!(query.tags.len(), 10);
        // Repeats count once.
        let mut repeated = ten.clone();
        repeated.extend(["t0"; 1000]);
        assert_eq!(
            super::ListQuery::from_params([("tag", repeated)])
                .unwrap()
                .tags
                .len(),
            10
        );
        let eleven: Vec<&str> = tags.iter().map(String::as_str).collect();
        let err = super::ListQuery::from_params([("tag", eleven)]).unwrap_err();
        assert!(
            format!("{err:?}").contains("at most 10 tag filters"),
            "{err:?}"
        );
    }

    #[test]
    fn directory_prefixes_match_whole_segments() {
        assert!(within_directory("/docs", "/docs"));
        assert!(within_directory("/docs/x", "/docs"));
        assert!(within_directory("/docs/x/y", "/docs/"));
        assert!(!within_directory("/docs", "/docs/"));
        assert!(!within_directory("/docs-old", "/docs"));
        assert!(!within_directory("/doc", "/docs"));
        assert!(within_directory("/anything", "/"));
        assert!(within_directory("/", "/"));
    }
}
