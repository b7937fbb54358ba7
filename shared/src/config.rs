//! Settings read once at start-up from the environment. A missing or malformed
//! setting stops the process with a message naming it.

use std::time::Duration;

use crate::identity::ClaimNames;
use crate::validate::MAX_URL_EXPIRY_SECONDS;

/// The largest per-tenant request limit a setting may give.
pub const MAX_REQUEST_LIMIT: u32 = 1_000_000;

/// A setting is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {name} {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// Everything the functions read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `STOWAGE_TABLE`: the DynamoDB table.
    pub table: String,
    /// `STOWAGE_BUCKET`: the S3 bucket.
    pub bucket: String,
    /// `STOWAGE_TENANT_CLAIM` (default `tenant_id`) and `STOWAGE_USER_CLAIM` (default `sub`).
    pub claims: ClaimNames,
    /// `STOWAGE_S3_FORCE_PATH_STYLE`: path-style S3 URLs for S3-compatible endpoints.
    pub s3_force_path_style: bool,
    /// `STOWAGE_DOWNLOAD_URL_EXPIRES_IN`: seconds a private `contentUrl` stays valid (default 1800).
    pub download_url_expires_in: Duration,
    /// `STOWAGE_MULTIPART_THRESHOLD`: uploads above this many bytes are multipart (default
    /// 100 MiB; 5 MiB to 5 GiB).
    pub multipart_threshold: u64,
    /// `STOWAGE_PUBLIC_BASE_URL`: where public files are served (the CloudFront distribution on
    /// AWS); unset, public files get presigned URLs too.
    pub public_base_url: Option<String>,
    /// `STOWAGE_REQUIRE_SCOPES` (default `false`): a token must carry each route's scope.
    pub require_scopes: bool,
    /// `STOWAGE_INLINE_COPY_LIMIT`: public copies up to this many bytes are made in the request
    /// (default 256 MiB; 5 MiB to 5 GiB); larger ones by the publish worker.
    pub inline_copy_limit: u64,
    /// `STOWAGE_PRIME`: the services whose connection a cold start opens before the first
    /// request (`dynamodb`, `s3`, comma-separated; default none). See `bootstrap::prime`.
    pub prime: Prime,
    /// `STOWAGE_DEFAULT_TENANT_MAX_BYTES` / `STOWAGE_DEFAULT_TENANT_MAX_FILES` (template
    /// parameters `DefaultTenantMaxBytes` / `DefaultTenantMaxFiles`): a tenant's limits until
    /// `PUT /usage/limits` sets its own; `0` or unset is none.
    pub default_tenant_limits: crate::model::Limits,
    /// `STOWAGE_DEFAULT_TRASH_DAYS` (template parameter `DefaultTrashDays`, default 0): days a
    /// deleted file stays in the trash in collections that set no `trashDays` of their own, and
    /// in `default`; 0 deletes at once.
    pub default_trash_days: u32,
    /// `STOWAGE_TENANT_REQUESTS_PER_SECOND` / `STOWAGE_TENANT_CONCURRENT_REQUESTS` (template
    /// parameters `TenantRequestsPerSecond` / `TenantConcurrentRequests`): how many requests
    /// each tenant may start per second and have running at once; `0` or unset is none.
    pub tenant_requests: crate::store::RequestLimits,
    /// `STOWAGE_REALTIME_URL` (a `ws(s)://` URL) and `STOWAGE_REALTIME_HOST` (default: the URL's
    /// host): where clients subscribe to changes (`GET /realtime`). Unset: none.
    pub realtime: Option<crate::service::RealtimeEndpoint>,
}

/// The connections a cold start opens ahead of the first request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prime {
    pub dynamodb: bool,
    pub s3: bool,
}

impl Prime {
    fn parse(value: &str) -> Result<Prime, ConfigError> {
        let mut prime = Prime::default();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "dynamodb" => prime.dynamodb = true,
                "s3" => prime.s3 = true,
                other => {
                    return Err(ConfigError {
                        name: "STOWAGE_PRIME",
                        problem: format!("names dynamodb and s3, comma-separated, not {other:?}"),
                    })
                }
            }
        }
        Ok(prime)
    }
}

/// Reads `STOWAGE_TENANT_CLAIM` (default `tenant_id`), `STOWAGE_USER_CLAIM` (default `sub`) and
/// `STOWAGE_GROUPS_CLAIM` (default `cognito:groups`) through `lookup`: the one reader of the claim names, for the functions, `stowage-local` and
/// its `token` command, and the console alike. Set but empty is an error.
pub fn claim_names(lookup: impl Fn(&str) -> Option<String>) -> Result<ClaimNames, ConfigError> {
    let claim = |name: &'static str, default: &str| match lookup(name) {
        None => Ok(default.to_owned()),
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Some(_) => Err(ConfigError {
            name,
            problem: "is empty".into(),
        }),
    };
    Ok(ClaimNames {
        tenant: claim("STOWAGE_TENANT_CLAIM", "tenant_id")?,
        user: claim("STOWAGE_USER_CLAIM", "sub")?,
        groups: claim("STOWAGE_GROUPS_CLAIM", "cognito:groups")?,
    })
}

/// Reads `STOWAGE_EVENT_BUS` through `lookup`: the EventBridge bus `publish-events` sends file
/// events to (required there, and only there).
#[cfg(feature = "eventbridge")]
pub(crate) fn event_bus(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    lookup("STOWAGE_EVENT_BUS")
        .map(|bus| bus.trim().to_owned())
        .filter(|bus| !bus.is_empty())
        .ok_or_else(|| ConfigError {
            name: "STOWAGE_EVENT_BUS",
            problem: "must name the event bus".into(),
        })
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError {
                    name,
                    problem: "is not set".into(),
                })
        };
        let flag = |name: &'static str| match lookup(name).as_deref() {
            None | Some("") | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ConfigError {
                name,
                problem: format!("must be true or false, not {other:?}"),
            }),
        };
        let s3_force_path_style = flag("STOWAGE_S3_FORCE_PATH_STYLE")?;
        let require_scopes = flag("STOWAGE_REQUIRE_SCOPES")?;
        let download_url_expires_in = match lookup("STOWAGE_DOWNLOAD_URL_EXPIRES_IN") {
            None => 1_800,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_URL_EXPIRY_SECONDS).contains(n))
                .ok_or_else(|| ConfigError {
                    name: "STOWAGE_DOWNLOAD_URL_EXPIRES_IN",
                    problem: format!("must be whole seconds from 1 to 604800, not {v:?}"),
                })?,
        };
        let public_base_url = match lookup("STOWAGE_PUBLIC_BASE_URL") {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) if v.starts_with("https://") || v.starts_with("http://") => {
                Some(v.trim().trim_end_matches('/').to_owned())
            }
            Some(v) => {
                return Err(ConfigError {
                    name: "STOWAGE_PUBLIC_BASE_URL",
                    problem: format!("must be an http(s) URL, not {v:?}"),
                })
            }
        };
        let part_bytes = |name: &'static str, default: u64| match lookup(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (5 * 1024 * 1024..=5 * 1024 * 1024 * 1024).contains(n))
                .ok_or_else(|| ConfigError {
                    name,
                    problem: format!("must be bytes from 5242880 to 5368709120, not {v:?}"),
                }),
        };
        let multipart_threshold = part_bytes("STOWAGE_MULTIPART_THRESHOLD", 100 * 1024 * 1024)?;
        let inline_copy_limit = part_bytes("STOWAGE_INLINE_COPY_LIMIT", 256 * 1024 * 1024)?;
        let prime = Prime::parse(&lookup("STOWAGE_PRIME").unwrap_or_default())?;
        let limit = |name: &'static str| match lookup(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= crate::model::MAX_LIMIT => Ok(Some(n)),
                _ => Err(ConfigError {
                    name,
                    problem: format!(
                        "must be a whole number from 0 (no limit) to {}, not {v:?}",
                        crate::model::MAX_LIMIT
                    ),
                }),
            },
        };
        let default_tenant_limits = crate::model::Limits {
            max_bytes: limit("STOWAGE_DEFAULT_TENANT_MAX_BYTES")?,
            max_files: limit("STOWAGE_DEFAULT_TENANT_MAX_FILES")?,
        };
        let request_limit = |name: &'static str| match lookup(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= MAX_REQUEST_LIMIT => Ok(Some(n)),
                _ => Err(ConfigError {
                    name,
                    problem: format!(
                        "must be a whole number from 0 (no limit) to {MAX_REQUEST_LIMIT}, not {v:?}"
                    ),
                }),
            },
        };
        let tenant_requests = crate::store::RequestLimits {
            per_second: request_limit("STOWAGE_TENANT_REQUESTS_PER_SECOND")?,
            concurrent: request_limit("STOWAGE_TENANT_CONCURRENT_REQUESTS")?,
        };
        let default_trash_days = match lookup("STOWAGE_DEFAULT_TRASH_DAYS") {
            None => 0,
            Some(v) if v.trim().is_empty() => 0,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| u64::from(n) <= crate::model::MAX_TRASH_DAYS)
                .ok_or_else(|| ConfigError {
                    name: "STOWAGE_DEFAULT_TRASH_DAYS",
                    problem: format!(
                        "must be a whole number of days from 0 to {}, not {v:?}",
                        crate::model::MAX_TRASH_DAYS
                    ),
                })?,
        };
        let realtime = match lookup("STOWAGE_REALTIME_URL").map(|v| v.trim().to_owned()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) if v.starts_with("wss://") || v.starts_with("ws://") => {
                let host = match lookup("STOWAGE_REALTIME_HOST").map(|h| h.trim().to_owned()) {
                    Some(h) if !h.is_empty() => h,
                    _ => v
                        .split_once("://")
                        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
                        .unwrap_or_default(),
                };
                Some(crate::service::RealtimeEndpoint { url: v, host })
            }
            Some(v) => {
                return Err(ConfigError {
                    name: "STOWAGE_REALTIME_URL",
                    problem: format!("must be a ws:// or wss:// URL, not {v:?}"),
                })
            }
        };
        Ok(Config {
            realtime,
            default_tenant_limits,
            default_trash_days,
            tenant_requests,
            prime,
            inline_copy_limit,
            require_scopes,
            multipart_threshold,
            public_base_url,
            table: required("STOWAGE_TABLE")?,
            bucket: required("STOWAGE_BUCKET")?,
            claims: claim_names(&lookup)?,
            s3_force_path_style,
            download_url_expires_in: Duration::from_secs(download_url_expires_in),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_table_and_bucket_are_set() {
        let cfg = config(&[("STOWAGE_TABLE", "t"), ("STOWAGE_BUCKET", "b")]).unwrap();
        assert_eq!(cfg.claims, ClaimNames::default());
        assert!(!cfg.s3_force_path_style);
        assert_eq!(cfg.download_url_expires_in, Duration::from_secs(1_800));
        assert_eq!(cfg.prime, Prime::default());
    }

    #[test]
    fn missing_or_malformed_settings_are_named() {
        assert_eq!(
            config(&[("STOWAGE_BUCKET", "b")]).unwrap_err().name,
            "STOWAGE_TABLE"
        );
        assert_eq!(
            config(&[("STOWAGE_TABLE", "t")]).unwrap_err().name,
            "STOWAGE_BUCKET"
        );
        let base = [("STOWAGE_TABLE", "t"), ("STOWAGE_BUCKET", "b")];
        for (name, value) in [
            ("STOWAGE_S3_FORCE_PATH_STYLE", "yes"),
            ("STOWAGE_REQUIRE_SCOPES", "maybe"),
            ("STOWAGE_DOWNLOAD_URL_EXPIRES_IN", "0"),
            ("STOWAGE_DOWNLOAD_URL_EXPIRES_IN", "604801"),
            ("STOWAGE_TENANT_CLAIM", ""),
            ("STOWAGE_PUBLIC_BASE_URL", "cdn.example.com"),
            ("STOWAGE_MULTIPART_THRESHOLD", "1024"),
            ("STOWAGE_INLINE_COPY_LIMIT", "6000000000"),
            ("STOWAGE_PRIME", "dynamodb,sqs"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((name, value));
            let err = config(&pairs).unwrap_err();
            assert_eq!(err.name, name);
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    #[cfg(feature = "eventbridge")]
    fn the_event_bus_is_required_where_it_is_read() {
        let read = |value: Option<&str>| event_bus(|_| value.map(str::to_owned));
        assert_eq!(read(Some(" files-bus ")).unwrap(), "files-bus");
        assert_eq!(read(None).unwrap_err().name, "STOWAGE_EVENT_BUS");
        assert_eq!(read(Some("  ")).unwrap_err().name, "STOWAGE_EVENT_BUS");
    }

    #[test]
    fn claim_names_default_and_refuse_empty() {
        assert_eq!(claim_names(|_| None).unwrap(), ClaimNames::default());
        let user = claim_names(|name| (name == "STOWAGE_USER_CLAIM").then(|| "email".into()));
        assert_eq!(user.unwrap().user, "email");
        let empty = claim_names(|name| (name == "STOWAGE_USER_CLAIM").then(String::new));
        assert_eq!(empty.unwrap_err().name, "STOWAGE_USER_CLAIM");
    }

    #[test]
    fn overrides_are_read() {
        let cfg = config(&[
            ("STOWAGE_TABLE", "t"),
            ("STOWAGE_BUCKET", "b"),
            ("STOWAGE_TENANT_CLAIM", "custom:tenant"),
            ("STOWAGE_S3_FORCE_PATH_STYLE", "true"),
            ("STOWAGE_DOWNLOAD_URL_EXPIRES_IN", "60"),
            ("STOWAGE_PRIME", " s3 ,dynamodb"),
        ])
        .unwrap();
        assert_eq!(
            cfg.prime,
            Prime {
                dynamodb: true,
                s3: true
            }
        );
        assert_eq!(cfg.claims.tenant, "custom:tenant");
        assert!(cfg.s3_force_path_style);
        assert_eq!(cfg.download_url_expires_in, Duration::from_secs(60));
    }
}
