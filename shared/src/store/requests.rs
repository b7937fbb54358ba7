//! Per-tenant request limits: how many requests a tenant may start per second, and how many
//! may run at once. Both stores count them per window of [`REQUEST_WINDOW_SECONDS`]: a tenant
//! may start `perSecond × 10` requests in each window (so a burst may use the window's
//! allowance in less than its ten seconds), and have `concurrent` running.
//!
//! - `stowage-local` counts exactly, in memory.
//! - DynamoDB counts without an item that every request of a tenant touches: each window has
//!   [`REQUEST_SHARDS`] counter items per tenant, a request draws one at random, and each item
//!   takes its share of the limits (`⌈limit / shards⌉`). One conditional `UpdateItem` admits
//!   (`started < share AND running < share`, then `ADD started 1, running 1`), and one more
//!   ends (`ADD running -1`, on the same item). Admitted requests never pass the limits by more
//!   than the rounding (at most `shards - 1` each); with the draws uneven, a tenant just under
//!   a limit may be refused a little early. A request that runs across a window's end is not
//!   counted as running in the next window.

use crate::model::{TenantId, Timestamp};

/// Seconds each counting window lasts.
pub const REQUEST_WINDOW_SECONDS: i64 = 10;
/// Counter items per tenant and window on DynamoDB.
pub const REQUEST_SHARDS: u32 = 4;

/// The window `now` is in, and the seconds left of it (rounded up, at least 1).
pub(crate) fn window_of(now: Timestamp) -> (i64, u32) {
    let length = REQUEST_WINDOW_SECONDS * 1_000;
    let window = now.millis().div_euclid(length);
    let left = (window + 1) * length - now.millis();
    (
        window,
        u32::try_from((left + 999) / 1_000).unwrap_or(1).max(1),
    )
}

/// The limits a deployment sets on each tenant's requests (`None`: no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestLimits {
    /// Requests a tenant may start per second (counted per window).
    pub per_second: Option<u32>,
    /// Requests of a tenant that may run at once.
    pub concurrent: Option<u32>,
}

impl RequestLimits {
    /// Whether any limit is set.
    pub fn any(self) -> bool {
        self.per_second.is_some() || self.concurrent.is_some()
    }

    /// Requests a window admits in all (`None`: no limit).
    pub fn per_window(self) -> Option<u64> {
        self.per_second
            .map(|n| u64::from(n) * REQUEST_WINDOW_SECONDS as u64)
    }

    /// `limit` split over `shards` items: each one's share, rounded up.
    pub fn share(limit: u64, shards: u32) -> u64 {
        limit.div_ceil(u64::from(shards.max(1)))
    }
}

/// An admitted request: where it was counted, to end it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTicket {
    pub tenant: TenantId,
    /// The window it started in (epoch seconds / [`REQUEST_WINDOW_SECONDS`]).
    pub window: i64,
    /// The counter item it was counted on (DynamoDB; `0` elsewhere).
    pub shard: u32,
}

/// What [`super::MetadataStore::begin_request`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admitted {
    Yes(RequestTicket),
    /// Refused: the tenant started its window's allowance, or has its limit of requests
    /// running; worth trying again after this many seconds.
    No {
        retry_after_seconds: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_up_and_windows_hold_ten_seconds() {
        assert_eq!(RequestLimits::share(10, 4), 3);
        assert_eq!(RequestLimits::share(8, 4), 2);
        assert_eq!(RequestLimits::share(1, 4), 1);
        let limits = RequestLimits {
            per_second: Some(50),
            concurrent: None,
        };
        assert_eq!(limits.per_window(), Some(500));
        assert!(limits.any());
        assert!(!RequestLimits::default().any());
    }
}
