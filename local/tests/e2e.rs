//! End to end over HTTP: the real `stowage-local` binary on a random port, driven the way the
//! docs' curl examples drive it.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{token, token_with, Api, Local, BIN};

#[tokio::test]
async fn upload_download_identity_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");

    // Create, upload with a plain PUT, and the real S3 event marks it uploaded.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (code, created) = api
        .create(&alice, json!({"name": "data.bin", "mimeType": "application/octet-stream", "size": bytes.len()}))
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap();
    assert!(url.starts_with(&local.url), "{url}");
    assert_eq!(api.put(url, "application/octet-stream", &bytes).await, 200);
    let file = api.wait_for_status(&alice, &id, "uploaded").await;
    assert_eq!(file["size"], bytes.len());

    // The content round-trips byte for byte.
    let download = api
        .http
        .get(file["contentUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"data.bin\""
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);

    // No token, a bad token, another data dir's token: 401.
    let (code, problem) = api.get(None, &id).await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (code, _) = api.get(Some("garbage"), &id).await;
    assert_eq!(code, 401);
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _) = api
        .get(Some(&token(elsewhere.path(), "acme", "alice")), &id)
        .await;
    assert_eq!(code, 401);

    // Another tenant: 404, like a file that does not exist.
    let (code, problem) = api
        .get(Some(&token(dir.path(), "globex", "bob")), &id)
        .await;
    assert_eq!((code, problem["code"].as_str()), (404, Some("not_found")));

    // Restart on the same data dir: the record and its bytes are still there.
    local.stop();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let (code, file) = api.get(Some(&alice), &id).await;
    assert_eq!(code, 200, "{file}");
    assert_eq!(file["status"], "uploaded");
    let again = api
        .http
        .get(file["contentUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn bad_presigned_puts_are_403_and_the_record_stays_pending() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");
    let (_, created) = api
        .create(&alice, json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap().to_owned();
    let (_, other) = api
        .create(
            &alice,
            json!({"name": "b.txt", "mimeType": "text/plain", "uploadUrlExpiresIn": 1}),
        )
        .await;
    let other_id = other["file"]["id"].as_str().unwrap().to_owned();
    let short_lived = other["upload"]["url"].as_str().unwrap().to_owned();

    // Tampered signature.
    let signature_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[signature_at..=signature_at] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(signature_at..=signature_at, flipped);
    assert_eq!(
        api.put(&tampered, "text/plain", b"x").await,
        403,
        "tampered"
    );

    // Used for another key: the same query string on another object's path.
    let (path, query) = url.split_once('?').unwrap();
    let other_key = path.replace(&id, &other_id);
    assert_eq!(
        api.put(&format!("{other_key}?{query}"), "text/plain", b"x")
            .await,
        403,
        "other key"
    );

    // Another content type than the one signed.
    assert_eq!(
        api.put(&url, "text/html", b"x").await,
        403,
        "other content type"
    );

    // Expired.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        api.put(&short_lived, "text/plain", b"x").await,
        403,
        "expired"
    );

    // Nothing was stored: both records are still pending, even after a repairing GET.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in [&id, &other_id] {
        let (code, file) = api.get(Some(&alice), id).await;
        assert_eq!(code, 200);
        assert_eq!(file["status"], "pending", "{file}");
    }
    // And the right request still works.
    assert_eq!(api.put(&url, "text/plain", b"fine").await, 200);
    api.wait_for_status(&alice, &id, "uploaded").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/nope", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = http
        .delete(format!("{}/files", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    // CORS preflight for a browser upload.
    let response = http
        .request(reqwest::Method::OPTIONS, format!("{}/files", local.url))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        response.headers()["access-control-allow-headers"],
        "authorization, content-type, if-match"
    );
    // Header names are case-insensitive: the API exposes `etag` as API Gateway is told to.
    assert!(response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("etag"));
    // The bucket's preflight allows what an uploader asks for, and exposes S3's error code.
    let response = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/stowage/files/acme/x/1", local.url),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "content-type, x-amz-checksum-sha256",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["access-control-allow-headers"],
        "content-type, x-amz-checksum-sha256"
    );
    assert_eq!(
        response.headers()["access-control-allow-methods"],
        "GET, HEAD, PUT, POST, DELETE"
    );
    assert!(response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-amz-error-code"));
}

#[tokio::test]
async fn the_contract_is_served_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/openapi.yaml", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/yaml"
    );
    let served = response.text().await.unwrap();
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert_eq!(
        served, on_disk,
        "the binary serves the spec it was built with"
    );
    // Only reads; and every API route still wants a token.
    let post = http
        .post(format!("{}/openapi.yaml", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    let list = http
        .get(format!("{}/files", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 401);
    local.stop();
}

#[tokio::test]
async fn scoped_tokens_do_what_their_scopes_allow_when_scopes_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start_with(dir.path(), &[("STOWAGE_REQUIRE_SCOPES", "true")]);
    let http = reqwest::Client::new();
    let reader = token_with(dir.path(), "acme", "ann", &["--scope", "files:read"]);
    let writer = token_with(
        dir.path(),
        "acme",
        "bob",
        &["--scope", "files:read files:write"],
    );
    let create = |token: &str| {
        http.post(format!("{}/files", local.url))
            .bearer_auth(token)
            .json(&json!({"name": "a.txt", "mimeType": "text/plain"}))
            .send()
    };
    let refused = create(&reader).await.unwrap();
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "insufficient_scope");
    assert!(problem["detail"].as_str().unwrap().contains("files:write"));
    let created: Value = create(&writer).await.unwrap().json().await.unwrap();
    let id = created["file"]["id"].as_str().expect("the writer creates");
    let read = http
        .get(format!("{}/files/{id}", local.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "the reader reads");
    let delete = http
        .delete(format!("{}/files/{id}", local.url))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403, "deleting needs files:delete");

    let bad = Command::new(BIN)
        .args([
            "token",
            "--tenant",
            "acme",
            "--user",
            "x",
            "--scope",
            "files:all",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("files:all"));
    local.stop();
}

#[tokio::test]
async fn a_large_public_file_is_published_by_the_in_process_worker() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start_with(dir.path(), &[("STOWAGE_INLINE_COPY_LIMIT", "5242880")]);
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let (code, created) = api
        .create(
            &alice,
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                   "size": bytes.len(), "privateAccess": false}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap();
    assert_eq!(api.put(url, "application/octet-stream", &bytes).await, 200);
    let file = api.wait_for_status(&alice, &id, "uploaded").await;
    let public = file["contentUrl"].as_str().unwrap().to_owned();
    assert!(public.ends_with(&format!("/public/acme/{id}")), "{public}");
    // The upload's event asked the worker; its job marker's event runs it in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = api.http.get(&public).send().await.unwrap();
        if response.status() == 200 {
            assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
            break;
        }
        assert!(Instant::now() < deadline, "the public copy never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    local.stop();
}

/// `stowage-local s3-credentials` prints what an S3 tool needs to use the embedded endpoint:
/// with them the SDK lists and reads the bucket; with the secret changed it is refused.
#[tokio::test]
async fn s3_credentials_open_the_embedded_endpoint_to_s3_tools() {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let out = Command::new(BIN)
        .args(["s3-credentials", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let vars: std::collections::HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .collect();
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "STOWAGE_LOCAL_BUCKET",
    ] {
        assert!(
            vars.get(name).is_some_and(|v| !v.is_empty()),
            "{name} in {text}"
        );
    }
    let client = |secret: &str| {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(vars["AWS_REGION"].to_owned()))
            .endpoint_url(&local.url)
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                vars["AWS_ACCESS_KEY_ID"],
                secret.to_owned(),
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    };
    let bucket = vars["STOWAGE_LOCAL_BUCKET"];
    let listed = client(vars["AWS_SECRET_ACCESS_KEY"])
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await;
    assert!(listed.is_ok(), "{listed:?}");
    let refused = client("not-the-secret")
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await;
    assert!(refused.is_err());
}

/// Logs sent to a file carry no colour codes, and a client's refused presigned `PUT` is a
/// warning naming the key and S3's code, not an error.
#[tokio::test]
async fn logs_to_a_file_are_plain_and_a_refused_put_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stowage-local.log");
    let local = Local::start_logging_to(&dir.path().join("data"), &log, &[("RUST_LOG", "info")]);
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(&dir.path().join("data"), "acme", "alice");
    let (code, created) = api
        .create(&alice, json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    assert_eq!(code, 201, "{created}");
    let url = created["upload"]["url"].as_str().unwrap();
    // Another content type than the signature binds.
    assert_eq!(api.put(url, "text/html", b"x").await, 403);
    let key = url
        .split_once('?')
        .unwrap()
        .0
        .trim_start_matches(&local.url)
        .to_owned();
    local.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI escapes in a file:\n{text}"
    );
    let refused = text
        .lines()
        .find(|line| line.contains("S3 request refused"))
        .unwrap_or_else(|| panic!("the refusal is logged:\n{text}"));
    assert!(refused.contains("WARN"), "{refused}");
    assert!(refused.contains("SignatureDoesNotMatch"), "{refused}");
    assert!(refused.contains(&key), "{refused}");
    assert!(
        !text.contains("ERROR"),
        "nothing failed on the server's side:\n{text}"
    );
}

/// The counters the functions write as EMF on AWS, at `GET /metrics` in Prometheus'
/// text format: requests, 4xx, 5xx and latency by function and route, uploads and their bytes.
#[tokio::test]
async fn metrics_count_requests_by_route_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");
    let (code, created) = api
        .create(
            &alice,
            json!({"name": "m.txt", "mimeType": "text/plain", "size": 5}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap();
    assert_eq!(api.put(url, "text/plain", b"hello").await, 200);
    api.wait_for_status(&alice, &id, "uploaded").await;
    let (code, _) = api.get(Some(&alice), "01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(code, 404);

    let response = api
        .http
        .get(format!("{}/metrics", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    let create = r#"{function="create-file",route="POST /files"}"#;
    let get = r#"{function="get-file",route="GET /files/{id}"}"#;
    assert_eq!(value(&format!("stowage_requests_total{create}")), 1.0);
    assert_eq!(value(&format!("stowage_4xx_total{create}")), 0.0);
    assert!(value(&format!("stowage_requests_total{get}")) >= 2.0);
    assert_eq!(value(&format!("stowage_4xx_total{get}")), 1.0);
    assert_eq!(value(&format!("stowage_5xx_total{get}")), 0.0);
    assert!(value(&format!("stowage_latency_milliseconds_total{get}")) > 0.0);
    let s3 = r#"{function="on-object-created"}"#;
    assert_eq!(value(&format!("stowage_uploads_completed_total{s3} ")), 1.0);
    assert_eq!(
        value(&format!("stowage_bytes_uploaded_bytes_total{s3} ")),
        5.0
    );
    assert_eq!(value(&format!("stowage_uploads_failed_total{s3} ")), 0.0);
    assert!(text.contains("# TYPE stowage_requests_total counter"));
}

#[tokio::test]
async fn a_second_server_on_one_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = Local::start(&data);
    // The data dir is its owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        for file in ["metadata.sqlite3", "secret.key"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file}: {mode:o}");
        }
    }
    let mut second = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run a second stowage-local");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            second.kill().ok();
            panic!("a second server on the same data dir kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("in use by another stowage-local (process ")
            && stderr.contains(&data.display().to_string()),
        "{stderr}"
    );
}

/// Anonymous readers of a large public file cost no more memory than of a small one: the
/// public copy is streamed, not read whole per request.
#[tokio::test]
async fn a_public_object_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");
    const SIZE: usize = 64 * 1024 * 1024;
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let (code, created) = api
        .create(
            &alice,
            json!({"name": "big.bin", "mimeType": "application/octet-stream",
                   "size": SIZE, "privateAccess": false}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap();
    assert_eq!(api.put(url, "application/octet-stream", &bytes).await, 200);
    drop(bytes);
    let file = api.wait_for_status(&alice, &id, "uploaded").await;
    let public = file["contentUrl"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.http.head(&public).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "the public copy never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = local.peak_memory_kib();
    // Four readers at once, each reading the whole file.
    let reads = (0..4).map(|_| {
        let (http, public) = (api.http.clone(), public.clone());
        tokio::spawn(async move {
            let response = http.get(&public).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["content-length"],
                SIZE.to_string().as_str()
            );
            response.bytes().await.unwrap().len()
        })
    });
    for read in reads.collect::<Vec<_>>() {
        assert_eq!(read.await.unwrap(), SIZE);
    }
    let grown = local.peak_memory_kib().saturating_sub(before);
    // Read whole, four copies would be 256 MiB; streamed, a few chunks each.
    assert!(grown < 48 * 1024, "peak memory grew by {grown} KiB");
    local.stop();
}
