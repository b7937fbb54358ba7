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
    setup_with(size, false).await
}

async fn setup_with(size: usize, thumbnails: bool) -> Setup {
    setup_sending_events(size, thumbnails, stowage_local::Webhooks::default()).await
}

/// [`setup_with`], its server sending every file event to `webhooks`.
async fn setup_sending_events(
    size: usize,
    thumbnails: bool,
    webhooks: stowage_local::Webhooks,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_local::start(stowage_local::LocalConfig {
        sweep_interval: Duration::from_secs(3_600),
        thumbnails,
        webhooks,
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

/// `stowage smoke` against a healthy deployment: every step passes, each printed
/// with its time, and the tenant holds no file afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_every_step_and_leaves_nothing_behind() {
    let setup = setup_with(16, true).await;
    let out = stowage(&setup).arg("smoke").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "limits",
        "create",
        "upload",
        "uploaded",
        "read",
        "list",
        "download",
        "thumbnail",
        "delete",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("ok   {step} ")) && l.ends_with(" ms")),
            "{step}: {stdout}"
        );
    }
    assert!(stdout.contains("skip events"), "{stdout}");
    assert!(
        stdout.contains("all 9 steps passed (1 skipped)"),
        "{stdout}"
    );
    assert_no_file_left(&setup).await;

    // Where no thumbnails are made, the step is skipped when asked, and fails when not.
    let plain = setup_with(16, false).await;
    let out = stowage(&plain)
        .args(["smoke", "--no-thumbnail"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("skip thumbnail"), "{stdout}");
}

/// The tenant holds no file: a smoke run left nothing behind.
async fn assert_no_file_left(setup: &Setup) {
    let listing: Value = reqwest::Client::new()
        .get(format!("{}/files", setup.server.base_url))
        .bearer_auth(&setup.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"], serde_json::json!([]), "{listing}");
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// With a webhook receiver of its own (`--events-listen`), `stowage smoke` waits for the
/// file's created, uploaded and deleted events, checking their secret; events that never come
/// (here: every request refused for its secret) fail the events step by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_receives_the_files_events_with_their_secret() {
    let port = free_port();
    let setup = setup_sending_events(
        16,
        false,
        stowage_local::Webhooks {
            urls: vec![format!("http://127.0.0.1:{port}/hook")],
            secret: Some("s3cret".into()),
        },
    )
    .await;
    let listen = format!("127.0.0.1:{port}");
    let out = stowage(&setup)
        .args(["smoke", "--no-thumbnail", "--events-listen", &listen])
        .args(["--events-secret", "s3cret"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ok   events ") && l.ends_with(" ms")),
        "{stdout}"
    );
    assert!(
        stdout.contains("all 9 steps passed (1 skipped)"),
        "{stdout}"
    );

    // The receiver told another secret: every request is refused, and the step fails by name
    // once its wait is over.
    let out = stowage(&setup)
        .args(["smoke", "--no-thumbnail", "--events-listen", &listen])
        .args(["--events-secret", "not-it", "--events-timeout", "3"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("the events step failed"), "{stderr}");
    assert!(stderr.contains("refused for their secret"), "{stderr}");
    assert_no_file_left(&setup).await;
}

/// A stand-in deployment whose storage refuses the upload: limits and create work, the
/// presigned `PUT` answers 500. Records each request's method and path.
async fn refusing_deployment() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (url, log) = (base.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (url, log) = (url.clone(), log.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                let head_end = loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while request.len() < head_end + 4 + length {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..n]);
                }
                let line = head.lines().next().unwrap_or_default().to_owned();
                let mut parts = line.split(' ');
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                log.lock().unwrap().push(format!("{method} {path}"));
                let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
                let (status, body) = match (method, path) {
                    ("GET", "/files/limits") => {
                        ("200 OK", r#"{"maxFileSize": 5368709120}"#.to_owned())
                    }
                    ("POST", "/files") => (
                        "201 Created",
                        format!(
                            r#"{{"file": {{"id": "{id}", "status": "pending"}}, "upload": {{"method": "PUT", "url": "{url}/bucket/put", "headers": {{"content-type": "text/plain"}}}}}}"#
                        ),
                    ),
                    ("PUT", "/bucket/put") => (
                        "500 Internal Server Error",
                        "<Error>injected</Error>".to_owned(),
                    ),
                    ("DELETE", p) if p == format!("/files/{id}") => {
                        ("204 No Content", String::new())
                    }
                    _ => (
                        "404 Not Found",
                        r#"{"code": "not_found", "detail": "stand-in"}"#.to_owned(),
                    ),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

/// A deployment that fails a step: `stowage smoke` exits non-zero naming it, after deleting
/// the file it had created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_names_the_failed_step_and_cleans_up() {
    let (base, seen) = refusing_deployment().await;
    let out = Command::new(BIN)
        .env("STOWAGE_ENDPOINT", &base)
        .env("STOWAGE_TOKEN", "t")
        .arg("smoke")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("the upload step failed"), "{stderr}");
    assert!(stderr.contains("500"), "{stderr}");
    assert!(stdout.contains("ok   create"), "{stdout}");
    assert!(!stdout.contains("ok   upload"), "{stdout}");
    assert!(
        stdout.contains("cleaned up file 01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        "{stdout}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "GET /files/limits",
            "POST /files",
            "PUT /bucket/put",
            "DELETE /files/01ARZ3NDEKTSV4RRFFQ69G5FAV"
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_restore_and_the_trash() {
    let setup = setup(16).await;
    let http = reqwest::Client::new();
    let base = &setup.server.base_url;
    let made = http
        .post(format!("{base}/collections"))
        .bearer_auth(&setup.token)
        .json(&serde_json::json!({"name": "docs", "versions": 2, "trashDays": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let run = |args: &[&str]| {
        let mut command = stowage(&setup);
        command.args(args);
        command
    };
    let text = |output: &std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let output = stowage(&setup)
        .args([
            "upload",
            "--json",
            "--collection",
            "docs",
            "--type",
            "text/plain",
        ])
        .arg(&setup.file)
        .output()
        .await
        .unwrap();
    let record: Value = serde_json::from_str(&text(&output)).unwrap();
    let id = record["id"].as_str().unwrap().to_owned();

    // A second content, uploaded over HTTP; the first is kept as version 1.
    let started: Value = http
        .post(format!("{base}/files/{id}/upload"))
        .bearer_auth(&setup.token)
        .json(&serde_json::json!({"size": 6}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = &started["upload"];
    let mut put = http.put(upload["url"].as_str().unwrap()).body("second");
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());
    for _ in 0..100 {
        let got: Value = http
            .get(format!("{base}/files/{id}"))
            .bearer_auth(&setup.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if got["size"] == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let versions = text(&run(&["versions", &id]).output().await.unwrap());
    let lines: Vec<&str> = versions.lines().collect();
    assert_eq!(lines.len(), 2, "{versions}");
    assert!(
        lines[0].trim_start().starts_with("2 ") && lines[0].ends_with("current"),
        "{versions}"
    );
    assert!(lines[1].trim_start().starts_with("1 "), "{versions}");

    // The first content downloads by its version, and comes back as the current one.
    let out = setup._dir.path().join("v1.out");
    text(
        &run(&[
            "download",
            &id,
            "--version",
            "1",
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap(),
    );
    assert!(std::fs::read(&out).unwrap() == setup.data);
    text(
        &run(&["restore", &id, "--version", "1"])
            .output()
            .await
            .unwrap(),
    );
    let versions = text(&run(&["versions", &id]).output().await.unwrap());
    assert!(
        versions
            .lines()
            .next()
            .unwrap()
            .trim_start()
            .starts_with("3 "),
        "{versions}"
    );
    download_matches(&setup, &id).await;

    // rm moves it to the trash; restore brings it back; rm --permanent deletes it for good.
    text(&run(&["rm", &id]).output().await.unwrap());
    let trash = text(&run(&["trash"]).output().await.unwrap());
    assert!(trash.contains(&id) && trash.contains("purged"), "{trash}");
    assert!(!text(&run(&["ls"]).output().await.unwrap()).contains(&id));
    text(&run(&["restore", &id]).output().await.unwrap());
    assert!(text(&run(&["ls"]).output().await.unwrap()).contains(&id));
    text(&run(&["rm", "--permanent", &id]).output().await.unwrap());
    assert!(!text(&run(&["trash"]).output().await.unwrap()).contains(&id));
    let gone = run(&["info", &id]).output().await.unwrap();
    assert!(!gone.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_copies_moves_and_folders() {
    let setup = setup(16).await;
    let run = |args: &[&str]| {
        let mut command = stowage(&setup);
        command.args(args);
        command
    };
    let text = |output: std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let uploaded = text(
        run(&[
            "upload",
            "--json",
            "--name",
            "Q3 Report 2026.bin",
            "--dir",
            "/reports/2026",
        ])
        .arg(&setup.file)
        .output()
        .await
        .unwrap(),
    );
    let record: Value = serde_json::from_str(&uploaded).unwrap();
    let id = record["id"].as_str().unwrap().to_owned();
    assert_eq!(record["directory"], "/reports/2026");

    // Found by words of its name, case and accents aside.
    let found = text(run(&["find", "rep", "2026"]).output().await.unwrap());
    assert!(found.contains(&id), "{found}");
    let none = text(run(&["find", "port"]).output().await.unwrap());
    assert!(!none.contains(&id), "{none}");

    // A copy in another folder, then the original renamed.
    let copy = text(
        run(&["cp", "--json", &id, "--dir", "/copies"])
            .output()
            .await
            .unwrap(),
    );
    let copy: Value = serde_json::from_str(&copy).unwrap();
    assert_eq!(copy["directory"], "/copies");
    assert_ne!(copy["id"], record["id"]);
    let renamed = text(
        run(&["mv", "--json", &id, "--name", "q3.bin"])
            .output()
            .await
            .unwrap(),
    );
    assert!(renamed.contains("\"q3.bin\""), "{renamed}");

    // Folders: made, listed before the files, moved, removed.
    text(run(&["mkdir", "/empty"]).output().await.unwrap());
    let top = text(run(&["ls", "--dir", "/"]).output().await.unwrap());
    assert!(top.starts_with("/copies/\n/empty/\n/reports/\n"), "{top}");
    let moved = text(
        run(&["mv", "--folder", "/reports", "/archive/reports"])
            .output()
            .await
            .unwrap(),
    );
    assert!(moved.contains("moved 1 file from /reports"), "{moved}");
    let inside = text(
        run(&["ls", "--dir", "/archive/reports/2026"])
            .output()
            .await
            .unwrap(),
    );
    assert!(inside.contains(&id), "{inside}");
    text(run(&["rmdir", "/empty"]).output().await.unwrap());
    let refused = run(&["rmdir", "/archive"]).output().await.unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("folder_not_empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let bad = run(&["mv", &id]).output().await.unwrap();
    assert!(!bad.status.success(), "mv without a target");
    let by_name = text(
        run(&["ls", "--dir", "/copies", "--sort", "-name"])
            .output()
            .await
            .unwrap(),
    );
    assert!(by_name.contains(copy["id"].as_str().unwrap()), "{by_name}");
}
