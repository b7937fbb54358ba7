//! `GET /files/{id}/content?disposition=`: how the download should present itself.

use crate::blob::Disposition;
use crate::error::ApiError;

/// A download request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentRequest {
    /// `inline` or `attachment` (the default, with the original name).
    pub disposition: Disposition,
}

impl ContentRequest {
    /// Validates query parameters (each name with all its values); the last `disposition` wins.
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut request = ContentRequest::default();
        for (name, values) in params {
            if name != "disposition" {
                return Err(ApiError::field(name, "is not a known query parameter"));
            }
            for value in values {
                request.disposition = Disposition::parse(value).ok_or_else(|| {
                    ApiError::field("disposition", "must be inline or attachment")
                })?;
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_defaults_to_attachment_and_refuses_the_unknown() {
        let parse =
            |params: Vec<(&'static str, Vec<&'static str>)>| ContentRequest::from_params(params);
        assert_eq!(parse(vec![]).unwrap().disposition, Disposition::Attachment);
        let inline = parse(vec![("disposition", vec!["attachment", "inline"])]).unwrap();
        assert_eq!(inline.disposition, Disposition::Inline);
        assert!(parse(vec![("disposition", vec!["download"])]).is_err());
        assert!(parse(vec![("size", vec!["1"])]).is_err());
    }
}
