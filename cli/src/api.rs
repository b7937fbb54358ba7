//! The public HTTP API, as the CLI uses it: nothing here knows about S3 beyond the URLs the API
//! hands out.

use std::time::Duration;

use serde_json::{json, Value};

/// A failed call, with the API's problem detail when there is one.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<reqwest::Error> for Error {
    fn from(err: reqwest::Error) -> Self {
        Error(format!("request failed: {err}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attempts of a call that the API answers `429` or `503`.
pub const BUSY_ATTEMPTS: u32 = 6;
/// Longest wait between two attempts, whatever `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The `Retry-After` of a response, in seconds (the HTTP-date form is not used by Stowage or
/// API Gateway).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_WAIT))
}

/// The wait before attempt `attempt + 1` when the server names none: 0.5 s, 1 s, 2 s, …
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(6)).min(MAX_WAIT)
}

/// A Stowage endpoint and the bearer token to call it with.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Api {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:4600`); redirects are not followed, so
    /// the token is never sent to the storage URLs.
    pub fn new(endpoint: &str, token: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Api {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// One API call. `429` (API Gateway's throttling) and `503` (a store throttling or out)
    /// are retried after the `Retry-After` the answer names, or with exponential backoff when
    /// it names none, up to [`BUSY_ATTEMPTS`] times.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response> {
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.endpoint))
                .bearer_auth(&self.token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await?;
            let busy = matches!(response.status().as_u16(), 429 | 503);
            if !busy || attempt == BUSY_ATTEMPTS {
                break response;
            }
            let wait = retry_after(&response).unwrap_or_else(|| backoff(attempt));
            eprintln!(
                "stowage: {path}: {} — retrying in {:.1} s",
                response.status(),
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
        };
        if response.status().is_success() || response.status().is_redirection() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .map(|p| {
                let code = p["code"].as_str().unwrap_or_default().to_owned();
                let detail = p["detail"].as_str().unwrap_or_default().to_owned();
                format!("{code}: {detail}")
            })
            .unwrap_or(text);
        Err(Error(format!("{path}: {status} {detail}")))
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        Ok(self.call(method, path, body).await?.json().await?)
    }

    /// `POST /files`.
    pub async fn create(&self, body: Value) -> Result<Value> {
        self.json(reqwest::Method::POST, "/files", Some(body)).await
    }

    /// `GET /files/limits`.
    pub async fn limits(&self) -> Result<Value> {
        self.json(reqwest::Method::GET, "/files/limits", None).await
    }

    /// `GET /files/{id}`.
    pub async fn get(&self, id: &str) -> Result<Value> {
        self.json(reqwest::Method::GET, &format!("/files/{id}"), None)
            .await
    }

    /// `GET /files?query`.
    pub async fn list(&self, query: &str) -> Result<Value> {
        self.json(reqwest::Method::GET, &format!("/files?{query}"), None)
            .await
    }

    /// `DELETE /files/{id}`.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.call(reqwest::Method::DELETE, &format!("/files/{id}"), None)
            .await?;
        Ok(())
    }

    /// `DELETE /files/{id}?permanent=true`: for good, skipping (or emptying) the trash.
    pub async fn delete_permanently(&self, id: &str) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            &format!("/files/{id}?permanent=true"),
            None,
        )
        .await?;
        Ok(())
    }

    /// `POST /files/delete`.
    pub async fn delete_many(&self, ids: &[String], permanent: bool) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            "/files/delete",
            Some(json!({ "ids": ids, "permanent": permanent })),
        )
        .await
    }

    /// `POST /files/{id}/copy`.
    pub async fn copy(&self, id: &str, body: Value) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/files/{id}/copy"),
            Some(body),
        )
        .await
    }

    /// `PATCH /files/{id}`.
    pub async fn update(&self, id: &str, body: Value) -> Result<Value> {
        self.json(reqwest::Method::PATCH, &format!("/files/{id}"), Some(body))
            .await
    }

    /// `GET /folders?query`.
    pub async fn folders(&self, query: &str) -> Result<Value> {
        self.json(reqwest::Method::GET, &format!("/folders?{query}"), None)
            .await
    }

    /// `POST /folders`.
    pub async fn make_folder(&self, path: &str) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            "/folders",
            Some(json!({ "path": path })),
        )
        .await
    }

    /// `POST /folders/move`: one call of a folder move.
    pub async fn move_folder(&self, body: Value) -> Result<Value> {
        self.json(reqwest::Method::POST, "/folders/move", Some(body))
            .await
    }

    /// `DELETE /folders?path=`.
    pub async fn delete_folder(&self, query: &str) -> Result<()> {
        self.call(reqwest::Method::DELETE, &format!("/folders?{query}"), None)
            .await?;
        Ok(())
    }

    /// `POST /files/{id}/restore`: back from the trash.
    pub async fn restore(&self, id: &str) -> Result<Value> {
        self.json(reqwest::Method::POST, &format!("/files/{id}/restore"), None)
            .await
    }

    /// `GET /files/{id}/versions`: the items, current first.
    pub async fn versions(&self, id: &str) -> Result<Value> {
        self.json(reqwest::Method::GET, &format!("/files/{id}/versions"), None)
            .await
    }

    /// `POST /files/{id}/versions/{version}/restore`.
    pub async fn restore_version(&self, id: &str, version: u32) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/files/{id}/versions/{version}/restore"),
            None,
        )
        .await
    }

    /// `POST /files/{id}/upload/parts`: fresh URLs for `numbers`.
    pub async fn sign_parts(&self, id: &str, numbers: &[u32]) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/files/{id}/upload/parts"),
            Some(json!({ "partNumbers": numbers, "uploadUrlExpiresIn": 3600 })),
        )
        .await
    }

    /// `GET /files/{id}/upload/parts`.
    pub async fn uploaded_parts(&self, id: &str) -> Result<Value> {
        self.json(
            reqwest::Method::GET,
            &format!("/files/{id}/upload/parts"),
            None,
        )
        .await
    }

    /// `POST /files/{id}/upload/complete`.
    pub async fn complete(&self, id: &str) -> Result<Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/files/{id}/upload/complete"),
            None,
        )
        .await
    }

    /// `GET /files/{id}/thumbnail?size=64&wait=5`: the URL it redirects to, or `None` while
    /// the thumbnail is not made yet (`202`).
    pub async fn thumbnail_url(&self, id: &str) -> Result<Option<String>> {
        let path = format!("/files/{id}/thumbnail?size=64&wait=5");
        let response = self.call(reqwest::Method::GET, &path, None).await?;
        if response.status() == reqwest::StatusCode::ACCEPTED {
            return Ok(None);
        }
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|url| Some(url.to_owned()))
            .ok_or_else(|| Error(format!("GET {path}: no Location header")))
    }

    /// `GET /files/{id}/content` (or a version's): the presigned URL it redirects to.
    pub async fn download_url(&self, id: &str, version: Option<u32>) -> Result<String> {
        let path = match version {
            Some(v) => format!("/files/{id}/versions/{v}/content"),
            None => format!("/files/{id}/content"),
        };
        let response = self.call(reqwest::Method::GET, &path, None).await?;
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Error(format!("GET {path}: no Location header")))
    }
}
