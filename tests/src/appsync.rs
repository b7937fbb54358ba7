//! A stand-in for an AppSync Events API's HTTP publish endpoint (`POST /event`), for testing
//! `publish-events`' realtime sink where AppSync itself cannot run. It does what
//! AppSync does with a publish: it checks the SigV4 signature (service `appsync`, its own
//! implementation of the algorithm, not the `aws-sigv4` crate that signs, so the two cannot
//! share a mistake), refuses a bad one with `403`, takes at most 5 events a request, each the
//! JSON text of an event under 240 KB, and answers `{"successful": [...], "failed": [...]}`.
//! It records what each channel received, and can be told to fail. Held to a moto world
//! ([`AppSyncStub::enforce_policies`]), it also asks moto whether the signer's policy allows
//! `appsync:EventPublish` on the channel's namespace, as AppSync asks IAM, and answers `403`
//! when it does not.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use sha2::{Digest as _, Sha256};

/// The credentials the stand-in accepts.
pub const ACCESS_KEY: &str = "AKIDSTOWAGEREALTIME";
pub const SECRET_KEY: &str = "stowage-realtime-test-secret";
pub const SESSION_TOKEN: &str = "stowage-session-token";
pub const REGION: &str = "eu-west-1";

/// One publish request AppSync took.
#[derive(Clone, Debug)]
pub struct Publish {
    pub channel: String,
    /// The events as published (JSON texts), with whether AppSync took each.
    pub events: Vec<(String, bool)>,
}

#[derive(Default)]
struct State {
    taken: Vec<Publish>,
    /// Requests refused: bad signatures, malformed bodies.
    refused: Vec<String>,
    /// The next this many requests answer `500`.
    fail_requests: usize,
    /// Events whose text holds this are listed as `failed`.
    refuse_events_with: Option<String>,
    /// The API id whose namespaces' ARNs moto judges publishes on (else any signature with the
    /// stand-in's own key is enough).
    api_id: Option<String>,
}

/// The API id the stand-in plays in a moto world.
pub const API_ID: &str = "standinapi";

pub struct AppSyncStub {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AppSyncStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AppSyncStub {
    pub async fn start() -> AppSyncStub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}/event", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AppSyncStub {
            endpoint,
            state,
            task,
        }
    }

    /// Every request taken so far, in arrival order.
    pub fn taken(&self) -> Vec<Publish> {
        self.state.lock().unwrap().taken.clone()
    }

    /// Why requests were refused (bad signatures, malformed bodies).
    pub fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    /// Forgets what was published and refused.
    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap();
        state.taken.clear();
        state.refused.clear();
    }

    /// The next `n` requests answer `500`.
    pub fn fail_requests(&self, n: usize) {
        self.state.lock().unwrap().fail_requests = n;
    }

    /// From now on a publish must be allowed by the signer's policy in `template.yaml`, judged
    /// by moto for `world` (the signer is the function its key names: moto's acting keys);
    /// the stand-in is that world's AppSync API.
    pub async fn enforce_policies(&self, world: &str) {
        crate::register_world(world, serde_json::json!({ "appsync_api": API_ID })).await;
        self.state.lock().unwrap().api_id = Some(API_ID.to_owned());
    }

    /// Events whose JSON text contains `text` are refused one by one (`failed`), until `None`.
    pub fn refuse_events_with(&self, text: Option<&str>) {
        self.state.lock().unwrap().refuse_events_with = text.map(str::to_owned);
    }
}

fn respond(status: u16, body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn answer(
    state: &Mutex<State>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let refuse = |status: u16, why: String| {
        state.lock().unwrap().refused.push(why.clone());
        respond(status, serde_json::json!({"errors": [{"message": why}]}))
    };
    if parts.method != hyper::Method::POST || parts.uri.path() != "/event" {
        return refuse(404, format!("{} {}", parts.method, parts.uri));
    }
    let api_id = state.lock().unwrap().api_id.clone();
    let key = match verify_signature(&parts, &body) {
        Ok(key) => key,
        Err(why) => return refuse(403, format!("signature: {why}")),
    };
    if api_id.is_none() && key != ACCESS_KEY {
        return refuse(403, format!("signature: unknown access key {key}"));
    }
    let Ok(publish) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refuse(400, "the body is not JSON".into());
    };
    let channel = publish["channel"].as_str().unwrap_or_default().to_owned();
    if let Some(api_id) = api_id {
        let namespace = channel.split('/').nth(1).unwrap_or_default();
        let resource = format!(
            "arn:aws:appsync:us-east-1:123456789012:apis/{api_id}/channelNamespace/{namespace}"
        );
        if !authorized(&key, "appsync:EventPublish", &resource).await {
            return refuse(
                403,
                format!("UnauthorizedException: {key} may not appsync:EventPublish on {resource}"),
            );
        }
    }
    let valid_channel = channel.starts_with('/')
        && channel.split('/').skip(1).count() <= 5
        && channel.split('/').skip(1).all(|s| {
            (1..=50).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let valid_channel = valid_channel && channel.starts_with("/stowage/");
    if !valid_channel {
        return refuse(400, format!("channel {channel:?}"));
    }
    let Some(events) = publish["events"].as_array() else {
        return refuse(400, "no events".into());
    };
    if events.is_empty() || events.len() > 5 {
        return refuse(400, format!("{} events in one request", events.len()));
    }
    let mut texts = Vec::new();
    for event in events {
        match event.as_str() {
            Some(text)
                if text.len() <= 240_000
                    && serde_json::from_str::<serde_json::Value>(text).is_ok() =>
            {
                texts.push(text.to_owned())
            }
            _ => {
                return refuse(
                    400,
                    format!("an event is not JSON text under 240 KB: {event}"),
                )
            }
        }
    }
    let mut state = state.lock().unwrap();
    if state.fail_requests > 0 {
        state.fail_requests -= 1;
        return respond(
            500,
            serde_json::json!({"errors": [{"message": "injected"}]}),
        );
    }
    let refusing = state.refuse_events_with.clone();
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    let mut recorded = Vec::new();
    for (index, text) in texts.into_iter().enumerate() {
        let ok = !refusing.as_deref().is_some_and(|r| text.contains(r));
        let entry = serde_json::json!({"identifier": format!("id-{index}"), "index": index});
        if ok {
            successful.push(entry);
        } else {
            let mut entry = entry;
            entry["code"] = "InternalFailure".into();
            entry["message"] = "injected".into();
            failed.push(entry);
        }
        recorded.push((text, ok));
    }
    state.taken.push(Publish {
        channel,
        events: recorded,
    });
    respond(
        200,
        serde_json::json!({"successful": successful, "failed": failed}),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// SigV4 as AppSync checks it: the credential scope, the signed headers (host and date among
/// them), the date within 5 minutes, the session token, and the signature over the canonical
/// request with the body's hash.
/// Whether moto's policy check allows the function `key` names to do `action` on `resource`.
async fn authorized(key: &str, action: &str, resource: &str) -> bool {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_stowage/iam/authorize", crate::moto_endpoint()))
        .json(&serde_json::json!({"accessKey": key, "action": action, "resource": resource}))
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("moto's answer is JSON");
    answer["allowed"] == true
}

/// The access key a request was signed with, if the signature is good.
fn verify_signature(parts: &http::request::Parts, body: &[u8]) -> Result<String, String> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization").ok_or("no Authorization")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name).and_then(|f| f.strip_prefix('=')))
            .map(str::to_owned)
            .ok_or(format!("no {name}"))
    };
    let credential = field("Credential")?;
    let signed_headers = field("SignedHeaders")?;
    let signature = field("Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("credential {credential}"));
    };
    if region != REGION || service != "appsync" {
        return Err(format!("credential {credential}"));
    }
    let access_key = key.to_owned();
    let amz_date = header("x-amz-date").ok_or("no X-Amz-Date")?;
    if !amz_date.starts_with(date) {
        return Err("X-Amz-Date is not the credential's date".into());
    }
    let at = chrono::NaiveDateTime::parse_from_str(&amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|e| format!("X-Amz-Date {amz_date}: {e}"))?
        .and_utc();
    if (chrono::Utc::now() - at).num_seconds().abs() > 300 {
        return Err(format!("X-Amz-Date {amz_date} is not within 5 minutes"));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    let mut canonical_order = names.clone();
    canonical_order.sort_unstable();
    canonical_order.dedup();
    if names != canonical_order
        || names
            .iter()
            .any(|n| n.chars().any(|c| c.is_ascii_uppercase()))
    {
        return Err(format!(
            "SignedHeaders {signed_headers} is not sorted lower-case names"
        ));
    }
    for needed in ["host", "x-amz-date", "x-amz-security-token", "content-type"] {
        if !names.contains(&needed) {
            return Err(format!("{needed} is not signed ({signed_headers})"));
        }
    }
    if header("x-amz-security-token").as_deref() != Some(SESSION_TOKEN) {
        return Err("the session token is not the credentials'".into());
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or(format!("signed header {name} is missing"))?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or_default(),
        canonical_headers,
        signed_headers,
        hex(&Sha256::digest(body)),
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if expected != signature {
        return Err("the signature does not match the request".into());
    }
    Ok(access_key)
}

#[cfg(test)]
mod tests {
    /// RFC 4231 test case 2: the HMAC the check is built on is HMAC-SHA256.
    #[test]
    fn hmac_is_hmac_sha256() {
        assert_eq!(
            super::hex(&super::hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
