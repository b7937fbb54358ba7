//! File events to webhooks, the local stand-in for the `publish-events` function
//! and EventBridge's API destinations: each `--webhook` URL reads the store's change log as a
//! reader of its own (the durable outbox), makes the same events as the function, and POSTs
//! each one as EventBridge delivers it, with the secret in `x-stowage-webhook-secret`. Its
//! position in the log moves only past what the receiver took, so a receiver that is down, or a
//! restart, loses nothing; delivery is at least once, in change order.

use std::sync::Arc;
use std::time::Duration;

use stowage::notify::FileEvent;
use stowage::store::embedded::SqliteStore;
use stowage::store::StoreError;

/// The header that carries the webhook secret, as the template's connection sends it.
pub const SECRET_HEADER: &str = "x-stowage-webhook-secret";
/// The envelope's `account` and `region` (EventBridge fills in the real ones).
const ACCOUNT: &str = "000000000000";
const REGION: &str = "local";
/// Retry backoff: from the first to the largest wait.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// The change-log reader of a webhook URL.
pub fn reader_name(url: &str) -> String {
    format!("webhook:{url}")
}

/// The `--webhook` settings.
#[derive(Clone, Debug, Default)]
pub struct Webhooks {
    pub urls: Vec<String>,
    pub secret: Option<String>,
}

impl Webhooks {
    /// Checks the URLs: absolute `https`, or `http` to this machine only (the secret header
    /// must not cross a network in the clear).
    pub fn validate(&self) -> Result<(), String> {
        for url in &self.urls {
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("--webhook {url}: {e}"))?;
            let host = parsed.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            match parsed.scheme() {
                "https" => {}
                "http" if loopback => {}
                "http" => {
                    return Err(format!(
                        "--webhook {url}: plain http is allowed only to this machine (localhost, 127.0.0.1, [::1]); use https"
                    ))
                }
                _ => return Err(format!("--webhook {url}: must be an https URL")),
            }
        }
        Ok(())
    }

    /// Registers a reader per URL (a new one starts after the changes logged so far) and drops
    /// the readers of URLs no longer configured, so the log is not kept for them.
    pub fn register(&self, store: &SqliteStore) -> Result<(), StoreError> {
        let keep: Vec<String> = self.urls.iter().map(|u| reader_name(u)).collect();
        store.drop_readers_except("webhook:", &keep)?;
        for name in &keep {
            store.register_reader(name)?;
        }
        Ok(())
    }

    /// Starts one deliverer per URL.
    pub fn spawn(&self, store: Arc<SqliteStore>) -> Vec<tokio::task::JoinHandle<()>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // The secret header goes to the configured URL only: a redirect is not followed
            // (reqwest would carry the header to the new host), it is a failed delivery.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stowage-local/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default TLS settings");
        self.urls
            .iter()
            .map(|url| {
                let deliverer = Deliverer {
                    client: client.clone(),
                    url: url.clone(),
                    reader: reader_name(url),
                    secret: self.secret.clone(),
                    store: store.clone(),
                };
                tokio::spawn(deliverer.run())
            })
            .collect()
    }
}

struct Deliverer {
    client: reqwest::Client,
    url: String,
    reader: String,
    secret: Option<String>,
    store: Arc<SqliteStore>,
}

/// What became of one POST.
enum Sent {
    Taken,
    /// The receiver refused it for good (a 4xx other than 408/429): dropped, as EventBridge
    /// would send it to the dead-letter queue.
    Refused(u16),
    /// Worth trying again: no answer, a timeout, 408, 429 or 5xx.
    Retry(String),
}

impl Deliverer {
    async fn run(self) {
        let (store, reader) = (self.store.clone(), self.reader.clone());
        // Only past what the receiver took (or refused for good).
        crate::changelog::follow(&store, &reader, |change| {
            let deliverer = &self;
            async move {
                if let Some(event) = FileEvent::of(&change) {
                    deliverer.deliver(&event).await;
                }
            }
        })
        .await;
    }

    /// POSTs `event` until the receiver takes it (or refuses it for good).
    async fn deliver(&self, event: &FileEvent) {
        let body = event.delivered(ACCOUNT, REGION);
        let mut wait = FIRST_RETRY;
        loop {
            match self.send(&body).await {
                Sent::Taken => {
                    tracing::debug!(url = %self.url, event_id = event.event_id(), "webhook delivered");
                    return;
                }
                Sent::Refused(status) => {
                    tracing::error!(url = %self.url, event_id = event.event_id(), status, "the webhook refused an event; dropping it");
                    return;
                }
                Sent::Retry(why) => {
                    tracing::warn!(url = %self.url, event_id = event.event_id(), why, retry_in_ms = wait.as_millis() as u64, "webhook not delivered; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LONGEST_RETRY);
                }
            }
        }
    }

    async fn send(&self, body: &serde_json::Value) -> Sent {
        let mut request = self.client.post(&self.url).json(body);
        if let Some(secret) = &self.secret {
            request = request.header(SECRET_HEADER, secret);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match status {
                    200..=299 => Sent::Taken,
                    408 | 429 | 500..=599 => Sent::Retry(format!("HTTP {status}")),
                    _ => Sent::Refused(status),
                }
            }
            Err(err) => Sent::Retry(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Webhooks;

    fn check(url: &str) -> Result<(), String> {
        Webhooks {
            urls: vec![url.to_owned()],
            secret: None,
        }
        .validate()
    }

    #[test]
    fn plain_http_is_for_this_machine_only() {
        for ok in [
            "https://hooks.example.com/x",
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://[::1]:8080/x",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/x",
            "http://10.0.0.5/x",
            "ftp://127.0.0.1/x",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
