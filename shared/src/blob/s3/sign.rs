//! Signing what the SDK's presigner does not: query-string SigV4 for the multipart calls a
//! browser makes itself (`CreateMultipartUpload`, `ListParts`, `CompleteMultipartUpload`,
//! `AbortMultipartUpload`) with the `aws-sigv4` crate, and S3 POST policies for HTML forms.
//! Both use the S3 client's own credentials and region, so they sign exactly as its presigned
//! `PUT`s do, and both start from a presigned `PUT` of the same key for the object's URL, so
//! path-style and virtual-hosted addressing come out as the SDK would make them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use chrono::{Datelike as _, Timelike as _};
use serde_json::json;

use super::S3Store;
use crate::blob::{BlobError, PostConditions, PresignedPost, PresignedRequest, UploadCall};
use crate::model::Timestamp;

fn system_time(at: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(at.millis().max(0).unsigned_abs())
}

impl S3Store {
    /// The current credentials and the region to sign with.
    async fn signing_identity(&self) -> Result<(Credentials, String), BlobError> {
        let credentials = self
            .signing
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| BlobError::unavailable("signing: credentials", e))?;
        Ok((credentials, self.signing.region.clone()))
    }

    /// The URL of `key` without a query, as the SDK addresses it.
    async fn object_url(&self, key: &str, now: Timestamp) -> Result<String, BlobError> {
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(super::presigning(now, Duration::from_secs(60))?)
            .await
            .map_err(|e| BlobError::new(format!("addressing {key}"), e))?;
        Ok(presigned
            .uri()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned())
    }

    pub(super) async fn sign_upload_call(
        &self,
        key: &str,
        call: UploadCall<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let base = self.object_url(key, now).await?;
        let (method, query, headers): (&str, String, Vec<(&str, &str)>) = match call {
            UploadCall::Create { content_type } => (
                "POST",
                "uploads".into(),
                vec![("content-type", content_type)],
            ),
            UploadCall::ListParts { upload_id } => ("GET", upload_query(upload_id), vec![]),
            // A completion writes once (S3's conditional write): a second one gets `412`.
            UploadCall::Complete { upload_id } => (
                "POST",
                upload_query(upload_id),
                vec![("if-none-match", "*")],
            ),
            UploadCall::Abort { upload_id } => ("DELETE", upload_query(upload_id), vec![]),
        };
        let url = format!("{base}?{query}");
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_owned();
        let (credentials, region) = self.signing_identity().await?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        // S3 signs the path as sent: no double encoding, no normalisation.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("s3")
            .time(system_time(now))
            .settings(settings)
            .build()
            .map_err(|e| BlobError::new("signing parameters", e))?
            .into();
        let mut signed_headers = vec![("host", host.as_str())];
        signed_headers.extend(headers.iter().copied());
        let signable = SignableRequest::new(
            method,
            &url,
            signed_headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| BlobError::new(format!("signing {method} {key}"), e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| BlobError::new(format!("signing {method} {key}"), e))?
            .into_parts();
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .body(())
            .map_err(|e| BlobError::new(format!("signing {method} {key}"), e))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(PresignedRequest {
            method: method.to_owned(),
            url: request.uri().to_string(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            expires_at: now.plus_seconds(expires_in.as_secs()),
        })
    }

    pub(super) async fn sign_post(
        &self,
        key: &str,
        conditions: PostConditions<'_>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedPost, BlobError> {
        let object = self.object_url(key, now).await?;
        let url = object
            .strip_suffix(&format!("/{key}"))
            .ok_or_else(|| BlobError::new(format!("addressing {key}"), "unexpected URL shape"))?
            .to_owned();
        let (credentials, region) = self.signing_identity().await?;
        let at = chrono::DateTime::from_timestamp_millis(now.millis()).unwrap_or_default();
        // Written out rather than through `format("%Y%m%d…")`, whose strftime engine would be
        // the only one in the bootstraps.
        let date = format!("{:04}{:02}{:02}", at.year(), at.month(), at.day());
        let amz_date = format!(
            "{date}T{:02}{:02}{:02}Z",
            at.hour(),
            at.minute(),
            at.second()
        );
        let credential = format!(
            "{}/{date}/{region}/s3/aws4_request",
            credentials.access_key_id()
        );
        let expiration = now.plus_seconds(expires_in.as_secs());
        let mut fields = BTreeMap::from([
            ("key".to_owned(), key.to_owned()),
            (
                "Content-Type".to_owned(),
                conditions.content_type.to_owned(),
            ),
            ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), amz_date),
        ]);
        if let Some(token) = credentials.session_token() {
            fields.insert("x-amz-security-token".to_owned(), token.to_owned());
        }
        let mut policy_conditions = vec![
            json!({"bucket": self.bucket}),
            json!([
                "content-length-range",
                conditions.min_size,
                conditions.max_size
            ]),
        ];
        policy_conditions.extend(fields.iter().map(|(name, value)| json!({ name: value })));
        let policy = json!({
            "expiration": expiration.to_rfc3339(),
            "conditions": policy_conditions,
        });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signing_key = v4::generate_signing_key(
            credentials.secret_access_key(),
            system_time(now),
            &region,
            "s3",
        );
        let signature = v4::calculate_signature(signing_key, policy.as_bytes());
        fields.insert("policy".to_owned(), policy);
        fields.insert("x-amz-signature".to_owned(), signature);
        Ok(PresignedPost {
            url,
            fields,
            expires_at: expiration,
        })
    }
}

fn upload_query(upload_id: &str) -> String {
    let encoded: String =
        percent_encoding::utf8_percent_encode(upload_id, percent_encoding::NON_ALPHANUMERIC)
            .collect();
    format!("uploadId={encoded}")
}
