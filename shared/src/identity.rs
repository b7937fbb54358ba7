//! Who a request acts as: a tenant and a user, named by JWT claims. (Reading them off a request
//! is the HTTP layer's job: `http::request::identity`.)

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

/// The tenant and user a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
}
