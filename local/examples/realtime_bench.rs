//! The realtime benchmark: on the real `stowage-local`
//! binary, the time from an upload's `PUT` to the embedded endpoint (which stores the object
//! and runs the S3 event's handler) until each subscriber's `data` carrying the `uploaded`
//! event arrives, with 1, 100 and 1,000 subscribers; and the server's memory (resident set)
//! per idle connection with 1,000 open.
//!
//!     cargo build --release -p stowage-local
//!     cargo run --release -p stowage-local --example realtime_bench [-- BINARY [UPLOADS]]
//!
//! BINARY defaults to `target/release/stowage-local`; UPLOADS (per round) to 50.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens one subscribed connection; every `uploaded` event it receives is recorded.
async fn subscriber(url: &str, token: &str, channel: &str, arrivals: Arrivals) {
    let host = url.trim_start_matches("http://");
    let header = json!({"host": host, "Authorization": token}).to_string();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
    let mut request = format!("ws://{host}/event/realtime")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("aws-appsync-event-ws, header-{encoded}")
            .parse()
            .unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    ws.send(Message::text(
        json!({"type": "subscribe", "id": "s", "channel": channel}).to_string(),
    ))
    .await
    .unwrap();
    // Wait for the subscription before the connection counts as ready.
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "subscribe_success" {
                break;
            }
        }
    }
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let at = Instant::now();
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "data" {
                continue;
            }
            let event: Value = serde_json::from_str(value["event"].as_str().unwrap()).unwrap();
            if event["type"] == "stowage.file.uploaded" {
                let id = event["file"]["id"].as_str().unwrap().to_owned();
                arrivals.lock().await.push((id, at));
            }
        }
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .unwrap_or_else(|| "target/release/stowage-local".into());
    let uploads: usize = args.next().map_or(50, |n| n.parse().expect("UPLOADS"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(&binary)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("stowage-local listening on ")
        .expect("the startup line")
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    let token = String::from_utf8(
        std::process::Command::new(&binary)
            .args(["token", "--tenant", "acme", "--user", "bench", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let channel = format!("/stowage/{}/tenant", stowage::realtime::segment("acme"));
    let http = reqwest::Client::new();
    let pid = child.id();

    // Warm up: one upload with nobody listening.
    let upload = |name: String| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let created: Value = http
                .post(format!("{url}/files"))
                .bearer_auth(&token)
                .json(&json!({"name": name, "mimeType": "text/plain", "size": 5}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = created["file"]["id"].as_str().unwrap().to_owned();
            let target = created["upload"]["url"].as_str().unwrap().to_owned();
            let started = Instant::now();
            let put = http
                .put(target)
                .header("content-type", "text/plain")
                .body("hello")
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success());
            (id, started)
        }
    };
    upload("warm.txt".into()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kib(pid);

    let arrivals: Arrivals = Arc::default();
    let mut open = 0;
    println!("subscribers  uploads  p50 ms  p99 ms  max ms");
    for subscribers in [1usize, 100, 1000] {
        while open < subscribers {
            subscriber(&url, &token, &channel, arrivals.clone()).await;
            open += 1;
        }
        if subscribers == 1000 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss = rss_kib(pid);
            println!(
                "memory: {idle_rss} KiB resident before the connections, {rss} KiB with 1,000 idle: {:.1} KiB per connection",
                (rss.saturating_sub(idle_rss)) as f64 / 1000.0
            );
        }
        arrivals.lock().await.clear();
        let mut latencies = Vec::new();
        for i in 0..uploads {
            let (id, started) = upload(format!("bench-{subscribers}-{i}.txt")).await;
            // Every subscriber's copy of this upload's event.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got: Vec<Instant> = arrivals
                    .lock()
                    .await
                    .iter()
                    .filter(|(file, _)| *file == id)
                    .map(|(_, at)| *at)
                    .collect();
                if got.len() >= subscribers {
                    latencies.extend(got.iter().map(|at| (*at - started).as_secs_f64() * 1e3));
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "only {} of {subscribers} got {id}",
                    got.len()
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{subscribers:>11}  {uploads:>7}  {:>6.1}  {:>6.1}  {:>6.1}",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().unwrap()
        );
    }
    child.kill().ok();
    child.wait().ok();
}
