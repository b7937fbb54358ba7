//! The CLI backs off when the API is busy: `429` (API Gateway's throttling) and `503` (a store
//! throttling or out) are retried after `Retry-After`, or with backoff when none is given, and
//! given up after six attempts. A stub server plays the busy API.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");
const ID: &str = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2";

/// Answers the first `busy` requests with `status` (and `Retry-After: <seconds>` when given),
/// then a file record. Returns its URL and the number of requests it has seen.
async fn busy_api(
    status: u16,
    busy: usize,
    retry_after: Option<u64>,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let response = if n < busy {
                let body = format!(
                    r#"{{"type":"urn:stowage:problem:unavailable","title":"busy","status":{status},"detail":"busy","code":"unavailable"}}"#
                );
                let retry = retry_after
                    .map(|s| format!("retry-after: {s}\r\n"))
                    .unwrap_or_default();
                format!(
                    "HTTP/1.1 {status} Busy\r\ncontent-type: application/problem+json\r\n{retry}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                let body = format!(
                    r#"{{"id":"{ID}","name":"a.txt","status":"uploaded","size":3,"mimeType":"text/plain","kind":"client","tags":[],"version":2,"createdAt":"2026-01-01T00:00:00.000Z"}}"#
                );
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (url, seen)
}

async fn info(url: &str) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["info", ID, "--json"])
        .env("STOWAGE_ENDPOINT", url)
        .env("STOWAGE_TOKEN", "t")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_503_is_retried_after_the_retry_after_it_names() {
    let (url, seen) = busy_api(503, 2, Some(1)).await;
    let (ok, stderr, took) = info(&url).await;
    assert!(ok, "{stderr}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert!(took >= Duration::from_secs(2), "waited {took:?}");
    assert!(stderr.contains("retrying in 1.0 s"), "{stderr}");
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_with_backoff() {
    let (url, seen) = busy_api(429, 2, None).await;
    let (ok, stderr, took) = info(&url).await;
    assert!(ok, "{stderr}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert!(
        took >= Duration::from_millis(1_500),
        "0.5 s then 1 s: {took:?}"
    );
}

#[tokio::test]
async fn a_busy_api_is_given_up_on_after_six_attempts() {
    let (url, seen) = busy_api(503, 100, Some(0)).await;
    let (ok, stderr, _) = info(&url).await;
    assert!(!ok);
    assert_eq!(seen.load(Ordering::SeqCst), 6);
    assert!(stderr.contains("unavailable"), "{stderr}");
}
