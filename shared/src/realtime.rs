//! Realtime: the channel layout, which channels an identity may subscribe to, which
//! channels a file's event is published to, and the event a subscriber receives.
//!
//! Channels live in the `stowage` namespace, one path per audience, each segment within the
//! 1–50 characters of `[A-Za-z0-9-]` that AppSync Events allows:
//!
//! | channel | who may subscribe | what it carries |
//! | --- | --- | --- |
//! | `/stowage/<t>/apps` | the tenant's apps (`files:admin`) | every file event of the tenant |
//! | `/stowage/<t>/tenant` | every member | files of collections whose `access.read` has `tenant` |
//! | `/stowage/<t>/u/<user>` | that user | its own files, files granted to it, collections listing it |
//! | `/stowage/<t>/g/<group>` | members of that group | files granted to the group, collections listing it |
//!
//! `<t>`, `<user>` and `<group>` are written as [`segment`] writes them. A subscriber may get
//! one event on several of its channels (a file it owns in a tenant-readable collection): the
//! `eventId` is the same, and clients drop repeats by it, as they do for redeliveries.

use sha2::Digest;

use crate::identity::Identity;
use crate::model::{AccessEntry, FileRecord, Policy, Principal, TenantId};
use crate::notify::FileEvent;

/// The channel namespace of Stowage's events.
pub const NAMESPACE: &str = "stowage";

/// A name as one channel segment: its UTF-8 bytes in lower-case hex when that fits in 50
/// characters (up to 25 bytes), else `h` and the first 48 hex digits of its SHA-256 (hex never
/// holds `h`, so the two forms cannot meet). Distinct names get distinct segments.
pub fn segment(name: &str) -> String {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    if name.len() <= 25 {
        hex(name.as_bytes())
    } else {
        format!("h{}", &hex(&sha2::Sha256::digest(name.as_bytes()))[..48])
    }
}

fn tenant_root(tenant: &TenantId) -> String {
    format!("/{NAMESPACE}/{}", segment(tenant.as_str()))
}

fn principal_channel(tenant: &TenantId, principal: &Principal) -> String {
    match principal {
        Principal::User(user) => format!("{}/u/{}", tenant_root(tenant), segment(user)),
        Principal::Group(group) => format!("{}/g/{}", tenant_root(tenant), segment(group)),
    }
}

/// The channels `who` may subscribe to: its tenant's member channel, its user's, each of its
/// groups', and for an app the tenant's app channel.
pub fn channels_for(who: &Identity) -> Vec<String> {
    let caller = who.caller();
    let mut channels = vec![format!("{}/tenant", tenant_root(&who.tenant))];
    channels.extend(
        caller
            .principals()
            .iter()
            .map(|p| principal_channel(&who.tenant, p)),
    );
    if caller.app {
        channels.push(format!("{}/apps", tenant_root(&who.tenant)));
    }
    channels
}

/// The channels `who` may subscribe to where the deployment requires scopes or not
/// (`STOWAGE_REQUIRE_SCOPES`): with scopes required, a token without `files:read` (which
/// `GET /realtime` needs) may subscribe to none.
pub fn subscribable(who: &Identity, require_scopes: bool) -> Vec<String> {
    if require_scopes && !who.scopes.contains(crate::identity::Scope::Read) {
        return Vec::new();
    }
    channels_for(who)
}

/// The channels an event of `record` (in a collection with `policy`) is published to: the
/// tenant's apps, everyone the collection lets read (the member channel for `tenant`), the
/// owner, and the grantees when the collection has `fileSecurity`. Exactly the audiences whose
/// members may read the file, so nobody receives an event of a file it may not read.
pub fn channels_of(record: &FileRecord, policy: &Policy) -> Vec<String> {
    let tenant = &record.tenant;
    let mut channels = vec![format!("{}/apps", tenant_root(tenant))];
    let mut add = |channel: String| {
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    };
    for entry in &policy.access.read {
        match entry {
            AccessEntry::Tenant => add(format!("{}/tenant", tenant_root(tenant))),
            AccessEntry::Principal(p) => add(principal_channel(tenant, p)),
        }
    }
    add(principal_channel(
        tenant,
        &Principal::User(record.uploaded_by.as_str().to_owned()),
    ));
    if policy.file_security {
        for grant in &record.grants {
            add(principal_channel(tenant, &grant.principal));
        }
    }
    channels
}

/// What a subscriber's `data` carries as its `event` (JSON text): the event's `Detail` plus
/// its `type` (`stowage.file.uploaded`, …).
pub fn payload(event: &FileEvent) -> serde_json::Value {
    let mut detail = serde_json::to_value(&event.detail).unwrap_or_default();
    if let Some(map) = detail.as_object_mut() {
        map.insert("type".into(), event.detail_type().into());
    }
    detail
}

/// The largest event AppSync Events delivers (240 KB); a larger one would be dropped.
pub const MAX_EVENT_BYTES: usize = 240 * 1000;

/// The fields of `file` an event keeps when it is trimmed.
const KEPT_WHEN_TRIMMED: [&str; 8] = [
    "id",
    "tenant",
    "collection",
    "status",
    "version",
    "size",
    "kind",
    "updatedAt",
];

/// The `data` event as subscribers receive it (JSON text of [`payload`]), within
/// [`MAX_EVENT_BYTES`]: an event that would not fit keeps only the file's id, tenant,
/// collection, status, version, size, kind and time, and says `"trimmed": true`; the
/// subscriber reads the rest with `GET /files/{id}`. (Within today's limits on names,
/// metadata, tags and grants an event stays far below this, so it never happens; it keeps a
/// future limit from silently losing events.)
pub fn event_text(event: &FileEvent) -> String {
    let full = payload(event);
    let text = full.to_string();
    if text.len() <= MAX_EVENT_BYTES {
        return text;
    }
    trimmed(full).to_string()
}

fn trimmed(mut event: serde_json::Value) -> serde_json::Value {
    if let Some(file) = event.get_mut("file").and_then(|f| f.as_object_mut()) {
        file.retain(|name, _| KEPT_WHEN_TRIMMED.contains(&name.as_str()));
    }
    if let Some(map) = event.as_object_mut() {
        map.insert("trimmed".into(), true.into());
    }
    event
}

/// The subscribe guard of the AppSync Events API (the `authorize-subscribe` function, the
/// channel namespace's `onSubscribe` handler): `context` is what AppSync sends (the caller's
/// verified token claims under `identity.claims`, the channel under `info.channel.path`).
/// `Ok` when the channel is one of the caller's own ([`subscribable`]); else the reason, which
/// AppSync answers the subscriber with as `subscribe_error`.
pub fn authorize_subscribe(
    context: &serde_json::Value,
    names: &crate::identity::ClaimNames,
    require_scopes: bool,
) -> Result<(), String> {
    let channel = context["info"]["channel"]["path"]
        .as_str()
        .ok_or("the request names no channel")?;
    let claims: std::collections::HashMap<String, String> = context["identity"]["claims"]
        .as_object()
        .ok_or("the subscriber has no token claims (only OIDC tokens may subscribe)")?
        .iter()
        .map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                // An array claim (groups) as its JSON text, which the groups reader takes.
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect();
    let who = crate::http::identity_of_claims(&claims, std::iter::empty(), names)
        .map_err(|_| "the token names no valid tenant and user".to_owned())?;
    if subscribable(&who, require_scopes)
        .iter()
        .any(|c| c == channel)
    {
        Ok(())
    } else {
        Err(format!(
            "{channel} is not one of this identity's channels (GET /realtime lists them)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Scopes;
    use crate::model::{CollectionAccess, FileId, Grant, Role, Timestamp, UserId};

    fn member(user: &str, groups: &[&str], scopes: Scopes) -> Identity {
        Identity {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Identity::member(
                TenantId::parse("acme").unwrap(),
                UserId::parse(user).unwrap(),
                scopes,
            )
        }
    }

    #[test]
    fn segments_fit_appsync_and_never_meet() {
        for name in [
            "acme",
            "a b",
            "ü",
            &"x".repeat(25),
            &"x".repeat(26),
            &"y".repeat(128),
        ] {
            let s = segment(name);
            assert!((1..=50).contains(&s.len()), "{name}: {s}");
            assert!(
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{s}"
            );
        }
        assert_ne!(segment(&"x".repeat(26)), segment(&"x".repeat(27)));
        assert_eq!(segment("acme"), "61636d65");
    }

    #[test]
    fn an_event_reaches_exactly_those_who_may_read_the_file() {
        let mut record = FileRecord::fixture("acme", FileId::generate(), Timestamp::from_millis(0));
        record.uploaded_by = UserId::parse("olivia").unwrap();
        record.grants = vec![Grant {
            principal: Principal::Group("eng".into()),
            role: Role::Reader,
        }];
        let private = Policy {
            access: CollectionAccess {
                read: vec![],
                ..CollectionAccess::default()
            },
            file_security: true,
            ..Policy::default()
        };
        let published = channels_of(&record, &private);
        let receives = |who: &Identity| channels_for(who).iter().any(|c| published.contains(c));
        let owner = member("olivia", &[], Scopes::member());
        let gus = member("gus", &["eng"], Scopes::member());
        let oscar = member("oscar", &["ops"], Scopes::member());
        let app = member("app", &[], Scopes::all());
        for who in [&owner, &gus, &app] {
            assert!(receives(who), "{}", who.user);
        }
        assert!(!receives(&oscar));
        // In `default`, every member.
        assert!(channels_of(&record, &Policy::default())
            .iter()
            .any(|c| channels_for(&oscar).contains(c)));
        // Grants count only with fileSecurity.
        let closed = Policy {
            file_security: false,
            ..private
        };
        assert!(!channels_of(&record, &closed)
            .iter()
            .any(|c| channels_for(&gus).contains(c)));
    }

    fn created(record: &FileRecord) -> FileEvent {
        FileEvent::of(&crate::store::RecordChange {
            sequence_number: "1".into(),
            old: None,
            new: Some(record.clone()),
            expired: false,
            at: None,
        })
        .expect("an insert is an event")
    }

    #[test]
    fn an_event_too_large_for_appsync_is_trimmed_to_what_names_the_change() {
        let record = FileRecord::fixture("acme", FileId::generate(), Timestamp::from_millis(0));
        let small = created(&record);
        let text = event_text(&small);
        assert_eq!(text, payload(&small).to_string(), "a normal event is whole");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["type"], "stowage.file.created");
        assert!(parsed.get("trimmed").is_none());

        // No limit lets a record grow this large today; the trim is the guard if one ever does.
        let mut large = created(&record);
        large.detail.file["metadata"] = serde_json::json!({"blob": "x".repeat(MAX_EVENT_BYTES)});
        let text = event_text(&large);
        assert!(text.len() < 2_000, "{}", text.len());
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["trimmed"], true);
        assert_eq!(parsed["eventId"], large.detail.event_id);
        assert_eq!(parsed["type"], "stowage.file.created");
        assert_eq!(parsed["file"]["id"], record.id.to_string());
        assert_eq!(parsed["file"]["version"], record.version);
        assert_eq!(parsed["file"]["status"], "pending");
        assert!(parsed["file"].get("metadata").is_none());
        assert!(parsed["file"].get("name").is_none());
    }

    /// What AppSync sends the `onSubscribe` Lambda for an OIDC subscriber.
    fn subscribe_context(claims: serde_json::Value, channel: &str) -> serde_json::Value {
        let segments: Vec<&str> = channel.trim_start_matches('/').split('/').collect();
        serde_json::json!({
            "identity": {"sub": claims["sub"], "issuer": "https://issuer.example", "claims": claims},
            "info": {
                "channel": {"path": channel, "segments": segments},
                "channelNamespace": {"name": NAMESPACE},
                "operation": "SUBSCRIBE"
            },
            "request": {"headers": {}, "domainName": null},
            "events": null,
            "stash": {},
            "outErrors": [],
            "result": null,
            "error": null,
            "prev": null
        })
    }

    #[test]
    fn the_subscribe_guard_lets_an_identity_subscribe_to_its_own_channels_only() {
        let names = crate::identity::ClaimNames::default();
        let gus = serde_json::json!({
            "sub": "3f1c7e9a-5b2d-4c8e-9a01-6d2f8b7c4e10",
            "tenant_id": "acme",
            "cognito:groups": ["eng", "ops"],
            "scope": "files:read",
            "token_use": "access"
        });
        let who = Identity {
            groups: vec!["eng".into(), "ops".into()],
            ..Identity::member(
                TenantId::parse("acme").unwrap(),
                UserId::parse("3f1c7e9a-5b2d-4c8e-9a01-6d2f8b7c4e10").unwrap(),
                Scopes::parse("files:read"),
            )
        };
        let own = channels_for(&who);
        assert_eq!(own.len(), 4, "{own:?}");
        for channel in &own {
            assert_eq!(
                authorize_subscribe(&subscribe_context(gus.clone(), channel), &names, false),
                Ok(())
            );
        }
        let other_user = member("olivia", &[], Scopes::member());
        let globex = Identity {
            tenant: TenantId::parse("globex").unwrap(),
            ..who.clone()
        };
        let refused = [
            // Another user's, the apps' (gus is no app), another tenant's, a made-up one.
            channels_for(&other_user)[1].clone(),
            format!("/{NAMESPACE}/{}/apps", segment("acme")),
            channels_for(&globex)[0].clone(),
            format!("/{NAMESPACE}/{}/g/{}", segment("acme"), segment("admins")),
            format!("/{NAMESPACE}/*"),
        ];
        for channel in &refused {
            let err = authorize_subscribe(&subscribe_context(gus.clone(), channel), &names, false)
                .expect_err(channel);
            assert!(err.contains("not one of this identity's channels"), "{err}");
        }
        // An app may subscribe to the tenant's app channel.
        let app = serde_json::json!({"sub": "ci", "tenant_id": "acme", "scope": "files:admin"});
        let apps = format!("/{NAMESPACE}/{}/apps", segment("acme"));
        assert_eq!(
            authorize_subscribe(&subscribe_context(app, &apps), &names, false),
            Ok(())
        );
        // No claims (an IAM or API-key caller), or claims without a tenant: refused.
        let mut no_identity = subscribe_context(gus.clone(), &own[0]);
        no_identity["identity"] = serde_json::Value::Null;
        assert!(authorize_subscribe(&no_identity, &names, false).is_err());
        let no_tenant = serde_json::json!({"sub": "gus"});
        assert!(
            authorize_subscribe(&subscribe_context(no_tenant, &own[0]), &names, false).is_err()
        );
        // The sample event of the function is such a request, and is allowed.
        let sample: serde_json::Value =
            serde_json::from_str(include_str!("../../events/authorize-subscribe.json")).unwrap();
        assert_eq!(authorize_subscribe(&sample, &names, false), Ok(()));
        // Where scopes are required, only a token with files:read may subscribe (as only it
        // may call GET /realtime); gus has it, a token with only files:write does not.
        assert_eq!(
            authorize_subscribe(&subscribe_context(gus.clone(), &own[0]), &names, true),
            Ok(())
        );
        let mut writer = gus.clone();
        writer["scope"] = "files:write".into();
        assert!(
            authorize_subscribe(&subscribe_context(writer.clone(), &own[0]), &names, true).is_err()
        );
        assert_eq!(
            authorize_subscribe(&subscribe_context(writer, &own[0]), &names, false),
            Ok(())
        );
    }
}
