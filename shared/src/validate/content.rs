//! `GET /files/{id}/content?disposition=&expiresIn=`: how the download should present itself
//! and how long its link lives.

use crate::blob::Disposition;
use crate::error::ApiError;

/// A download request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentRequest {
    /// `inline` or `attachment` (the default, with the original name).
    pub disposition: Disposition,
    /// How long the presigned link lives (a share link); `None`: the deployment's
    /// `STOWAGE_DOWNLOAD_URL_EXPIRES_IN`.
    pub expires_in: Option<std::time::Duration>,
}

/// The longest a presigned link may live: S3's limit for SigV4, 7 days.
pub(crate) const MAX_SHARE_SECONDS: u64 = 604_800;

impl ContentRequest {
    /// Validates query parameters (each name with all its values); the last `disposition` wins.
    pub fn from_params<'a, I>(params: I) -> Result<Self, ApiError>
    where
        I: IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    {
        let mut request = ContentRequest::default();
        for (name, values) in params {
            match name {
                "disposition" => {
                    for value in values {
                        request.disposition = Disposition::parse(value).ok_or_else(|| {
                            ApiError::field("disposition", "must be inline or attachment")
                        })?;
                    }
                }
                "expiresIn" => {
                    for value in values {
                        let seconds = value
                            .parse::<u64>()
                            .ok()
                            .filter(|s| (1..=MAX_SHARE_SECONDS).contains(s))
                            .ok_or_else(|| {
                                ApiError::field(
                                    "expiresIn",
                                    format!(
                                        "must be a whole number of seconds from 1 to {MAX_SHARE_SECONDS}"
                                    ),
                                )
                            })?;
                        request.expires_in = Some(std::time::Duration::from_secs(seconds));
                    }
                }
                _ => return Err(ApiError::field(name, "is not a known query parameter")),
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

    #[test]
    fn share_links_live_from_a_second_to_seven_days() {
        let parse =
            |value: &'static str| ContentRequest::from_params(vec![("expiresIn", vec![value])]);
        assert_eq!(
            ContentRequest::from_params(vec![]).unwrap().expires_in,
            None
        );
        assert_eq!(
            parse("1").unwrap().expires_in,
            Some(std::time::Duration::from_secs(1))
        );
        assert_eq!(
            parse("604800").unwrap().expires_in,
            Some(std::time::Duration::from_secs(604_800))
        );
        for bad in [
            "0",
            "604801",
            "-5",
            "1.5",
            "soon",
            "",
            "99999999999999999999999",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
    }
}
