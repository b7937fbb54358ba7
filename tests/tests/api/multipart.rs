//! Multipart uploads on both backends: the plan, part URLs, listing, completion checks, abort,
//! re-signing, tenant isolation.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{upload_key, Backend, TestEnv};

const MIB: usize = 1024 * 1024;

/// `size` bytes that differ from part to part.
fn bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i / 7919) % 251) as u8).collect()
}

/// PUTs one part; returns the status and the ETag without quotes.
async fn put_part(env: &TestEnv, url: &str, body: &[u8]) -> (u16, String) {
    let response = env.http.put(url).body(body.to_vec()).send().await.unwrap();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    (response.status().as_u16(), etag)
}

fn part_url(upload: &Value, number: u64) -> String {
    upload["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partNumber"] == number)
        .and_then(|p| p["url"].as_str())
        .unwrap_or_else(|| panic!("no URL for part {number}"))
        .to_owned()
}

async fn start(env: &TestEnv, size: usize) -> (String, Value) {
    let created = env
        .create(
            "acme",
            json!({"name": "big.bin", "mimeType": "application/octet-stream", "size": size, "multipart": true}),
        )
        .await;
    let id = created.json["file"]["id"].as_str().unwrap().to_owned();
    (id, created.json["upload"].clone())
}

async fn out_of_order_parts_one_sent_twice_complete_byte_for_byte(env: TestEnv) {
    env.check_policies();
    let data = bytes(20 * MIB);
    let (id, upload) = start(&env, data.len()).await;
    assert_eq!(upload["partSize"], 8 * MIB);
    assert_eq!(upload["partCount"], 3);
    assert_eq!(upload["parts"].as_array().unwrap().len(), 3);
    assert_eq!(upload["parts"][2]["size"], 4 * MIB);
    assert!(upload["uploadId"].is_string());
    let chunk = |n: usize| &data[(n - 1) * 8 * MIB..(n * 8 * MIB).min(data.len())];

    let mut etags = std::collections::BTreeMap::new();
    for n in [3usize, 1, 2] {
        let (status, etag) = put_part(&env, &part_url(&upload, n as u64), chunk(n)).await;
        assert_eq!(status, 200, "part {n}");
        etags.insert(n, etag);
    }
    // Part 2 again, replaced by different bytes of the same size, then by the right ones.
    let wrong = vec![0u8; 8 * MIB];
    put_part(&env, &part_url(&upload, 2), &wrong).await;
    let (_, etag) = put_part(&env, &part_url(&upload, 2), chunk(2)).await;
    etags.insert(2, etag);

    let listed = env
        .route(RouteId::ListUploadParts, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    let parts: Vec<(u64, u64, String)> = listed.json["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partNumber"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["etag"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, u64, String)> = etags
        .iter()
        .map(|(n, e)| (*n as u64, chunk(*n).len() as u64, e.clone()))
        .collect();
    assert_eq!(parts, expected, "sorted, the latest bytes of part 2");

    let claimed: Vec<Value> = etags
        .iter()
        .map(|(n, e)| json!({"partNumber": n, "etag": e}))
        .collect();
    let done = env
        .route(RouteId::CompleteUpload, "acme")
        .id(&id)
        .body(json!({"parts": claimed}))
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.json);
    assert_eq!(done.json["status"], "uploaded");
    assert_eq!(done.json["size"], data.len());
    assert_eq!(env.download(&id).await, data, "byte for byte");

    // The S3 event that follows the completion changes nothing; completing again is harmless.
    let key = env.content_key(&id).await;
    let outcomes = env
        .deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    assert_eq!(outcomes, [stowage::service::Outcome::Unchanged]);
    let again = env
        .route(RouteId::CompleteUpload, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["version"], done.json["version"]);
}

async fn completion_refuses_missing_parts_wrong_sizes_and_wrong_etags(env: TestEnv) {
    env.check_policies();
    let data = bytes(20 * MIB);
    let (id, upload) = start(&env, data.len()).await;
    let complete = |body: Option<Value>| {
        env.route(RouteId::CompleteUpload, "acme")
            .id(&id)
            .maybe_body(body)
            .send()
    };

    put_part(&env, &part_url(&upload, 1), &data[..8 * MIB]).await;
    put_part(&env, &part_url(&upload, 3), &data[16 * MIB..]).await;
    complete(None).await.assert_problem(400, "missing_parts");

    // Part 2 one byte short: the parts add up wrong.
    put_part(&env, &part_url(&upload, 2), &data[8 * MIB..16 * MIB - 1]).await;
    complete(None)
        .await
        .assert_problem(400, "part_size_mismatch");

    let (_, etag2) = put_part(&env, &part_url(&upload, 2), &data[8 * MIB..16 * MIB]).await;
    let wrong = json!({"parts": [{"partNumber": 1, "etag": "nope"}, {"partNumber": 2, "etag": etag2}, {"partNumber": 3, "etag": "x"}]});
    complete(Some(wrong))
        .await
        .assert_problem(400, "etag_mismatch");
    complete(Some(json!({"parts": "all"})))
        .await
        .assert_problem(400, "validation_failed");

    // Nothing was completed by any of that.
    let file = env.get("acme", &id).await.json;
    assert_eq!(file["status"], "pending");
    let listed = env
        .route(RouteId::ListUploadParts, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(listed.json["parts"].as_array().unwrap().len(), 3);
    // And now it completes.
    let done = complete(None).await;
    assert_eq!(done.status, 200, "{}", done.json);
    assert_eq!(env.download(&id).await, data);
}

async fn abort_drops_the_parts_and_restores_the_record(env: TestEnv) {
    env.check_policies();
    let (id, upload) = start(&env, 6 * MIB).await;
    put_part(&env, &part_url(&upload, 1), &bytes(6 * MIB)).await;
    let aborted = env.route(RouteId::AbortUpload, "acme").id(&id).send().await;
    assert_eq!(aborted.status, 200, "{}", aborted.json);
    assert_eq!(aborted.json["status"], "failed", "it never had content");
    env.route(RouteId::ListUploadParts, "acme")
        .id(&id)
        .send()
        .await
        .assert_problem(409, "no_multipart_upload");
    env.route(RouteId::AbortUpload, "acme")
        .id(&id)
        .send()
        .await
        .assert_problem(409, "no_open_upload");
    // The parts are gone from the store: the old part URL no longer leads anywhere useful.
    let (status, _) = put_part(&env, &part_url(&upload, 1), b"late").await;
    assert_ne!(status, 200, "the upload no longer exists");

    // A multipart re-upload of an uploaded file, aborted: the old content stays.
    let file = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"keep me",
        )
        .await;
    let id = file["id"].as_str().unwrap().to_owned();
    let reupload = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({"size": 6 * MIB, "multipart": true, "partSize": 5 * MIB}))
        .send()
        .await;
    assert_eq!(reupload.status, 200, "{}", reupload.json);
    assert_eq!(
        reupload.json["upload"]["partCount"], 2,
        "partSize is honoured on re-upload"
    );
    let aborted = env.route(RouteId::AbortUpload, "acme").id(&id).send().await;
    assert_eq!(aborted.json["status"], "uploaded");
    assert_eq!(env.download(&id).await, b"keep me");
}

async fn expired_part_urls_are_resigned(env: TestEnv) {
    env.check_policies();
    let data = bytes(6 * MIB);
    let created = env
        .create(
            "acme",
            json!({"name": "r.bin", "mimeType": "application/octet-stream", "size": data.len(),
                   "multipart": true, "partSize": 5 * MIB, "uploadUrlExpiresIn": 1}),
        )
        .await;
    let id = created.json["file"]["id"].as_str().unwrap().to_owned();
    let upload = &created.json["upload"];
    assert_eq!(upload["partSize"], 5 * MIB);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    if env.backend == Backend::Embedded {
        // The embedded endpoint enforces expiry (moto does not).
        let (status, _) = put_part(&env, &part_url(upload, 1), &data[..5 * MIB]).await;
        assert_eq!(status, 403, "expired");
    }
    for (body, field) in [
        (json!({"partNumbers": [0]}), "partNumbers"),
        (json!({"partNumbers": [3]}), "partNumbers"),
        (json!({"partNumbers": []}), "partNumbers"),
        (json!({"partNumbers": "1"}), "partNumbers"),
        (
            json!({"partNumbers": [1], "uploadUrlExpiresIn": 0}),
            "uploadUrlExpiresIn",
        ),
    ] {
        let reply = env
            .route(RouteId::SignUploadParts, "acme")
            .id(&id)
            .body(body)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
    let before = env.get("acme", &id).await.json["expiresAt"].clone();
    let signed = env
        .route(RouteId::SignUploadParts, "acme")
        .id(&id)
        .body(json!({"partNumbers": [2, 1, 2], "uploadUrlExpiresIn": 600}))
        .send()
        .await;
    assert_eq!(signed.status, 200, "{}", signed.json);
    let parts = signed.json["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "deduplicated and sorted");
    assert_eq!(
        (parts[0]["partNumber"].clone(), parts[0]["size"].clone()),
        (json!(1), json!(5 * MIB))
    );
    assert_eq!(parts[1]["size"], MIB);
    assert!(
        env.get("acme", &id).await.json["expiresAt"].as_str() > before.as_str(),
        "the record lives on"
    );
    assert_eq!(
        put_part(&env, &part_url(&signed.json, 1), &data[..5 * MIB])
            .await
            .0,
        200
    );
    assert_eq!(
        put_part(&env, &part_url(&signed.json, 2), &data[5 * MIB..])
            .await
            .0,
        200
    );
    let done = env
        .route(RouteId::CompleteUpload, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.json);
}

async fn the_plan_follows_the_size_threshold_and_s3_limits(env: TestEnv) {
    env.check_policies();
    let plan = |body: Value| {
        let env = &env;
        async move {
            let mut body = body;
            body["name"] = json!("p.bin");
            body["mimeType"] = json!("application/octet-stream");
            env.create("acme", body).await.json["upload"].clone()
        }
    };
    // Above the threshold (100 MiB), multipart without asking; default 8 MiB parts.
    let big = plan(json!({"size": 300 * MIB})).await;
    assert_eq!(
        (big["partSize"].clone(), big["partCount"].clone()),
        (json!(8 * MIB), json!(38))
    );
    // At S3's maximum object size, parts grow so that 10,000 suffice; only 100 URLs come back.
    let five_tib = 5u64 * 1024 * 1024 * 1024 * 1024;
    let huge = plan(json!({"size": five_tib})).await;
    assert_eq!(huge["partCount"], 10_000);
    assert_eq!(huge["partSize"], five_tib.div_ceil(10_000));
    assert_eq!(huge["parts"].as_array().unwrap().len(), 100);
    // The client's part size is clamped to 5 MiB..5 GiB.
    let small = plan(json!({"size": 20 * MIB, "multipart": true, "partSize": 1024})).await;
    assert_eq!(small["partSize"], 5 * MIB);
    let large = plan(json!({"size": 12 * 1024 * MIB, "partSize": 6u64 * 1024 * 1024 * 1024})).await;
    assert_eq!(large["partSize"], 5u64 * 1024 * 1024 * 1024);
    // Below the threshold: a single PUT.
    let single = plan(json!({"size": 10 * MIB})).await;
    assert_eq!(single["method"], "PUT");

    for (body, field) in [
        (json!({"multipart": true}), "size"),
        (json!({"size": five_tib + 1}), "size"),
        (json!({"size": 200 * MIB, "partSize": 0}), "partSize"),
    ] {
        let mut body = body;
        body["name"] = json!("p.bin");
        body["mimeType"] = json!("application/octet-stream");
        let reply = env
            .call(
                RouteId::CreateFile,
                stowage_tests::create_request("acme", "alice", &body),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
}

async fn multipart_routes_hide_other_tenants_uploads(env: TestEnv) {
    env.check_policies();
    let (id, upload) = start(&env, 6 * MIB).await;
    put_part(&env, &part_url(&upload, 1), &bytes(5 * MIB)).await;
    for (route, body) in [
        (RouteId::ListUploadParts, None),
        (RouteId::SignUploadParts, Some(json!({"partNumbers": [1]}))),
        (RouteId::CompleteUpload, None),
        (RouteId::AbortUpload, None),
    ] {
        env.route(route, "globex")
            .id(&id)
            .maybe_body(body)
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    // Single-PUT files have no parts to list or sign.
    let single = env
        .create("acme", json!({"name": "s.txt", "mimeType": "text/plain"}))
        .await;
    let single_id = single.json["file"]["id"].as_str().unwrap();
    env.route(RouteId::ListUploadParts, "acme")
        .id(single_id)
        .send()
        .await
        .assert_problem(409, "no_multipart_upload");
    let _ = upload_key(&single.json["upload"]);
    // The owner's upload is untouched.
    let listed = env
        .route(RouteId::ListUploadParts, "acme")
        .id(&id)
        .send()
        .await;
    assert_eq!(listed.json["parts"].as_array().unwrap().len(), 1);
}

stowage_tests::on_every_backend!(
    out_of_order_parts_one_sent_twice_complete_byte_for_byte,
    completion_refuses_missing_parts_wrong_sizes_and_wrong_etags,
    abort_drops_the_parts_and_restores_the_record,
    expired_part_urls_are_resigned,
    the_plan_follows_the_size_threshold_and_s3_limits,
    multipart_routes_hide_other_tenants_uploads,
);

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The embedded endpoint's own `CompleteMultipartUpload` (it joins the parts without reading
/// them, from the ETags recorded as they arrived), checked as S3 answers: an ETag that is not
/// the part's, parts out of order, a short part before the last, an unknown part, a part number
/// out of range, no parts; none of those loses a part. Then a completion that leaves a part out (S3 allows it): the object is
/// the listed parts in order, with S3's multipart ETag and the upload's content type, and the
/// upload is gone. Ranged and whole downloads of it come back byte for byte.
#[tokio::test]
async fn embedded_endpoint_completes_like_s3() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use md5::Digest as _;

    let env = TestEnv::embedded().await;
    let (s3, bucket, key) = (&env.s3, env.bucket.as_str(), "files/acme/endpoint-test");
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-test")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let parts: Vec<Vec<u8>> = vec![
        bytes(5 * MIB),
        bytes(5 * MIB + 3)[3..].to_vec(),
        b"tail".to_vec(),
        b"x".to_vec(),
    ];
    let mut etags = Vec::new();
    for (index, body) in parts.iter().enumerate() {
        let sent = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(index as i32 + 1)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let etag = sent.e_tag().unwrap().to_owned();
        assert_eq!(etag.trim_matches('"'), md5_hex(body));
        etags.push(etag);
    }
    let part = |number: i32, etag: &str| {
        CompletedPart::builder()
            .part_number(number)
            .e_tag(etag)
            .build()
    };
    let complete = |listed: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(listed))
                    .build(),
            )
            .send()
    };
    fn code<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(
        err: &aws_sdk_s3::error::SdkError<E, R>,
    ) -> String {
        err.as_service_error()
            .and_then(|e| e.code())
            .unwrap_or("not a service error")
            .to_owned()
    }
    let refusals = [
        (vec![part(1, &etags[1]), part(2, &etags[1])], "InvalidPart"),
        (
            vec![part(2, &etags[1]), part(1, &etags[0])],
            "InvalidPartOrder",
        ),
        (
            vec![part(1, &etags[0]), part(1, &etags[0])],
            "InvalidPartOrder",
        ),
        (
            vec![part(3, &etags[2]), part(4, &etags[3])],
            "EntityTooSmall",
        ),
        (vec![part(1, &etags[0]), part(7, &etags[3])], "InvalidPart"),
        (vec![part(1, "\"00\"")], "InvalidPart"),
        (vec![part(0, &etags[0])], "InvalidArgument"),
        (vec![part(10_001, &etags[0])], "InvalidArgument"),
        (vec![], "MalformedXML"),
    ];
    for (listed, expected) in refusals {
        let err = complete(listed.clone()).await.unwrap_err();
        assert_eq!(code(&err), expected, "{listed:?}");
    }
    let listed = s3
        .list_parts()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .unwrap();
    let listed_etags: Vec<&str> = listed.parts().iter().map(|p| p.e_tag().unwrap()).collect();
    assert_eq!(
        listed_etags, etags,
        "every part is still there, with its ETag"
    );

    // Parts 1, 2 and 4: part 3 is left out.
    let done = complete(vec![
        part(1, &etags[0]),
        part(2, &etags[1]),
        part(4, &etags[3]),
    ])
    .await
    .unwrap();
    let mut digests = Vec::new();
    for index in [0, 1, 3] {
        digests.extend(md5::Md5::digest(&parts[index]));
    }
    let expected_etag = format!("{}-3", md5_hex(&digests));
    assert_eq!(done.e_tag().unwrap().trim_matches('"'), expected_etag);
    assert_eq!(done.key(), Some(key));
    let object: Vec<u8> = [&parts[0][..], &parts[1][..], &parts[3][..]].concat();

    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.e_tag().unwrap().trim_matches('"'), expected_etag);
    assert_eq!(got.content_length(), Some(object.len() as i64));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(
        body[..] == object[..],
        "the object is parts 1, 2 and 4 in order"
    );
    for (range, expected) in [
        ("bytes=0-0", &object[..1]),
        ("bytes=5242879-5242881", &object[5 * MIB - 1..5 * MIB + 2]),
        ("bytes=-3", &object[object.len() - 3..]),
        ("bytes=10485755-", &object[10 * MIB - 5..]),
    ] {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(range)
            .send()
            .await
            .unwrap();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body[..] == expected[..], "{range}");
    }
    // The upload is gone; completing it again is S3's NoSuchUpload.
    let err = complete(vec![part(1, &etags[0])]).await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
}

/// The rest of what the embedded endpoint implements over its own layout, checked as S3
/// answers: stored attributes and metadata, a declared SHA-256 verified (`BadDigest` when the
/// bytes differ, and nothing stored), keys that are not paths refused, listing in key order
/// with a prefix, a delimiter and pages, copies keeping the source's attributes and ETag, and a
/// batch delete.
#[tokio::test]
async fn embedded_endpoint_stores_lists_copies_and_deletes_like_s3() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    use base64::Engine as _;
    use sha2::Digest as _;

    let env = TestEnv::embedded().await;
    let (s3, bucket) = (&env.s3, env.bucket.as_str());
    let code = |err: &dyn aws_sdk_s3::error::ProvideErrorMetadata| {
        err.code().unwrap_or("no code").to_owned()
    };
    for key in ["t/a/1", "t/a/2", "t/b/3", "t/c"] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/plain")
            .metadata("owner", "me")
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("t/a/1")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.content_length(), Some(5));
    assert_eq!(
        head.metadata().unwrap().get("owner").map(String::as_str),
        Some("me")
    );
    assert_eq!(head.e_tag().unwrap().trim_matches('"'), md5_hex(b"t/a/1"));

    // A declared checksum: kept when it holds, BadDigest (and nothing stored) when not.
    let sha = |bytes: &[u8]| {
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
    };
    s3.put_object()
        .bucket(bucket)
        .key("t/sum")
        .checksum_sha256(sha(b"sum"))
        .body(ByteStream::from_static(b"sum"))
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket(bucket)
        .key("t/bad-sum")
        .checksum_sha256(sha(b"other"))
        .body(ByteStream::from_static(b"sum"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "BadDigest");
    let err = s3
        .head_object()
        .bucket(bucket)
        .key("t/bad-sum")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_not_found());

    // Keys the layout cannot hold as paths.
    for key in ["t//x", "t/./x", "t/a/1/under-an-object"] {
        let err = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(err.as_service_error().unwrap()),
            "InvalidArgument",
            "{key}"
        );
    }

    // Listing: key order, a delimiter's common prefixes, pages.
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("t/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = listed
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["t/c", "t/sum"]);
    assert_eq!(prefixes, ["t/a/", "t/b/"]);
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix("t/")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        pages.push(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect::<Vec<_>>(),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
    }
    assert_eq!(
        pages,
        [vec!["t/a/1", "t/a/2"], vec!["t/b/3", "t/c"], vec!["t/sum"]]
    );

    // A copy keeps the source's attributes and ETag.
    let copied = s3
        .copy_object()
        .bucket(bucket)
        .copy_source(format!("{bucket}/t/a/2"))
        .key("t/copy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied
            .copy_object_result()
            .unwrap()
            .e_tag()
            .unwrap()
            .trim_matches('"'),
        md5_hex(b"t/a/2")
    );
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("t/copy")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"t/a/2"
    );

    // A batch delete, a missing key included; the prefix is empty afterwards.
    let ids: Vec<ObjectIdentifier> = [
        "t/a/1", "t/a/2", "t/b/3", "t/c", "t/sum", "t/copy", "t/none",
    ]
    .into_iter()
    .map(|key| ObjectIdentifier::builder().key(key).build().unwrap())
    .collect();
    let deleted = s3
        .delete_objects()
        .bucket(bucket)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 7);
    assert!(deleted.errors().is_empty());
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("t/")
        .send()
        .await
        .unwrap();
    assert!(listed.contents().is_empty());
}
