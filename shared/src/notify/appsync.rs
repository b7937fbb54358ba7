//! Publishing file events to an AWS AppSync Events API (realtime), the `publish-events`
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
        crate::service::Service::event_policy(self, tenant, name).await
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
    /// A publisher to `endpoint` (`https://<http domain>/event`), signing for `region` with
    /// `credentials`. Builds its HTTPS client once (the system's root certificates, rustls on
    /// ring as the SDK's client).
    pub fn new(
        endpoint: &str,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        policies: P,
    ) -> Result<Self, String> {
        Self::build(endpoint, region.into(), credentials, policies, false)
    }

    /// [`AppSyncSink::new`] that also takes a plain `http://` endpoint: for the tests' stand-in
    /// only (a signed request and its session token would cross the network unencrypted).
    #[cfg(any(test, feature = "test-util"))]
    pub fn over_plain_http(
        endpoint: &str,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        policies: P,
    ) -> Result<Self, String> {
        Self::build(endpoint, region.into(), credentials, policies, true)
    }

    fn build(
        endpoint: &str,
        region: String,
        credentials: SharedCredentialsProvider,
        policies: P,
        plain_http: bool,
    ) -> Result<Self, String> {
        let endpoint: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("STOWAGE_REALTIME_PUBLISH_URL {endpoint:?} is not a URL: {e}"))?;
        let host = match (endpoint.scheme_str(), endpoint.authority()) {
            (Some("https"), Some(authority)) => authority.as_str().to_owned(),
            (Some("http"), Some(authority)) if plain_http => authority.as_str().to_owned(),
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
            .map_err(|e| format!("no root certificates for the realtime endpoint: {e}"))?;
        let connector = if plain_http {
            connector.https_or_http()
        } else {
            connector.https_only()
        };
        Ok(AppSyncSink {
            client: Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector.enable_http1().build()),
            endpoint,
            host,
            region,
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
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("publish request: {e}"))?;
            let status = response.status();
            let answer = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("publish response: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, answer))
        };
        let (status, answer) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "the publish request timed out".to_owned())??;
        if !status.is_success() {
            return Err(format!(
                "AppSync answered {status}: {}",
                String::from_utf8_lossy(&answer[..answer.len().min(512)])
            ));
        }
        accepted_of(&answer, events.len(), channel)
    }

    /// Publishes `indices` (of `texts`, in order) to `channel`, at most 5 a request and never
    /// two events of one file in a request (so a request AppSync takes in part cannot deliver a
    /// file's later event before its earlier one); answers which were taken. After a failure,
    /// nothing later is sent to this channel.
    async fn publish_channel(
        &self,
        channel: &str,
        indices: &[usize],
        texts: &[String],
        files: &[crate::model::FileId],
    ) -> Vec<(usize, bool)> {
        let mut taken = Vec::with_capacity(indices.len());
        let mut failed = false;
        for chunk in requests(indices, files) {
            let chunk = chunk.as_slice();
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

/// `indices` cut into requests: at most [`MAX_EVENTS_PER_REQUEST`] each, a new one whenever
/// an event's file is already in the current one.
fn requests(indices: &[usize], files: &[crate::model::FileId]) -> Vec<Vec<usize>> {
    let mut requests: Vec<Vec<usize>> = Vec::new();
    for &i in indices {
        match requests.last_mut() {
            Some(current)
                if current.len() < MAX_EVENTS_PER_REQUEST
                    && !current.iter().any(|&j| files[j] == files[i]) =>
            {
                current.push(i)
            }
            _ => requests.push(vec![i]),
        }
    }
    requests
}

/// How many of a request's `sent` events, from the first, AppSync's 2xx `answer` took: all
/// but those from the first it lists as `failed` on; none when the answer cannot be read or a
/// failure names no index (nothing is counted as published that might not have been).
fn accepted_of(answer: &[u8], sent: usize, channel: &str) -> Result<usize, String> {
    let answer: serde_json::Value =
        serde_json::from_slice(answer).map_err(|e| format!("AppSync's answer is not JSON: {e}"))?;
    let mut first_failed = sent;
    for failed in answer["failed"].as_array().into_iter().flatten() {
        tracing::warn!(%failed, channel, "AppSync refused an event");
        let index = failed["index"]
            .as_u64()
            .ok_or_else(|| format!("AppSync refused an event without saying which: {failed}"))?;
        first_failed = first_failed.min(usize::try_from(index).unwrap_or(0));
    }
    Ok(first_failed)
}

#[async_trait]
impl<P: Policies> EventSink for AppSyncSink<P> {
    async fn put(&self, events: &[&FileEvent]) -> Result<Vec<bool>, SinkError> {
        let mut texts = Vec::with_capacity(events.len());
        let files: Vec<crate::model::FileId> = events.iter().map(|e| e.record.id).collect();
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
                .map(|(channel, indices)| self.publish_channel(channel, indices, &texts, &files)),
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

    #[test]
    fn a_request_holds_at_most_5_events_and_one_per_file() {
        let (a, b) = (
            crate::model::FileId::generate(),
            crate::model::FileId::generate(),
        );
        let files = [a, a, b, b, b, b, b, b, a];
        let cut = requests(&(0..files.len()).collect::<Vec<_>>(), &files);
        assert_eq!(
            cut,
            [
                vec![0],
                vec![1, 2],
                vec![3],
                vec![4],
                vec![5],
                vec![6],
                vec![7, 8]
            ]
        );
        let distinct: Vec<crate::model::FileId> =
            (0..7).map(|_| crate::model::FileId::generate()).collect();
        let cut = requests(&(0..7).collect::<Vec<_>>(), &distinct);
        assert_eq!(cut, [vec![0, 1, 2, 3, 4], vec![5, 6]]);
    }

    #[test]
    fn only_what_appsync_says_it_took_counts() {
        let ok = br#"{"successful": [{"identifier": "x", "index": 0}, {"identifier": "y", "index": 1}], "failed": []}"#;
        assert_eq!(accepted_of(ok, 2, "/c"), Ok(2));
        let partial = br#"{"successful": [{"index": 0}, {"index": 2}], "failed": [{"identifier": "y", "index": 1, "code": "X"}]}"#;
        assert_eq!(accepted_of(partial, 3, "/c"), Ok(1));
        assert!(
            accepted_of(b"<html>", 3, "/c").is_err(),
            "an unreadable answer takes nothing"
        );
        let unnamed = br#"{"successful": [], "failed": [{"code": "X"}]}"#;
        assert!(accepted_of(unnamed, 3, "/c").is_err());
    }
}
