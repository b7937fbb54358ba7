//! Requests and events as AWS delivers them, built from the samples in `events/`, and sample
//! records for storage tests.

use aws_lambda_events::s3::S3Event;
use lambda_http::{Body, Request};
use serde_json::{json, Value};

use stowage::http::RouteId;

use crate::REPO_ROOT;

/// A pending record of `tenant` created at `created_millis` (its id carries that time), with
/// tags, nested metadata and an expiry a minute later: storage tests write it directly.
pub fn sample_record(tenant: &str, created_millis: i64) -> stowage::model::FileRecord {
    use stowage::model::*;
    let at = Timestamp::from_millis(created_millis);
    let metadata = json!({"deep": [[[[{"x": "ü"}]]]], "": null, "n": 1.5});
    FileRecord {
        name: FileName::parse("résumé.pdf").unwrap(),
        extension: ".pdf".into(),
        mime_type: MediaType::parse("application/pdf").unwrap(),
        expected_size: Some(42),
        tags: Tags::parse(["a", "b"]).unwrap(),
        metadata: Metadata::parse(metadata.as_object().unwrap().clone()).unwrap(),
        expires_at: Some(at.plus_seconds(60)),
        ..FileRecord::fixture(tenant, FileId::generate_at(at), at)
    }
}

/// The key an upload URL points at (path-style: `/<bucket>/<key>`).
pub fn upload_key(upload: &Value) -> String {
    let url = upload["url"].as_str().expect("upload.url");
    let path = url.split('?').next().unwrap();
    let after_host = path.splitn(4, '/').nth(3).unwrap();
    after_host.split_once('/').unwrap().1.to_owned()
}

/// Reads a sample event from `events/`.
pub fn sample(name: &str) -> Value {
    let path = format!("{REPO_ROOT}/events/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Turns an API Gateway v2 event into the request `lambda_http` hands a function.
pub fn to_request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

/// Sets the JWT claims of an API Gateway v2 event (`None` removes the authorizer entirely).
pub fn with_identity(mut event: Value, identity: Option<(&str, &str)>) -> Value {
    match identity {
        Some((tenant, user)) => {
            let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
            claims["tenant_id"] = json!(tenant);
            claims["sub"] = json!(user);
        }
        None => {
            event["requestContext"]
                .as_object_mut()
                .expect("requestContext")
                .remove("authorizer");
        }
    }
    event
}

/// Any API request, built from the route's sample in `events/`: the identity, the `{id}`, the
/// raw query string, the JSON body and extra headers are replaced; the sample's own `If-Match`
/// is dropped unless given again.
pub fn api_request(
    route: stowage::http::RouteId,
    tenant: &str,
    id: Option<&str>,
    query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Request {
    to_request(&api_event(route, tenant, id, query, body, headers))
}

/// Who a request's token names (see [`api_request_as`]).
pub struct Acting<'a> {
    pub user: &'a str,
    pub groups: &'a [String],
    /// The scope claim (`None`: the sample's member scopes).
    pub scopes: Option<&'a str>,
}

/// [`api_request`] acting as someone else than the sample's alice: the `sub` claim, the
/// groups claim as API Gateway's JWT authorizer renders an array (`"[a b]"`), the scopes.
pub fn api_request_as(
    route: stowage::http::RouteId,
    tenant: &str,
    acting: Option<Acting<'_>>,
    id: Option<&str>,
    query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Request {
    let mut event = api_event(route, tenant, id, query, body, headers);
    if let Some(acting) = acting {
        let jwt = &mut event["requestContext"]["authorizer"]["jwt"];
        jwt["claims"]["sub"] = json!(acting.user);
        if !acting.groups.is_empty() {
            jwt["claims"]["cognito:groups"] = json!(format!("[{}]", acting.groups.join(" ")));
        }
        if let Some(scopes) = acting.scopes {
            jwt["claims"]["scope"] = json!(scopes);
            jwt["scopes"] = json!(scopes.split_whitespace().collect::<Vec<_>>());
        }
    }
    to_request(&event)
}

/// [`api_request`] with a token granting `scopes` (space-separated), as API Gateway passes it:
/// the `scope` claim, and the authorizer's `scopes` list.
pub fn scoped_request(
    route: stowage::http::RouteId,
    tenant: &str,
    scopes: &str,
    id: Option<&str>,
    body: Option<&Value>,
) -> Request {
    let mut event = api_event(route, tenant, id, "", body, &[]);
    let jwt = &mut event["requestContext"]["authorizer"]["jwt"];
    jwt["claims"]["scope"] = json!(scopes);
    jwt["scopes"] = json!(scopes.split_whitespace().collect::<Vec<_>>());
    to_request(&event)
}

/// The API Gateway v2 event of [`api_request`].
fn api_event(
    route: stowage::http::RouteId,
    tenant: &str,
    id: Option<&str>,
    query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Value {
    let spec = stowage::http::ROUTES
        .iter()
        .find(|r| r.id == route)
        .expect("a route of the table");
    let mut event = with_identity(
        sample(&format!("{}.json", spec.function)),
        Some((tenant, "alice")),
    );
    // The route's one path parameter: a file's `{id}` or a collection's `{name}`.
    let parameter = if spec.path.contains("{name}") {
        "name"
    } else {
        "id"
    };
    // A version route's `{version}`: `<id>@<version>`, or version 1.
    let (id, version) = match id.map(|id| id.split_once('@').unwrap_or((id, "1"))) {
        Some((id, version)) => (Some(id), version),
        None => (None, "1"),
    };
    let path = match id {
        Some(id) => spec
            .path
            .replace(&format!("{{{parameter}}}"), id)
            .replace("{version}", version),
        None => spec.path.to_owned(),
    };
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    match id {
        Some(id) if spec.path.contains("{version}") => {
            event["pathParameters"] = json!({ parameter: id, "version": version })
        }
        Some(id) => event["pathParameters"] = json!({ parameter: id }),
        None => {
            event.as_object_mut().unwrap().remove("pathParameters");
        }
    }
    event["rawQueryString"] = json!(query);
    let event_headers = event["headers"].as_object_mut().unwrap();
    event_headers.remove("if-match");
    match body {
        Some(body) => {
            event_headers.insert("content-type".into(), json!("application/json"));
            event["body"] = json!(body.to_string());
        }
        None => {
            event_headers.remove("content-type");
            event.as_object_mut().unwrap().remove("body");
        }
    }
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    event
}

/// `route` for `tenant` on `id` with a raw body (any bytes) and `Content-Type` (`None`: none).
pub fn raw_request(
    route: stowage::http::RouteId,
    tenant: &str,
    id: Option<&str>,
    body: &[u8],
    content_type: Option<&str>,
) -> Request {
    let request = api_request(route, tenant, id, "", Some(&json!({})), &[]);
    let (mut parts, _) = request.into_parts();
    parts.headers.remove("content-type");
    if let Some(ct) = content_type {
        parts
            .headers
            .insert("content-type", ct.parse().expect("a header value"));
    }
    Request::from_parts(parts, Body::Binary(body.to_vec()))
}

/// `POST /files` from `events/create-file.json` with another body and identity.
pub fn create_request(tenant: &str, user: &str, body: &Value) -> Request {
    let mut event = with_identity(sample("create-file.json"), Some((tenant, user)));
    event["body"] = json!(body.to_string());
    to_request(&event)
}

/// `GET /files/{id}` from `events/get-file.json` with another id and identity.
pub fn get_request(tenant: &str, user: &str, id: &str) -> Request {
    let mut event = with_identity(sample("get-file.json"), Some((tenant, user)));
    event["rawPath"] = json!(format!("/files/{id}"));
    event["requestContext"]["http"]["path"] = json!(format!("/files/{id}"));
    event["pathParameters"] = json!({ "id": id });
    to_request(&event)
}

/// An `ObjectCreated:Put` event from `events/s3-object-created.json` for one object.
pub fn s3_event(bucket: &str, key: &str, size: u64, etag: &str, sequencer: &str) -> S3Event {
    let mut event = sample("s3-object-created.json");
    let record = &mut event["Records"][0];
    record["s3"]["bucket"]["name"] = json!(bucket);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    record["s3"]["object"]["key"] = json!(stowage::keys::encode_event_key(key));
    record["s3"]["object"]["size"] = json!(size);
    record["s3"]["object"]["eTag"] = json!(etag.trim_matches('"'));
    record["s3"]["object"]["sequencer"] = json!(sequencer);
    serde_json::from_value(event).expect("a valid S3 event")
}

/// `template.yaml`, parsed (CloudFormation tags such as `!Ref` come through as tagged values).
pub fn template() -> serde_yaml::Value {
    let path = format!("{REPO_ROOT}/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).expect("template.yaml parses as YAML")
}

/// A body each route accepts (for some file), so that tenant isolation, not validation, decides.
pub fn valid_body(route: RouteId) -> Option<Value> {
    match route {
        RouteId::CreateFile => Some(json!({"name": "b.txt", "mimeType": "text/plain"})),
        RouteId::UpdateFile => Some(json!({"tags": ["taken"]})),
        RouteId::ReplaceFile => Some(json!({"name": "taken.txt", "mimeType": "text/plain"})),
        RouteId::StartUpload => Some(json!({"expectedSize": 3})),
        RouteId::SignUploadParts => Some(json!({"partNumbers": [1, 2]})),
        RouteId::CompleteUpload => Some(json!({})),
        RouteId::UpdateFiles => Some(json!([])),
        RouteId::DeleteFiles => Some(json!({"ids": []})),
        RouteId::GetFiles | RouteId::GetLinks => {
            Some(json!({"ids": ["01KAQ3V6T0Z9Y8X7W6V5T4S3R2"]}))
        }
        RouteId::SignUploadRequest => Some(json!({"method": "POST"})),
        RouteId::CopyFile => Some(json!({"name": "copied.txt"})),
        RouteId::CreateFolder => Some(json!({"path": "/made"})),
        RouteId::MoveFolder => Some(json!({"from": "/x", "to": "/y"})),
        RouteId::CreateCollection => Some(json!({"name": "fresh", "maxFiles": 5})),
        RouteId::UpdateCollection => Some(json!({"maxFileSize": 1000})),
        RouteId::PutUsageLimits => Some(json!({"maxFiles": 1000})),
        RouteId::ListCollections
        | RouteId::GetCollection
        | RouteId::DeleteCollection
        | RouteId::GetUsage
        | RouteId::GetRealtime
        | RouteId::ListFiles
        | RouteId::GetFile
        | RouteId::DeleteFile
        | RouteId::GetContent
        | RouteId::AbortUpload
        | RouteId::ListUploadParts
        | RouteId::GetUploadLimits
        | RouteId::GetThumbnail
        | RouteId::RestoreFile
        | RouteId::ListVersions
        | RouteId::GetVersionContent
        | RouteId::RestoreVersion
        | RouteId::DeleteVersion
        | RouteId::ListFolders
        | RouteId::DeleteFolder => None,
    }
}
