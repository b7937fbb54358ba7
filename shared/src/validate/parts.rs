//! The bodies of the multipart routes: which parts to sign, and which parts the client says it
//! uploaded.

use serde_json::Value;

use super::{invalid_body, Fields, DEFAULT_UPLOAD_URL_EXPIRY_SECONDS, MAX_URL_EXPIRY_SECONDS};
use crate::error::ApiError;

/// Most part numbers one `POST /files/{id}/upload/parts` signs.
pub(crate) const MAX_PARTS_PER_SIGNING: usize = 1_000;

/// A validated `POST /files/{id}/upload/parts` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignParts {
    /// Distinct part numbers, ascending (checked against the plan by the service).
    pub part_numbers: Vec<u32>,
    /// Seconds the URLs live.
    pub url_expires_in: u64,
}

impl SignParts {
    /// Parses `{"partNumbers": [..], "uploadUrlExpiresIn"?}`.
    pub(crate) fn from_json(body: Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(body, &["partNumbers", "uploadUrlExpiresIn"])?;
        let url_expires_in = f
            .integer("uploadUrlExpiresIn", 1, MAX_URL_EXPIRY_SECONDS)
            .unwrap_or(DEFAULT_UPLOAD_URL_EXPIRY_SECONDS);
        let mut part_numbers = match f.array("partNumbers") {
            Some(items) if (1..=MAX_PARTS_PER_SIGNING).contains(&items.len()) => {
                let numbers: Option<Vec<u32>> = items
                    .iter()
                    .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                    .collect();
                numbers.unwrap_or_else(|| {
                    f.error("partNumbers", "must be an array of part numbers");
                    Vec::new()
                })
            }
            None if f.has_error("partNumbers") => Vec::new(),
            _ => {
                f.error(
                    "partNumbers",
                    format!("must be an array of 1 to {MAX_PARTS_PER_SIGNING} part numbers"),
                );
                Vec::new()
            }
        };
        f.finish()?;
        part_numbers.sort_unstable();
        part_numbers.dedup();
        Ok(SignParts {
            part_numbers,
            url_expires_in,
        })
    }
}

/// A part the client says it uploaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedPart {
    pub part_number: u32,
    /// Without quotes.
    pub etag: String,
}

/// A validated `POST /files/{id}/upload/complete` body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompleteParts {
    /// The client's parts, to be checked against S3's; `None` when it sent none.
    pub parts: Option<Vec<ClaimedPart>>,
}

impl CompleteParts {
    /// Parses `{"parts": [{"partNumber", "etag"}]}` (`None`: no body).
    pub(crate) fn from_json(body: Option<Value>) -> Result<Self, ApiError> {
        let Some(body) = body else {
            return Ok(CompleteParts::default());
        };
        if !body.is_object() {
            return Err(invalid_body("the request body must be a JSON object"));
        }
        let mut f = Fields::new(body, &["parts"])?;
        let items = f.array("parts");
        f.finish()?;
        let Some(items) = items else {
            return Ok(CompleteParts::default());
        };
        let mut parts = Vec::with_capacity(items.len());
        for (at, item) in items.iter().enumerate() {
            let number = item
                .get("partNumber")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            let etag = item.get("etag").and_then(Value::as_str);
            match (number, etag) {
                (Some(part_number), Some(etag)) => parts.push(ClaimedPart {
                    part_number,
                    etag: etag.trim_matches('"').to_owned(),
                }),
                _ => {
                    return Err(ApiError::field(
                        format!("parts[{at}]"),
                        "must be {\"partNumber\": n, \"etag\": \"…\"}",
                    ))
                }
            }
        }
        Ok(CompleteParts { parts: Some(parts) })
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
    fn part_numbers_are_sorted_and_deduplicated() {
        let sign = SignParts::from_json(json!({"partNumbers": [3, 1, 3]})).unwrap();
        assert_eq!(sign.part_numbers, [1, 3]);
        assert_eq!(sign.url_expires_in, DEFAULT_UPLOAD_URL_EXPIRY_SECONDS);
    }

    #[test]
    fn sign_bodies_name_each_bad_field() {
        for (body, field) in [
            (json!({}), "partNumbers"),
            (json!({"partNumbers": []}), "partNumbers"),
            (json!({"partNumbers": [-1]}), "partNumbers"),
            (json!({"partNumbers": "1"}), "partNumbers"),
            (
                json!({"partNumbers": [1], "uploadUrlExpiresIn": 0}),
                "uploadUrlExpiresIn",
            ),
            (json!({"partNumbers": [1], "x": 1}), "x"),
        ] {
            assert_eq!(
                fields(SignParts::from_json(body.clone())),
                [field],
                "{body}"
            );
        }
    }

    #[test]
    fn claimed_parts_lose_their_quotes() {
        let complete =
            CompleteParts::from_json(Some(json!({"parts": [{"partNumber": 1, "etag": "\"e\""}]})))
                .unwrap();
        assert_eq!(
            complete.parts.unwrap(),
            [ClaimedPart {
                part_number: 1,
                etag: "e".into()
            }]
        );
        assert_eq!(
            fields(CompleteParts::from_json(Some(
                json!({"parts": [{"partNumber": 1}]})
            ))),
            ["parts[0]"]
        );
        assert_eq!(CompleteParts::from_json(None).unwrap().parts, None);
    }
}
