//! The folder routes' input: `GET /folders`' query, `POST /folders`' and `POST /folders/move`'s
//! bodies, and `DELETE /folders`' query. A folder is a normalised absolute path, as a file's
//! `directory` is.

use serde_json::Value;

use crate::error::ApiError;
use crate::model::{DirectoryPath, FieldError};

/// Most subfolders one page lists.
pub(crate) const MAX_FOLDER_LIMIT: usize = 1_000;
/// Page size when `limit` is not given.
const DEFAULT_FOLDER_LIMIT: usize = 100;

/// A folder path other than `/` (which always exists and cannot be made, moved or deleted).
fn below_top(field: &str, value: &str) -> Result<DirectoryPath, FieldError> {
    let path = DirectoryPath::parse(value).map_err(|e| FieldError::new(field, e.message))?;
    if path.as_str() == "/" {
        return Err(FieldError::new(field, "must be a folder below /"));
    }
    Ok(path)
}

/// Each parameter given once; the values by name.
fn single<'a, I>(params: I, known: &[&str]) -> Result<Vec<(&'a str, &'a str)>, ApiError>
where
    I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
{
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, values) in params {
        if !known.contains(&name) {
            errors.push(FieldError::new(name, "is not a known query parameter"));
            continue;
        }
        match values.as_slice() {
            [value] => out.push((name, *value)),
            _ => errors.push(FieldError::new(name, "must be given once")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `GET /folders`: whose subfolders, and which page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderQuery {
    pub parent: DirectoryPath,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl FolderQuery {
    /// Validates `GET /folders`' query parameters (each name with all its values).
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut query = FolderQuery {
            parent: DirectoryPath::parse("/").map_err(|e| ApiError::field("parent", e.message))?,
            limit: DEFAULT_FOLDER_LIMIT,
            cursor: None,
        };
        let mut errors = Vec::new();
        for (name, value) in single(params, &["parent", "limit", "cursor"])? {
            let result = match name {
                "parent" => DirectoryPath::parse(value)
                    .map(|p| query.parent = p)
                    .map_err(|e| FieldError::new(name, e.message)),
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_FOLDER_LIMIT).contains(&n) && !value.starts_with('+') => {
                        query.limit = n;
                        Ok(())
                    }
                    _ => Err(FieldError::new(name, "must be an integer from 1 to 1000")),
                },
                _ if value.is_empty() || value.len() > 2_048 => {
                    Err(FieldError::new(name, "must be 1 to 2048 characters"))
                }
                _ => {
                    query.cursor = Some(value.to_owned());
                    Ok(())
                }
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// `DELETE /folders?path=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderPathQuery {
    pub path: DirectoryPath,
}

impl FolderPathQuery {
    pub(crate) fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let given = single(params, &["path"])?;
        match given.as_slice() {
            [(_, value)] => below_top("path", value)
                .map(|path| FolderPathQuery { path })
                .map_err(|e| ApiError::Validation(vec![e])),
            _ => Err(ApiError::field("path", "is required")),
        }
    }
}

/// `POST /folders {"path"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFolder {
    pub path: DirectoryPath,
}

impl NewFolder {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = super::Fields::new(body, &["path"])?;
        if !f.present("path") {
            f.error("path", "is required");
        }
        let path = f
            .string("path")
            .and_then(|v| f.check(below_top("path", &v)));
        f.finish()?;
        path.map(|path| NewFolder { path })
            .ok_or_else(|| ApiError::field("path", "is required"))
    }
}

/// `POST /folders/move {"from", "to", "cursor"?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveFolder {
    pub from: DirectoryPath,
    pub to: DirectoryPath,
    pub cursor: Option<String>,
}

impl MoveFolder {
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = super::Fields::new(body, &["from", "to", "cursor"])?;
        for field in ["from", "to"] {
            if !f.present(field) {
                f.error(field, "is required");
            }
        }
        let from = f
            .string("from")
            .and_then(|v| f.check(below_top("from", &v)));
        let to = f.string("to").and_then(|v| {
            f.check(DirectoryPath::parse(&v).map_err(|e| FieldError::new("to", e.message)))
        });
        let cursor = f.string("cursor");
        if let (Some(from), Some(to)) = (&from, &to) {
            let inside = to.as_str() == from.as_str()
                || to.as_str().starts_with(&format!("{}/", from.as_str()));
            if inside {
                f.error("to", "must not be the folder itself or inside it");
            }
        }
        if cursor
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 2_048)
        {
            f.error("cursor", "must be 1 to 2048 characters");
        }
        f.finish()?;
        match (from, to) {
            (Some(from), Some(to)) => Ok(MoveFolder { from, to, cursor }),
            _ => Err(ApiError::field("from", "is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn folder_paths_are_normalised_absolute_paths_below_the_top() {
        assert_eq!(
            NewFolder::from_json(json!({"path": "/a/b"}))
                .unwrap()
                .path
                .as_str(),
            "/a/b"
        );
        for bad in ["/", "a/b", "/a/", "/a//b", "/a/./b", "/a/../b", ""] {
            assert_eq!(
                fields(NewFolder::from_json(json!({"path": bad}))),
                ["path"],
                "{bad:?}"
            );
        }
        assert_eq!(fields(NewFolder::from_json(json!({}))), ["path"]);
        assert_eq!(fields(NewFolder::from_json(json!({"path": 1}))), ["path"]);
    }

    #[test]
    fn a_folder_cannot_move_into_itself() {
        for (from, to) in [("/a", "/a"), ("/a", "/a/b"), ("/a", "/a/b/c")] {
            assert_eq!(
                fields(MoveFolder::from_json(json!({"from": from, "to": to}))),
                ["to"],
                "{from} -> {to}"
            );
        }
        for (from, to) in [("/a", "/ab"), ("/a/b", "/a"), ("/a", "/")] {
            assert!(
                MoveFolder::from_json(json!({"from": from, "to": to})).is_ok(),
                "{from} -> {to}"
            );
        }
        assert_eq!(
            fields(MoveFolder::from_json(json!({"from": "/", "to": "/x"}))),
            ["from"]
        );
    }

    #[test]
    fn folder_queries_check_every_parameter() {
        let query = FolderQuery::from_params([("parent", vec!["/a"])]).unwrap();
        assert_eq!((query.parent.as_str(), query.limit), ("/a", 100));
        assert_eq!(
            fields(FolderQuery::from_params([("parent", vec!["a"])])),
            ["parent"]
        );
        assert_eq!(
            fields(FolderQuery::from_params([("limit", vec!["0"])])),
            ["limit"]
        );
        assert_eq!(
            fields(FolderQuery::from_params([("colour", vec!["red"])])),
            ["colour"]
        );
        assert_eq!(
            fields(FolderPathQuery::from_params([("path", vec!["/"])])),
            ["path"]
        );
        assert_eq!(fields(FolderPathQuery::from_params([])), ["path"]);
    }
}
