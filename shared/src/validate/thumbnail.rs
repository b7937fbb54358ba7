//! `GET /files/{id}/thumbnail?size=&wait=`: which thumbnail, and how long to wait for it.

use crate::error::ApiError;
use crate::model::FieldError;
use crate::thumbnails::{MAX_WAIT_SECONDS, SIZES};

/// The size asked for when none is.
pub(crate) const DEFAULT_THUMBNAIL_SIZE: u32 = 256;

/// A thumbnail request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThumbnailRequest {
    /// The box the thumbnail fits in: 64, 256 or 1024.
    pub size: u32,
    /// Seconds to hold the answer until the thumbnail exists (0–10).
    pub wait: u64,
}

impl ThumbnailRequest {
    /// Validates query parameters (each name with all its values).
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut request = ThumbnailRequest {
            size: DEFAULT_THUMBNAIL_SIZE,
            wait: 0,
        };
        let mut errors = Vec::new();
        for (name, values) in params {
            let [value] = values.as_slice() else {
                errors.push(FieldError::new(name, "must be given once"));
                continue;
            };
            match name {
                "size" => match value.parse::<u32>() {
                    Ok(size) if SIZES.contains(&size) && !value.starts_with('0') => {
                        request.size = size
                    }
                    _ => errors.push(FieldError::new("size", "must be 64, 256 or 1024")),
                },
                "wait" => match value.parse::<u64>() {
                    Ok(wait)
                        if wait <= MAX_WAIT_SECONDS
                            && (value.len() == 1 || !value.starts_with('0')) =>
                    {
                        request.wait = wait
                    }
                    _ => errors.push(FieldError::new(
                        "wait",
                        "must be a whole number of seconds from 0 to 10",
                    )),
                },
                _ => errors.push(FieldError::new(name, "is not a known query parameter")),
            }
        }
        if errors.is_empty() {
            Ok(request)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<ThumbnailRequest, ApiError> {
        ThumbnailRequest::from_params(pairs.iter().map(|(k, v)| (*k, vec![*v])))
    }

    #[test]
    fn sizes_and_waits_within_the_rules_are_taken() {
        assert_eq!(parse(&[]).unwrap(), ThumbnailRequest { size: 256, wait: 0 });
        assert_eq!(
            parse(&[("size", "64"), ("wait", "10")]).unwrap(),
            ThumbnailRequest { size: 64, wait: 10 }
        );
        assert_eq!(
            parse(&[("size", "1024"), ("wait", "0")]).unwrap().size,
            1024
        );
    }

    #[test]
    fn anything_else_is_a_field_error() {
        for bad in [
            ("size", "128"),
            ("size", "064"),
            ("size", "-64"),
            ("size", "64.0"),
            ("size", ""),
            ("wait", "11"),
            ("wait", "-1"),
            ("wait", "1.5"),
            ("wait", "01"),
            ("wait", "1e1"),
            ("format", "png"),
        ] {
            assert!(parse(&[bad]).is_err(), "{bad:?}");
        }
        let twice = ThumbnailRequest::from_params([("size", vec!["64", "256"])]);
        assert!(twice.is_err());
    }
}
