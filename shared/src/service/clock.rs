//! The time source. Lambda and `stowage-local` use the system clock; tests use a
//! [`ManualClock`] (feature `test-util`) to move time forward without waiting.

use crate::model::Timestamp;

/// The time source.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualClock;

#[cfg(any(test, feature = "test-util"))]
mod manual {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use super::Clock;
    use crate::model::Timestamp;

    /// A clock that moves only when told to.
    #[derive(Debug)]
    pub struct ManualClock(AtomicI64);

    impl ManualClock {
        /// A clock standing at `at`.
        pub fn new(at: Timestamp) -> Self {
            ManualClock(AtomicI64::new(at.millis()))
        }

        /// A clock standing at the system clock's now.
        pub fn starting_now() -> Self {
            Self::new(Timestamp::from_datetime(chrono::Utc::now()))
        }

        /// Moves the clock forward.
        pub fn advance(&self, by: Duration) {
            let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            self.0.fetch_add(millis, Ordering::SeqCst);
        }

        /// The clock's time in epoch milliseconds.
        pub fn now_millis(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_millis(self.0.load(Ordering::SeqCst))
        }
    }
}
