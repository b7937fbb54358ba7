//! Who a request acts as: a tenant and a user, named by JWT claims, and the OAuth scopes the
//! token grants. (Reading them off a request is the HTTP layer's job: `http/request.rs`.)

use crate::model::{valid_principal_name, Caller, TenantId, UserId, MAX_GROUPS};

/// Which JWT claims carry the tenant and the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    pub tenant: String,
    pub user: String,
    /// The claim that lists the user's groups.
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            tenant: "tenant_id".to_owned(),
            user: "sub".to_owned(),
            groups: "cognito:groups".to_owned(),
        }
    }
}

/// An OAuth 2.0 scope Stowage checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every `GET`.
    Read,
    /// Create, update, replace, uploads and their parts.
    Write,
    /// Deletes.
    Delete,
    /// Managing collections and limits. A token with it is an app: it also has
    /// every other scope. Its routes need it even when scopes are not required.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Delete, Scope::Admin];

    /// The scope as tokens carry it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "files:read",
            Scope::Write => "files:write",
            Scope::Delete => "files:delete",
            Scope::Admin => "files:admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Write => 2,
            Scope::Delete => 4,
            Scope::Admin => 8,
        }
    }
}

/// The scopes a token grants (others than Stowage's are ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Every Stowage scope.
    pub fn all() -> Self {
        Scopes::from_iter(Scope::ALL)
    }

    /// The Stowage scopes among whitespace-, comma- or bracket-separated scope names: the
    /// `scope` claim (`"files:read files:write"`), the `scp` claim as API Gateway renders an
    /// array (`"[files:read files:write]"`), or a JSON array's text.
    pub fn parse(text: &str) -> Self {
        text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '"'))
            .filter_map(|name| Scope::ALL.into_iter().find(|s| s.as_str() == name))
            .collect()
    }

    /// Whether the token grants `scope` (`files:admin` grants every scope).
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Whether the token is an app's (`files:admin`).
    pub fn is_admin(self) -> bool {
        self.0 & Scope::Admin.bit() != 0
    }

    /// Stowage's scopes for a member: read, write and delete (no `files:admin`).
    pub fn member() -> Self {
        Scopes::from_iter([Scope::Read, Scope::Write, Scope::Delete])
    }

    /// The granted scopes as a `scope` claim writes them.
    pub fn to_claim(self) -> String {
        Scope::ALL
            .into_iter()
            .filter(|s| self.0 & s.bit() != 0)
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        Scopes(scopes.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl std::ops::BitOr for Scopes {
    type Output = Scopes;

    fn bitor(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }
}

/// The groups in a groups claim, in every form it arrives in: a JSON array's text
/// (`["admin","eng"]`), a space- or comma-separated string (`"admin eng"`, `"admin,eng"`), or
/// API Gateway's rendering of an array claim (`"[admin eng]"`, elements joined by spaces).
/// Names that cannot name a group (a separator in them: space, comma, bracket, quote) are
/// dropped, never split into other groups' names; duplicates too; at most [`MAX_GROUPS`] are
/// kept, in claim order.
pub fn parse_groups(text: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    let trimmed = text.trim();
    let names: Vec<String> = match serde_json::from_str::<Vec<String>>(trimmed) {
        Ok(array) => array,
        // API Gateway's rendering of an array: only spaces separate its elements, so an
        // element with a comma in it stays one (invalid) name.
        Err(_) if trimmed.starts_with('[') && trimmed.ends_with(']') => trimmed
            [1..trimmed.len() - 1]
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        Err(_) => trimmed
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(str::to_owned)
            .collect(),
    };
    for name in names {
        if groups.len() == MAX_GROUPS {
            break;
        }
        if valid_principal_name(&name) && !groups.contains(&name) {
            groups.push(name);
        }
    }
    groups
}

/// The tenant and user a request acts as, its groups, and the scopes its token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
    pub scopes: Scopes,
    /// The token's groups (at most [`MAX_GROUPS`]).
    pub groups: Vec<String>,
}

impl Identity {
    /// A member's identity with no groups.
    pub fn member(tenant: TenantId, user: UserId, scopes: Scopes) -> Self {
        Identity {
            tenant,
            user,
            scopes,
            groups: Vec::new(),
        }
    }

    /// The change's `actor` as events show it.
    pub fn actor(&self) -> crate::model::Actor {
        crate::model::Actor {
            user: self.user.clone(),
            app: self.scopes.is_admin(),
        }
    }

    /// Who the request acts as, for access decisions.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            user: self.user.as_str(),
            groups: &self.groups,
            app: self.scopes.is_admin(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_group_named_with_a_separator_is_ignored_never_split() {
        // API Gateway renders ["eng,admins", "ops"] as "[eng,admins ops]".
        assert_eq!(super::parse_groups("[eng,admins ops]"), ["ops"]);
        assert_eq!(super::parse_groups(r#"["eng,admins","ops"]"#), ["ops"]);
        assert_eq!(super::parse_groups(r#"["a]b","[c","d\"e","f"]"#), ["f"]);
        // The plain string forms still separate by spaces and commas.
        assert_eq!(
            super::parse_groups("eng,ops admins"),
            ["eng", "ops", "admins"]
        );
        assert_eq!(super::parse_groups("[eng ops]"), ["eng", "ops"]);
    }

    use super::*;

    #[test]
    fn scopes_are_read_from_every_form_tokens_use() {
        let all = Scopes::all();
        let member = Scopes::member();
        assert_eq!(Scopes::parse("files:read files:write files:delete"), member);
        assert_eq!(
            Scopes::parse("[files:read files:write files:delete]"),
            member
        );
        assert_eq!(
            Scopes::parse("files:read files:write files:delete files:admin"),
            all
        );
        assert_eq!(
            Scopes::parse(r#"["files:read","files:delete"]"#),
            Scopes::from_iter([Scope::Read, Scope::Delete])
        );
        let read = Scopes::parse("openid files:read profile");
        assert!(read.contains(Scope::Read) && !read.contains(Scope::Write));
        assert_eq!(Scopes::parse("files:readwrite files"), Scopes::default());
        assert_eq!(
            all.to_claim(),
            "files:read files:write files:delete files:admin"
        );
        let admin = Scopes::parse("files:admin");
        assert!(admin.is_admin() && admin.contains(Scope::Delete));
        assert!(!Scopes::member().is_admin() && !Scopes::member().contains(Scope::Admin));
    }

    #[test]
    fn groups_are_read_from_every_form_a_claim_arrives_in() {
        let both = vec!["admin".to_owned(), "eng".to_owned()];
        for text in [
            r#"["admin","eng"]"#,
            "[admin eng]",
            "admin eng",
            "admin,eng",
            "admin, eng",
            " [admin eng admin] ",
        ] {
            assert_eq!(parse_groups(text), both, "{text:?}");
        }
        // In API Gateway's rendering only spaces separate: a comma belongs to a name (which
        // is then no group's), so "[a, b]" is not read as two groups.
        assert_eq!(parse_groups("[admin, eng]"), vec!["eng".to_owned()]);
        assert_eq!(parse_groups(""), Vec::<String>::new());
        assert_eq!(parse_groups("[]"), Vec::<String>::new());
        // A JSON array keeps names with other characters than the separators.
        assert_eq!(parse_groups(r#"["a:b"]"#), vec!["a:b".to_owned()]);
        let many: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
        let kept = parse_groups(&many.join(" "));
        assert_eq!(kept.len(), MAX_GROUPS);
        assert_eq!(kept[..], many[..MAX_GROUPS]);
    }
}
