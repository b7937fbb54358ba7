//! Per-tenant request limits: each request of a tenant is counted before it runs and ended
//! after, against the deployment's limits (`store::requests` has how each store counts).

use super::Service;
use crate::blob::ObjectStore;
use crate::error::ApiError;
use crate::model::TenantId;
use crate::store::{Admitted, MetadataStore, RequestTicket};

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> Service<M, O> {
    /// Counts a request of `tenant`: `Ok(None)` where the deployment sets no limit, `429
    /// too_many_requests` with the seconds to wait where the tenant is over one.
    pub async fn begin_request(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<RequestTicket>, ApiError> {
        let limits = self.settings.request_limits;
        if !limits.any() {
            return Ok(None);
        }
        match self
            .store
            .begin_request(tenant, limits, self.clock.now())
            .await?
        {
            Admitted::Yes(ticket) => Ok(Some(ticket)),
            Admitted::No {
                retry_after_seconds,
            } => Err(ApiError::TooManyRequests {
                detail: format!(
                    "this tenant is over its request limits ({}); retry after {retry_after_seconds} s",
                    describe(limits)
                ),
                retry_after: retry_after_seconds,
            }),
        }
    }

    /// Ends a request [`Self::begin_request`] counted. A failure is logged: the count of
    /// running requests then stays one too high until the window ends.
    pub async fn end_request(&self, ticket: Option<RequestTicket>) {
        if let Some(ticket) = ticket {
            if let Err(err) = self.store.end_request(&ticket).await {
                tracing::warn!(error = ?err, "could not end a counted request");
            }
        }
    }
}

fn describe(limits: crate::store::RequestLimits) -> String {
    let mut parts = Vec::new();
    if let Some(n) = limits.per_second {
        parts.push(format!("{n} requests a second"));
    }
    if let Some(n) = limits.concurrent {
        parts.push(format!("{n} at once"));
    }
    parts.join(", ")
}
