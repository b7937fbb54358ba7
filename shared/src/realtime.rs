//! Realtime (SPEC 20): the channel layout, which channels an identity may subscribe to, which
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

/// The channels an event of `record` (in a collection with `policy`) is published to: the
/// tenant's apps, everyone the collection lets read (the member channel for `tenant`), the
/// owner, and the grantees when the collection has `fileSecurity`. Exactly the audiences whose
/// members may read the file (SPEC 19), so nobody receives an event of a file it may not read.
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

/// What a subscriber's `data` carries as its `event` (JSON text): the event's `Detail` (SPEC
/// 15) plus its `type` (`stowage.file.uploaded`, …).
pub fn payload(event: &FileEvent) -> serde_json::Value {
    let mut detail = serde_json::to_value(&event.detail).unwrap_or_default();
    if let Some(map) = detail.as_object_mut() {
        map.insert("type".into(), event.detail_type().into());
    }
    detail
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
}
