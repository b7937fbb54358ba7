//! The tenant isolation matrix: for every route of the route table, tenant B on tenant A's
//! files is `404` (or `notFound`), and A's records, parts and bytes are unchanged afterwards.

use serde_json::{json, Value};
use stowage::http::{RouteId, ROUTES};
use stowage_tests::{valid_body, TestEnv};

/// Everything tenant A can observe about its files.
async fn snapshot(env: &TestEnv, ids: &[String]) -> Vec<Value> {
    let mut state = Vec::new();
    for id in ids {
        let mut file = env.get("acme", id).await.json;
        let url = file["contentUrl"].take();
        let bytes = match url.as_str() {
            Some(url) => env.fetch(url).await.1,
            None => Vec::new(),
        };
        let parts = env
            .route(RouteId::ListUploadParts, "acme")
            .id(id)
            .send()
            .await;
        state.push(json!({"file": file, "bytes": bytes, "parts": parts.json}));
    }
    state.push(json!(env.listed("acme").await));
    state.push(
        env.route(RouteId::ListCollections, "acme")
            .send()
            .await
            .json,
    );
    state.push(env.route(RouteId::GetUsage, "acme").send().await.json);
    for parent in ["/", "/a-dir"] {
        state.push(
            env.route(RouteId::ListFolders, "acme")
                .query(&format!("parent={parent}"))
                .send()
                .await
                .json,
        );
    }
    state
}

async fn tenant_b_gets_404_on_every_route_for_tenant_a_files(env: TestEnv) {
    env.check_policies();
    // Tenant A: an uploaded file, a pending multipart upload holding one part, and a pending
    // file with an external id.
    let uploaded = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain", "externalId": "ext-a", "tags": ["t"], "directory": "/a-dir/inner"}),
            b"hello",
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let multipart = env
        .create(
            "acme",
            json!({"name": "m.bin", "mimeType": "application/octet-stream", "size": 6 << 20, "multipart": true}),
        )
        .await;
    let part1 = multipart.json["upload"]["parts"][0]["url"]
        .as_str()
        .unwrap();
    let put = env
        .http
        .put(part1)
        .body(vec![7u8; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let multipart = multipart.json["file"]["id"].as_str().unwrap().to_owned();
    let pending = env
        .create(
            "acme",
            json!({"name": "p.txt", "mimeType": "text/plain", "externalId": "ext-p"}),
        )
        .await
        .json["file"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A collection of A's with rules and a limit, holding a file.
    let created = env
        .route(RouteId::CreateCollection, "acme")
        .body(json!({"name": "private-a", "maxFiles": 5, "allowedMimeTypes": ["text/*"]}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let in_collection = env
        .create(
            "acme",
            json!({"name": "c.txt", "mimeType": "text/plain", "collection": "private-a"}),
        )
        .await
        .json["file"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A's folders: one of files, one made explicitly.
    let made = env
        .route(RouteId::CreateFolder, "acme")
        .body(json!({"path": "/a-made"}))
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let ids = vec![
        uploaded.clone(),
        multipart.clone(),
        pending.clone(),
        in_collection.clone(),
    ];
    let first_page = env
        .route(RouteId::ListFiles, "acme")
        .query("limit=1")
        .send()
        .await;
    let a_cursor = first_page.json["nextCursor"].as_str().unwrap().to_owned();
    let before = snapshot(&env, &ids).await;

    for route in ROUTES {
        let body = valid_body(route.id);
        match route.id {
            RouteId::CreateFile => {
                // A's external ids are A's: B gets its own record, and `overwrite` does not
                // reach A's.
                let mine = env
                    .route(route.id, "globex").body(json!({"name": "b.txt", "mimeType": "text/plain", "externalId": "ext-a", "overwrite": true})).send()
                    .await;
                assert_eq!(mine.status, 201, "{}", mine.json);
                assert!(!ids.contains(&mine.json["file"]["id"].as_str().unwrap().to_owned()));
            }
            RouteId::ListFiles => {
                let seen = env.listed("globex").await;
                assert!(seen.iter().all(|id| !ids.contains(id)), "{seen:?}");
                for query in [
                    "externalId=ext-a",
                    "tag=t",
                    "name=a.txt",
                    "collection=private-a",
                ] {
                    let reply = env.route(route.id, "globex").query(query).send().await;
                    assert!(
                        reply.json["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|f| !ids.contains(&f["id"].as_str().unwrap().to_owned())),
                        "{query}: {}",
                        reply.json
                    );
                }
                env.route(route.id, "globex")
                    .query(&format!("limit=1&cursor={a_cursor}"))
                    .send()
                    .await
                    .assert_problem(400, "invalid_cursor");
            }
            RouteId::UpdateFiles => {
                for id in &ids {
                    env.route(route.id, "globex")
                        .body(json!([{"id": id, "tags": ["taken"]}]))
                        .send()
                        .await
                        .assert_problem(404, "not_found");
                }
            }
            RouteId::DeleteFiles => {
                let reply = env
                    .route(route.id, "globex")
                    .body(json!({"ids": ids}))
                    .send()
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.json);
                assert_eq!(reply.json, json!({"deleted": [], "notFound": ids}));
            }
            RouteId::GetFiles | RouteId::GetLinks => {
                let reply = env
                    .route(route.id, "globex")
                    .body(json!({"ids": ids}))
                    .send()
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.json);
                assert_eq!(reply.json["items"], json!([]), "{}", reply.json);
                assert_eq!(reply.json["notFound"], json!(ids));
            }
            RouteId::CreateCollection => {
                // B's names are B's own: its collection is new, with none of A's rules.
                let mine = env
                    .route(route.id, "globex")
                    .body(json!({"name": "b-own"}))
                    .send()
                    .await;
                assert_eq!(mine.status, 201, "{}", mine.json);
                // A file of B's cannot go into A's collection.
                env.route(RouteId::CreateFile, "globex")
                    .body(json!({"name": "x.txt", "mimeType": "text/plain", "collection": "private-a"}))
                    .send()
                    .await
                    .assert_problem(404, "collection_not_found");
            }
            RouteId::ListCollections => {
                let reply = env.route(route.id, "globex").send().await;
                let names: Vec<&str> = reply.json["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names, ["default", "b-own"], "{}", reply.json);
            }
            RouteId::GetCollection | RouteId::UpdateCollection | RouteId::DeleteCollection => {
                for headers in [&[][..], &[("if-match", "\"1\"")][..]] {
                    env.route(route.id, "globex")
                        .id("private-a")
                        .maybe_body(body.clone())
                        .headers(headers)
                        .send()
                        .await
                        .assert_problem(404, "collection_not_found");
                }
            }
            RouteId::GetUsage => {
                let reply = env.route(route.id, "globex").send().await;
                assert_eq!(reply.status, 200, "{}", reply.json);
                assert_eq!(reply.json["files"], 1, "only B's own file: {}", reply.json);
                assert!(reply.json["collections"].get("private-a").is_none());
            }
            RouteId::GetRealtime => {
                // B's own channels only (or no realtime endpoint where the backend has none).
                let reply = env.route(route.id, "globex").send().await;
                if reply.status == 404 {
                    reply.assert_problem(404, "realtime_unavailable");
                } else {
                    assert_eq!(reply.status, 200, "{}", reply.json);
                    let b = format!("/stowage/{}/", stowage::realtime::segment("globex"));
                    for channel in reply.json["channels"].as_array().unwrap() {
                        assert!(channel.as_str().unwrap().starts_with(&b), "{}", reply.json);
                    }
                }
            }
            RouteId::PutUsageLimits => {
                let reply = env
                    .route(route.id, "globex")
                    .body(json!({"maxFiles": 1}))
                    .send()
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.json);
                assert_eq!(reply.json["limits"]["maxFiles"], 1);
            }
            RouteId::ListFolders => {
                for parent in ["/", "/a-dir", "/a-made"] {
                    let reply = env
                        .route(route.id, "globex")
                        .query(&format!("parent={parent}"))
                        .send()
                        .await;
                    assert_eq!(reply.status, 200, "{}", reply.json);
                    assert_eq!(reply.json["items"], json!([]), "{parent}: {}", reply.json);
                }
            }
            RouteId::CreateFolder => {
                // B's folder of the same path is B's own.
                let reply = env
                    .route(route.id, "globex")
                    .body(json!({"path": "/a-made"}))
                    .send()
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.json);
            }
            RouteId::MoveFolder => {
                let reply = env
                    .route(route.id, "globex")
                    .body(json!({"from": "/a-dir", "to": "/taken"}))
                    .send()
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.json);
                assert_eq!(reply.json["moved"], 0, "{}", reply.json);
                assert_eq!(reply.json["skipped"], 0, "{}", reply.json);
            }
            RouteId::DeleteFolder => {
                // A's folder holds a file, but to B it does not exist.
                env.route(route.id, "globex")
                    .query("path=/a-dir")
                    .send()
                    .await
                    .assert_problem(404, "folder_not_found");
            }
            RouteId::GetUploadLimits => {
                // The same for every tenant: nothing of A's in it.
                let reply = env.route(route.id, "globex").send().await;
                assert_eq!(reply.status, 200, "{}", reply.json);
            }
            RouteId::GetFile
            | RouteId::UpdateFile
            | RouteId::ReplaceFile
            | RouteId::DeleteFile
            | RouteId::GetContent
            | RouteId::GetThumbnail
            | RouteId::StartUpload
            | RouteId::AbortUpload
            | RouteId::ListUploadParts
            | RouteId::SignUploadParts
            | RouteId::SignUploadRequest
            | RouteId::CompleteUpload
            | RouteId::RestoreFile
            | RouteId::CopyFile
            | RouteId::ListVersions
            | RouteId::GetVersionContent
            | RouteId::RestoreVersion
            | RouteId::DeleteVersion => {
                for id in &ids {
                    for headers in [&[][..], &[("if-match", "\"1\"")][..]] {
                        let reply = env
                            .route(route.id, "globex")
                            .id(id)
                            .maybe_body(body.clone())
                            .headers(headers)
                            .send()
                            .await;
                        assert_eq!(reply.status, 404, "{} {id}: {}", route.path, reply.json);
                        reply.assert_problem(404, "not_found");
                    }
                }
            }
        }
    }
    assert_eq!(
        snapshot(&env, &ids).await,
        before,
        "tenant A's files are unchanged"
    );
}

stowage_tests::on_every_backend!(tenant_b_gets_404_on_every_route_for_tenant_a_files);
