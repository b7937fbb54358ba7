//! Local identity. `stowage-local token` signs a JWT (HS256) with a secret kept in the data dir;
//! the server verifies it and hands the handlers the same claims the API Gateway JWT authorizer
//! would. The same secret also derives the embedded S3 endpoint's credentials.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use stowage::identity::{ClaimNames, Scopes};
use stowage::model::{TenantId, Timestamp, UserId};

/// The `iss` of local tokens.
pub const ISSUER: &str = "stowage-local";
/// The access key id of the embedded S3 endpoint.
pub const S3_ACCESS_KEY: &str = "stowage-local";
const SECRET_FILE: &str = "secret.key";

/// The per-data-dir secret: 32 bytes for tokens, 32 for S3 signatures.
#[derive(Clone)]
pub struct LocalSecret {
    token_key: Vec<u8>,
    s3_secret_key: String,
}

impl std::fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSecret(..)")
    }
}

impl LocalSecret {
    /// Reads `<data_dir>/secret.key`, creating the dir and a fresh random secret if needed.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(SECRET_FILE);
        let hex = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 64];
                getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
                let hex = hex::encode(bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(hex.as_bytes())?;
                        hex
                    }
                    // Another process created it first: use theirs.
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(&path)?.trim().to_owned()
                    }
                    Err(err) => return Err(err),
                }
            }
            Err(err) => return Err(err),
        };
        if hex.len() != 128 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not a Stowage secret; delete it to make a new one",
                    path.display()
                ),
            ));
        }
        Ok(LocalSecret {
            token_key: hex.as_bytes()[..64].to_vec(),
            s3_secret_key: hex[64..].to_owned(),
        })
    }

    /// The embedded S3 endpoint's secret access key.
    pub fn s3_secret_key(&self) -> &str {
        &self.s3_secret_key
    }

    /// A bearer token for `tenant` and `user` granting `scopes` (in the `scope` claim, as
    /// Cognito writes it), valid for `ttl_seconds` from `now`.
    pub fn issue_token(
        &self,
        names: &ClaimNames,
        tenant: &TenantId,
        user: &UserId,
        scopes: Scopes,
        now: Timestamp,
        ttl_seconds: u64,
    ) -> String {
        self.issue_token_with_groups(names, tenant, user, scopes, &[], now, ttl_seconds)
    }

    /// [`LocalSecret::issue_token`] for a user in `groups` (a JSON array in the groups claim, as
    /// Cognito writes `cognito:groups`; left out when empty).
    #[allow(clippy::too_many_arguments)]
    pub fn issue_token_with_groups(
        &self,
        names: &ClaimNames,
        tenant: &TenantId,
        user: &UserId,
        scopes: Scopes,
        groups: &[String],
        now: Timestamp,
        ttl_seconds: u64,
    ) -> String {
        let iat = now.millis() / 1000;
        let exp = now.plus_seconds(ttl_seconds).millis() / 1000;
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), json!(ISSUER));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(exp));
        claims.insert(names.user.clone(), json!(user.as_str()));
        claims.insert(names.tenant.clone(), json!(tenant.as_str()));
        claims.insert("scope".into(), json!(scopes.to_claim()));
        if !groups.is_empty() {
            claims.insert(names.groups.clone(), json!(groups));
        }
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Value::Object(claims),
            &EncodingKey::from_secret(&self.token_key),
        )
        .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// The token's claims as the API Gateway JWT authorizer passes them (every value a string;
    /// an array as API Gateway renders one, `[a b]`), or `None` if the token is not one of ours, is tampered with, or has expired.
    pub fn verify_token(&self, token: &str) -> Option<HashMap<String, String>> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.token_key),
            &validation,
        )
        .ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(name, value)| {
                    let text = match value {
                        Value::String(s) => s,
                        Value::Array(items) => {
                            let items: Vec<String> = items
                                .into_iter()
                                .map(|item| match item {
                                    Value::String(s) => s,
                                    other => other.to_string(),
                                })
                                .collect();
                            format!("[{}]", items.join(" "))
                        }
                        other => other.to_string(),
                    };
                    (name, text)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> (tempfile::TempDir, LocalSecret) {
        let dir = tempfile::tempdir().unwrap();
        let secret = LocalSecret::load_or_create(dir.path()).unwrap();
        (dir, secret)
    }

    fn now() -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }

    #[test]
    fn a_token_verifies_to_the_authorizer_claims() {
        let (_dir, secret) = secret();
        let token = secret.issue_token(
            &ClaimNames::default(),
            &TenantId::parse("acme").unwrap(),
            &UserId::parse("alice").unwrap(),
            Scopes::parse("files:read"),
            now(),
            3600,
        );
        let claims = secret.verify_token(&token).unwrap();
        assert_eq!(claims["scope"], "files:read");
        assert_eq!(claims["tenant_id"], "acme");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], ISSUER);
        // Groups arrive as API Gateway renders an array claim.
        let token = secret.issue_token_with_groups(
            &ClaimNames::default(),
            &TenantId::parse("acme").unwrap(),
            &UserId::parse("alice").unwrap(),
            Scopes::member(),
            &["admin".to_owned(), "eng".to_owned()],
            now(),
            60,
        );
        let claims = secret.verify_token(&token).unwrap();
        assert_eq!(claims["cognito:groups"], "[admin eng]");
        assert_eq!(
            stowage::identity::parse_groups(&claims["cognito:groups"]),
            ["admin", "eng"]
        );
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_rejected() {
        let (_dir, secret) = secret();
        let names = ClaimNames::default();
        let acme = TenantId::parse("acme").unwrap();
        let alice = UserId::parse("alice").unwrap();
        let token = secret.issue_token(&names, &acme, &alice, Scopes::all(), now(), 3600);
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(secret.verify_token(&tampered).is_none());

        let expired = secret.issue_token(
            &names,
            &acme,
            &alice,
            Scopes::all(),
            Timestamp::from_millis(now().millis() - 7_200_000),
            3600,
        );
        assert!(secret.verify_token(&expired).is_none());

        let (_other_dir, other) = self::secret();
        assert!(other.verify_token(&token).is_none());
        assert!(secret.verify_token("not a token").is_none());
    }

    #[test]
    fn the_secret_persists_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalSecret::load_or_create(dir.path()).unwrap();
        let second = LocalSecret::load_or_create(dir.path()).unwrap();
        assert_eq!(first.s3_secret_key(), second.s3_secret_key());
        let token = first.issue_token(
            &ClaimNames::default(),
            &TenantId::parse("t").unwrap(),
            &UserId::parse("u").unwrap(),
            Scopes::all(),
            now(),
            60,
        );
        assert!(second.verify_token(&token).is_some());
    }
}
