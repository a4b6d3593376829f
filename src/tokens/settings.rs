//! Tuning of the token manager, validated by the configuration.

use std::time::Duration;

/// Tuning of the token manager.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Burst of the per-portal rate limiter.
    pub rate_burst: u32,
    /// Drain rate of the per-portal rate limiter, per second.
    pub rate_per_sec: f64,
    /// Longest a call waits for the rate limiter.
    pub rate_max_wait: Duration,
    /// How long a refresh lease is held at most; see [`Settings::lease_for`].
    pub lease: Duration,
    /// Whether `http://` and loopback portals are acceptable (development only).
    pub allow_http: bool,
}

impl Settings {
    /// A lease that outlives the longest refresh: the OAuth call (`BITRIX_TIMEOUT`), then a
    /// commit that may wait out a busy database twice, plus a margin.
    pub fn lease_for(bitrix_timeout: Duration) -> Duration {
        bitrix_timeout + crate::store::BUSY_TIMEOUT * 2 + Duration::from_secs(5)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate_burst: 50,
            rate_per_sec: 2.0,
            rate_max_wait: Duration::from_secs(10),
            lease: Self::lease_for(Duration::from_secs(15)),
            allow_http: false,
        }
    }
}
