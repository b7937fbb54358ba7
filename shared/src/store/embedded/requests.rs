//! Per-tenant request limits in `stowage-local`: exact counts in memory, by the same windows
//! as on DynamoDB (see `store::requests`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{TenantId, Timestamp};
use crate::store::requests::window_of;
use crate::store::{Admitted, RequestLimits, RequestTicket};

/// A tenant's window and what it holds.
#[derive(Default)]
struct Count {
    window: i64,
    started: u64,
    running: u64,
}

/// Every tenant's counts.
#[derive(Default)]
pub(super) struct Counts(Mutex<HashMap<TenantId, Count>>);

impl Counts {
    pub(super) fn begin(
        &self,
        tenant: &TenantId,
        limits: RequestLimits,
        now: Timestamp,
    ) -> Admitted {
        let (window, left) = window_of(now);
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(tenant.clone()).or_default();
        if count.window != window {
            count.window = window;
            count.started = 0;
        }
        if limits.per_window().is_some_and(|max| count.started >= max) {
            return Admitted::No {
                retry_after_seconds: left,
            };
        }
        if limits
            .concurrent
            .is_some_and(|max| count.running >= u64::from(max))
        {
            return Admitted::No {
                retry_after_seconds: 1,
            };
        }
        count.started += 1;
        count.running += 1;
        Admitted::Yes(RequestTicket {
            tenant: tenant.clone(),
            window,
            shard: 0,
        })
    }

    pub(super) fn end(&self, ticket: &RequestTicket) {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&ticket.tenant) {
            count.running = count.running.saturating_sub(1);
        }
    }
}
