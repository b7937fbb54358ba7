//! `POST /files/{id}/copy`'s optional body: where the copy goes and what it is called.

use serde_json::Value;

use crate::error::ApiError;
use crate::model::{CollectionName, DirectoryPath, FileName};

/// What a copy changes from its source (absent: the source's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyRequest {
    pub collection: Option<CollectionName>,
    pub name: Option<FileName>,
    pub directory: Option<DirectoryPath>,
}

impl CopyRequest {
    /// `{"collection"?, "name"?, "directory"?}` (no body: a copy beside the source).
    pub(crate) fn from_json(body: Option<Value>) -> Result<Self, ApiError> {
        let Some(body) = body else {
            return Ok(CopyRequest::default());
        };
        let mut f = super::Fields::new(body, &["collection", "name", "directory"])?;
        let collection = f
            .string("collection")
            .and_then(|v| f.check(CollectionName::parse_as("collection", &v)));
        let name = f.string("name").and_then(|v| f.check(FileName::parse(&v)));
        let directory = f
            .string("directory")
            .and_then(|v| f.check(DirectoryPath::parse(&v)));
        f.finish()?;
        Ok(CopyRequest {
            collection,
            name,
            directory,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_is_optional_and_checked() {
        assert_eq!(
            CopyRequest::from_json(None).unwrap(),
            CopyRequest::default()
        );
        let request =
            CopyRequest::from_json(Some(json!({"name": "b.txt", "collection": "docs"}))).unwrap();
        assert_eq!(request.name.unwrap().as_str(), "b.txt");
        match CopyRequest::from_json(Some(json!({"name": "a/b", "directory": "x", "id": 1}))) {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["id", "name", "directory"], "{errors:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
