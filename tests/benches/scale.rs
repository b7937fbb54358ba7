//! The one-busy-tenant benchmark: many clients of one tenant create files, upload them and have
//! them completed (the S3 event's handler), as fast as they are answered, against DynamoDB on
//! the conflict-faithful moto server (`scripts/moto_server.py --hold-ms N`). It reports
//! failures and latencies; it does not pass or fail (`bench/run --scale`;
//! docs/src/measurements/scale.md).
//!
//!   STOWAGE_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT \
//!   SCALE_BENCH_CLIENTS=64 SCALE_BENCH_SECONDS=30 [SCALE_BENCH_MAX_BYTES=N] \
//!     cargo bench -p stowage-tests --bench scale
//!
//! With `SCALE_BENCH_MAX_BYTES` the tenant has that byte limit, and a client whose create is
//! refused with `409 quota_exceeded` deletes its oldest file for good and goes on: the tenant
//! stays at its limit, and the benchmark checks that usage never passed it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{create_request, upload_key, Reply, TestEnv};

const TENANT: &str = "busy";
const SIZE: usize = 4_096;

#[derive(Default)]
struct Tally {
    creates: Vec<f64>,
    completions: Vec<f64>,
    failed_creates: Vec<String>,
    failed_completions: Vec<String>,
    refused: u64,
    deleted: u64,
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn handle(env: &TestEnv, route: RouteId, request: lambda_http::Request) -> Reply {
    Reply::from(stowage::http::handle(&env.app, route, request).await)
}

async fn client(env: Arc<TestEnv>, until: Instant, sequence: Arc<AtomicU64>) -> Tally {
    let mut tally = Tally::default();
    let mut mine: std::collections::VecDeque<String> = Default::default();
    let bytes = vec![b'x'; SIZE];
    while Instant::now() < until {
        let body =
            json!({"name": "upload.bin", "size": SIZE, "mimeType": "application/octet-stream"});
        let started = Instant::now();
        let created = handle(
            &env,
            RouteId::CreateFile,
            create_request(TENANT, "alice", &body),
        )
        .await;
        let took = started.elapsed().as_secs_f64() * 1_000.0;
        if created.status == 409 && created.json["code"] == "quota_exceeded" {
            tally.refused += 1;
            if let Some(oldest) = mine.pop_front() {
                let delete = env
                    .route(RouteId::DeleteFile, TENANT)
                    .id(&oldest)
                    .query("permanent=true")
                    .request();
                let reply = handle(&env, RouteId::DeleteFile, delete).await;
                if reply.status == 204 || reply.status == 200 {
                    tally.deleted += 1;
                } else {
                    tally
                        .failed_creates
                        .push(format!("delete {}: {}", reply.status, reply.json));
                }
            }
            continue;
        }
        if created.status != 201 {
            tally
                .failed_creates
                .push(format!("{}: {}", created.status, created.json));
            continue;
        }
        tally.creates.push(took);
        let upload = &created.json["upload"];
        let mut put = env.http.put(upload["url"].as_str().unwrap());
        for (name, value) in upload["headers"].as_object().unwrap() {
            put = put.header(name, value.as_str().unwrap());
        }
        match put.body(bytes.clone()).send().await {
            Ok(r) if r.status().is_success() => {}
            other => {
                tally.failed_completions.push(format!("PUT: {other:?}"));
                continue;
            }
        }
        let sequencer = format!("{:016X}", sequence.fetch_add(1, Ordering::SeqCst));
        let event = env
            .object_created_event(&upload_key(upload), &sequencer)
            .await;
        let started = Instant::now();
        match stowage::events::on_object_created(&env.app, event).await {
            Ok(_) => {
                tally
                    .completions
                    .push(started.elapsed().as_secs_f64() * 1_000.0);
                mine.push_back(created.json["file"]["id"].as_str().unwrap().to_owned());
            }
            Err(e) => tally.failed_completions.push(format!("{e}")),
        }
    }
    tally
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

async fn moto_conflicts(env: &TestEnv) -> Value {
    let url = format!("{}/_stowage/conflicts", stowage_tests::moto_endpoint());
    env.http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // Server errors are logged with their cause (to stderr).
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::ERROR)
        .with_writer(std::io::stderr)
        .init();
    let clients = setting("SCALE_BENCH_CLIENTS", 64);
    let seconds = setting("SCALE_BENCH_SECONDS", 30);
    let max_bytes = std::env::var("SCALE_BENCH_MAX_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    // The counters alone: no per-tenant request limits (they add two writes per request).
    let env = Arc::new(
        TestEnv::moto_with(&[
            ("STOWAGE_TENANT_REQUESTS_PER_SECOND", "0"),
            ("STOWAGE_TENANT_CONCURRENT_REQUESTS", "0"),
        ])
        .await,
    );
    if let Some(max) = max_bytes {
        let put = env
            .route(RouteId::PutUsageLimits, TENANT)
            .body(json!({"maxBytes": max}))
            .request();
        let reply = handle(&env, RouteId::PutUsageLimits, put).await;
        assert_eq!(reply.status, 200, "set limits: {}", reply.json);
    }
    let before = moto_conflicts(&env).await;
    let sequence = Arc::new(AtomicU64::new(1));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(client(env.clone(), until, sequence.clone())))
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.unwrap();
        all.creates.extend(t.creates);
        all.completions.extend(t.completions);
        all.failed_creates.extend(t.failed_creates);
        all.failed_completions.extend(t.failed_completions);
        all.refused += t.refused;
        all.deleted += t.deleted;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = moto_conflicts(&env).await;
    all.creates.sort_by(f64::total_cmp);
    all.completions.sort_by(f64::total_cmp);
    let attempts = all.creates.len() + all.failed_creates.len() + all.refused as usize;
    let failures = all.failed_creates.len() + all.failed_completions.len();
    let usage = handle(
        &env,
        RouteId::GetUsage,
        env.route(RouteId::GetUsage, TENANT).request(),
    )
    .await;
    println!(
        "clients {clients}, {elapsed:.1} s, transaction hold {} ms, max bytes {}",
        after["holdMs"],
        max_bytes.map_or("none".to_owned(), |m| m.to_string())
    );
    println!(
        "creates: {} answered 201 ({:.1}/s), {} refused 409 quota_exceeded, {} failed; completions: {} done, {} failed; deletes {}",
        all.creates.len(),
        all.creates.len() as f64 / elapsed,
        all.refused,
        all.failed_creates.len(),
        all.completions.len(),
        all.failed_completions.len(),
        all.deleted
    );
    println!(
        "failures: {failures} of {} operations ({:.2} %)",
        attempts + all.completions.len() + all.failed_completions.len(),
        100.0 * failures as f64
            / (attempts + all.completions.len() + all.failed_completions.len()).max(1) as f64
    );
    println!(
        "create ms: p50 {:.1}, p99 {:.1}; completion ms: p50 {:.1}, p99 {:.1}",
        percentile(&all.creates, 0.5),
        percentile(&all.creates, 0.99),
        percentile(&all.completions, 0.5),
        percentile(&all.completions, 0.99)
    );
    println!(
        "requests that met a transaction in flight (moto): {}",
        after["conflicts"].as_u64().unwrap_or(0) - before["conflicts"].as_u64().unwrap_or(0)
    );
    println!("items met most: {}", after["mostMet"]);
    println!(
        "usage: bytes {}, files {}",
        usage.json["bytes"], usage.json["files"]
    );
    if let Some(max) = max_bytes {
        let bytes = usage.json["bytes"].as_u64().unwrap_or(0);
        println!(
            "byte limit {max}: usage {} it",
            if bytes <= max { "within" } else { "PASSED" }
        );
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for f in all.failed_creates.iter().chain(&all.failed_completions) {
        *kinds.entry(f.chars().take(160).collect()).or_default() += 1;
    }
    for (kind, count) in kinds.iter().take(10) {
        println!("  {count} × {kind}");
    }
}
