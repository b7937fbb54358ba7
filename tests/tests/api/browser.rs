//! What browsers use, on both backends: the sign route (one S3 request of the caller's own open
//! upload, as Uppy 6's `signRequest` asks), the upload limits, and single-request POST form
//! uploads. Each signed request is then sent as a browser would send it; the embedded endpoint
//! checks every signature and POST policy, moto accepts any.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, Backend, TestEnv};

const MIB: usize = 1024 * 1024;

fn bytes(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i / 997 % 233) as u8 ^ (i % 11) as u8)
        .collect()
}

async fn sign(env: &TestEnv, tenant: &str, id: &str, body: Value) -> stowage_tests::Reply {
    env.route(RouteId::SignUploadRequest, tenant)
        .id(id)
        .body(body)
        .send()
        .await
}

/// Sends a signed request as a browser would; returns the status, `ETag` and body text.
async fn send(env: &TestEnv, signed: &Value, body: Vec<u8>) -> (u16, Option<String>, String) {
    let method: reqwest::Method = signed["method"].as_str().unwrap().parse().unwrap();
    let mut request = env.http.request(method, signed["url"].as_str().unwrap());
    for (name, value) in signed["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().trim_matches('"').to_owned());
    (status, etag, response.text().await.unwrap_or_default())
}

fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

async fn multipart_file(env: &TestEnv, size: usize) -> String {
    env.create_id(
        "acme",
        json!({"name": "big.bin", "mimeType": "application/octet-stream",
               "size": size, "multipart": true, "partSize": 5 * MIB}),
    )
    .await
}

async fn a_browser_uploads_through_the_sign_route_alone(env: TestEnv) {
    let data = bytes(12 * MIB + 3);
    let id = multipart_file(&env, data.len()).await;

    // CreateMultipartUpload: the browser makes its own upload.
    let create = sign(&env, "acme", &id, json!({"method": "POST"})).await;
    assert_eq!(create.status, 200, "{}", create.json);
    let key = create.json["key"].as_str().unwrap().to_owned();
    assert!(create.json["url"].as_str().unwrap().contains("uploads"));
    let (status, _, xml) = send(&env, &create.json, Vec::new()).await;
    assert_eq!(status, 200, "{xml}");
    let upload_id = xml_value(&xml, "UploadId").expect("an UploadId");

    // Its parts, one signed request each (the first request naming the id records it).
    let mut etags = Vec::new();
    for (at, chunk) in data.chunks(5 * MIB).enumerate() {
        let part = sign(
            &env,
            "acme",
            &id,
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": at + 1}),
        )
        .await;
        assert_eq!(part.status, 200, "{}", part.json);
        let (status, etag, text) = send(&env, &part.json, chunk.to_vec()).await;
        assert_eq!(status, 200, "{text}");
        etags.push(etag.expect("the part's ETag"));
    }

    // ListParts, as Uppy resumes.
    let list = sign(
        &env,
        "acme",
        &id,
        json!({"method": "GET", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.json);
    let (status, _, xml) = send(&env, &list.json, Vec::new()).await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(xml.matches("<PartNumber>").count(), 3, "{xml}");
    // The browser's upload is the file's upload now.
    let parts = env
        .route(RouteId::ListUploadParts, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(
        parts.json["parts"].as_array().unwrap().len(),
        3,
        "{}",
        parts.json
    );

    // CompleteMultipartUpload: the answer carries Location and Key.
    let complete = sign(
        &env,
        "acme",
        &id,
        json!({"method": "POST", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(complete.status, 200, "{}", complete.json);
    let body: String = etags
        .iter()
        .enumerate()
        .map(|(at, etag)| {
            format!(
                "<Part><PartNumber>{}</PartNumber><ETag>\"{etag}\"</ETag></Part>",
                at + 1
            )
        })
        .collect();
    let (status, _, xml) = send(
        &env,
        &complete.json,
        format!("<CompleteMultipartUpload>{body}</CompleteMultipartUpload>").into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml_value(&xml, "Location").is_some(), "{xml}");
    assert_eq!(
        xml_value(&xml, "Key").as_deref(),
        Some(key.as_str()),
        "{xml}"
    );

    // The S3 event marks it uploaded, as with every upload.
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let file = env.get("acme", &id).await;
    assert_eq!(file.json["status"], "uploaded", "{}", file.json);
    assert_eq!(env.download(&id).await, data);
}

async fn the_sign_route_signs_nothing_that_is_not_the_callers_open_upload(env: TestEnv) {
    let id = multipart_file(&env, 12 * MIB).await;
    let create = sign(&env, "acme", &id, json!({"method": "POST"})).await;
    let key = create.json["key"].as_str().unwrap().to_owned();
    let other = multipart_file(&env, 12 * MIB).await;
    let other_create = sign(&env, "acme", &other, json!({"method": "POST"})).await;
    let (_, _, xml) = send(&env, &other_create.json, Vec::new()).await;
    let foreign_upload = xml_value(&xml, "UploadId").unwrap();
    let single = env
        .create_id("acme", json!({"name": "a.txt", "mimeType": "text/plain"}))
        .await;
    let uploaded = id_of(
        &env.uploaded(
            "acme",
            json!({"name": "b.txt", "mimeType": "text/plain"}),
            b"b",
        )
        .await,
    );

    let part = |upload_id: &str| json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
    let mut cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("globex", &id, json!({"method": "POST"}), 404, "not_found"),
        (
            "acme",
            &uploaded,
            json!({"method": "PUT"}),
            409,
            "no_open_upload",
        ),
        (
            "acme",
            &id,
            json!({"method": "POST", "key": "files/acme/other/1"}),
            409,
            "upload_mismatch",
        ),
        (
            "acme",
            &id,
            part("00000000-0000-0000-0000-000000000000"),
            409,
            "upload_mismatch",
        ),
        (
            "acme",
            &id,
            json!({"method": "PUT"}),
            409,
            "upload_mismatch",
        ),
        (
            "acme",
            &single,
            json!({"method": "POST"}),
            409,
            "no_multipart_upload",
        ),
        (
            "acme",
            &single,
            json!({"method": "GET", "uploadId": foreign_upload}),
            409,
            "no_multipart_upload",
        ),
        (
            "acme",
            &single,
            json!({"method": "PUT", "contentType": "image/png"}),
            400,
            "validation_failed",
        ),
        (
            "acme",
            &id,
            json!({"method": "PATCH"}),
            400,
            "validation_failed",
        ),
    ];
    if env.backend == Backend::Embedded {
        // moto lists the parts of any upload id under any key; S3 (and the embedded endpoint)
        // answer NoSuchUpload, which is what refuses another file's upload here.
        cases.push(("acme", &id, part(&foreign_upload), 409, "upload_mismatch"));
    }
    for (tenant, file, body, status, code) in cases {
        let reply = sign(&env, tenant, file, body.clone()).await;
        reply.assert_problem(status, code);
        assert!(reply.json.get("url").is_none(), "{body}");
    }
    // The other file's upload is untouched, and this one still has its own.
    let (status, _, _) = send(
        &env,
        &sign(
            &env,
            "acme",
            &other,
            json!({"method": "GET", "uploadId": foreign_upload}),
        )
        .await
        .json,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
}

async fn an_abort_through_the_sign_route_leaves_no_parts(env: TestEnv) {
    let id = multipart_file(&env, 12 * MIB).await;
    let create = sign(&env, "acme", &id, json!({"method": "POST"})).await;
    let key = create.json["key"].as_str().unwrap().to_owned();
    let (_, _, xml) = send(&env, &create.json, Vec::new()).await;
    let upload_id = xml_value(&xml, "UploadId").unwrap();
    let part = sign(
        &env,
        "acme",
        &id,
        json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1}),
    )
    .await;
    assert_eq!(send(&env, &part.json, bytes(5 * MIB)).await.0, 200);

    let abort = sign(
        &env,
        "acme",
        &id,
        json!({"method": "DELETE", "key": key, "uploadId": upload_id}),
    )
    .await;
    assert_eq!(abort.status, 200, "{}", abort.json);
    let file = env.get("acme", &id).await;
    assert_eq!(file.json["status"], "failed");
    let (status, _, _) = send(&env, &abort.json, Vec::new()).await;
    assert!(
        [204, 404].contains(&status),
        "the upload is gone either way: {status}"
    );
    let parts = env
        .s3
        .list_parts()
        .bucket(&env.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await;
    assert!(parts.is_err(), "no parts are left: {parts:?}");
}

async fn a_form_post_uploads_in_one_request(env: TestEnv) {
    let created = env
        .create(
            "acme",
            json!({"name": "note.txt", "mimeType": "text/plain", "size": 11, "uploadMethod": "POST"}),
        )
        .await;
    let upload = &created.json["upload"];
    assert_eq!(upload["method"], "POST");
    let fields = upload["fields"].as_object().unwrap();
    for field in [
        "key",
        "Content-Type",
        "policy",
        "x-amz-signature",
        "x-amz-credential",
    ] {
        assert!(fields.contains_key(field), "{field}");
    }
    let status = post_form(&env, upload, &[], b"hello world").await;
    assert!((200..300).contains(&status), "{status}");
    let key = fields["key"].as_str().unwrap().to_owned();
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let id = id_of(&created.json["file"]);
    assert_eq!(env.get("acme", &id).await.json["status"], "uploaded");
    assert_eq!(env.download(&id).await, b"hello world");
    // A form cannot carry a checksum, nor a multipart upload.
    for body in [
        json!({"name": "a", "mimeType": "text/plain", "uploadMethod": "POST",
               "checksumSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}),
        json!({"name": "a", "mimeType": "text/plain", "uploadMethod": "POST", "multipart": true, "size": 10}),
        json!({"name": "a", "mimeType": "text/plain", "uploadMethod": "GET"}),
    ] {
        env.route(RouteId::CreateFile, "acme")
            .body(body)
            .send()
            .await
            .assert_problem(400, "validation_failed");
    }
}

/// Posts the form of `upload` (with `overrides` replacing fields) and `file`; the status.
async fn post_form(env: &TestEnv, upload: &Value, overrides: &[(&str, &str)], file: &[u8]) -> u16 {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in upload["fields"].as_object().unwrap() {
        let value = overrides
            .iter()
            .find(|(n, _)| n == name)
            .map_or(value.as_str().unwrap().to_owned(), |(_, v)| (*v).to_owned());
        form = form.text(name.clone(), value);
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(file.to_vec()).file_name("f"),
    );
    env.http
        .post(upload["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn the_upload_limits_are_the_servers(env: TestEnv) {
    let reply = env.route(RouteId::GetUploadLimits, "acme").send().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["multipartThreshold"], 6 * MIB);
    assert_eq!(reply.json["minPartSize"], 5 * MIB);
    assert_eq!(reply.json["maxParts"], 10_000);
}

stowage_tests::on_every_backend!(
    settings = [("STOWAGE_MULTIPART_THRESHOLD", "6291456")];
    a_browser_uploads_through_the_sign_route_alone,
    the_sign_route_signs_nothing_that_is_not_the_callers_open_upload,
    an_abort_through_the_sign_route_leaves_no_parts,
    a_form_post_uploads_in_one_request,
    the_upload_limits_are_the_servers,
);

/// The embedded endpoint checks POST policies as S3 does: a tampered policy, another
/// `Content-Type` or key, and an expired policy are `403`; a file of another size is S3's
/// `400 EntityTooLarge` / `EntityTooSmall`; and the file stays `pending`. (moto accepts any
/// form.)
#[tokio::test]
async fn embedded_form_policies_are_enforced() {
    let env = TestEnv::embedded().await;
    assert_eq!(env.backend, Backend::Embedded);
    let created = env
        .create(
            "acme",
            json!({"name": "note.txt", "mimeType": "text/plain", "size": 11,
                   "uploadMethod": "POST", "uploadUrlExpiresIn": 2}),
        )
        .await;
    let upload = created.json["upload"].clone();
    let policy = upload["fields"]["policy"].as_str().unwrap().to_owned();
    let mut tampered = policy.clone();
    tampered.replace_range(10..11, if &policy[10..11] == "A" { "B" } else { "A" });
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [u8], u16);
    let cases: Vec<Case> = vec![
        (vec![("Content-Type", "text/html")], b"hello world", 403),
        (vec![("policy", tampered.as_str())], b"hello world", 403),
        (vec![], b"hello world, and more", 400),
        (vec![], b"hello", 400),
        (
            vec![("key", "files/acme/01KAQ3V6T0Z9Y8X7W6V5T4S3R2/1")],
            b"hello world",
            403,
        ),
    ];
    for (overrides, file, status) in cases {
        let got = post_form(&env, &upload, &overrides, file).await;
        assert_eq!(got, status, "{overrides:?} with {} bytes", file.len());
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(
        post_form(&env, &upload, &[], b"hello world").await,
        403,
        "expired"
    );
    let id = id_of(&created.json["file"]);
    assert_eq!(env.get("acme", &id).await.json["status"], "pending");
    assert!(!env.object_exists(&upload_key_of(&upload)).await);
}

fn upload_key_of(upload: &Value) -> String {
    upload["fields"]["key"].as_str().unwrap().to_owned()
}

/// A body that ends before its `Content-Length` (a browser pausing or cancelling mid-part) is
/// S3's `400 IncompleteBody` on the embedded endpoint, not a `500`, and stores nothing.
#[tokio::test]
async fn embedded_a_body_cut_short_is_an_incomplete_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::embedded().await;
    let created = env
        .create(
            "acme",
            json!({"name": "cut.bin", "mimeType": "application/octet-stream", "size": 1000}),
        )
        .await;
    let upload = &created.json["upload"];
    let url = reqwest::Url::parse(upload["url"].as_str().unwrap()).unwrap();
    let mut head = format!(
        "PUT {}?{} HTTP/1.1\r\nhost: {}:{}\r\ncontent-length: 1000\r\n",
        url.path(),
        url.query().unwrap_or(""),
        url.host_str().unwrap(),
        url.port().unwrap()
    );
    for (name, value) in upload["headers"].as_object().unwrap() {
        head.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap()));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[7u8; 10]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("IncompleteBody"), "{answer}");
    assert_eq!(
        env.get("acme", &id_of(&created.json["file"])).await.json["status"],
        "pending"
    );
}
