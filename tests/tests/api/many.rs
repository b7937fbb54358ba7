//! Many files in one call: `POST /files/get` and `POST /files/links` keep the order asked,
//! and answer every id the caller may not see — unknown, another tenant's, trashed, or in a
//! collection it may not read — alike, in `notFound`.

use serde_json::{json, Value};
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

fn text(name: &str) -> Value {
    json!({"name": name, "mimeType": "text/plain"})
}

const UNKNOWN: &str = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2";

async fn records_and_links_come_back_in_the_order_asked(env: TestEnv) {
    let a = id_of(&env.uploaded("acme", text("a.txt"), b"aaa").await);
    let b = id_of(&env.uploaded("acme", text("b.txt"), b"bbbb").await);
    let pending = env.create_id("acme", text("p.txt")).await;
    let theirs = id_of(&env.uploaded("globex", text("t.txt"), b"ttt").await);

    let got = env
        .route(RouteId::GetFiles, "acme")
        .body(json!({"ids": [b, UNKNOWN, a, theirs, pending, b]}))
        .send()
        .await;
    assert_eq!(got.status, 200, "{}", got.json);
    let items: Vec<String> = got.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(items, [b.clone(), a.clone(), pending.clone()]);
    assert_eq!(got.json["notFound"], json!([UNKNOWN, theirs]));
    assert_eq!(got.json["items"][0]["size"], 4);
    let (status, bytes) = env
        .fetch(got.json["items"][0]["contentUrl"].as_str().unwrap())
        .await;
    assert_eq!((status, bytes.as_slice()), (200, &b"bbbb"[..]));

    let links = env
        .route(RouteId::GetLinks, "acme")
        .query("expiresIn=60")
        .body(json!({"ids": [a, pending, UNKNOWN, b]}))
        .send()
        .await;
    assert_eq!(links.status, 200, "{}", links.json);
    assert_eq!(links.json["notFound"], json!([UNKNOWN]));
    assert_eq!(links.json["notUploaded"], json!([pending]));
    let urls: Vec<(String, String)> = links.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (id_of(l), l["url"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        urls.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        [a, b]
    );
    for ((_, url), want) in urls.iter().zip([&b"aaa"[..], b"bbbb"]) {
        let (status, bytes) = env.fetch(url).await;
        assert_eq!((status, bytes.as_slice()), (200, want));
    }
}

async fn unseen_and_trashed_files_are_not_found(env: TestEnv) {
    let made = env
        .route(RouteId::CreateCollection, "acme")
        .as_app("admin")
        .body(json!({"name": "private", "access": {"read": ["user:alice"], "write": ["user:alice"], "delete": ["user:alice"]}, "trashDays": 3}))
        .send()
        .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let secret = id_of(
        &env.uploaded(
            "acme",
            json!({"name": "s.txt", "mimeType": "text/plain", "collection": "private"}),
            b"s",
        )
        .await,
    );
    let mine = id_of(&env.uploaded("acme", text("m.txt"), b"m").await);
    // bob, a member who is not alice, sees only what the collection lets him.
    for route in [RouteId::GetFiles, RouteId::GetLinks] {
        let reply = env
            .route(route, "acme")
            .as_user("bob", &[])
            .body(json!({"ids": [secret, mine]}))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["notFound"], json!([secret]), "{}", reply.json);
        assert_eq!(reply.json["items"].as_array().unwrap().len(), 1);
    }
    // In the trash: not found, for its owner too.
    let deleted = env
        .route(RouteId::DeleteFile, "acme")
        .id(&secret)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    let reply = env
        .route(RouteId::GetFiles, "acme")
        .body(json!({"ids": [secret]}))
        .send()
        .await;
    assert_eq!(reply.json["notFound"], json!([secret]), "{}", reply.json);
}

async fn bad_lists_of_ids_are_refused(env: TestEnv) {
    let many: Vec<String> = (0..101)
        .map(|i| {
            format!("01KAQ3V6T0Z9Y8X7W6V5T4S{:03}", i % 1000).replace(['I', 'L', 'O', 'U'], "0")
        })
        .collect();
    for (body, field) in [
        (json!({"ids": []}), "ids"),
        (json!({"ids": many}), "ids"),
        (json!({"ids": ["nope"]}), "ids[0]"),
        (json!({}), "ids"),
    ] {
        for route in [RouteId::GetFiles, RouteId::GetLinks] {
            let reply = env.route(route, "acme").body(body.clone()).send().await;
            reply.assert_problem(400, "validation_failed");
            assert_eq!(reply.json["errors"][0]["field"], field, "{}", reply.json);
        }
    }
    env.route(RouteId::GetLinks, "acme")
        .query("expiresIn=0")
        .body(json!({"ids": [UNKNOWN]}))
        .send()
        .await
        .assert_problem(400, "validation_failed");
}

stowage_tests::on_every_backend!(
    records_and_links_come_back_in_the_order_asked,
    unseen_and_trashed_files_are_not_found,
    bad_lists_of_ids_are_refused,
);
