//! Folders on both backends: which subfolders each principal sees (never one that holds only
//! files it may not read), explicit folders, deleting them, moving a folder with its files
//! (all or none per call, a cursor beyond), bad input, and what a folder page reads.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{ids, TestEnv};

const APP: &str = "folder-app";

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

/// The names of `parent`'s subfolders as `who` sees them, every page followed (`limit` each).
async fn folders(env: &TestEnv, who: Who, parent: &str, limit: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut query = format!("parent={parent}&limit={limit}");
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let reply = call(env, RouteId::ListFolders, who)
            .query(&query)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        for item in reply.json["items"].as_array().unwrap() {
            let name = item["name"].as_str().unwrap().to_owned();
            let want = if parent == "/" {
                format!("/{name}")
            } else {
                format!("{parent}/{name}")
            };
            assert_eq!(item["path"], want.as_str());
            names.push(name);
        }
        match reply.json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
    }
    panic!("more than 100 pages");
}

async fn create(env: &TestEnv, who: Who, body: Value) -> String {
    let reply = call(env, RouteId::CreateFile, who).body(body).send().await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    reply.json["file"]["id"].as_str().unwrap().to_owned()
}

async fn make_folder(env: &TestEnv, path: &str) -> u16 {
    let reply = call(env, RouteId::CreateFolder, Who::App)
        .body(json!({"path": path}))
        .send()
        .await;
    assert!([200, 201].contains(&reply.status), "{path}: {}", reply.json);
    assert_eq!(reply.json["path"], path);
    reply.status
}

fn file(name: &str, directory: &str) -> Value {
    json!({"name": name, "mimeType": "text/plain", "directory": directory})
}

async fn every_principal_sees_the_folders_of_what_it_may_read(env: TestEnv) {
    env.check_policies();
    // `vault`: nobody reads it whole but carol; staff create in it; files carry grants.
    let made = call(&env, RouteId::CreateCollection, Who::App)
        .body(json!({"name": "vault", "fileSecurity": true,
                     "access": {"read": ["user:carol"], "write": ["group:staff"], "delete": []}}))
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let alice = Who::User("alice", &["staff"]);
    let bob = Who::User("bob", &["staff"]);
    let olivia = Who::User("olivia", &["staff"]);
    // Open files, in `default`: every member reads them.
    for (name, dir) in [
        ("r.txt", "/"),
        ("a.txt", "/a"),
        ("b.txt", "/a/b/c"),
        ("d.txt", "/a/d"),
        ("z.txt", "/z"),
    ] {
        create(&env, Who::App, file(name, dir)).await;
    }
    // Vault files: alice's and bob's own, and olivia's granted to dave and to group eng.
    let in_vault = |name: &str, dir: &str| json!({"name": name, "mimeType": "text/plain", "directory": dir, "collection": "vault"});
    create(&env, alice, in_vault("s.txt", "/secret/alice")).await;
    create(&env, bob, in_vault("s.txt", "/secret/bob")).await;
    let mut for_dave = in_vault("g.txt", "/granted/dave");
    for_dave["grants"] = json!([{"principal": "user:dave", "role": "reader"}]);
    create(&env, olivia, for_dave).await;
    let mut for_eng = in_vault("g.txt", "/granted/eng");
    for_eng["grants"] = json!([{"principal": "group:eng", "role": "reader"}]);
    create(&env, olivia, for_eng).await;
    // Explicit folders, empty.
    assert_eq!(make_folder(&env, "/a/e").await, 201);
    assert_eq!(make_folder(&env, "/a/e").await, 200, "made again: 200");
    make_folder(&env, "/m/n").await;

    let dave = Who::User("dave", &[]);
    let erin = Who::User("erin", &["eng"]);
    let carol = Who::User("carol", &[]);
    let oscar = Who::User("oscar", &[]);
    for (who, parent, want) in [
        (Who::App, "/", vec!["a", "granted", "m", "secret", "z"]),
        (Who::App, "/a", vec!["b", "d", "e"]),
        (Who::App, "/a/b", vec!["c"]),
        (Who::App, "/a/b/c", vec![]),
        (Who::App, "/secret", vec!["alice", "bob"]),
        (Who::App, "/granted", vec!["dave", "eng"]),
        (Who::App, "/m", vec!["n"]),
        (Who::App, "/nowhere", vec![]),
        (carol, "/secret", vec!["alice", "bob"]),
        (alice, "/", vec!["a", "m", "secret", "z"]),
        (alice, "/secret", vec!["alice"]),
        (bob, "/secret", vec!["bob"]),
        (olivia, "/", vec!["a", "granted", "m", "z"]),
        (dave, "/", vec!["a", "granted", "m", "z"]),
        (dave, "/granted", vec!["dave"]),
        (erin, "/granted", vec!["eng"]),
        (oscar, "/", vec!["a", "m", "z"]),
        (oscar, "/secret", vec![]),
        (oscar, "/granted", vec![]),
    ] {
        for limit in [1, 2, 100] {
            assert_eq!(
                folders(&env, who, parent, limit).await,
                want,
                "{who:?} in {parent}, pages of {limit}"
            );
        }
    }
    // Another tenant sees none of them.
    let theirs = env
        .route(RouteId::ListFolders, "globex")
        .as_app(APP)
        .send()
        .await;
    assert_eq!(theirs.json["items"], json!([]));
}

async fn explicit_folders_are_made_and_deleted_only_when_empty(env: TestEnv) {
    env.check_policies();
    assert_eq!(make_folder(&env, "/docs").await, 201);
    assert_eq!(make_folder(&env, "/docs/old").await, 201);
    create(&env, Who::App, file("f.txt", "/files/here")).await;
    let delete = |path: &'static str| {
        let env = &env;
        async move {
            call(env, RouteId::DeleteFolder, Who::App)
                .query(&format!("path={path}"))
                .send()
                .await
        }
    };
    // A folder holding a folder, or a file at any depth, stays.
    delete("/docs")
        .await
        .assert_problem(409, "folder_not_empty");
    delete("/files")
        .await
        .assert_problem(409, "folder_not_empty");
    delete("/files/here")
        .await
        .assert_problem(409, "folder_not_empty");
    // A folder nobody made is not there to delete.
    delete("/never")
        .await
        .assert_problem(404, "folder_not_found");
    let gone = delete("/docs/old").await;
    assert_eq!(gone.status, 204, "{}", gone.json);
    delete("/docs/old")
        .await
        .assert_problem(404, "folder_not_found");
    assert_eq!(delete("/docs").await.status, 204);
    assert_eq!(folders(&env, Who::App, "/", 100).await, ["files"]);

    // Bad paths: 400 naming the field, nothing made.
    for (route, body, query, field) in [
        (
            RouteId::CreateFolder,
            Some(json!({"path": "/"})),
            "",
            "path",
        ),
        (
            RouteId::CreateFolder,
            Some(json!({"path": "docs"})),
            "",
            "path",
        ),
        (
            RouteId::CreateFolder,
            Some(json!({"path": "/a/../b"})),
            "",
            "path",
        ),
        (
            RouteId::CreateFolder,
            Some(json!({"path": "/a/"})),
            "",
            "path",
        ),
        (RouteId::CreateFolder, Some(json!({})), "", "path"),
        (
            RouteId::CreateFolder,
            Some(json!({"path": "/a", "x": 1})),
            "",
            "x",
        ),
        (RouteId::DeleteFolder, None, "path=/", "path"),
        (RouteId::DeleteFolder, None, "", "path"),
        (RouteId::ListFolders, None, "parent=a/b", "parent"),
        (RouteId::ListFolders, None, "parent=/a//b", "parent"),
        (RouteId::ListFolders, None, "limit=0", "limit"),
        (RouteId::ListFolders, None, "limit=1001", "limit"),
        (RouteId::ListFolders, None, "colour=red", "colour"),
        (
            RouteId::MoveFolder,
            Some(json!({"from": "/a", "to": "/a/b"})),
            "",
            "to",
        ),
        (
            RouteId::MoveFolder,
            Some(json!({"from": "/a", "to": "/a"})),
            "",
            "to",
        ),
        (
            RouteId::MoveFolder,
            Some(json!({"from": "/", "to": "/b"})),
            "",
            "from",
        ),
        (RouteId::MoveFolder, Some(json!({"from": "/a"})), "", "to"),
        (
            RouteId::MoveFolder,
            Some(json!({"from": "/a", "to": "b"})),
            "",
            "to",
        ),
    ] {
        let mut request = call(&env, route, Who::App).query(query);
        if let Some(body) = body {
            request = request.body(body);
        }
        let reply = request.send().await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{route:?} {query}");
    }
    for (route, query, body) in [
        (RouteId::ListFolders, "cursor=garbage", None),
        (
            RouteId::MoveFolder,
            "",
            Some(json!({"from": "/files", "to": "/x", "cursor": "garbage"})),
        ),
    ] {
        let mut request = call(&env, route, Who::App).query(query);
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.assert_problem(400, "invalid_cursor");
    }
    assert_eq!(
        folders(&env, Who::App, "/", 100).await,
        ["files"],
        "nothing made"
    );
}

async fn a_folder_moves_with_everything_below_it(env: TestEnv) {
    env.check_policies();
    // `kept`: every member reads, only bob writes. `vault`: only owners read, alice writes.
    for body in [
        json!({"name": "kept", "access": {"read": ["tenant"], "write": ["user:bob"], "delete": []}}),
        json!({"name": "vault", "fileSecurity": true,
               "access": {"read": [], "write": ["user:alice"], "delete": []}}),
    ] {
        let made = call(&env, RouteId::CreateCollection, Who::App)
            .body(body)
            .send()
            .await;
        assert_eq!(made.status, 201, "{}", made.json);
    }
    let alice = Who::User("alice", &[]);
    let top = create(&env, alice, file("top.txt", "/proj/x")).await;
    let deep = create(&env, alice, file("deep.txt", "/proj/x/y")).await;
    let beside = create(&env, alice, file("beside.txt", "/proj/xy")).await;
    // A file granted to dave, which dave's folder view must follow.
    let granted = create(
        &env,
        alice,
        json!({"name": "g.txt", "mimeType": "text/plain", "directory": "/proj/x/g",
               "collection": "vault", "grants": [{"principal": "user:dave", "role": "reader"}]}),
    )
    .await;
    // An uploaded, public file.
    let public = env
        .uploaded(
            "acme",
            json!({"name": "p.txt", "mimeType": "text/plain", "directory": "/proj/x", "privateAccess": false}),
            b"public bytes",
        )
        .await;
    let public = public["id"].as_str().unwrap().to_owned();
    // Bob's file, which alice may read but not change: skipped, and counted.
    let bobs = create(
        &env,
        Who::User("bob", &[]),
        json!({"name": "b.txt", "mimeType": "text/plain", "directory": "/proj/x", "collection": "kept"}),
    )
    .await;
    // The app's file in `vault`, which alice may not even read: left, and not counted.
    let hidden = create(
        &env,
        Who::App,
        json!({"name": "h.txt", "mimeType": "text/plain", "directory": "/proj/x/y", "collection": "vault"}),
    )
    .await;
    let dave = Who::User("dave", &[]);
    let oscar = Who::User("oscar", &[]);
    assert_eq!(folders(&env, dave, "/proj/x", 100).await, ["g", "y"]);
    assert_eq!(folders(&env, oscar, "/proj/x", 100).await, ["y"]);
    make_folder(&env, "/proj/x/empty").await;

    let moved = call(&env, RouteId::MoveFolder, alice)
        .body(json!({"from": "/proj/x", "to": "/done/x"}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
    assert_eq!(
        moved.json,
        json!({"moved": 4, "skipped": 1, "nextCursor": null})
    );
    let directory = |id: &str| {
        let env = &env;
        let id = id.to_owned();
        async move {
            let reply = call(env, RouteId::GetFile, Who::App).id(&id).send().await;
            reply.json["directory"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(directory(&top).await, "/done/x");
    assert_eq!(directory(&deep).await, "/done/x/y");
    assert_eq!(directory(&granted).await, "/done/x/g");
    assert_eq!(directory(&public).await, "/done/x");
    assert_eq!(
        directory(&beside).await,
        "/proj/xy",
        "a sibling that shares a prefix stays"
    );
    assert_eq!(
        directory(&bobs).await,
        "/proj/x",
        "what alice may not change stays"
    );
    assert_eq!(
        directory(&hidden).await,
        "/proj/x/y",
        "what alice may not see stays"
    );
    assert_eq!(
        folders(&env, Who::App, "/done/x", 100).await,
        ["empty", "g", "y"]
    );
    assert_eq!(folders(&env, Who::App, "/proj", 100).await, ["x", "xy"]);
    assert_eq!(folders(&env, Who::App, "/proj/x", 100).await, ["y"]);
    assert_eq!(
        folders(&env, alice, "/proj/x", 100).await,
        Vec::<String>::new(),
        "only files alice may not see remain there"
    );
    assert_eq!(
        folders(&env, dave, "/done/x", 100).await,
        ["empty", "g", "y"],
        "a grantee's view follows its file"
    );
    assert_eq!(folders(&env, oscar, "/done/x", 100).await, ["empty", "y"]);
    assert_eq!(
        folders(&env, dave, "/proj/x", 100).await,
        Vec::<String>::new()
    );
    let listed = call(&env, RouteId::ListFiles, Who::App)
        .query("directory=/done/x&sort=name")
        .send()
        .await;
    assert_eq!(ids(&listed.json), vec![public.clone(), top.clone()]);
    // The public file is still public, and its bytes are where they were.
    let shown = env.get("acme", &public).await.json;
    assert_eq!(shown["privateAccess"], false, "{shown}");
    let url = shown["contentUrl"].as_str().unwrap().to_owned();
    assert!(url.contains("/public/"), "{url}");
    if url.starts_with("http://127.0.0.1") {
        // The local server serves public copies itself (on AWS, CloudFront does).
        assert_eq!(env.fetch(&url).await.1, b"public bytes");
    }
}

async fn a_big_folder_moves_in_calls_of_100_and_its_view_reads_a_page(env: TestEnv) {
    env.check_policies();
    let now = env.clock.now_millis();
    for i in 0..250u32 {
        let mut record = stowage_tests::sample_record("acme", now + i64::from(i));
        let dir = format!("/big/sub{:02}", i % 25);
        record.directory = Some(stowage::model::DirectoryPath::parse(&dir).unwrap());
        record.expires_at = None;
        env.insert_record(&record).await;
    }
    // A folder view reads about one key per subfolder, however many files are below.
    let who = env.who("acme");
    for limit in [10usize, 30] {
        let query = stowage::validate::FolderQuery::from_params([
            ("parent", vec!["/big"]),
            ("limit", vec![&*limit.to_string()]),
        ])
        .unwrap();
        let page = env.app.service.list_folders(&who, &query).await.unwrap();
        assert_eq!(page.items.len(), limit.min(25));
        assert!(
            page.items_read <= 2 * (limit as u64 + 1),
            "read {} keys for a page of {limit}",
            page.items_read
        );
    }
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"from": "/big", "to": "/moved/big"});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = env
            .route(RouteId::MoveFolder, "acme")
            .as_app(APP)
            .body(body)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        calls.push(reply.json["moved"].as_u64().unwrap());
        // Between calls, each moved file is wholly in its new place.
        match reply.json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(calls, [100, 100, 50]);
    assert_eq!(folders(&env, Who::App, "/", 100).await, ["moved"]);
    assert_eq!(folders(&env, Who::App, "/moved/big", 100).await.len(), 25);
    let sub = call(&env, RouteId::ListFiles, Who::App)
        .query("directory=/moved/big/sub07&limit=100")
        .send()
        .await;
    assert_eq!(ids(&sub.json).len(), 10);
}

stowage_tests::on_every_backend!(
    every_principal_sees_the_folders_of_what_it_may_read,
    explicit_folders_are_made_and_deleted_only_when_empty,
    a_folder_moves_with_everything_below_it,
    a_big_folder_moves_in_calls_of_100_and_its_view_reads_a_page,
);
