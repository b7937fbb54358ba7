//! File events to webhooks, end to end: the real `stowage-local` binary with `--webhook` and
//! `--webhook-secret`, a receiver of the test's own that is first unreachable, then answers
//! `503`, then takes events; the server is killed and started again on the same data dir in
//! between. The receiver must see every event of every change, in order, with the secret, as
//! EventBridge delivers them.

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use support::{token, Api, Local};

const SECRET: &str = "s3cret-for-the-test";

/// The test's webhook receiver.
#[derive(Default)]
struct Receiver {
    /// Answer `503` instead of taking events.
    refusing: AtomicBool,
    refused: AtomicUsize,
    /// What it took: the secret header and the body.
    taken: Mutex<Vec<(Option<String>, Value)>>,
}

impl Receiver {
    /// Serves on `addr` until the test ends.
    async fn serve(self: &Arc<Self>, addr: std::net::SocketAddr) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("rebind the reserved port");
        let receiver = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let receiver = receiver.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let receiver = receiver.clone();
                            async move {
                                let secret = req
                                    .headers()
                                    .get("x-stowage-webhook-secret")
                                    .map(|v| v.to_str().unwrap().to_owned());
                                let json = req.headers()["content-type"] == "application/json";
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let status = if receiver.refusing.load(Ordering::SeqCst) {
                                    receiver.refused.fetch_add(1, Ordering::SeqCst);
                                    503
                                } else {
                                    assert!(json, "events are JSON");
                                    let event =
                                        serde_json::from_slice(&body).expect("an event as JSON");
                                    receiver.taken.lock().unwrap().push((secret, event));
                                    200
                                };
                                Ok::<_, Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    }

    fn taken(&self) -> Vec<Value> {
        self.taken
            .lock()
            .unwrap()
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The event types per file id, in arrival order, duplicates (same `eventId`) dropped.
fn per_file(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        if !seen.insert(event["detail"]["eventId"].as_str().unwrap().to_owned()) {
            continue;
        }
        files
            .entry(event["detail"]["file"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(
                event["detail-type"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("stowage.file.")
                    .to_owned(),
            );
    }
    files
}

async fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_event_reaches_the_webhook_across_an_outage_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nothing on it yet: the receiver starts later.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hook = format!("http://{addr}/hooks/stowage");
    let args = ["--webhook", hook.as_str(), "--webhook-secret", SECRET];
    let env = [("STOWAGE_LOCAL_SWEEP_INTERVAL", "1")];
    let local = Local::start_args(dir.path(), &args, &env);
    let alice = token(dir.path(), "acme", "alice");
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };

    // While the receiver is unreachable: a file is created, uploaded and renamed.
    let (code, created) = api
        .create(
            &alice,
            json!({"name": "a.txt", "mimeType": "text/plain", "size": 5}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let photo = created["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.put(
            created["upload"]["url"].as_str().unwrap(),
            "text/plain",
            b"hello"
        )
        .await,
        200
    );
    api.wait_for_status(&alice, &photo, "uploaded").await;
    let renamed = api
        .http
        .patch(format!("{}/files/{photo}", api.url))
        .bearer_auth(&alice)
        .json(&json!({"name": "b.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);

    // The server dies with those events undelivered, and starts again.
    local.stop();
    let local = Local::start_args(dir.path(), &args, &env);
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };

    // The receiver comes up refusing (503), then takes events.
    let receiver = Arc::new(Receiver::default());
    receiver.refusing.store(true, Ordering::SeqCst);
    receiver.serve(addr).await;
    wait_until("a refused delivery", 20, || {
        receiver.refused.load(Ordering::SeqCst) >= 2
    })
    .await;
    receiver.refusing.store(false, Ordering::SeqCst);

    // More changes after the restart: a delete, an upload of the wrong size, a temp file that
    // expires.
    let deleted = api
        .http
        .delete(format!("{}/files/{photo}", api.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (_, short) = api
        .create(
            &alice,
            json!({"name": "c.txt", "mimeType": "text/plain", "expectedSize": 10}),
        )
        .await;
    let short_id = short["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.put(
            short["upload"]["url"].as_str().unwrap(),
            "text/plain",
            b"5 b."
        )
        .await,
        200
    );
    api.wait_for_status(&alice, &short_id, "failed").await;
    let (_, temp) = api
        .create(
            &alice,
            json!({"name": "t.txt", "mimeType": "text/plain", "kind": "temp", "ttlSeconds": 1}),
        )
        .await;
    let temp_id = temp["file"]["id"].as_str().unwrap().to_owned();

    let want: BTreeMap<String, Vec<String>> = [
        (
            photo.clone(),
            vec!["created", "uploaded", "updated", "deleted"],
        ),
        (short_id.clone(), vec!["created", "failed"]),
        (temp_id.clone(), vec!["created", "expired"]),
    ]
    .into_iter()
    .map(|(id, kinds)| (id, kinds.into_iter().map(str::to_owned).collect()))
    .collect();
    wait_until("every event", 30, || per_file(&receiver.taken()) == want).await;

    // Validated against events.schema.json by scripts/check_events.py.
    if let Ok(dir) = std::env::var("STOWAGE_CAPTURED_EVENTS") {
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::path::Path::new(&dir).join("local-webhook.json");
        std::fs::write(path, serde_json::to_vec_pretty(&receiver.taken()).unwrap()).unwrap();
    }
    for (secret, event) in receiver.taken.lock().unwrap().iter() {
        assert_eq!(secret.as_deref(), Some(SECRET));
        assert_eq!(event["source"], "stowage");
        assert_eq!(event["version"], "0");
        let detail = &event["detail"];
        assert_eq!(detail["tenant"], "acme");
        assert!(detail["file"].get("contentUrl").is_none(), "{event}");
        let kind = event["detail-type"]
            .as_str()
            .unwrap()
            .trim_start_matches("stowage.file.");
        assert_eq!(
            detail["eventId"],
            format!(
                "{}.{}.{kind}",
                detail["file"]["id"].as_str().unwrap(),
                detail["file"]["version"]
            )
        );
    }
    drop(local);
}

/// The secret header goes to the configured URL only: a receiver that redirects is a failed
/// delivery (logged, retried), and the redirect's target never sees the event or the secret.
#[tokio::test]
async fn a_redirecting_webhook_never_hands_the_secret_on() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = Arc::new(Receiver::default());
    let target = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    elsewhere.serve(target).await;
    // The configured receiver answers every request with a redirect to `elsewhere`.
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hooks/stowage", redirector.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = redirector.accept().await else {
                continue;
            };
            let counted = counted.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async move {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(307)
                                .header("location", format!("http://{target}/stolen"))
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    let args = ["--webhook", hook.as_str(), "--webhook-secret", SECRET];
    let local = Local::start_args(dir.path(), &args, &[]);
    let alice = token(dir.path(), "acme", "alice");
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let (code, created) = api
        .create(&alice, json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    assert_eq!(code, 201, "{created}");
    wait_until("a delivery attempt", 10, || {
        asked.load(Ordering::SeqCst) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(elsewhere.taken().is_empty(), "the redirect was followed");
    assert_eq!(elsewhere.refused.load(Ordering::SeqCst), 0);
    local.stop();
}
