//! Keep-alive: refresh tokens before they get old, so a user who has not opened the app for
//! weeks does not find their refresh token dead (`docs/bitrix24.md`, "OAuth": 180 days now, 28
//! days in older docs). Every account is refreshed before its last refresh is `max_age`
//! (`KEEPALIVE_DAYS`) old: accounts become due at half that age, oldest first, and are
//! refreshed one after another at a steady pace worked out from how many accounts there are
//! — never on a fixed hourly or daily schedule per token, which the docs warn can get an app
//! blocked, and never faster than `max_per_second`, so the OAuth server sees a polite rate
//! however many accounts we keep (`docs/keepalive.md`).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::TokenManager;
use bitrix24::clock::unix_now_ms;

/// Tuning of the keep-alive.
#[derive(Clone, Debug)]
pub struct KeepaliveSettings {
    /// Every account is refreshed before its last refresh is this old.
    pub max_age: Duration,
    /// How often the pace is worked out again (each pass starts a random extra up to half of
    /// this later).
    pub interval: Duration,
    /// The most refreshes per second this instance sends the OAuth server.
    pub max_per_second: f64,
    /// The least, so a handful of due accounts is done within minutes.
    pub min_per_second: f64,
    /// At most this many refreshes at once (and accounts claimed at a time).
    pub concurrency: usize,
}

impl Default for KeepaliveSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(20 * 24 * 3600),
            interval: Duration::from_secs(15 * 60),
            max_per_second: 2.0,
            min_per_second: 0.2,
            concurrency: 4,
        }
    }
}

/// Headroom over the rate that refreshes every account exactly once per half window: what
/// drains a backlog of accounts that all fell due at once inside the other half
/// (`docs/keepalive.md`).
const HEADROOM: f64 = 2.5;

/// How fast one pass refreshes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    /// Refreshes started per second.
    pub per_second: f64,
    /// The cap bound it: with this many accounts the window cannot be promised.
    pub capped: bool,
}

impl KeepaliveSettings {
    /// Accounts last refreshed longer ago than this are due.
    pub fn due_age(&self) -> Duration {
        self.max_age / 2
    }

    /// The pace for `accounts` accounts in use.
    pub fn pace(&self, accounts: u64) -> Pace {
        let window = self.max_age.as_secs_f64().max(1.0);
        let wanted = HEADROOM * accounts as f64 / window;
        let ceiling = self.max_per_second.max(self.min_per_second);
        Pace {
            per_second: wanted.clamp(self.min_per_second, ceiling),
            capped: wanted > ceiling,
        }
    }

    /// How many refreshes a pass at `pace` makes: enough to keep going until the next pass
    /// starts, on average.
    pub fn budget(&self, pace: Pace) -> u32 {
        let mean_gap = self.interval.as_secs_f64() * 1.25;
        (pace.per_second * mean_gap)
            .ceil()
            .clamp(1.0, f64::from(u32::MAX)) as u32
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

impl TokenManager {
    /// One pass at time `now` (unix seconds): up to a budget of due accounts, started at the pace
    /// from the number of accounts in use. Work is claimed a few accounts at a time (as many as
    /// run at once), each claim a refresh lease of this process's, so instances sharing the
    /// database split the due accounts between them and a dead instance holds none for long.
    pub async fn keep_alive(self: &Arc<Self>, settings: &KeepaliveSettings, now: i64) -> Report {
        let due_age = i64::try_from(settings.due_age().as_secs()).unwrap_or(i64::MAX);
        let before = now.saturating_sub(due_age);
        let accounts = match self.store.account_counts().await {
            Ok(counts) => counts
                .iter()
                .filter(|(state, _)| state == "active")
                .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                .sum(),
            Err(error) => {
                tracing::error!(%error, "keep-alive could not count accounts");
                return Report::default();
            }
        };
        let pace = settings.pace(accounts);
        if pace.capped {
            tracing::warn!(
                accounts,
                per_second = pace.per_second,
                "too many accounts for the keep-alive's rate cap: the oldest tokens may outlive KEEPALIVE_DAYS"
            );
        }
        let spacing = Duration::from_secs_f64(1.0 / pace.per_second);
        let at_once = u32::try_from(settings.concurrency.max(1)).unwrap_or(u32::MAX);
        let (owner, lease) = self.refresher.lease_holder();
        // The lease covers the wait for the claim's turn as well as the refresh itself.
        let lease_ms =
            i64::try_from((lease + spacing * at_once).as_millis()).unwrap_or(i64::MAX / 4);
        let mut report = Report::default();
        let mut left = settings.budget(pace);
        let mut next_start = tokio::time::Instant::now();
        while left > 0 {
            // Leases are about elapsed time between processes: the wall clock.
            let now_ms = unix_now_ms();
            let claimed = match self
                .store
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
                let (manager, start) = (self.clone(), next_start);
                next_start += spacing;
                tasks.spawn(async move {
                    tokio::time::sleep_until(start).await;
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
                self.metrics.keepalive(refreshed);
                if refreshed {
                    report.refreshed += 1;
                } else {
                    report.failed += 1;
                }
            }
        }
        report
    }
}

/// A random delay up to `max`: keeps passes of several instances from lining up.
pub fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(
        rand::rng().random_range(0..=u64::try_from(max.as_millis()).unwrap_or(u64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600;

    #[test]
    fn the_pace_follows_the_accounts_between_floor_and_cap() {
        let settings = KeepaliveSettings::default();
        let few = settings.pace(10);
        assert_eq!(few.per_second, settings.min_per_second);
        assert!(!few.capped);
        // 1,000,000 accounts over 20 days: 2.5 × 1e6 / 1,728,000 s.
        let million = settings.pace(1_000_000);
        assert!((million.per_second - 1.4468).abs() < 0.001, "{million:?}");
        assert!(!million.capped);
        let too_many = settings.pace(10_000_000);
        assert_eq!(too_many.per_second, settings.max_per_second);
        assert!(too_many.capped);
    }

    #[test]
    fn a_pass_lasts_about_until_the_next_one() {
        let settings = KeepaliveSettings {
            max_age: Duration::from_secs(20 * DAY),
            ..KeepaliveSettings::default()
        };
        let pace = settings.pace(1_000_000);
        let budget = settings.budget(pace);
        let lasts = f64::from(budget) / pace.per_second;
        assert!(
            (lasts - 1125.0).abs() < 1.0,
            "{budget} refreshes last {lasts} s"
        );
        assert_eq!(settings.due_age(), Duration::from_secs(10 * DAY));
    }
}
