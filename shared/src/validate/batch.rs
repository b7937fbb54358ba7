//! `PATCH /files` (up to 100 merge patches, all or nothing) and `POST /files/delete` (up to
//! 1,000 ids), each also by filter (the listing filters instead of ids).

use std::collections::HashSet;

use serde_json::Value;

use super::{invalid_body, FilePatch, ListQuery, UpdateMode};
use crate::error::ApiError;
use crate::model::{FieldError, FileId};

/// Most changes in one batch update (one DynamoDB transaction).
pub(crate) const MAX_BATCH_UPDATES: usize = 100;
/// Most ids in one `POST /files/delete`.
pub(crate) const MAX_BATCH_DELETES: usize = 1_000;

/// A validated `PATCH /files` body: distinct ids, each with its merge patch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchUpdate {
    pub items: Vec<(FileId, FilePatch)>,
}

impl BatchUpdate {
    /// Parses `[{id, …changes}, …]`; errors name the element (`[3].name`). `externalId` cannot
    /// change in a batch (its markers would need more than one transaction's operations).
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let Value::Array(elements) = body else {
            return Err(invalid_body(
                "the request body must be a JSON array of {id, …changes}",
            ));
        };
        if elements.is_empty() || elements.len() > MAX_BATCH_UPDATES {
            return Err(invalid_body(&format!(
                "a batch holds 1 to {MAX_BATCH_UPDATES} changes, not {}",
                elements.len()
            )));
        }
        let mut errors = Vec::new();
        let mut items = Vec::with_capacity(elements.len());
        let mut seen = HashSet::new();
        for (at, element) in elements.into_iter().enumerate() {
            let Value::Object(mut changes) = element else {
                errors.push(FieldError::new(
                    format!("[{at}]"),
                    "must be an object with an id",
                ));
                continue;
            };
            let id = match changes.remove("id") {
                Some(Value::String(text)) => match FileId::parse(&text) {
                    Ok(id) => id,
                    Err(e) => {
                        errors.push(FieldError::new(format!("[{at}].id"), e.message));
                        continue;
                    }
                },
                _ => {
                    errors.push(FieldError::new(
                        format!("[{at}].id"),
                        "is required: a file id",
                    ));
                    continue;
                }
            };
            if !seen.insert(id) {
                errors.push(FieldError::new(
                    format!("[{at}].id"),
                    "appears more than once",
                ));
            }
            for single in ["externalId", "grants"] {
                if changes.remove(single).is_some() {
                    errors.push(FieldError::new(
                        format!("[{at}].{single}"),
                        "cannot change in a batch; use PATCH /files/{id}",
                    ));
                }
            }
            match FilePatch::from_json(Value::Object(changes), UpdateMode::Merge) {
                Ok(patch) => items.push((id, patch)),
                Err(ApiError::Validation(field_errors)) => errors.extend(
                    field_errors
                        .into_iter()
                        .map(|e| FieldError::new(format!("[{at}].{}", e.field), e.message)),
                ),
                Err(other) => return Err(other),
            }
        }
        if errors.is_empty() {
            Ok(BatchUpdate { items })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// A validated `POST /files/delete` body: distinct ids in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchDelete {
    pub ids: Vec<FileId>,
    /// Delete for good, skipping (or emptying) the trash.
    pub permanent: bool,
}

impl BatchDelete {
    /// Parses `{"ids": [...], "permanent"?: bool}`.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = super::Fields::new(body, &["ids", "permanent"])?;
        let given = f.present("ids");
        let ids = f.array("ids");
        let permanent = f.boolean("permanent").unwrap_or(false);
        f.finish()?;
        let Some(ids) = ids.filter(|_| given) else {
            return Err(ApiError::field("ids", "is required: an array of file ids"));
        };
        if ids.is_empty() || ids.len() > MAX_BATCH_DELETES {
            return Err(ApiError::field("ids", "must hold 1 to 1000 ids"));
        }
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(ids.len());
        for (at, id) in ids.iter().enumerate() {
            match id.as_str().map(FileId::parse) {
                Some(Ok(id)) if !parsed.contains(&id) => parsed.push(id),
                Some(Ok(_)) => {}
                _ => errors.push(FieldError::new(format!("ids[{at}]"), "must be a file id")),
            }
        }
        if errors.is_empty() {
            Ok(BatchDelete {
                ids: parsed,
                permanent,
            })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// `POST /files/get` and `POST /files/links`: `{"ids": [...]}`, 1 to 100 file ids (a repeat
/// counts once, in its first place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchIds {
    pub ids: Vec<FileId>,
}

/// Most ids `POST /files/get` and `POST /files/links` take.
pub(crate) const MAX_BATCH_READS: usize = 100;

impl BatchIds {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = super::Fields::new(body, &["ids"])?;
        let given = f.present("ids");
        let ids = f.array("ids");
        f.finish()?;
        let Some(ids) = ids.filter(|_| given) else {
            return Err(ApiError::field("ids", "is required: an array of file ids"));
        };
        if ids.is_empty() || ids.len() > MAX_BATCH_READS {
            return Err(ApiError::field(
                "ids",
                format!("must hold 1 to {MAX_BATCH_READS} ids"),
            ));
        }
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(ids.len());
        for (at, id) in ids.iter().enumerate() {
            match id.as_str().map(FileId::parse) {
                Some(Ok(id)) if !parsed.contains(&id) => parsed.push(id),
                Some(Ok(_)) => {}
                _ => errors.push(FieldError::new(format!("ids[{at}]"), "must be a file id")),
            }
        }
        if errors.is_empty() {
            Ok(BatchIds { ids: parsed })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The listing filters a bulk change names (`{"filter": {...}}`), as a
/// [`ListQuery`] without `limit` and `cursor`; at least one filter.
fn filter_query(value: Value) -> Result<ListQuery, ApiError> {
    let Value::Object(filter) = value else {
        return Err(ApiError::field(
            "filter",
            "must be an object of listing filters",
        ));
    };
    if filter.is_empty() {
        return Err(ApiError::field(
            "filter",
            "must name at least one filter (to change every file, name one every file passes)",
        ));
    }
    let mut errors = Vec::new();
    let mut texts: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in filter {
        let field = format!("filter.{name}");
        if name == "limit" || name == "cursor" {
            errors.push(FieldError::new(field, "is not a filter"));
            continue;
        }
        match (name.as_str(), value) {
            (_, Value::String(text)) => texts.push((name, vec![text])),
            ("trashed", Value::Bool(flag)) => texts.push((name, vec![flag.to_string()])),
            ("tag", Value::Array(tags)) if !tags.is_empty() => {
                match tags
                    .into_iter()
                    .map(|t| match t {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
                {
                    Some(tags) => texts.push((name, tags)),
                    None => {
                        errors.push(FieldError::new(field, "must be a tag or an array of tags"))
                    }
                }
            }
            ("tag", _) => errors.push(FieldError::new(field, "must be a tag or an array of tags")),
            _ => errors.push(FieldError::new(field, "must be a string")),
        }
    }
    let params = texts
        .iter()
        .map(|(name, values)| (name.as_str(), values.iter().map(String::as_str).collect()));
    match ListQuery::from_params(params) {
        Ok(query) if errors.is_empty() => Ok(query),
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(ApiError::Validation(more)) => {
            errors.extend(
                more.into_iter()
                    .map(|e| FieldError::new(format!("filter.{}", e.field), e.message)),
            );
            Err(ApiError::Validation(errors))
        }
        Err(other) => Err(other),
    }
}

/// `PATCH /files`: merge patches by id, or one merge patch for every file a filter matches.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateFiles {
    Items(BatchUpdate),
    Filter {
        query: Box<ListQuery>,
        patch: Box<FilePatch>,
    },
}

impl UpdateFiles {
    /// An array is [`BatchUpdate`]; an object is `{"filter": {...}, "patch": {...}}`.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        if body.is_array() {
            return BatchUpdate::from_json(body).map(UpdateFiles::Items);
        }
        if !body
            .as_object()
            .is_some_and(|map| map.contains_key("filter"))
        {
            return Err(invalid_body(
                "the request body must be a JSON array of {id, …changes}, or {\"filter\", \"patch\"}",
            ));
        }
        let mut f = super::Fields::new(body, &["filter", "patch"])?;
        let filter = f.take("filter");
        let patch = f.take("patch");
        if filter.is_none() {
            f.error("filter", "must be an object of listing filters");
        }
        if patch.is_none() {
            f.error(
                "patch",
                "is required: the merge patch for every matching file",
            );
        }
        f.finish()?;
        let (Some(filter), Some(patch)) = (filter, patch) else {
            return Err(ApiError::internal(
                "bulk update validated without its parts",
            ));
        };
        let query = filter_query(filter).and_then(|query| {
            if query.trashed {
                Err(ApiError::field(
                    "filter.trashed",
                    "files in the trash cannot be changed; restore them first",
                ))
            } else {
                Ok(query)
            }
        });
        let patch = match patch {
            Value::Object(mut changes) => {
                let mut errors = Vec::new();
                for fixed in ["id", "externalId", "grants"] {
                    if changes.remove(fixed).is_some() {
                        errors.push(FieldError::new(
                            format!("patch.{fixed}"),
                            "cannot be set on many files at once",
                        ));
                    }
                }
                match FilePatch::from_json(Value::Object(changes), UpdateMode::Merge) {
                    Ok(patch) if errors.is_empty() => Ok(patch),
                    Ok(_) => Err(ApiError::Validation(errors)),
                    Err(ApiError::Validation(more)) => {
                        errors.extend(
                            more.into_iter()
                                .map(|e| FieldError::new(format!("patch.{}", e.field), e.message)),
                        );
                        Err(ApiError::Validation(errors))
                    }
                    Err(other) => Err(other),
                }
            }
            _ => Err(ApiError::field(
                "patch",
                "must be a JSON merge patch object",
            )),
        };
        match (query, patch) {
            (Ok(query), Ok(patch)) => Ok(UpdateFiles::Filter {
                query: Box::new(query),
                patch: Box::new(patch),
            }),
            (Err(ApiError::Validation(mut a)), Err(ApiError::Validation(b))) => {
                a.extend(b);
                Err(ApiError::Validation(a))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// `POST /files/delete`: ids, or every file a filter matches (1,000 a call, from `cursor`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteFiles {
    Ids(BatchDelete),
    Filter {
        query: Box<ListQuery>,
        permanent: bool,
    },
}

impl DeleteFiles {
    /// `{"ids": [...]}` or `{"filter": {...}, "cursor"?: "..."}`, each with `"permanent"?`.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let Value::Object(map) = &body else {
            return BatchDelete::from_json(body).map(DeleteFiles::Ids);
        };
        if !map.contains_key("filter") {
            return BatchDelete::from_json(body).map(DeleteFiles::Ids);
        }
        let mut f = super::Fields::new(body, &["filter", "cursor", "permanent"])?;
        let filter = f.take("filter");
        let cursor = f.string("cursor");
        let permanent = f.boolean("permanent").unwrap_or(false);
        if let Some(cursor) = &cursor {
            if cursor.is_empty() || cursor.len() > 1024 {
                f.error("cursor", "must be the nextCursor of the previous call");
            }
        }
        f.finish()?;
        let Some(filter) = filter else {
            return Err(ApiError::field(
                "filter",
                "must be an object of listing filters",
            ));
        };
        let mut query = filter_query(filter)?;
        query.limit = MAX_BATCH_DELETES;
        query.cursor = cursor;
        Ok(DeleteFiles::Filter {
            query: Box::new(query),
            permanent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2";

    fn fields(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn batch_update_errors_name_their_element() {
        assert_eq!(
            fields(BatchUpdate::from_json(json!([
                {"id": ID, "name": "ok.txt"},
                {"id": ID, "name": "a/b"},
                {"name": "x"},
                5,
                {"id": "01KAQ3V6T0Z9Y8X7W6V5T4S3R3", "externalId": "e"}
            ]))),
            ["[1].id", "[1].name", "[2].id", "[3]", "[4].externalId"]
        );
        assert_eq!(
            BatchUpdate::from_json(json!([])).unwrap_err().code(),
            crate::error::ProblemCode::InvalidBody
        );
    }

    #[test]
    fn batch_delete_takes_distinct_ids_in_order() {
        let other = "01KAQ3V6T0Z9Y8X7W6V5T4S3R3";
        let batch = BatchDelete::from_json(json!({"ids": [other, ID, other]})).unwrap();
        assert_eq!(
            batch.ids,
            [FileId::parse(other).unwrap(), FileId::parse(ID).unwrap()]
        );
        assert_eq!(
            fields(BatchDelete::from_json(json!({"ids": [ID, 5]}))),
            ["ids[1]"]
        );
        assert_eq!(fields(BatchDelete::from_json(json!({}))), ["ids"]);
        assert_eq!(fields(BatchDelete::from_json(json!({"ids": []}))), ["ids"]);
        assert_eq!(
            fields(BatchDelete::from_json(json!({"ids": [ID], "more": 1}))),
            ["more"]
        );
    }
}
