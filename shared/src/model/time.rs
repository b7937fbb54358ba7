//! Millisecond-precision UTC timestamps, written as RFC 3339 (`2026-01-02T03:04:05.678Z`).

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision; its text form sorts like its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// From a chrono instant, dropping sub-millisecond digits.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Timestamp(at.timestamp_millis())
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded up: the DynamoDB TTL value for this instant, so
    /// TTL never removes an item before `expiresAt`.
    pub(crate) fn epoch_seconds_ceil(self) -> i64 {
        self.0.div_euclid(1000) + i64::from(self.0.rem_euclid(1000) != 0)
    }

    /// This instant plus `seconds`.
    pub fn plus_seconds(self, seconds: u64) -> Self {
        let add = i64::try_from(seconds).unwrap_or(i64::MAX / 1000);
        Timestamp(self.0.saturating_add(add.saturating_mul(1000)))
    }

    /// This instant plus `millis` milliseconds.
    pub(crate) fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// RFC 3339 UTC with milliseconds.
    pub fn to_rfc3339(self) -> String {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// RFC 3339 UTC to the second (`2026-11-23T11:21:16Z`), as EventBridge writes `time`.
    pub(crate) fn to_rfc3339_seconds(self) -> String {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Parses any RFC 3339 instant.
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| Timestamp::from_datetime(at.with_timezone(&Utc)))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc3339_with_milliseconds_in_utc() {
        let at = Timestamp::from_millis(1_767_323_045_678);
        assert_eq!(at.to_rfc3339(), "2026-01-02T03:04:05.678Z");
        assert_eq!(Timestamp::parse("2026-01-02T04:04:05.678+01:00"), Some(at));
    }

    #[test]
    fn ttl_seconds_round_up_so_ttl_never_precedes_expiry() {
        assert_eq!(Timestamp::from_millis(5_000).epoch_seconds_ceil(), 5);
        assert_eq!(Timestamp::from_millis(5_001).epoch_seconds_ceil(), 6);
    }

    #[test]
    fn text_order_matches_time_order() {
        let a = Timestamp::from_millis(1_000_000_000_000);
        let b = Timestamp::from_millis(1_000_000_000_001);
        assert!(a < b && a.to_rfc3339() < b.to_rfc3339());
    }
}
