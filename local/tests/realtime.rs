//! The realtime endpoint, end to end on the real `stowage-local` binary: AppSync
//! Events' WebSocket protocol at `/event/realtime`; a bad token refused at connect; subscribing
//! to another identity's or tenant's channel refused; every event of a file a subscriber may
//! read delivered, per file in version order, and nothing of a file it may not read (another
//! tenant's, or one in a collection it cannot read and not granted to it); a grantee receives
//! the file it was granted; unsubscribe stops delivery; `GET /realtime` names the endpoint and
//! the caller's channels.

mod support;

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::{token, token_with, Api, Local};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn channel(tenant: &str, rest: &str) -> String {
    format!("/stowage/{}/{rest}", stowage::realtime::segment(tenant))
}

fn user_channel(tenant: &str, user: &str) -> String {
    channel(tenant, &format!("u/{}", stowage::realtime::segment(user)))
}

/// Connects as AppSync clients do: the two subprotocols, the token in the `header-` one.
async fn connect(url: &str, token: &str) -> Result<Ws, u16> {
    let ws_url = format!("{}/event/realtime", url.replacen("http://", "ws://", 1));
    let host = url.trim_start_matches("http://");
    let header = json!({"host": host, "Authorization": token}).to_string();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("aws-appsync-event-ws, header-{encoded}")
            .parse()
            .unwrap(),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, response)) => {
            assert_eq!(
                response.headers()["sec-websocket-protocol"],
                "aws-appsync-event-ws"
            );
            ws.send(Message::text(
                json!({"type": "connection_init"}).to_string(),
            ))
            .await
            .unwrap();
            let ack = next(&mut ws).await.expect("connection_ack");
            assert_eq!(ack["type"], "connection_ack", "{ack}");
            assert!(ack["connectionTimeoutMs"].as_u64().unwrap() > 0);
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connect: {other}"),
    }
}

/// The next message that is not a keep-alive, within 3 s.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ka" {
                return Some(value);
            }
        }
    }
}

async fn subscribe(ws: &mut Ws, id: &str, channel: &str) -> Value {
    ws.send(Message::text(
        json!({"type": "subscribe", "id": id, "channel": channel, "authorization": {}}).to_string(),
    ))
    .await
    .unwrap();
    next(ws).await.expect("an answer to subscribe")
}

/// Every `data` message until the connection is quiet for a second: `(subscription, event)`.
async fn drain(ws: &mut Ws) -> Vec<(String, Value)> {
    let mut got = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(1), ws.next()).await
    {
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] == "data" {
            let event: Value = serde_json::from_str(value["event"].as_str().unwrap()).unwrap();
            got.push((value["id"].as_str().unwrap().to_owned(), event));
        } else {
            assert_eq!(value["type"], "ka", "{value}");
        }
    }
    got
}

/// `(type, version)` of the events of `file` on subscription `id`, in arrival order.
fn of(got: &[(String, Value)], id: &str, file: &str) -> Vec<(String, u64)> {
    got.iter()
        .filter(|(sub, e)| sub == id && e["file"]["id"] == file)
        .map(|(_, e)| {
            (
                e["type"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("stowage.file.")
                    .to_owned(),
                e["file"]["version"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn uploaded_file(api: &Api, token: &str, body: Value) -> String {
    let (status, created) = api.create(token, body).await;
    assert_eq!(status, 201, "{created}");
    let upload = &created["upload"];
    let put = api
        .put(upload["url"].as_str().unwrap(), "text/plain", b"hello")
        .await;
    assert_eq!(put, 200);
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    api.wait_for_status(token, &id, "uploaded").await;
    id
}

#[tokio::test]
async fn subscribers_get_every_event_they_may_read_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");
    let rita = token(dir.path(), "acme", "rita");
    let oscar = token_with(dir.path(), "acme", "oscar", &["--group", "ops"]);
    let bob = token(dir.path(), "globex", "bob");
    let app = token_with(
        dir.path(),
        "acme",
        "app",
        &["--scope", "files:read files:write files:delete files:admin"],
    );
    let made = api
        .http
        .post(format!("{}/collections", local.url))
        .bearer_auth(&app)
        .json(&json!({"name": "vault", "access": {"read": [], "delete": []}, "fileSecurity": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);

    // A bad token is refused at connect, before the upgrade.
    assert_eq!(connect(&local.url, "not-a-token").await.err(), Some(401));
    assert_eq!(
        connect(&local.url, &format!("Bearer {alice}x")).await.err(),
        Some(401)
    );

    // GET /realtime names the endpoint and alice's own channels.
    let info: Value = api
        .http
        .get(format!("{}/realtime", local.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["url"],
        format!(
            "{}/event/realtime",
            local.url.replacen("http://", "ws://", 1)
        )
    );
    assert_eq!(info["host"], local.url.trim_start_matches("http://"));
    assert_eq!(
        info["channels"],
        json!([channel("acme", "tenant"), user_channel("acme", "alice")])
    );

    let mut alice_ws = connect(&local.url, &format!("Bearer {alice}"))
        .await
        .unwrap();
    // Another tenant's channel, another user's, a group it is not in: refused.
    for (id, foreign) in [
        ("f1", channel("globex", "tenant")),
        ("f2", user_channel("acme", "rita")),
        ("f3", channel("acme", "apps")),
        (
            "f4",
            channel("acme", &format!("g/{}", stowage::realtime::segment("ops"))),
        ),
    ] {
        let refused = subscribe(&mut alice_ws, id, &foreign).await;
        assert_eq!(refused["type"], "subscribe_error", "{foreign}: {refused}");
        assert_eq!(refused["id"], id);
        assert_eq!(refused["errors"][0]["errorType"], "UnauthorizedException");
    }
    for (id, own) in [
        ("tenant", channel("acme", "tenant")),
        ("me", user_channel("acme", "alice")),
    ] {
        let ok = subscribe(&mut alice_ws, id, &own).await;
        assert_eq!(ok, json!({"type": "subscribe_success", "id": id}));
    }
    let again = subscribe(&mut alice_ws, "me", &user_channel("acme", "alice")).await;
    assert_eq!(again["type"], "subscribe_error");
    let mut rita_ws = connect(&local.url, &rita).await.unwrap();
    assert_eq!(
        subscribe(&mut rita_ws, "me", &user_channel("acme", "rita")).await["type"],
        "subscribe_success"
    );
    assert_eq!(
        subscribe(&mut rita_ws, "tenant", &channel("acme", "tenant")).await["type"],
        "subscribe_success"
    );
    let mut oscar_ws = connect(&local.url, &oscar).await.unwrap();
    let ops = channel("acme", &format!("g/{}", stowage::realtime::segment("ops")));
    assert_eq!(
        subscribe(&mut oscar_ws, "tenant", &channel("acme", "tenant")).await["type"],
        "subscribe_success"
    );
    assert_eq!(
        subscribe(&mut oscar_ws, "ops", &ops).await["type"],
        "subscribe_success"
    );
    let mut bob_ws = connect(&local.url, &bob).await.unwrap();
    assert_eq!(
        subscribe(&mut bob_ws, "tenant", &channel("globex", "tenant")).await["type"],
        "subscribe_success"
    );

    // alice's file in default (every member may read it), and one in vault shared with rita.
    let open = uploaded_file(
        &api,
        &alice,
        json!({"name": "open.txt", "mimeType": "text/plain", "size": 5}),
    )
    .await;
    let shared = uploaded_file(
        &api,
        &alice,
        json!({"name": "shared.txt", "mimeType": "text/plain", "size": 5, "collection": "vault",
            "grants": [{"principal": "user:rita", "role": "reader"}]}),
    )
    .await;

    let got = drain(&mut alice_ws).await;
    let lifecycle = vec![("created".to_owned(), 1), ("uploaded".to_owned(), 2)];
    assert_eq!(of(&got, "tenant", &open), lifecycle, "{got:#?}");
    assert_eq!(of(&got, "me", &open), lifecycle, "the owner's channel too");
    assert_eq!(of(&got, "me", &shared), lifecycle);
    assert!(
        of(&got, "tenant", &shared).is_empty(),
        "vault is not readable by every member"
    );
    let event = &got.iter().find(|(_, e)| e["file"]["id"] == open).unwrap().1;
    assert_eq!(event["tenant"], "acme");
    assert_eq!(event["actor"], json!({"user": "alice", "app": false}));
    assert!(event["eventId"].as_str().unwrap().ends_with(".created"));

    let got = drain(&mut rita_ws).await;
    assert_eq!(
        of(&got, "me", &shared),
        lifecycle,
        "the grantee receives the file: {got:#?}"
    );
    assert_eq!(of(&got, "tenant", &open), lifecycle);
    let got = drain(&mut oscar_ws).await;
    assert_eq!(of(&got, "tenant", &open), lifecycle);
    assert!(
        got.iter().all(|(_, e)| e["file"]["id"] != shared),
        "oscar may not read the vault file: {got:#?}"
    );
    assert_eq!(
        drain(&mut bob_ws).await,
        Vec::new(),
        "another tenant receives nothing"
    );

    // Unsubscribed, a subscription receives nothing more.
    alice_ws
        .send(Message::text(
            json!({"type": "unsubscribe", "id": "tenant"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(
        next(&mut alice_ws).await.unwrap(),
        json!({"type": "unsubscribe_success", "id": "tenant"})
    );
    let patched = api
        .http
        .patch(format!("{}/files/{open}", local.url))
        .bearer_auth(&alice)
        .json(&json!({"tags": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let got = drain(&mut alice_ws).await;
    assert_eq!(of(&got, "me", &open), vec![("updated".to_owned(), 3)]);
    assert!(of(&got, "tenant", &open).is_empty(), "{got:#?}");

    // Bad messages get errors, and the connection stays.
    alice_ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(next(&mut alice_ws).await.unwrap()["type"], "error");
    alice_ws
        .send(Message::text(
            json!({"type": "publish", "id": "p", "channel": "/stowage/x/tenant", "events": ["{}"]})
                .to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next(&mut alice_ws).await.unwrap()["type"], "publish_error");
    local.stop();
}

#[tokio::test]
async fn a_connection_must_speak_appsyncs_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let http = reqwest::Client::new();
    // A plain GET is no upgrade.
    let plain = http
        .get(format!("{}/event/realtime", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    assert_eq!(plain.headers()["content-type"], "application/problem+json");
    let problem: Value = plain.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_body", "{problem}");
    let alice = token(dir.path(), "acme", "alice");
    let mut ws = connect(&local.url, &alice).await.unwrap();
    // A subscribe without an id is refused (the connection stays).
    let answer = {
        ws.send(Message::text(
            json!({"type": "subscribe", "channel": "/stowage/x/tenant"}).to_string(),
        ))
        .await
        .unwrap();
        next(&mut ws).await.unwrap()
    };
    assert_eq!(answer["type"], "subscribe_error", "{answer}");
    local.stop();
}

#[tokio::test]
async fn a_session_ends_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let short = token_with(dir.path(), "acme", "alice", &["--ttl", "2"]);
    let mut ws = connect(&local.url, &short).await.unwrap();
    let answer = subscribe(&mut ws, "1", &user_channel("acme", "alice")).await;
    assert_eq!(answer["type"], "subscribe_success", "{answer}");
    // Within a second of the token's expiry the server says why and closes.
    let mut told = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "error" {
                    told = Some(value);
                }
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break,
            _ => {}
        }
    }
    let told = told.expect("an error before the close");
    assert_eq!(
        told["errors"][0]["errorType"], "UnauthorizedException",
        "{told}"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .is_ok_and(|m| !matches!(m, Some(Ok(Message::Text(_))))),
        "the connection is closed"
    );
    local.stop();
}

#[tokio::test]
async fn one_identity_holds_at_most_a_hundred_connections() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let alice = token(dir.path(), "acme", "alice");
    let mut open = Vec::new();
    for _ in 0..100 {
        open.push(connect(&local.url, &alice).await.unwrap());
    }
    assert_eq!(connect(&local.url, &alice).await.err(), Some(429));
    // Others are not affected, and a closed connection frees its slot.
    let bob = token(dir.path(), "acme", "bob");
    assert!(connect(&local.url, &bob).await.is_ok());
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match connect(&local.url, &alice).await {
            Ok(_) => break,
            Err(429) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(status) => panic!("after a close: {status}"),
        }
    }
    local.stop();
}
