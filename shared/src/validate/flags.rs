//! The query flags of single-file routes: `GET /files/{id}?trashed=true` (read a file in the
//! trash) and `DELETE /files/{id}?permanent=true` (delete for good, skipping the trash).

use crate::error::ApiError;

/// `GET /files/{id}`'s query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShowRequest {
    /// Read the file from the trash (only there).
    pub trashed: bool,
}

/// `DELETE /files/{id}`'s query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    /// Delete for good: in a collection with a trash, and for a file already in it.
    pub permanent: bool,
}

/// The one flag a route takes, given once as `true` or `false`; any other parameter is `400`.
fn only_flag<'a, I>(params: I, flag: &str) -> Result<bool, ApiError>
where
    I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
{
    let mut value = false;
    for (name, values) in params {
        if name != flag {
            return Err(ApiError::field(name, "is not a known query parameter"));
        }
        let [given] = values.as_slice() else {
            return Err(ApiError::field(name, "must be given once"));
        };
        value = super::flag(name, given).map_err(|e| ApiError::field(e.field, e.message))?;
    }
    Ok(value)
}

impl ShowRequest {
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        only_flag(params, "trashed").map(|trashed| ShowRequest { trashed })
    }
}

impl DeleteRequest {
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        only_flag(params, "permanent").map(|permanent| DeleteRequest { permanent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_is_true_or_false_and_nothing_else_is_taken() {
        assert!(!ShowRequest::from_params(vec![]).unwrap().trashed);
        assert!(
            ShowRequest::from_params(vec![("trashed", vec!["true"])])
                .unwrap()
                .trashed
        );
        assert!(
            !ShowRequest::from_params(vec![("trashed", vec!["false"])])
                .unwrap()
                .trashed
        );
        assert!(ShowRequest::from_params(vec![("trashed", vec!["yes"])]).is_err());
        assert!(ShowRequest::from_params(vec![("trashed", vec!["true", "true"])]).is_err());
        assert!(ShowRequest::from_params(vec![("permanent", vec!["true"])]).is_err());
        assert!(
            DeleteRequest::from_params(vec![("permanent", vec!["true"])])
                .unwrap()
                .permanent
        );
        assert!(DeleteRequest::from_params(vec![("x", vec!["1"])]).is_err());
    }
}
