//! Who a request acts as: a tenant and a user, named by JWT claims, and the OAuth scopes the
//! token grants. (Reading them off a request is the HTTP layer's job: `http/request.rs`.)

use crate::model::{TenantId, UserId};

/// Which JWT claims carry the tenant and the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    pub tenant: String,
    pub user: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            tenant: "tenant_id".to_owned(),
            user: "sub".to_owned(),
        }
    }
}

/// An OAuth 2.0 scope Stowage checks (SPEC section 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every `GET`.
    Read,
    /// Create, update, replace, uploads and their parts.
    Write,
    /// Deletes.
    Delete,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Delete];

    /// The scope as tokens carry it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "files:read",
            Scope::Write => "files:write",
            Scope::Delete => "files:delete",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Write => 2,
            Scope::Delete => 4,
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

    /// Whether the token grants `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The granted scopes as a `scope` claim writes them.
    pub fn to_claim(self) -> String {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
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

/// The tenant and user a request acts as, and the scopes its token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
    pub scopes: Scopes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_from_every_form_tokens_use() {
        let all = Scopes::all();
        assert_eq!(Scopes::parse("files:read files:write files:delete"), all);
        assert_eq!(Scopes::parse("[files:read files:write files:delete]"), all);
        assert_eq!(
            Scopes::parse(r#"["files:read","files:delete"]"#),
            Scopes::from_iter([Scope::Read, Scope::Delete])
        );
        let read = Scopes::parse("openid files:read profile");
        assert!(read.contains(Scope::Read) && !read.contains(Scope::Write));
        assert_eq!(Scopes::parse("files:readwrite files"), Scopes::default());
        assert_eq!(all.to_claim(), "files:read files:write files:delete");
    }
}
