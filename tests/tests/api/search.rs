//! Finding files on both backends: name search (`q`), the orders (`sort`), their cursors, their
//! bad input, that a search never shows what the caller may not read, and the cost of a page.

use std::time::Duration;

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{ids, TestEnv};

async fn list(env: &TestEnv, query: &str) -> Value {
    let reply = env
        .route(RouteId::ListFiles, "acme")
        .query(query)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.json);
    reply.json
}

/// Every id of a listing, page after page.
async fn all_pages(env: &TestEnv, query: &str, limit: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut q = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = list(env, &q).await;
        assert!(page["items"].as_array().unwrap().len() <= limit);
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("{query}: more than 50 pages");
}

fn names(env: &TestEnv, by_id: &[(String, &str)], got: &[String]) -> Vec<String> {
    let _ = env;
    got.iter()
        .map(|id| {
            by_id
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| format!("unknown {id}"))
        })
        .collect()
}

async fn make(env: &TestEnv, files: &[(&'static str, &str)]) -> Vec<(String, &'static str)> {
    let mut made = Vec::new();
    for (name, directory) in files {
        env.advance(Duration::from_millis(3));
        let id = env
            .create_id(
                "acme",
                json!({"name": name, "mimeType": "text/plain", "directory": directory}),
            )
            .await;
        made.push((id, *name));
    }
    made
}

async fn a_search_finds_every_word_as_a_prefix(env: TestEnv) {
    env.check_policies();
    let made = make(
        &env,
        &[
            ("Q3 Report 2026.pdf", "/finance"),
            ("report-draft.txt", "/finance"),
            ("Résumé Zoë.docx", "/people"),
            ("notes.md", "/finance"),
            ("Reporting tool.zip", "/tools"),
        ],
    )
    .await;
    for (query, want) in [
        ("q=rep%202026", vec!["Q3 Report 2026.pdf"]),
        (
            "q=REPORT",
            vec![
                "Reporting tool.zip",
                "report-draft.txt",
                "Q3 Report 2026.pdf",
            ],
        ),
        ("q=report%20draft", vec!["report-draft.txt"]),
        ("q=resume", vec!["Résumé Zoë.docx"]),
        ("q=ZOE%20r%C3%A9s", vec!["Résumé Zoë.docx"]),
        ("q=port", vec![]),
        ("q=reporting", vec!["Reporting tool.zip"]),
        (
            "q=rep&directory=/finance",
            vec!["report-draft.txt", "Q3 Report 2026.pdf"],
        ),
        ("q=pdf&directoryPrefix=/fin", vec![]),
        ("q=md&directoryPrefix=/finance", vec!["notes.md"]),
        (
            "q=rep&sort=createdAt",
            vec![
                "Q3 Report 2026.pdf",
                "report-draft.txt",
                "Reporting tool.zip",
            ],
        ),
        (
            "q=r&sort=name&directory=/finance",
            vec!["Q3 Report 2026.pdf", "report-draft.txt"],
        ),
    ] {
        let got = ids(&list(&env, query).await);
        assert_eq!(names(&env, &made, &got), want, "{query}");
    }
    // Paging a search: every match once.
    let paged = all_pages(&env, "q=r", 1).await;
    assert_eq!(paged.len(), 4, "{paged:?}");

    // A rename changes what finds it; a deleted file is found no more.
    let draft = &made[1].0;
    let renamed = env
        .route(RouteId::UpdateFile, "acme")
        .id(draft)
        .body(json!({"name": "budget.txt"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    assert_eq!(ids(&list(&env, "q=draft").await), Vec::<String>::new());
    assert_eq!(ids(&list(&env, "q=budg").await), vec![draft.clone()]);
    let gone = env
        .route(RouteId::DeleteFile, "acme")
        .id(draft)
        .send()
        .await;
    assert_eq!(gone.status, 204, "{}", gone.json);
    assert_eq!(ids(&list(&env, "q=budget").await), Vec::<String>::new());
    // Another tenant finds nothing of ours.
    let theirs = env
        .route(RouteId::ListFiles, "globex")
        .query("q=report")
        .send()
        .await;
    assert_eq!(ids(&theirs.json), Vec::<String>::new());
}

async fn orders_page_without_gaps_or_duplicates(env: TestEnv) {
    env.check_policies();
    let made = make(
        &env,
        &[
            ("b.txt", "/d"),
            ("Alpha.txt", "/d"),
            ("Éclair.txt", "/d"),
            ("alpha.txt", "/d"),
            ("zed.txt", "/d"),
            ("c.txt", "/elsewhere"),
            ("10.txt", "/d"),
        ],
    )
    .await;
    let in_d: Vec<&str> = [
        "10.txt",
        "Alpha.txt",
        "alpha.txt",
        "b.txt",
        "Éclair.txt",
        "zed.txt",
    ]
    .to_vec();
    for limit in [1, 2, 30] {
        let got = all_pages(&env, "directory=/d&sort=name", limit).await;
        assert_eq!(names(&env, &made, &got), in_d, "limit {limit}");
        let got = all_pages(&env, "directory=/d&sort=-name", limit).await;
        let mut reversed = in_d.clone();
        reversed.reverse();
        assert_eq!(names(&env, &made, &got), reversed, "limit {limit}");
    }
    // Oldest first, and the default newest first, across everything.
    let created: Vec<String> = made.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(all_pages(&env, "sort=createdAt", 2).await, created);
    let mut newest = created.clone();
    newest.reverse();
    assert_eq!(all_pages(&env, "sort=-createdAt", 3).await, newest);
    assert_eq!(all_pages(&env, "kind=client", 3).await, newest);
    // Oldest first within a time range.
    let after = stowage::model::Timestamp::parse(
        list(&env, "sort=createdAt&limit=1").await["items"][0]["createdAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let got = all_pages(
        &env,
        &format!("sort=createdAt&createdAfter={}", after.to_rfc3339()),
        4,
    )
    .await;
    assert_eq!(got, created[1..].to_vec());
    // A collection orders by name too.
    let got = all_pages(&env, "collection=default&sort=name", 4).await;
    assert_eq!(got.len(), 7);
    assert_eq!(names(&env, &made, &got[..2]), ["10.txt", "Alpha.txt"]);

    // A name order holds while files come and go: a file added before the cursor is not
    // seen, one after it is, and nothing repeats.
    let first = list(&env, "directory=/d&sort=name&limit=2").await;
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    make(&env, &[("aaa.txt", "/d"), ("yak.txt", "/d")]).await;
    let rest = list(
        &env,
        &format!("directory=/d&sort=name&limit=30&cursor={cursor}"),
    )
    .await;
    let rest_names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        rest_names,
        ["alpha.txt", "b.txt", "Éclair.txt", "yak.txt", "zed.txt"]
    );
}

async fn bad_searches_and_orders_are_400(env: TestEnv) {
    env.check_policies();
    for (query, field) in [
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=!!!", "q"),
        ("q=a%20b%20c%20d%20e%20f%20g%20h%20i", "q"),
        ("q=a&q=b", "q"),
        ("sort=size", "sort"),
        ("sort=name", "sort"),
        ("sort=-name&purpose=p", "sort"),
        ("sort=", "sort"),
    ] {
        let reply = env
            .route(RouteId::ListFiles, "acme")
            .query(query)
            .send()
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
    for i in 0..3 {
        env.create_id(
            "acme",
            json!({"name": format!("{i}.txt"), "mimeType": "text/plain", "directory": "/d"}),
        )
        .await;
    }
    // A cursor belongs to its order as to its filters.
    for (from, to) in [
        ("directory=/d&sort=name", "directory=/d&sort=-name"),
        ("directory=/d&sort=name", "directory=/d"),
        ("directory=/d", "directory=/d&sort=createdAt"),
        ("q=txt", "q=tx"),
    ] {
        let first = list(&env, &format!("{from}&limit=1")).await;
        let cursor = first["nextCursor"].as_str().unwrap().to_owned();
        env.route(RouteId::ListFiles, "acme")
            .query(&format!("{to}&limit=1&cursor={cursor}"))
            .send()
            .await
            .assert_problem(400, "invalid_cursor");
    }
}

/// A member of a `fileSecurity` collection searches and browses by name: only what it may read
/// appears, however the file is found.
async fn a_search_shows_only_what_the_caller_may_read(env: TestEnv) {
    env.check_policies();
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(
            json!({"name": "private", "access": {"read": [], "delete": []}, "fileSecurity": true}),
        )
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let mut theirs = Vec::new();
    for user in ["alice", "bob"] {
        let reply = env
            .route(RouteId::CreateFile, "acme")
            .as_user(user, &[])
            .body(
                json!({"name": format!("secret plan {user}.txt"), "mimeType": "text/plain",
                         "collection": "private", "directory": "/plans"}),
            )
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        theirs.push(reply.json["file"]["id"].as_str().unwrap().to_owned());
    }
    for query in [
        "q=secret",
        "q=plan%20bob",
        "directory=/plans&sort=name",
        "collection=private&sort=-name",
        "q=secret&sort=createdAt",
    ] {
        let reply = env
            .route(RouteId::ListFiles, "acme")
            .as_user("alice", &[])
            .query(query)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let got = ids(&reply.json);
        assert!(
            !got.contains(&theirs[1]),
            "{query}: bob's file leaked to alice"
        );
        if !query.contains("bob") {
            assert_eq!(got, vec![theirs[0].clone()], "{query}");
        }
    }
}

/// A search over many records and a folder view of a big folder each read about one page of
/// items per page (on DynamoDB: the pointers and the records they name).
async fn a_search_page_reads_about_a_page(env: TestEnv) {
    env.check_policies();
    let now = env.clock.now_millis();
    for i in 0..1_500u32 {
        let mut record = stowage_tests::sample_record("acme", now + i64::from(i));
        let name = if i % 50 == 0 {
            format!("Quarterly report {i}.pdf")
        } else {
            format!("photo {i}.jpg")
        };
        record.name = stowage::model::FileName::parse(&name).unwrap();
        record.directory = Some(
            stowage::model::DirectoryPath::parse(if i % 3 == 0 { "/big" } else { "/other" })
                .unwrap(),
        );
        env.insert_record(&record).await;
    }
    let who = env.who("acme");
    let limit = 10usize;
    for filter in [
        "q=quarterly%20rep",
        "q=report",
        "directory=/big&sort=name",
        "directory=/big&sort=-name",
        "directory=/big",
    ] {
        let mut params: Vec<(&str, Vec<String>)> = filter
            .split('&')
            .map(|p| p.split_once('=').unwrap())
            .map(|(k, v)| (k, vec![v.replace("%20", " ")]))
            .collect();
        params.push(("limit", vec![limit.to_string()]));
        let query = stowage::validate::ListQuery::from_params(
            params
                .iter()
                .map(|(k, v)| (*k, v.iter().map(String::as_str).collect())),
        )
        .unwrap();
        let page = env.app.service.list(&who, &query).await.unwrap();
        assert_eq!(page.items.len(), limit, "{filter}: a full page");
        assert!(
            page.items_read <= 2 * (limit as u64 + 1),
            "{filter}: read {} items for a page of {limit}",
            page.items_read
        );
    }
}

stowage_tests::on_every_backend!(
    a_search_finds_every_word_as_a_prefix,
    orders_page_without_gaps_or_duplicates,
    bad_searches_and_orders_are_400,
    a_search_shows_only_what_the_caller_may_read,
    a_search_page_reads_about_a_page,
);
