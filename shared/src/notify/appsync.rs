//! Publishing file events to an AWS AppSync Events API (SPEC 20), the `publish-events`
//! function's second sink: each event goes to the channels of everyone who may read its file
//! ([`crate::realtime::channels_of`], with the file's collection policy), by AppSync's HTTP
//! publish: `POST https://<http domain>/event` with `{"channel", "events": [<JSON text>, …]}`,
//! at most 5 events a request, signed with SigV4 (service `appsync`) by the function's own
//! credentials.
//!
//! An event counts as taken when every request carrying it succeeded, AppSync's per-event
//! `failed` list included; on each channel a failure stops that channel's later requests, so a
//! channel never receives a file's events out of order. What was not taken is retried by
//! [`super::publish`] and, failing that, reported as the batch's first failed change, so the
//! stream delivers it again (events already taken on some channel then arrive twice there,
//! with the same `eventId`, which clients drop).

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use super::{EventSink, FileEvent, SinkError};
use crate::error::ApiError;
use crate::model::{CollectionName, Policy, TenantId};

/// Events per publish request, as AppSync allows.
pub const MAX_EVENTS_PER_REQUEST: usize = 5;

/// The longest a publish request may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a file's collection policy comes from (the service, with its per-instance cache).
#[async_trait]
pub trait Policies: Send + Sync {
    async fn policy(&self, tenant: &TenantId, name: &CollectionName) -> Result<Policy, ApiError>;
}

#[async_trait]
impl<M, O> Policies for crate::service::Service<M, O>
where
    M: crate::store::MetadataStore + ?Sized,
    O: crate::blob::ObjectStore + ?Sized,
{
    async fn policy(&self, tenant: &TenantId, name: &CollectionName) -> Result<Policy, ApiError> {
        crate::service::Service::policy(self, tenant, name).await
    }
}

#[async_trait]
impl<T: Policies + ?Sized> Policies for &T {
    async fn policy(&self, tenant: &TenantId, name: &CollectionName) -> Result<Policy, ApiError> {
        (**self).policy(tenant, name).await
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<bytes::Bytes>>;

/// The AppSync Events HTTP publisher.
pub struct AppSyncSink<P> {
    client: HttpsClient,
    endpoint: http::Uri,
    host: String,
    region: String,
    credentials: SharedCredentialsProvider,
    policies: P,
}

impl<P: Policies> AppSyncSink<P> {
    /// A publisher to `endpoint` (`https://<http domain>/event`; `http://` is taken for tests),
    /// signing for `region` with `credentials`. Builds its HTTPS client once (the system's
    /// root certificates, rustls on ring as the SDK's client).
    pub fn new(
        endpoint: &str,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        policies: P,
    ) -> Result<Self, String> {
        let endpoint: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("STOWAGE_REALTIME_PUBLISH_URL {endpoint:?} is not a URL: {e}"))?;
        let host = match (endpoint.scheme_str(), endpoint.authority()) {
            (Some("https" | "http"), Some(authority)) => authority.as_str().to_owned(),
            _ => {
                return Err(format!(
                    "STOWAGE_REALTIME_PUBLISH_URL {endpoint} must be an https:// URL"
                ))
            }
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .map_err(|e| format!("no root certificates for the realtime endpoint: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(AppSyncSink {
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
            endpoint,
            host,
            region: region.into(),
            credentials,
            policies,
        })
    }

    /// One signed publish of `events` (JSON texts) to `channel`: `Ok` with how many of them,
    /// from the first, AppSync took (all of them unless it listed some as failed).
    async fn post(&self, channel: &str, events: &[&str]) -> Result<usize, String> {
        let body = serde_json::json!({"channel": channel, "events": events}).to_string();
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("credentials: {e}"))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("appsync")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let endpoint = self.endpoint.to_string();
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", "application/json"),
        ];
        let signable = SignableRequest::new(
            "POST",
            &endpoint,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(self.endpoint.clone())
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut request);
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| "the publish request timed out".to_owned())?
            .map_err(|e| format!("publish request: {e}"))?;
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("publish response: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "AppSync answered {status}: {}",
                String::from_utf8_lossy(&answer[..answer.len().min(512)])
            ));
        }
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        let first_failed = answer["failed"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|failed| {
                tracing::warn!(%failed, channel, "AppSync refused an event");
                failed["index"].as_u64()
            })
            .min();
        Ok(first_failed.map_or(events.len(), |i| (i as usize).min(events.len())))
    }

    /// Publishes `indices` (of `texts`, in order) to `channel`, at most 5 a request; answers
    /// which were taken. After a failure, nothing later is sent to this channel.
    async fn publish_channel(
        &self,
        channel: &str,
        indices: &[usize],
        texts: &[String],
    ) -> Vec<(usize, bool)> {
        let mut taken = Vec::with_capacity(indices.len());
        let mut failed = false;
        for chunk in indices.chunks(MAX_EVENTS_PER_REQUEST) {
            if failed {
                taken.extend(chunk.iter().map(|&i| (i, false)));
                continue;
            }
            let events: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let accepted = match self.post(channel, &events).await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, channel, "could not publish to a realtime channel");
                    0
                }
            };
            failed = accepted < chunk.len();
            taken.extend(chunk.iter().enumerate().map(|(n, &i)| (i, n < accepted)));
        }
        taken
    }
}

#[async_trait]
impl<P: Policies> EventSink for AppSyncSink<P> {
    async fn put(&self, events: &[&FileEvent]) -> Result<Vec<bool>, SinkError> {
        let mut texts = Vec::with_capacity(events.len());
        // Each channel with the events it gets, in stream order.
        let mut channels: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let record = &event.record;
            let policy = self
                .policies
                .policy(&record.tenant, &record.collection)
                .await
                .map_err(|e| SinkError(format!("reading a collection's policy: {e:?}")))?;
            texts.push(crate::realtime::event_text(event));
            for channel in crate::realtime::channels_of(record, &policy) {
                match channels.iter_mut().find(|(c, _)| *c == channel) {
                    Some((_, indices)) => indices.push(i),
                    None => channels.push((channel, vec![i])),
                }
            }
        }
        let sent = futures_util::future::join_all(
            channels
                .iter()
                .map(|(channel, indices)| self.publish_channel(channel, indices, &texts)),
        )
        .await;
        let mut taken = vec![true; events.len()];
        for (i, ok) in sent.into_iter().flatten() {
            taken[i] &= ok;
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoPolicies;

    #[async_trait]
    impl Policies for NoPolicies {
        async fn policy(&self, _: &TenantId, _: &CollectionName) -> Result<Policy, ApiError> {
            Ok(Policy::default())
        }
    }

    fn credentials() -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKID", "secret", None, None, "test",
        ))
    }

    #[test]
    fn the_publish_url_must_be_an_https_url_with_a_host() {
        let sink = AppSyncSink::new(
            "https://abc.appsync-api.eu-west-1.amazonaws.com/event",
            "eu-west-1",
            credentials(),
            NoPolicies,
        )
        .unwrap();
        assert_eq!(sink.host, "abc.appsync-api.eu-west-1.amazonaws.com");
        for bad in [
            "",
            "abc.example/event",
            "ftp://abc.example/event",
            "https://",
        ] {
            let err = AppSyncSink::new(bad, "eu-west-1", credentials(), NoPolicies)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} was taken"));
            assert!(err.contains("STOWAGE_REALTIME_PUBLISH_URL"), "{err}");
        }
    }
}
