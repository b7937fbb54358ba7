//! Who a request acts as: the tenant and user from the API Gateway JWT authorizer's claims.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::error::ApiError;
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

impl Identity {
    /// Reads the identity from the authorizer claims on an HTTP API (v2) request; `401` when
    /// either claim is missing or not a valid id.
    pub fn from_request(req: &Request, names: &ClaimNames) -> Result<Self, ApiError> {
        let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() else {
            return Err(ApiError::Unauthorized);
        };
        let claims = context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| &jwt.claims)
            .ok_or(ApiError::Unauthorized)?;
        let claim = |name: &str| claims.get(name).map(String::as_str).unwrap_or_default();
        let tenant = TenantId::parse(claim(&names.tenant)).map_err(|_| ApiError::Unauthorized)?;
        let user = UserId::parse(claim(&names.user)).map_err(|_| ApiError::Unauthorized)?;
        Ok(Identity { tenant, user })
    }
}
