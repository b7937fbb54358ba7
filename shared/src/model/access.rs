//! Who may do what inside a tenant: principals, a collection's access lists and
//! overwrite rule, a file's grants, and the rights a caller has on one file.

use serde::{Deserialize, Serialize};

use super::FieldError;

/// Most groups of a token that are considered.
pub const MAX_GROUPS: usize = 32;
/// Most grants on one file.
pub const MAX_GRANTS: usize = 100;
/// Most entries of one access list.
pub const MAX_ACCESS_ENTRIES: usize = 100;
/// Longest user or group name in a principal.
const MAX_PRINCIPAL_NAME: usize = 128;

/// A user or a group of the tenant: `user:<id>` or `group:<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    User(String),
    Group(String),
}

/// Whether `name` may name a user or a group: 1–128 characters, none of them whitespace,
/// control characters, `,`, `[`, `]` or `"` (the separators groups claims use).
pub fn valid_principal_name(name: &str) -> bool {
    (1..=MAX_PRINCIPAL_NAME).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '[' | ']' | '"'))
}

impl Principal {
    /// `user:<id>` or `group:<name>`, reported against `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                format!("{text:?} is not a principal: write \"user:<id>\" or \"group:<name>\""),
            )
        };
        let (kind, name) = text.split_once(':').ok_or_else(bad)?;
        if !valid_principal_name(name) {
            return Err(bad());
        }
        match kind {
            "user" => Ok(Principal::User(name.to_owned())),
            "group" => Ok(Principal::Group(name.to_owned())),
            _ => Err(bad()),
        }
    }

    /// The principal as the API writes it.
    pub fn to_wire(&self) -> String {
        match self {
            Principal::User(u) => format!("user:{u}"),
            Principal::Group(g) => format!("group:{g}"),
        }
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Principal::parse("principal", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// One entry of an access list: every member of the tenant, or one principal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessEntry {
    Tenant,
    Principal(Principal),
}

impl AccessEntry {
    /// `"tenant"`, `"user:<id>"` or `"group:<name>"`.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        if text == "tenant" {
            return Ok(AccessEntry::Tenant);
        }
        Principal::parse(field, text)
            .map(AccessEntry::Principal)
            .map_err(|_| {
                FieldError::new(
                    field,
                    format!("{text:?} is not \"tenant\", \"user:<id>\" or \"group:<name>\""),
                )
            })
    }

    /// The entry as the API writes it.
    pub fn to_wire(&self) -> String {
        match self {
            AccessEntry::Tenant => "tenant".to_owned(),
            AccessEntry::Principal(p) => p.to_wire(),
        }
    }
}

impl Serialize for AccessEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for AccessEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AccessEntry::parse("access", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

fn everyone() -> Vec<AccessEntry> {
    vec![AccessEntry::Tenant]
}

fn is_everyone(list: &[AccessEntry]) -> bool {
    list == [AccessEntry::Tenant]
}

/// A collection's access lists: who may read its files, write them (create, update,
/// replace, upload) and delete them. Each defaults to `["tenant"]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionAccess {
    #[serde(default = "everyone", skip_serializing_if = "is_everyone")]
    pub read: Vec<AccessEntry>,
    #[serde(default = "everyone", skip_serializing_if = "is_everyone")]
    pub write: Vec<AccessEntry>,
    #[serde(default = "everyone", skip_serializing_if = "is_everyone")]
    pub delete: Vec<AccessEntry>,
}

impl Default for CollectionAccess {
    fn default() -> Self {
        CollectionAccess {
            read: everyone(),
            write: everyone(),
            delete: everyone(),
        }
    }
}

impl CollectionAccess {
    /// True when every list is `["tenant"]` (today's behaviour).
    pub fn is_default(&self) -> bool {
        *self == CollectionAccess::default()
    }
}

/// Who may start a new upload of a file that is already `uploaded`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overwrite {
    /// Anyone who may write the file.
    #[default]
    Writers,
    /// Its owner (and apps).
    Owner,
    /// Apps only.
    Apps,
}

impl Overwrite {
    /// The rule's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Overwrite::Writers => "writers",
            Overwrite::Owner => "owner",
            Overwrite::Apps => "apps",
        }
    }

    /// The rule from its wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Overwrite::Writers, Overwrite::Owner, Overwrite::Apps]
            .into_iter()
            .find(|o| o.as_str() == text)
    }

    /// Whether the rule is the default (`writers`).
    pub fn is_default(&self) -> bool {
        *self == Overwrite::Writers
    }
}

/// Who may make a collection's files public (`privateAccess: false`): a public file is
/// world-readable, so publishing is sharing, at least.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicFiles {
    /// A file's owner (and apps): whoever may share it.
    #[default]
    Owners,
    /// Apps only.
    Apps,
    /// Nobody: `privateAccess: false` is refused (`400`).
    Never,
}

impl PublicFiles {
    /// The rule's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicFiles::Owners => "owners",
            PublicFiles::Apps => "apps",
            PublicFiles::Never => "never",
        }
    }

    /// The rule from its wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [PublicFiles::Owners, PublicFiles::Apps, PublicFiles::Never]
            .into_iter()
            .find(|o| o.as_str() == text)
    }

    /// Whether the rule is the default (`owners`).
    pub fn is_default(&self) -> bool {
        *self == PublicFiles::Owners
    }
}

/// What a grant lets its principal do: read, or also write and delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Writer,
}

/// One grant on a file (collections with `fileSecurity`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub principal: Principal,
    pub role: Role,
}

/// A right on a file, as a `403` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    Read,
    /// Update, replace, uploads and their parts.
    Write,
    Delete,
    /// Changing the file's `grants`.
    Share,
    /// A new upload of the file (the overwrite rule applies if it is `uploaded`).
    Upload,
}

impl Right {
    /// The right's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Write => "write",
            Right::Delete => "delete",
            Right::Share => "share",
            Right::Upload => "upload",
        }
    }
}

/// Who a request acts as, for access decisions: its user, its groups, and whether it is an app.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user: &'a str,
    pub groups: &'a [String],
    pub app: bool,
}

impl Caller<'_> {
    /// Whether `principal` is this caller (its user or one of its groups).
    pub fn is(&self, principal: &Principal) -> bool {
        match principal {
            Principal::User(u) => u == self.user,
            Principal::Group(g) => self.groups.iter().any(|mine| mine == g),
        }
    }

    /// Whether an access list lets this caller in.
    pub fn listed(&self, list: &[AccessEntry]) -> bool {
        self.app
            || list.iter().any(|entry| match entry {
                AccessEntry::Tenant => true,
                AccessEntry::Principal(p) => self.is(p),
            })
    }

    /// The principals this caller acts as: `user:<id>` and each group.
    pub fn principals(&self) -> Vec<Principal> {
        std::iter::once(Principal::User(self.user.to_owned()))
            .chain(self.groups.iter().cloned().map(Principal::Group))
            .collect()
    }
}

/// What decides a caller's rights on the files of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub access: CollectionAccess,
    pub file_security: bool,
    pub overwrite: Overwrite,
    pub public_files: PublicFiles,
}

/// The facts about one file that rights depend on.
#[derive(Clone, Copy, Debug)]
pub struct FileFacts<'a> {
    pub owner: &'a str,
    pub grants: &'a [Grant],
    pub uploaded: bool,
}

impl Policy {
    /// Whether `caller` may `right` on a file with `file`'s facts in a collection with this
    /// policy. Access through the collection or through the file is enough; the owner and
    /// apps may do everything.
    pub fn allows(&self, caller: &Caller<'_>, file: FileFacts<'_>, right: Right) -> bool {
        let owner = caller.app || file.owner == caller.user;
        let granted = |writer: bool| {
            self.file_security
                && file
                    .grants
                    .iter()
                    .any(|g| caller.is(&g.principal) && (!writer || g.role == Role::Writer))
        };
        // Through the collection, a caller changes only what it sees through the collection:
        // `write` alone lets it create (and own) files, not change others' it was granted
        // a reader's role on.
        let sees = caller.listed(&self.access.read);
        let writes = owner || (sees && caller.listed(&self.access.write)) || granted(true);
        match right {
            Right::Read => owner || sees || granted(false),
            Right::Write => writes,
            Right::Delete => owner || (sees && caller.listed(&self.access.delete)) || granted(true),
            Right::Share => owner,
            Right::Upload => {
                writes
                    && (!file.uploaded
                        || match self.overwrite {
                            Overwrite::Writers => true,
                            Overwrite::Owner => owner,
                            Overwrite::Apps => caller.app,
                        })
            }
        }
    }

    /// Whether `caller` may create files in the collection.
    pub fn allows_create(&self, caller: &Caller<'_>) -> bool {
        caller.listed(&self.access.write)
    }

    /// Whether `caller` may read every file of the collection through the collection itself.
    pub fn reads_all(&self, caller: &Caller<'_>) -> bool {
        caller.listed(&self.access.read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller<'a>(user: &'a str, groups: &'a [String], app: bool) -> Caller<'a> {
        Caller { user, groups, app }
    }

    #[test]
    fn principals_and_entries_parse_strictly() {
        assert_eq!(
            Principal::parse("p", "user:bob").unwrap(),
            Principal::User("bob".into())
        );
        assert_eq!(
            Principal::parse("p", "group:eng").unwrap().to_wire(),
            "group:eng"
        );
        for bad in [
            "bob",
            "user:",
            "role:x",
            "user:a b",
            "group:a,b",
            "tenant",
            &format!("user:{}", "x".repeat(129)),
        ] {
            assert!(Principal::parse("p", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AccessEntry::parse("a", "tenant").unwrap(),
            AccessEntry::Tenant
        );
        assert!(AccessEntry::parse("a", "everyone").is_err());
        let json = serde_json::to_string(&Grant {
            principal: Principal::Group("eng".into()),
            role: Role::Writer,
        })
        .unwrap();
        assert_eq!(json, r#"{"principal":"group:eng","role":"writer"}"#);
        assert!(serde_json::from_str::<Grant>(r#"{"principal":"x","role":"reader"}"#).is_err());
    }

    #[test]
    fn rights_follow_the_collection_the_grants_and_the_owner() {
        let eng = vec!["eng".to_owned()];
        let none: Vec<String> = Vec::new();
        let private = Policy {
            access: CollectionAccess {
                read: vec![],
                write: vec![AccessEntry::Tenant],
                delete: vec![],
            },
            file_security: true,
            overwrite: Overwrite::Owner,
            public_files: PublicFiles::Owners,
        };
        let grants = [
            Grant {
                principal: Principal::User("bob".into()),
                role: Role::Reader,
            },
            Grant {
                principal: Principal::Group("eng".into()),
                role: Role::Writer,
            },
        ];
        let file = FileFacts {
            owner: "alice",
            grants: &grants,
            uploaded: true,
        };
        let alice = caller("alice", &none, false);
        let bob = caller("bob", &none, false);
        let carol = caller("carol", &eng, false);
        let dave = caller("dave", &none, false);
        let app = caller("svc", &none, true);
        for right in [
            Right::Read,
            Right::Write,
            Right::Delete,
            Right::Share,
            Right::Upload,
        ] {
            assert!(private.allows(&alice, file, right), "owner {right:?}");
            assert!(private.allows(&app, file, right), "app {right:?}");
            assert!(!private.allows(&dave, file, right), "stranger {right:?}");
        }
        assert!(private.allows(&bob, file, Right::Read));
        // A reader grantee does not write through the collection's tenant-wide `write`.
        assert!(!private.allows(&bob, file, Right::Write));
        assert!(!private.allows(&bob, file, Right::Delete));
        assert!(private.allows(&carol, file, Right::Delete));
        assert!(!private.allows(&carol, file, Right::Share));
        // The overwrite rule: a writer may not start a new upload of an uploaded file...
        assert!(!private.allows(&carol, file, Right::Upload));
        // ...but may while it is not uploaded yet.
        let pending = FileFacts {
            uploaded: false,
            ..file
        };
        assert!(private.allows(&carol, pending, Right::Upload));
        // Without fileSecurity, grants count for nothing.
        let plain = Policy {
            file_security: false,
            ..private.clone()
        };
        assert!(!plain.allows(&bob, file, Right::Read));
        assert!(Policy::default().allows(&dave, file, Right::Delete));
        assert!(plain.allows_create(&dave) && !plain.reads_all(&dave));
    }
}
