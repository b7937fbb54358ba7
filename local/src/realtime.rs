//! The realtime endpoint: AppSync Events' WebSocket protocol at `/event/realtime`,
//! so one client works against `stowage-local` and a deployed stack. A reader of the change log
//! of its own turns every change (API, S3 event, sweep, thumbnail maker) into its event once and
//! publishes it to the channels of those who may read the file (`stowage::realtime`); each
//! connection delivers what reaches the channels it subscribed to, and may subscribe only to the
//! channels of its own identity.
//!
//! Protocol: subprotocols `aws-appsync-event-ws` and `header-<base64url of {"host",
//! "Authorization"}>` (the token, with or without `Bearer `; a bad one is `401` before the
//! upgrade); `connection_init` → `connection_ack {connectionTimeoutMs}`; `ka` every
//! [`KEEP_ALIVE`]; `subscribe {id, channel}` → `subscribe_success` / `subscribe_error`; `data
//! {id, event}` (the JSON text of the event); `unsubscribe {id}` → `unsubscribe_success`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use stowage::error::{ApiError, ProblemCode};
use stowage::identity::Identity;
use stowage::model::TenantId;
use stowage::notify::FileEvent;
use stowage::store::embedded::SqliteStore;
use stowage::App;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};
use tokio_tungstenite::WebSocketStream;

use crate::auth::LocalSecret;

/// The path the endpoint is served at, on the API's port.
pub const PATH: &str = "/event/realtime";
/// The change-log reader that feeds the endpoint.
pub(crate) const REALTIME: &str = "realtime";
/// The subprotocol AppSync Events speaks.
const SUBPROTOCOL: &str = "aws-appsync-event-ws";
/// How often an open connection is told it is alive (AppSync: about a minute).
pub const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// What `connection_ack` says a client may wait without a `ka` before it reconnects.
const CONNECTION_TIMEOUT_MS: u64 = 300_000;
/// Events one slow connection may fall behind by before it misses some (it is told, and
/// catches up by reading, as after a reconnect).
const BACKLOG: usize = 4_096;
/// Most subscriptions one connection holds.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Most connections one identity (tenant and user) holds open at once.
pub const MAX_CONNECTIONS_PER_IDENTITY: usize = 100;

/// One event as published: the tenant, the channels it went to, and the `data` text.
struct Published {
    tenant: TenantId,
    channels: Vec<String>,
    event: String,
}

/// Open connections by identity (tenant, user).
type OpenConnections = Arc<std::sync::Mutex<HashMap<(TenantId, String), usize>>>;

/// The fan-out from the change-log reader to the open connections, and how many each identity
/// holds.
#[derive(Clone)]
pub(crate) struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    open: OpenConnections,
}

/// One identity's slot among its open connections, given back when the session ends.
struct Slot {
    open: OpenConnections,
    key: (TenantId, String),
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Hub {
    pub(crate) fn new() -> Self {
        Hub {
            events: broadcast::channel(BACKLOG).0,
            open: Default::default(),
        }
    }

    /// A slot for one more connection of `who`; `None` past [`MAX_CONNECTIONS_PER_IDENTITY`].
    fn slot(&self, who: &Identity) -> Option<Slot> {
        let key = (who.tenant.clone(), who.user.as_str().to_owned());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.clone()).or_default();
        if *n >= MAX_CONNECTIONS_PER_IDENTITY {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.open.clone(),
            key,
        })
    }

    /// Follows the change log as [`REALTIME`] and publishes each change's event.
    pub(crate) fn spawn(
        &self,
        app: Arc<App>,
        store: Arc<SqliteStore>,
    ) -> tokio::task::JoinHandle<()> {
        let hub = self.clone();
        tokio::spawn(async move {
            crate::changelog::follow(&store, REALTIME, |change| {
                let (hub, app) = (hub.clone(), app.clone());
                async move {
                    let Some(event) = FileEvent::of(&change) else {
                        return;
                    };
                    let Some(record) = change.new.as_ref().or(change.old.as_ref()) else {
                        return;
                    };
                    let policy = loop {
                        match app.service.event_policy(&record.tenant, &record.collection).await {
                            Ok(policy) => break policy,
                            Err(err) => {
                                tracing::warn!(error = ?err, "cannot read a collection's policy; retrying");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    };
                    let published = Published {
                        tenant: record.tenant.clone(),
                        channels: stowage::realtime::channels_of(record, &policy),
                        event: stowage::realtime::event_text(&event),
                    };
                    // No receiver: nobody is connected, which is fine.
                    let _ = hub.events.send(Arc::new(published));
                }
            })
            .await
        })
    }
}

/// A refused upgrade, worded as the API words problems.
fn refuse(error: &ApiError) -> Response<s3s::Body> {
    crate::dispatch::from_lambda(stowage::http::problem(error))
}

/// `400 invalid_body`: the request is not the upgrade the protocol needs.
fn not_an_upgrade(detail: &str) -> Response<s3s::Body> {
    refuse(&ApiError::new(ProblemCode::InvalidBody, detail))
}

/// The token the `header-…` subprotocol carries (`Authorization`, with or without `Bearer `).
fn token_of(protocols: &str) -> Option<String> {
    let encoded = protocols
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("header-"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()?;
    let headers: Value = serde_json::from_slice(&bytes).ok()?;
    let auth = headers
        .get("Authorization")
        .or_else(|| headers.get("authorization"))?
        .as_str()?;
    Some(
        auth.strip_prefix("Bearer ")
            .unwrap_or(auth)
            .trim()
            .to_owned(),
    )
}

/// Answers an upgrade request to [`PATH`]: `101` and a session, or `400`/`401` with why.
pub(crate) fn upgrade(
    app: Arc<App>,
    secret: &LocalSecret,
    hub: &Hub,
    mut req: Request<Incoming>,
) -> Response<s3s::Body> {
    let headers = req.headers();
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let protocols = text(header::SEC_WEBSOCKET_PROTOCOL);
    let key = text(header::SEC_WEBSOCKET_KEY);
    if !text(header::UPGRADE).eq_ignore_ascii_case("websocket") || key.is_empty() {
        return not_an_upgrade("this path takes a WebSocket upgrade (AppSync Events' protocol)");
    }
    if !protocols.split(',').any(|p| p.trim() == SUBPROTOCOL) {
        return not_an_upgrade("the subprotocol aws-appsync-event-ws is required");
    }
    let verified = token_of(&protocols).and_then(|token| secret.verify_token(&token));
    let identity = verified.as_ref().and_then(|claims| {
        stowage::http::identity_of_claims(claims, std::iter::empty(), &app.claims).ok()
    });
    let (Some(identity), Some(claims)) = (identity, verified) else {
        // The token travels in the `header-` subprotocol here, not an Authorization header.
        return refuse(&ApiError::unauthorized());
    };
    // The session ends when its token does (as AppSync's does).
    let expires_at = claims
        .get("exp")
        .and_then(|exp| exp.parse::<i64>().ok())
        .unwrap_or(0);
    let left = u64::try_from(expires_at - chrono::Utc::now().timestamp()).unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(left);
    let Some(slot) = hub.slot(&identity) else {
        return refuse(&ApiError::new(
            ProblemCode::TooManyConnections,
            format!(
                "this identity holds {MAX_CONNECTIONS_PER_IDENTITY} realtime connections; close one first"
            ),
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    // What it may subscribe to, decided once: the token's channels (none without files:read
    // where scopes are required).
    let allowed = stowage::realtime::subscribable(&identity, app.require_scopes);
    let events = hub.events.subscribe();
    let upgrading = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let io = hyper_util::rt::TokioIo::new(upgraded);
                let ws =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config())).await;
                session(ws, identity, allowed, events, deadline).await;
                drop(slot);
            }
            Err(err) => tracing::debug!(error = %err, "a realtime upgrade did not complete"),
        }
    });
    let mut response = Response::new(s3s::Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Ok(value) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// Small buffers: a subscriber sends a few short messages, and an idle connection should cost
/// little (tungstenite's defaults keep 128 KiB of read buffer per connection).
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE))
}

/// The largest message a client may send (a subscribe is a few hundred bytes).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

fn error_message(id: Option<&str>, kind: &str, error_type: &str, message: &str) -> Message {
    let mut body = json!({"type": kind, "errors": [{"errorType": error_type, "message": message}]});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    Message::text(body.to_string())
}

/// One connection: the protocol, and delivery of what reaches its subscriptions.
async fn session<S>(
    mut ws: WebSocketStream<S>,
    who: Identity,
    allowed: Vec<String>,
    mut events: broadcast::Receiver<Arc<Published>>,
    deadline: tokio::time::Instant,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut subscriptions: HashMap<String, String> = HashMap::new();
    let mut initialised = false;
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.tick().await;
    loop {
        let outgoing: Vec<Message> = tokio::select! {
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = ws.send(error_message(None, "error", "BadRequestException", "messages are JSON text")).await;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                };
                let message: Value = match serde_json::from_str(&text) {
                    Ok(value) => value,
                    Err(_) => {
                        let _ = ws.send(error_message(None, "error", "BadRequestException", "the message is not JSON")).await;
                        continue;
                    }
                };
                let id = message.get("id").and_then(Value::as_str).map(str::to_owned);
                match message.get("type").and_then(Value::as_str) {
                    Some("connection_init") => {
                        initialised = true;
                        vec![Message::text(json!({"type": "connection_ack", "connectionTimeoutMs": CONNECTION_TIMEOUT_MS}).to_string())]
                    }
                    _ if !initialised => vec![error_message(id.as_deref(), "error", "BadRequestException", "send connection_init first")],
                    Some("subscribe") => {
                        let channel = message.get("channel").and_then(Value::as_str).unwrap_or_default();
                        match &id {
                            None => vec![error_message(None, "subscribe_error", "BadRequestException", "a subscribe needs an id")],
                            Some(id) if id.is_empty() || id.len() > 128 => vec![error_message(Some(id), "subscribe_error", "BadRequestException", "the id must be 1-128 characters")],
                            Some(id) if subscriptions.contains_key(id) => vec![error_message(Some(id), "subscribe_error", "BadRequestException", "a subscription with this id exists")],
                            Some(id) if subscriptions.len() >= MAX_SUBSCRIPTIONS => vec![error_message(Some(id), "subscribe_error", "BadRequestException", "at most 100 subscriptions per connection")],
                            Some(id) if !allowed.iter().any(|c| c == channel) => vec![error_message(Some(id), "subscribe_error", "UnauthorizedException", "this identity may not subscribe to that channel (GET /realtime lists its channels)")],
                            Some(id) => {
                                subscriptions.insert(id.clone(), channel.to_owned());
                                vec![Message::text(json!({"type": "subscribe_success", "id": id}).to_string())]
                            }
                        }
                    }
                    Some("unsubscribe") => match id {
                        Some(id) if subscriptions.remove(&id).is_some() => {
                            vec![Message::text(json!({"type": "unsubscribe_success", "id": id}).to_string())]
                        }
                        other => vec![error_message(other.as_deref(), "unsubscribe_error", "BadRequestException", "no subscription has this id")],
                    },
                    Some("publish") => vec![error_message(id.as_deref(), "publish_error", "UnauthorizedException", "only Stowage publishes to its channels")],
                    _ => vec![error_message(id.as_deref(), "error", "BadRequestException", "unknown message type")],
                }
            }
            published = events.recv() => match published {
                Ok(published) if published.tenant == who.tenant => subscriptions
                    .iter()
                    .filter(|(_, channel)| published.channels.contains(channel))
                    .map(|(id, _)| Message::text(json!({"type": "data", "id": id, "event": published.event}).to_string()))
                    .collect(),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a realtime connection fell behind; it missed events");
                    vec![error_message(None, "error", "LaggedException", &format!("{missed} events were missed; read what changed"))]
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = keep_alive.tick() => vec![Message::text(json!({"type": "ka"}).to_string())],
            _ = tokio::time::sleep_until(deadline) => {
                let _ = ws.send(error_message(None, "error", "UnauthorizedException", "the token expired; connect again with a fresh one")).await;
                let _ = ws.close(None).await;
                return;
            }
        };
        for message in outgoing {
            if ws.send(message).await.is_err() {
                return;
            }
        }
    }
}
