//! Keep-alive: refresh tokens that have not been refreshed for a long time, so a user who has not
//! opened the app for weeks does not find their refresh token dead (`docs/bitrix24.md`, "OAuth":
//! 180 days now, 28 days in older docs). Tokens are refreshed only once they are that old — never
//! on a fixed hourly or daily schedule per token, which the docs warn can get an app blocked —
//! spread over time with jitter and a bounded number at once.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::TokenManager;
use crate::clock::unix_now_ms;

/// Tuning of the keep-alive.
#[derive(Clone, Debug)]
pub struct KeepaliveSettings {
    /// Refresh tokens last refreshed longer ago than this.
    pub max_age: Duration,
    /// How often to look for such tokens (each look waits a random extra up to half of this).
    pub interval: Duration,
    /// At most this many refreshes per look.
    pub batch: u32,
    /// At most this many refreshes at once (and accounts claimed at a time).
    pub concurrency: usize,
    /// Each refresh starts after a random delay up to this.
    pub jitter: Duration,
}

impl Default for KeepaliveSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(20 * 24 * 3600),
            interval: Duration::from_secs(15 * 60),
            batch: 200,
            concurrency: 4,
            jitter: Duration::from_secs(5),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Accounts refreshed.
    pub refreshed: usize,
    /// Accounts whose refresh failed (kept for the next pass, or marked needs-reauth).
    pub failed: usize,
}

/// One pass at time `now` (unix seconds). Work is claimed a few accounts at a time (as many as
/// run at once), each claim a refresh lease of this process's, so instances sharing the
/// database split the stale accounts between them and a dead instance holds none for long.
pub async fn run_once(
    manager: &Arc<TokenManager>,
    settings: &KeepaliveSettings,
    now: i64,
) -> Report {
    let max_age = i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX);
    let before = now.saturating_sub(max_age);
    let at_once = u32::try_from(settings.concurrency.max(1)).unwrap_or(u32::MAX);
    let (owner, lease) = manager.refresher.lease_holder();
    // The lease covers the jitter before the refresh as well as the refresh itself.
    let lease_ms = i64::try_from((lease + settings.jitter).as_millis()).unwrap_or(i64::MAX / 4);
    let mut report = Report::default();
    let mut left = settings.batch;
    while left > 0 {
        // Leases are about elapsed time between processes: the wall clock.
        let now_ms = unix_now_ms();
        let claimed = match manager
            .store()
            .claim_stale_accounts(before, left.min(at_once), owner, now_ms, now_ms + lease_ms)
            .await
        {
            Ok(claimed) if claimed.is_empty() => break,
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "keep-alive could not claim accounts");
                break;
            }
        };
        left = left.saturating_sub(u32::try_from(claimed.len()).unwrap_or(u32::MAX));
        let mut tasks = tokio::task::JoinSet::new();
        for (member_id, user_id) in claimed {
            let (manager, delay) = (manager.clone(), jitter(settings.jitter));
            tasks.spawn(async move {
                tokio::time::sleep(delay).await;
                match manager.refresh_now(&member_id, user_id).await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(%member_id, %user_id, %error, "keep-alive refresh failed");
                        false
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            let refreshed = done.unwrap_or(false);
            manager.metrics().keepalive(refreshed);
            if refreshed {
                report.refreshed += 1;
            } else {
                report.failed += 1;
            }
        }
    }
    report
}

/// A random delay up to `max`: keeps passes and refreshes from lining up.
pub fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(
        rand::rng().random_range(0..=u64::try_from(max.as_millis()).unwrap_or(u64::MAX)),
    )
}
