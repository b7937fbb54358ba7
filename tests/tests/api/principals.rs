//! The principal matrix, like the tenant matrix: every file route × {owner, reader grantee, writer
//! grantee, group member, collection-level reader, other user of the tenant, app} on a file in a
//! `fileSecurity` collection, each answer as the access rules say (`docs/src/guides/access.md`),
//! and the tenant's records, parts and bytes unchanged wherever the answer is a refusal; then the
//! same routes in `default`, where every member may still do everything; the overwrite rule; bad
//! grants; and what a listing costs a user who can see few of many files. On moto, every route call
//! is also held to its function's DynamoDB policy in `template.yaml`.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{ids, TestEnv};

const APP: &str = "vault-app";

/// What a principal may do to the matrix's files: `Some(true)` allowed, `Some(false)` `403`
/// (it may read), `None` `404` (it may not even read).
#[derive(Clone, Copy, Debug)]
struct Rights {
    read: bool,
    write: Option<bool>,
    delete: Option<bool>,
    share: Option<bool>,
}

const ALL: Rights = Rights {
    read: true,
    write: Some(true),
    delete: Some(true),
    share: Some(true),
};
const READ_ONLY: Rights = Rights {
    read: true,
    write: Some(false),
    delete: Some(false),
    share: Some(false),
};
const NOTHING: Rights = Rights {
    read: false,
    write: None,
    delete: None,
    share: None,
};

/// Who acts: a user and its groups, or the app.
#[derive(Clone, Copy, Debug)]
enum Who {
    User(&'static str, &'static [&'static str]),
    App,
}

fn call(env: &TestEnv, route: RouteId, who: Who) -> stowage_tests::ApiCall<'_> {
    let call = env.route(route, "acme");
    match who {
        Who::User(user, groups) => call.as_user(user, groups),
        Who::App => call.as_app(APP),
    }
}

/// The owner, olivia, is in `staff` (who may create in `vault`).
const OWNER: Who = Who::User("olivia", &["staff"]);

/// The `vault` collection: nobody reads it whole but carol, `staff` writes (creates) and
/// deletes, files carry grants.
async fn make_vault(env: &TestEnv) {
    let made = call(env, RouteId::CreateCollection, Who::App)
        .body(json!({
            "name": "vault",
            "access": {"read": ["user:carol"], "write": ["group:staff"], "delete": ["group:staff"]},
            "fileSecurity": true
        }))
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    assert_eq!(made.json["access"]["read"], json!(["user:carol"]));
    assert_eq!(made.json["fileSecurity"], true);
    assert_eq!(made.json["overwrite"], "writers");
}

fn grants() -> Value {
    json!([
        {"principal": "user:rita", "role": "reader"},
        {"principal": "user:walt", "role": "writer"},
        {"principal": "group:eng", "role": "reader"}
    ])
}

/// Olivia's files in `collection`: an uploaded one (externalId `ext-<tag>`) and a pending
/// multipart one, each with the matrix's grants when `granted`.
async fn olivias_files(
    env: &TestEnv,
    collection: &str,
    tag: &str,
    granted: bool,
) -> (String, String) {
    let mut body = json!({"name": "f.txt", "mimeType": "text/plain", "collection": collection,
        "externalId": format!("ext-{tag}"), "tags": ["matrix"]});
    if granted {
        body["grants"] = grants();
    }
    let created = call(env, RouteId::CreateFile, OWNER)
        .body(body)
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(
        created.json["file"]["grants"].as_array().unwrap().len(),
        if granted { 3 } else { 0 }
    );
    env.upload(&created.json["upload"], b"hello").await;
    let key = stowage_tests::upload_key(&created.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    let file = created.json["file"]["id"].as_str().unwrap().to_owned();
    let mut body = json!({"name": "m.bin", "mimeType": "application/octet-stream",
        "collection": collection, "size": 6 << 20, "multipart": true});
    if granted {
        body["grants"] = grants();
    }
    let multipart = call(env, RouteId::CreateFile, OWNER)
        .body(body)
        .send()
        .await;
    assert_eq!(multipart.status, 201, "{}", multipart.json);
    (
        file,
        multipart.json["file"]["id"].as_str().unwrap().to_owned(),
    )
}

/// Everything about the files that a refusal must leave as it was, as the app sees it.
async fn snapshot(env: &TestEnv, files: &[&str]) -> Value {
    let mut state = Vec::new();
    for id in files {
        let mut got = call(env, RouteId::GetFile, Who::App)
            .id(id)
            .send()
            .await
            .json;
        let url = got["contentUrl"].take();
        let bytes = match url.as_str() {
            Some(url) => env.fetch(url).await.1,
            None => Vec::new(),
        };
        let parts = call(env, RouteId::ListUploadParts, Who::App)
            .id(id)
            .send()
            .await;
        state.push(json!({"file": got, "bytes": bytes, "parts": parts.json}));
    }
    let listed = call(env, RouteId::ListFiles, Who::App)
        .query("limit=1000")
        .send()
        .await;
    state.push(json!(ids(&listed.json)));
    let mut usage = call(env, RouteId::GetUsage, Who::App).send().await.json;
    // A collection whose files all went again (a copy made and deleted) reads as empty.
    if let Some(collections) = usage["collections"].as_object_mut() {
        collections.retain(|_, c| c["files"] != 0 || c["bytes"] != 0);
    }
    state.push(usage);
    json!(state)
}

/// The answer to a request needing a right the principal has (`Some(true)`), lacks while it
/// may read (`Some(false)`: `403 forbidden`), or cannot see the file for (`None`: `404`).
fn expect(reply: &stowage_tests::Reply, right: Option<bool>, what: &str) {
    match right {
        Some(true) => assert!(
            !matches!(reply.status, 403 | 404),
            "{what}: expected it to be allowed, got {} {}",
            reply.status,
            reply.json
        ),
        Some(false) => {
            reply.assert_problem(403, "forbidden");
        }
        None => {
            reply.assert_problem(404, "not_found");
            assert_eq!(
                reply.json["detail"], "no file with that id",
                "{what}: as for another tenant"
            );
        }
    }
}

/// Every file route as `who` on olivia's files in `collection`, checked against `rights`.
async fn check_every_route(
    env: &TestEnv,
    collection: &str,
    granted: bool,
    who: Who,
    rights: Rights,
    tag: &str,
) {
    let (file, multipart) = olivias_files(env, collection, tag, granted).await;
    let before = snapshot(env, &[&file, &multipart]).await;
    let read = rights.read.then_some(true);
    let label = |route: &str| format!("{who:?} {route} in {collection}");

    // Reads.
    let got = call(env, RouteId::GetFile, who).id(&file).send().await;
    expect(&got, read, &label("GET /files/{id}"));
    let content = call(env, RouteId::GetContent, who).id(&file).send().await;
    expect(&content, read, &label("GET content"));
    if rights.read {
        assert_eq!(content.status, 302, "{}", content.json);
    }
    let shared = call(env, RouteId::GetContent, who)
        .id(&file)
        .query("expiresIn=60")
        .send()
        .await;
    expect(&shared, read, &label("share link"));
    // A copy beside it needs only the right to read it (the default collection takes every
    // member's creates).
    let copied = call(env, RouteId::CopyFile, who)
        .id(&file)
        .body(json!({"collection": "default"}))
        .send()
        .await;
    expect(&copied, read, &label("POST copy"));
    if copied.status == 201 {
        // Gone again, so that the snapshot of the tenant compares.
        let copy = copied.json["id"].as_str().unwrap();
        let r = call(env, RouteId::DeleteFile, Who::App)
            .id(copy)
            .send()
            .await;
        assert_eq!(r.status, 204, "{}", r.json);
    }
    for route in [RouteId::GetFiles, RouteId::GetLinks] {
        let many = call(env, route, who)
            .body(json!({"ids": [file]}))
            .send()
            .await;
        assert_eq!(many.status, 200, "{}", many.json);
        assert_eq!(
            many.json["notFound"] == json!([file]),
            !rights.read,
            "{}: {}",
            label("POST /files/get, /files/links"),
            many.json
        );
    }
    let versions = call(env, RouteId::ListVersions, who).id(&file).send().await;
    expect(&versions, read, &label("GET versions"));
    let version = call(env, RouteId::GetVersionContent, who)
        .id(&format!("{file}@1"))
        .send()
        .await;
    expect(&version, read, &label("GET a version's content"));
    if rights.read {
        assert_eq!(version.status, 302, "{}", version.json);
    }
    let thumbnail = call(env, RouteId::GetThumbnail, who).id(&file).send().await;
    if rights.read {
        thumbnail.assert_problem(404, "no_thumbnail");
    } else {
        thumbnail.assert_problem(404, "not_found");
    }
    for query in [
        "limit=1000".to_owned(),
        format!("collection={collection}"),
        "tag=matrix".into(),
        "uploadedBy=olivia".into(),
        format!("externalId=ext-{tag}"),
        "name=f.txt".into(),
    ] {
        let listed = call(env, RouteId::ListFiles, who)
            .query(&query)
            .send()
            .await;
        assert_eq!(listed.status, 200, "{}", listed.json);
        assert_eq!(
            ids(&listed.json).contains(&file),
            rights.read,
            "{}: {query}",
            label("GET /files")
        );
    }

    // Changes it may not make: nothing changes.
    let refusing = |right: Option<bool>| right != Some(true);
    if refusing(rights.write) {
        let r = call(env, RouteId::UpdateFile, who)
            .id(&file)
            .body(json!({"tags": ["x"]}))
            .send()
            .await;
        expect(&r, rights.write, &label("PATCH"));
        let r = call(env, RouteId::ReplaceFile, who)
            .id(&file)
            .body(json!({"name": "g.txt", "mimeType": "text/plain"}))
            .send()
            .await;
        expect(&r, rights.write, &label("PUT"));
        let r = call(env, RouteId::StartUpload, who)
            .id(&file)
            .body(json!({"expectedSize": 3}))
            .send()
            .await;
        expect(&r, rights.write, &label("re-upload"));
        let r = call(env, RouteId::RestoreVersion, who)
            .id(&format!("{file}@1"))
            .send()
            .await;
        expect(&r, rights.write, &label("restore a version"));
        let r = call(env, RouteId::CreateFile, who)
            .body(json!({"name": "o.txt", "mimeType": "text/plain", "externalId": format!("ext-{tag}"), "overwrite": true}))
            .send().await;
        match rights.write {
            Some(false) => r.assert_problem(403, "forbidden"),
            _ => r.assert_problem(409, "external_id_conflict"),
        }
        for (route, body) in [
            (RouteId::SignUploadParts, Some(json!({"partNumbers": [1]}))),
            (RouteId::ListUploadParts, None),
            (RouteId::CompleteUpload, Some(json!({}))),
            (RouteId::SignUploadRequest, Some(json!({"method": "POST"}))),
            (RouteId::AbortUpload, None),
        ] {
            let r = call(env, route, who)
                .id(&multipart)
                .maybe_body(body)
                .send()
                .await;
            expect(&r, rights.write, &label(&format!("{route:?}")));
        }
        let r = call(env, RouteId::UpdateFiles, who)
            .body(json!([{"id": file, "tags": ["y"]}]))
            .send()
            .await;
        match rights.write {
            Some(false) => r.assert_problem(403, "forbidden"),
            _ => r.assert_problem(404, "not_found"),
        }
        let r = call(env, RouteId::UpdateFiles, who)
            .body(json!({"filter": {"collection": collection}, "patch": {"tags": ["z"]}}))
            .send()
            .await;
        match rights.write {
            Some(false) => r.assert_problem(403, "forbidden"),
            _ => {
                assert_eq!(r.status, 200, "{}", r.json);
                assert_eq!(r.json["items"], json!([]), "unseen files are untouched");
            }
        }
    }
    if refusing(rights.share) {
        let r = call(env, RouteId::UpdateFile, who)
            .id(&file)
            .body(json!({"grants": null}))
            .send()
            .await;
        match (rights.share, rights.write) {
            (Some(false), Some(true)) => {
                r.assert_problem(403, "forbidden");
                assert!(
                    r.json["detail"].as_str().unwrap().contains("share"),
                    "{}",
                    r.json
                );
            }
            _ => expect(&r, rights.share.and(rights.write), &label("PATCH grants")),
        }
    }
    if refusing(rights.delete) {
        let r = call(env, RouteId::DeleteFile, who).id(&file).send().await;
        expect(&r, rights.delete, &label("DELETE"));
        let r = call(env, RouteId::DeleteFile, who)
            .id(&file)
            .query("permanent=true")
            .send()
            .await;
        expect(&r, rights.delete, &label("DELETE for good"));
        let r = call(env, RouteId::DeleteVersion, who)
            .id(&format!("{file}@1"))
            .send()
            .await;
        expect(&r, rights.delete, &label("DELETE a version"));
        let r = call(env, RouteId::RestoreFile, who).id(&file).send().await;
        expect(&r, rights.delete, &label("restore from the trash"));
        let r = call(env, RouteId::DeleteFiles, who)
            .body(json!({"ids": [file]}))
            .send()
            .await;
        match rights.delete {
            Some(false) => r.assert_problem(403, "forbidden"),
            _ => {
                assert_eq!(r.status, 200, "{}", r.json);
                assert_eq!(r.json["notFound"], json!([file]), "unseen ids are notFound");
            }
        }
        let r = call(env, RouteId::DeleteFiles, who)
            .body(json!({"filter": {"collection": collection}}))
            .send()
            .await;
        match rights.delete {
            Some(false) if rights.read => r.assert_problem(403, "forbidden"),
            _ => {
                assert_eq!(r.status, 200, "{}", r.json);
                assert_eq!(r.json["deleted"], json!([]), "unseen files are untouched");
            }
        }
    }
    assert_eq!(
        snapshot(env, &[&file, &multipart]).await,
        before,
        "{who:?}: a refusal changed something"
    );

    // Changes it may make, each answered as for the owner.
    if rights.write == Some(true) {
        let r = call(env, RouteId::UpdateFile, who)
            .id(&file)
            .body(json!({"tags": ["x"]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let r = call(env, RouteId::UpdateFiles, who)
            .body(json!([{"id": file, "tags": ["y"]}]))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        // An open upload is its opener's (olivia's) and the apps': other writers may not
        // sign for it, list its parts or abort it.
        let opener = matches!(who, Who::App | Who::User("olivia", _));
        for (route, body) in [
            (RouteId::SignUploadParts, Some(json!({"partNumbers": [1]}))),
            (RouteId::ListUploadParts, None),
            (RouteId::SignUploadRequest, Some(json!({"method": "POST"}))),
        ] {
            let r = call(env, route, who)
                .id(&multipart)
                .maybe_body(body)
                .send()
                .await;
            if opener {
                assert_eq!(r.status, 200, "{route:?}: {}", r.json);
            } else {
                r.assert_problem(403, "forbidden");
                assert!(
                    r.json["detail"]
                        .as_str()
                        .unwrap()
                        .contains("opened by another"),
                    "{}",
                    r.json
                );
            }
        }
        let r = call(env, RouteId::CompleteUpload, who)
            .id(&multipart)
            .body(json!({}))
            .send()
            .await;
        r.assert_problem(400, "missing_parts");
        let r = call(env, RouteId::AbortUpload, who)
            .id(&multipart)
            .send()
            .await;
        if opener {
            assert_eq!(r.status, 200, "{}", r.json);
        } else {
            r.assert_problem(403, "forbidden");
        }
        let r = call(env, RouteId::StartUpload, who)
            .id(&file)
            .body(json!({"expectedSize": 3}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    if rights.share == Some(true) && granted {
        let r = call(env, RouteId::UpdateFile, who)
            .id(&file)
            .body(json!({"grants": [{"principal": "group:eng", "role": "writer"}]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(
            r.json["grants"],
            json!([{"principal": "group:eng", "role": "writer"}])
        );
    }
    if rights.delete == Some(true) {
        let r = call(env, RouteId::DeleteFile, who).id(&file).send().await;
        assert_eq!(r.status, 204, "{}", r.json);
        let r = call(env, RouteId::DeleteFiles, who)
            .body(json!({"ids": [multipart]}))
            .send()
            .await;
        assert_eq!(r.json["deleted"], json!([multipart]), "{}", r.json);
    }
}

/// The ids oscar (a member with no grants) lists.
async fn oscar_sees(env: &TestEnv) -> Vec<String> {
    let r = call(env, RouteId::ListFiles, Who::User("oscar", &[]))
        .query("limit=1000")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    ids(&r.json)
}

async fn every_principal_gets_what_section_19_says_on_every_route(env: TestEnv) {
    env.check_policies();
    make_vault(&env).await;
    let walt = Rights {
        share: Some(false),
        ..ALL
    };
    let matrix: [(Who, Rights); 7] = [
        (OWNER, ALL),
        (Who::User("rita", &[]), READ_ONLY),
        (Who::User("walt", &[]), walt),
        (Who::User("gus", &["eng", "ops"]), READ_ONLY),
        (Who::User("carol", &[]), READ_ONLY),
        (Who::User("oscar", &["staff-not", "en"]), NOTHING),
        (Who::App, ALL),
    ];
    for (at, (who, rights)) in matrix.into_iter().enumerate() {
        check_every_route(&env, "vault", true, who, rights, &format!("v{at}")).await;
    }
    // In `default` every member of the tenant still does everything (today's behaviour).
    check_every_route(&env, "default", false, Who::User("oscar", &[]), ALL, "d").await;
}

async fn creates_and_grants_follow_the_collection(env: TestEnv) {
    env.check_policies();
    make_vault(&env).await;
    // Not on vault's write list: no create there, and nothing written.
    let r = call(&env, RouteId::CreateFile, Who::User("oscar", &[]))
        .body(json!({"name": "x.txt", "mimeType": "text/plain", "collection": "vault"}))
        .send()
        .await;
    r.assert_problem(403, "forbidden");
    // Grants need fileSecurity.
    let r = call(&env, RouteId::CreateFile, Who::User("oscar", &[]))
        .body(json!({"name": "x.txt", "mimeType": "text/plain", "grants": [{"principal": "user:bob", "role": "reader"}]}))
        .send().await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.json["errors"][0]["field"], "grants");
    // Bad grants: unknown principal forms and roles, twice the same principal, too many.
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"principal": format!("user:u{i}"), "role": "reader"}))
        .collect();
    for (grants, field) in [
        (
            json!([{"principal": "team:x", "role": "reader"}]),
            "grants[0].principal",
        ),
        (
            json!([{"principal": "user:", "role": "reader"}]),
            "grants[0].principal",
        ),
        (
            json!([{"principal": "user:a b", "role": "reader"}]),
            "grants[0].principal",
        ),
        (
            json!([{"principal": "user:bob", "role": "admin"}]),
            "grants[0].role",
        ),
        (
            json!([{"principal": "user:bob", "role": "reader", "extra": 1}]),
            "grants[0].extra",
        ),
        (json!(["user:bob"]), "grants[0]"),
        (
            json!([{"principal": "user:bob", "role": "reader"}, {"principal": "user:bob", "role": "writer"}]),
            "grants[1].principal",
        ),
        (json!(too_many), "grants"),
        (json!("user:bob"), "grants"),
    ] {
        let r = call(&env, RouteId::CreateFile, OWNER)
            .body(json!({"name": "x.txt", "mimeType": "text/plain", "collection": "vault", "grants": grants}))
            .send().await;
        r.assert_problem(400, "validation_failed");
        assert!(
            r.json["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {}",
            r.json
        );
    }
    let listed = call(&env, RouteId::ListFiles, Who::App).send().await;
    assert_eq!(
        ids(&listed.json),
        Vec::<String>::new(),
        "nothing was written"
    );
    // Bad access lists on a collection.
    for access in [
        json!({"read": ["users:x"]}),
        json!({"read": "tenant"}),
        json!({"owner": []}),
        json!({"write": [5]}),
    ] {
        let r = call(&env, RouteId::CreateCollection, Who::App)
            .body(json!({"name": "bad", "access": access}))
            .send()
            .await;
        r.assert_problem(400, "validation_failed");
    }
    let r = call(&env, RouteId::CreateCollection, Who::App)
        .body(json!({"name": "bad", "overwrite": "anyone"}))
        .send()
        .await;
    r.assert_problem(400, "validation_failed");
    let r = call(&env, RouteId::UpdateCollection, Who::App)
        .id("vault")
        .body(json!({"access": {"delete": ["group:"]}}))
        .send()
        .await;
    r.assert_problem(400, "validation_failed");

    // The same refusals on a file's update, and nothing changes.
    let (file, _) = olivias_files(&env, "vault", "bad", true).await;
    let (plain, _) = olivias_files(&env, "default", "plain", false).await;
    let before = snapshot(&env, &[&file, &plain]).await;
    for grants in [
        json!([{"principal": "team:x", "role": "reader"}]),
        json!([{"principal": "user:bob", "role": "owner"}]),
        json!({"principal": "user:bob"}),
    ] {
        let r = call(&env, RouteId::UpdateFile, OWNER)
            .id(&file)
            .body(json!({"grants": grants}))
            .send()
            .await;
        r.assert_problem(400, "validation_failed");
    }
    let r = call(&env, RouteId::UpdateFile, OWNER)
        .id(&plain)
        .body(json!({"grants": [{"principal": "user:bob", "role": "reader"}]}))
        .send()
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.json["errors"][0]["field"], "grants", "{}", r.json);
    let r = call(&env, RouteId::UpdateFiles, OWNER)
        .body(json!([{"id": file, "grants": null}]))
        .send()
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.json["errors"][0]["field"], "[0].grants", "{}", r.json);
    let r = call(&env, RouteId::UpdateFiles, OWNER)
        .body(json!({"filter": {"collection": "vault"}, "patch": {"grants": null}}))
        .send()
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(
        snapshot(&env, &[&file, &plain]).await,
        before,
        "a refused update changed something"
    );
    // A PUT that leaves grants out keeps them.
    let r = call(&env, RouteId::ReplaceFile, OWNER)
        .id(&file)
        .body(json!({"name": "kept.txt", "mimeType": "text/plain"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["grants"], grants());
}

async fn the_overwrite_rule_binds_new_uploads_of_uploaded_files(env: TestEnv) {
    env.check_policies();
    for (name, rule) in [("by-owner", "owner"), ("by-apps", "apps")] {
        let made = call(&env, RouteId::CreateCollection, Who::App)
            .body(json!({"name": name, "overwrite": rule}))
            .send()
            .await;
        assert_eq!(made.status, 201, "{}", made.json);
        let created = call(&env, RouteId::CreateFile, OWNER)
            .body(json!({"name": "f.txt", "mimeType": "text/plain", "collection": name, "externalId": name}))
            .send().await;
        assert_eq!(created.status, 201, "{}", created.json);
        let id = created.json["file"]["id"].as_str().unwrap().to_owned();
        // Still pending: anyone who may write it may upload again.
        let again = call(&env, RouteId::StartUpload, Who::User("bob", &[]))
            .id(&id)
            .body(json!({}))
            .send()
            .await;
        assert_eq!(again.status, 200, "{}", again.json);
        env.upload(&again.json["upload"], b"hi").await;
        let key = stowage_tests::upload_key(&again.json["upload"]);
        env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
            .await;
        // Uploaded: bob (a writer through the collection) may update but not upload again.
        let r = call(&env, RouteId::UpdateFile, Who::User("bob", &[]))
            .id(&id)
            .body(json!({"tags": ["b"]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let r = call(&env, RouteId::StartUpload, Who::User("bob", &[]))
            .id(&id)
            .body(json!({}))
            .send()
            .await;
        r.assert_problem(403, "forbidden");
        assert!(r.json["detail"].as_str().unwrap().contains("upload"));
        let r = call(&env, RouteId::CreateFile, Who::User("bob", &[]))
            .body(json!({"name": "f.txt", "mimeType": "text/plain", "externalId": name, "overwrite": true}))
            .send().await;
        r.assert_problem(403, "forbidden");
        let owner = call(&env, RouteId::StartUpload, OWNER)
            .id(&id)
            .body(json!({}))
            .send()
            .await;
        match rule {
            "owner" => assert_eq!(owner.status, 200, "{}", owner.json),
            _ => owner.assert_problem(403, "forbidden"),
        }
        let app = call(&env, RouteId::StartUpload, Who::App)
            .id(&id)
            .body(json!({}))
            .send()
            .await;
        assert_eq!(app.status, 200, "{}", app.json);
    }
}

/// Opening a collection to every member takes effect at once on the instance that made the
/// change: the listing's remembered policies are forgotten with it (no policy checks here, which
/// empty every cache before each call).
async fn a_collection_opened_here_is_seen_at_once(env: TestEnv) {
    make_vault(&env).await;
    let (file, _) = olivias_files(&env, "vault", "open", false).await;
    assert!(!oscar_sees(&env).await.contains(&file));
    let version = call(&env, RouteId::GetCollection, Who::App)
        .id("vault")
        .send()
        .await
        .json["version"]
        .to_string();
    let opened = call(&env, RouteId::UpdateCollection, Who::App)
        .id("vault")
        .headers(&[("if-match", &version)])
        .body(json!({"access": {"read": ["tenant"]}}))
        .send()
        .await;
    assert_eq!(opened.status, 200, "{}", opened.json);
    assert!(
        oscar_sees(&env).await.contains(&file),
        "seen at once after the change"
    );
}

/// A user who can see 5 of 300 files of a `private` collection (read: nobody, write: every
/// member) lists them at the cost of what it can see: its own files, and those granted to it
/// or its group, through their own index items.
async fn a_listing_costs_what_the_caller_can_see(env: TestEnv) {
    env.check_policies();
    let made = call(&env, RouteId::CreateCollection, Who::App)
        .body(
            json!({"name": "private", "access": {"read": [], "delete": []}, "fileSecurity": true}),
        )
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let now = env.app.service.now().millis();
    let private = stowage::model::CollectionName::parse_as("collection", "private").unwrap();
    let mut visible = Vec::new();
    for i in 0..300 {
        let mut record = stowage_tests::sample_record("acme", now - 1_000_000 + i * 1_000);
        record.collection = private.clone();
        record.expires_at = None;
        record.uploaded_by = stowage::model::UserId::parse("others").unwrap();
        match i {
            7 | 150 | 299 => record.uploaded_by = stowage::model::UserId::parse("alice").unwrap(),
            42 => {
                record.grants = vec![stowage::model::Grant {
                    principal: stowage::model::Principal::User("alice".into()),
                    role: stowage::model::Role::Reader,
                }]
            }
            200 => {
                record.grants = vec![stowage::model::Grant {
                    principal: stowage::model::Principal::Group("eng".into()),
                    role: stowage::model::Role::Writer,
                }]
            }
            _ => {}
        }
        if matches!(i, 7 | 42 | 150 | 200 | 299) {
            visible.push(record.id.to_string());
        }
        env.insert_record_in(&record, Some(1)).await;
    }
    visible.reverse();
    let alice = stowage::identity::Identity {
        groups: vec!["eng".into()],
        ..stowage::identity::Identity::member(
            stowage::model::TenantId::parse("acme").unwrap(),
            stowage::model::UserId::parse("alice").unwrap(),
            stowage::identity::Scopes::member(),
        )
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut reads = Vec::new();
    loop {
        let mut params = vec![("limit", vec!["2"])];
        if let Some(c) = &cursor {
            params.push(("cursor", vec![c.as_str()]));
        }
        let query = stowage::validate::ListQuery::from_params(params).unwrap();
        let page = env.app.service.list(&alice, &query).await.unwrap();
        seen.extend(page.items.iter().map(|s| s.record.id.to_string()));
        reads.push(page.items_read);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen, visible,
        "exactly what alice may see, newest first, across pages"
    );
    let total: u64 = reads.iter().sum();
    eprintln!("items read per page for 5 visible of 300 files: {reads:?} (total {total})");
    assert!(
        reads.iter().all(|&r| r <= 12),
        "a page reads about what it shows: {reads:?}"
    );
    assert!(
        total <= 30,
        "the listing does not read the 295 files alice cannot see: {reads:?}"
    );
    // The same filter through the HTTP route, as the matrix's user.
    let listed = call(&env, RouteId::ListFiles, Who::User("alice", &["eng"]))
        .query("collection=private&limit=100")
        .send()
        .await;
    assert_eq!(ids(&listed.json), visible);
    let other = call(&env, RouteId::ListFiles, Who::User("nobody", &[]))
        .query("limit=100")
        .send()
        .await;
    assert_eq!(ids(&other.json), Vec::<String>::new());
}

stowage_tests::on_every_backend!(
    every_principal_gets_what_section_19_says_on_every_route,
    creates_and_grants_follow_the_collection,
    the_overwrite_rule_binds_new_uploads_of_uploaded_files,
    a_listing_costs_what_the_caller_can_see,
    a_collection_opened_here_is_seen_at_once,
);
