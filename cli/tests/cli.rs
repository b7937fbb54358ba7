//! The `stowage` binary against a `stowage-local` on a random port: a 64 MiB upload in parallel
//! parts that downloads identical, and a resume after the upload process is killed mid-way.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use stowage::identity::ClaimNames;
use stowage::model::{TenantId, Timestamp, UserId};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");
const MIB: usize = 1024 * 1024;

struct Setup {
    _dir: tempfile::TempDir,
    server: stowage_local::RunningServer,
    token: String,
    file: std::path::PathBuf,
    data: Vec<u8>,
}

async fn setup(size: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_local::start(stowage_local::LocalConfig {
        sweep_interval: Duration::from_secs(3_600),
        thumbnails: false,
        ..stowage_local::LocalConfig::new(dir.path().join("data"))
    })
    .await
    .unwrap();
    let token = server.secret.issue_token(
        &ClaimNames::default(),
        &TenantId::parse("acme").unwrap(),
        &UserId::parse("alice").unwrap(),
        stowage::identity::Scopes::all(),
        Timestamp::from_datetime(chrono::Utc::now()),
        3_600,
    );
    // Bytes that differ from part to part, so a misplaced part shows.
    let data: Vec<u8> = (0..size)
        .map(|i| (i / 4099 % 253) as u8 ^ (i % 7) as u8)
        .collect();
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &data).unwrap();
    Setup {
        _dir: dir,
        server,
        token,
        file,
        data,
    }
}

fn stowage(setup: &Setup) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("STOWAGE_ENDPOINT", &setup.server.base_url)
        .env("STOWAGE_TOKEN", &setup.token)
        .kill_on_drop(true);
    command
}

async fn download_matches(setup: &Setup, id: &str) {
    let out = setup._dir.path().join(format!("{id}.out"));
    let status = stowage(setup)
        .args(["download", id, "-o"])
        .arg(&out)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read(&out).unwrap() == setup.data,
        "downloaded bytes differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_64_mib_in_parallel_parts_and_downloads_it_identical() {
    let setup = setup(64 * MIB).await;
    let output = stowage(&setup)
        .args(["upload", "--parallel", "4", "--json", "--tag", "big"])
        .arg(&setup.file)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let record: Value = serde_json::from_slice(&output.stdout).expect("--json prints the record");
    assert_eq!(record["status"], "uploaded");
    assert_eq!(record["size"], 64 * MIB);
    assert_eq!(record["tags"], serde_json::json!(["big"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("upload done"),
        "plain progress lines when not a terminal: {stderr}"
    );
    download_matches(&setup, record["id"].as_str().unwrap()).await;

    // ls and info see it; rm deletes it.
    let listed = stowage(&setup)
        .args(["ls", "--tag", "big"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(record["id"].as_str().unwrap()));
    let info = stowage(&setup)
        .args(["info", record["id"].as_str().unwrap()])
        .output()
        .await
        .unwrap();
    let shown: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(shown["id"], record["id"]);
    let rm = stowage(&setup)
        .args(["rm", record["id"].as_str().unwrap()])
        .status()
        .await
        .unwrap();
    assert!(rm.success());
    let gone = stowage(&setup)
        .args(["info", record["id"].as_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_an_upload_killed_mid_way() {
    let setup = setup(64 * MIB).await;
    // Slow enough (16 MiB/s) to be killed part-way through its 8 parts.
    let mut child = stowage(&setup)
        .args(["upload", "--parallel", "2", "--limit-rate", "16777216"])
        .arg(&setup.file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut id = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.strip_prefix("stowage: created file ") {
            id = Some(rest.trim().to_owned());
        }
        if id.is_some() && line.contains("MiB (25%)") {
            break; // two parts are in
        }
    }
    let id = id.expect("the upload announced its file id");
    child.kill().await.unwrap();

    let http = reqwest::Client::new();
    let held: Value = http
        .get(format!("{}/files/{id}/upload/parts", setup.server.base_url))
        .bearer_auth(&setup.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let held = held["parts"].as_array().unwrap().len();
    assert!((2..8).contains(&held), "killed part-way: {held} parts held");

    let output = stowage(&setup)
        .args(["upload", "--json", "--resume", &id])
        .arg(&setup.file)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "resuming file {id}: {held} of 8 parts already uploaded"
        )),
        "{stderr}"
    );
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["status"], "uploaded");
    download_matches(&setup, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_run_without_a_token_and_reports_api_errors() {
    let setup = setup(16).await;
    let output = Command::new(BIN)
        .env_remove("STOWAGE_TOKEN")
        .args(["--endpoint", &setup.server.base_url, "info", "x"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no token"));
    let output = stowage(&setup)
        .args(["info", "not-an-id"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_id"));
    // A small file goes up in one PUT.
    let output = stowage(&setup)
        .args(["upload", "--json"])
        .arg(&setup.file)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["size"], 16);
    assert_eq!(record["mimeType"], "application/octet-stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_into_a_collection_and_lists_it_alone() {
    let setup = setup(16).await;
    let made = reqwest::Client::new()
        .post(format!("{}/collections", setup.server.base_url))
        .bearer_auth(&setup.token)
        .json(&serde_json::json!({"name": "docs", "allowedMimeTypes": ["text/*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let upload = |args: &'static [&'static str]| {
        let mut command = stowage(&setup);
        command
            .args(["upload", "--json"])
            .args(args)
            .arg(&setup.file);
        command
    };
    // The collection's rules apply: it takes text only.
    let refused = upload(&["--collection", "docs"]).output().await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("mime_type_not_allowed"));
    let output = upload(&["--collection", "docs", "--type", "text/plain"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["collection"], "docs");
    assert!(upload(&[]).status().await.unwrap().success());
    let listed = stowage(&setup)
        .args(["ls", "--collection", "docs"])
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(record["id"].as_str().unwrap()), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_quietly_when_its_reader_goes_away() {
    let setup = setup(16).await;
    // More records than a pipe's buffer holds as JSON, so the writes meet the closed pipe.
    let http = reqwest::Client::new();
    for n in 0..150 {
        let created = http
            .post(format!("{}/files", setup.server.base_url))
            .bearer_auth(&setup.token)
            .json(&serde_json::json!({"name": format!("f{n}.txt"), "mimeType": "text/plain"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let mut child = stowage(&setup)
        .args(["ls", "--all", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("{"));
    drop(lines); // `| head -1`
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}
