//! The Stowage console, as served by `stowage-local` at `/console/` and by the
//! `console` Lambda function at `GET /console/{proxy+}`: the page, its script and stylesheet
//! (built from `web/console` into `web/console/dist` and embedded here, gzipped at build time),
//! and `config.json`, which tells the page how people sign in.
//!
//! The page calls the API at the origin it is served from, with the bearer token the person
//! signed in with; serving it needs no credentials, and it holds no secrets.

use http::{header, HeaderValue, Method, Response, StatusCode};

/// One embedded asset.
struct Asset {
    name: &'static str,
    bytes: &'static [u8],
    gzipped: &'static [u8],
    etag: &'static str,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Where the console is mounted.
pub const MOUNT: &str = "/console";

/// Which token of an OpenID Connect sign-in the console sends to the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// The access token (carries `scope`; with Cognito, custom claims need a pre token
    /// generation trigger).
    Access,
    /// The ID token (carries the user's attributes, e.g. Cognito's `custom:tenant_id`).
    Id,
}

/// OpenID Connect sign-in (authorization code with PKCE) against the API's JWT issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oidc {
    pub issuer: String,
    pub client_id: String,
    pub scope: String,
    pub token: TokenUse,
}

/// What the console needs to know about the deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// `None`: people sign in by pasting a token (or by `stowage-local`'s console link).
    pub oidc: Option<Oidc>,
    /// Claims the console shows as "tenant / user" (the API's `STOWAGE_TENANT_CLAIM` and
    /// `STOWAGE_USER_CLAIM`).
    pub tenant_claim: String,
    pub user_claim: String,
    /// The claim that lists the user's groups (the API's `STOWAGE_GROUPS_CLAIM`): the page
    /// offers only what the user may do, and its groups are part of that.
    pub groups_claim: String,
    /// Let the page call plain-`http:` origins (an OIDC provider or S3 endpoint on a laptop):
    /// `stowage-local` only. Deployed, the page calls `https:` origins and its own.
    pub allow_plain_http: bool,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            oidc: None,
            tenant_claim: "tenant_id".into(),
            user_claim: "sub".into(),
            groups_claim: "cognito:groups".into(),
            allow_plain_http: false,
        }
    }
}

impl ConsoleSettings {
    /// Reads `STOWAGE_CONSOLE_CLIENT_ID` (OIDC sign-in when set and not empty),
    /// `STOWAGE_CONSOLE_ISSUER`, `STOWAGE_CONSOLE_SCOPE` (default `openid`) and
    /// `STOWAGE_CONSOLE_TOKEN` (`access`, the default, or `id`) through `lookup` (the
    /// environment, or a test's settings). The claim names are the API's, as
    /// `stowage::config::claim_names` read them (their one reader), handed in by the caller.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        tenant_claim: &str,
        user_claim: &str,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let oidc = match get("STOWAGE_CONSOLE_CLIENT_ID") {
            None => None,
            Some(client_id) => {
                let issuer = get("STOWAGE_CONSOLE_ISSUER").ok_or(
                    "STOWAGE_CONSOLE_CLIENT_ID is set but STOWAGE_CONSOLE_ISSUER is not: the console signs in against the JWT issuer",
                )?;
                if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
                    return Err(format!(
                        "STOWAGE_CONSOLE_ISSUER must be an http(s) URL, not {issuer:?}"
                    ));
                }
                let token = match get("STOWAGE_CONSOLE_TOKEN").as_deref() {
                    None | Some("access") => TokenUse::Access,
                    Some("id") => TokenUse::Id,
                    Some(other) => {
                        return Err(format!(
                            "STOWAGE_CONSOLE_TOKEN must be `access` or `id`, not {other:?}"
                        ))
                    }
                };
                Some(Oidc {
                    issuer: issuer.trim_end_matches('/').to_owned(),
                    client_id,
                    scope: get("STOWAGE_CONSOLE_SCOPE").unwrap_or_else(|| "openid".into()),
                    token,
                })
            }
        };
        Ok(Self {
            oidc,
            tenant_claim: tenant_claim.to_owned(),
            user_claim: user_claim.to_owned(),
            groups_claim: "cognito:groups".into(),
            allow_plain_http: false,
        })
    }

    /// [`ConsoleSettings::from_lookup`] on the process environment.
    pub fn from_env(tenant_claim: &str, user_claim: &str) -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok(), tenant_claim, user_claim)
    }
}

/// The console, ready to answer requests under [`MOUNT`].
#[derive(Debug)]
pub struct Console {
    config: Vec<u8>,
    csp: HeaderValue,
}

/// Everything the page loads comes from this origin, and it runs no inline script; it calls
/// this origin, S3 (presigned URLs), the OIDC provider's endpoints and the realtime endpoint
/// (a WebSocket: AppSync Events on AWS, this origin on `stowage-local`).
fn content_security_policy(allow_plain_http: bool) -> HeaderValue {
    let connect = if allow_plain_http {
        "'self' https: http: wss: ws:"
    } else {
        "'self' https: wss:"
    };
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' blob: data: https:; connect-src {connect}; font-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
}

impl Console {
    pub fn new(settings: &ConsoleSettings) -> Self {
        let oidc = settings.oidc.as_ref().map(|o| {
            serde_json::json!({
                "issuer": o.issuer,
                "clientId": o.client_id,
                "scope": o.scope,
                "token": match o.token { TokenUse::Access => "access", TokenUse::Id => "id" },
            })
        });
        let config = serde_json::json!({
            "oidc": oidc,
            "tenantClaim": settings.tenant_claim,
            "userClaim": settings.user_claim,
            "groupsClaim": settings.groups_claim,
        });
        Self {
            config: serde_json::to_vec(&config).expect("a JSON value serializes"),
            csp: content_security_policy(settings.allow_plain_http),
        }
    }

    /// Whether `path` is the console's (`/console` or below it).
    pub fn owns(path: &str) -> bool {
        path == MOUNT || path.starts_with("/console/")
    }

    /// The answer to `method path` (`path` as the client sent it, starting with `/console`).
    /// `accept_encoding` and `if_none_match` are the request's headers.
    pub fn answer(
        &self,
        method: &Method,
        path: &str,
        accept_encoding: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Response<Vec<u8>> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "The console is read with GET.\n",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let rest = path.strip_prefix(MOUNT).unwrap_or(path);
        let mut response = match rest {
            // Relative asset URLs need the trailing slash (a relative redirect keeps any
            // path prefix in front of the API).
            "" => {
                let mut r = text(StatusCode::PERMANENT_REDIRECT, "");
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("console/"));
                r
            }
            "/config.json" => {
                let mut r = Response::new(self.config.clone());
                set(&mut r, header::CONTENT_TYPE, "application/json");
                set(&mut r, header::CACHE_CONTROL, "no-store");
                r
            }
            "/" | "/index.html" => asset("index.html", accept_encoding, if_none_match),
            "/console.js" => asset("console.js", accept_encoding, if_none_match),
            "/console.css" => asset("console.css", accept_encoding, if_none_match),
            _ => text(
                StatusCode::NOT_FOUND,
                "Not found: the console is at /console/.\n",
            ),
        };
        let headers = response.headers_mut();
        headers.insert("content-security-policy", self.csp.clone());
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        if method == Method::HEAD {
            response.body_mut().clear();
        }
        response
    }
}

fn set(response: &mut Response<Vec<u8>>, name: header::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
}

fn text(status: StatusCode, body: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(body.as_bytes().to_vec());
    *response.status_mut() = status;
    set(
        &mut response,
        header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    response
}

fn asset(
    name: &str,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> Response<Vec<u8>> {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return text(StatusCode::NOT_FOUND, "Not found.\n");
    };
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        _ => "text/css; charset=utf-8",
    };
    let fresh = if_none_match.is_some_and(|tags| {
        tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == asset.etag
        })
    });
    let gzip = accepts_gzip(accept_encoding);
    let mut response = if fresh {
        let mut r = Response::new(Vec::new());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if gzip {
        let mut r = Response::new(asset.gzipped.to_vec());
        set(&mut r, header::CONTENT_ENCODING, "gzip");
        r
    } else {
        Response::new(asset.bytes.to_vec())
    };
    set(&mut response, header::CONTENT_TYPE, content_type);
    // Asset names are not content-hashed: caches revalidate every time (a 304 while unchanged).
    set(&mut response, header::CACHE_CONTROL, "no-cache");
    set(&mut response, header::VARY, "accept-encoding");
    response
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from_static(asset.etag));
    response
}

/// Whether an `Accept-Encoding` value admits gzip (`gzip;q=0` does not).
fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> Console {
        Console::new(&ConsoleSettings::default())
    }

    fn get(path: &str) -> Response<Vec<u8>> {
        console().answer(&Method::GET, path, None, None)
    }

    #[test]
    fn the_page_and_its_assets_are_served_with_their_types() {
        for (path, kind, needle) in [
            ("/console/", "text/html", "<title>Stowage console</title>"),
            ("/console/index.html", "text/html", "console.js"),
            ("/console/console.js", "text/javascript", "stowage"),
            ("/console/console.css", "text/css", ".uppy-Dashboard"),
        ] {
            let r = get(path);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(
                r.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with(kind),
                "{path}"
            );
            assert!(
                String::from_utf8_lossy(r.body()).contains(needle),
                "{path} lacks {needle}"
            );
            assert!(r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
        }
    }

    #[test]
    fn the_mount_point_redirects_to_the_trailing_slash() {
        let r = get("/console");
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "console/");
    }

    #[test]
    fn unknown_paths_and_other_methods_are_refused() {
        assert_eq!(
            get("/console/../etc/passwd").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(get("/console/nope.js").status(), StatusCode::NOT_FOUND);
        let r = console().answer(&Method::POST, "/console/", None, None);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn gzip_is_served_to_clients_that_accept_it_and_decodes_to_the_asset() {
        let plain = get("/console/console.js");
        let zipped = console().answer(
            &Method::GET,
            "/console/console.js",
            Some("br, gzip;q=0.8"),
            None,
        );
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(zipped.body().len() < plain.body().len() / 2);
        assert_eq!(&zipped.body()[..2], &[0x1f, 0x8b], "a gzip stream");
        let refused = console().answer(&Method::GET, "/console/console.js", Some("gzip;q=0"), None);
        assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(refused.body(), plain.body());
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let first = get("/console/console.css");
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = console().answer(&Method::GET, "/console/console.css", None, Some(&etag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.body().is_empty());
        let other = console().answer(&Method::GET, "/console/console.css", None, Some("\"0\""));
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn config_says_how_people_sign_in() {
        let plain = get("/console/config.json");
        let json: serde_json::Value = serde_json::from_slice(plain.body()).unwrap();
        assert_eq!(json["oidc"], serde_json::Value::Null);
        assert_eq!(json["tenantClaim"], "tenant_id");
        assert_eq!(json["groupsClaim"], "cognito:groups");
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-store");

        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let settings = ConsoleSettings::from_lookup(
            env(&[
                ("STOWAGE_CONSOLE_CLIENT_ID", "abc123"),
                (
                    "STOWAGE_CONSOLE_ISSUER",
                    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X/",
                ),
                ("STOWAGE_CONSOLE_TOKEN", "id"),
            ]),
            "custom:tenant_id",
            "sub",
        )
        .unwrap();
        let r = Console::new(&settings).answer(&Method::GET, "/console/config.json", None, None);
        let json: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            json["oidc"]["issuer"],
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X"
        );
        assert_eq!(json["oidc"]["clientId"], "abc123");
        assert_eq!(json["oidc"]["scope"], "openid");
        assert_eq!(json["oidc"]["token"], "id");
        assert_eq!(json["tenantClaim"], "custom:tenant_id");

        // An empty client id (the template's default) means no OIDC sign-in.
        let none =
            ConsoleSettings::from_lookup(env(&[("STOWAGE_CONSOLE_CLIENT_ID", "")]), "t", "u")
                .unwrap();
        assert_eq!(none.oidc, None);
        let err =
            ConsoleSettings::from_lookup(env(&[("STOWAGE_CONSOLE_CLIENT_ID", "abc")]), "t", "u")
                .unwrap_err();
        assert!(err.contains("STOWAGE_CONSOLE_ISSUER"), "{err}");
        let err = ConsoleSettings::from_lookup(
            env(&[
                ("STOWAGE_CONSOLE_CLIENT_ID", "abc"),
                ("STOWAGE_CONSOLE_ISSUER", "https://issuer"),
                ("STOWAGE_CONSOLE_TOKEN", "refresh"),
            ]),
            "t",
            "u",
        )
        .unwrap_err();
        assert!(err.contains("`access` or `id`"), "{err}");
    }

    #[test]
    fn head_answers_without_a_body() {
        let r = console().answer(&Method::HEAD, "/console/", None, None);
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.body().is_empty());
    }
}
