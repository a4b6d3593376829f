//! Keep-alive: refresh tokens that have not been refreshed for a long time, so a user who has not
//! opened the app for weeks does not find their refresh token dead (`docs/bitrix24.md`, "OAuth":
//! 180 days now, 28 days in older docs). Tokens are refreshed only once they are that old — never
//! on a fixed hourly or daily schedule per token, which the docs warn can get an app blocked —
//! spread over time with jitter and a bounded number at once.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;

use super::TokenManager;

/// Tuning of the keep-alive.
#[derive(Clone, Debug)]
pub struct KeepaliveSettings {
    /// Refresh tokens last refreshed longer ago than this.
    pub max_age: Duration,
    /// How often to look for such tokens (each look waits a random extra up to half of this).
    pub interval: Duration,
    /// At most this many refreshes per look.
    pub batch: u32,
    /// At most this many refreshes at once.
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

/// One pass at time `now` (unix seconds).
pub async fn run_once(
    manager: &Arc<TokenManager>,
    settings: &KeepaliveSettings,
    now: i64,
) -> Report {
    let max_age = i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX);
    let stale = match manager
        .store()
        .stale_accounts(now.saturating_sub(max_age), settings.batch)
        .await
    {
        Ok(stale) => stale,
        Err(error) => {
            tracing::error!(%error, "keep-alive could not list accounts");
            return Report::default();
        }
    };
    let gate = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (member_id, user_id) in stale {
        let (manager, gate) = (manager.clone(), gate.clone());
        let delay = jitter(settings.jitter);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let Ok(_permit) = gate.acquire().await else {
                return false;
            };
            match manager.refresh_now(&member_id, user_id).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%member_id, %user_id, %error, "keep-alive refresh failed");
                    false
                }
            }
        });
    }
    let mut report = Report::default();
    while let Some(done) = tasks.join_next().await {
        if done.unwrap_or(false) {
            report.refreshed += 1;
        } else {
            report.failed += 1;
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
