//! The cache's background check: every account a call used in the last minute is checked
//! against the store in a few batch queries several times a second, so a call finds its entry
//! fresh instead of reading its account's version itself (one query per account and second
//! was a tenth of the status path's work). A call still checks its own entry if this falls
//! behind, so an entry is never trusted for more than a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TokenManager;
use crate::store::StoreError;

/// How often the check runs, and how old an entry's last check must be for it to be included.
pub const CHECK_EVERY: Duration = Duration::from_millis(400);
/// Entries no call asked for in this long are left to the calls' own checks.
const IN_USE: Duration = Duration::from_secs(60);

/// What one check did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Entries the store still matched.
    pub confirmed: usize,
    /// Entries dropped: rotated, re-authorised, suspended, uninstalled or gone.
    pub dropped: usize,
}

impl TokenManager {
    /// Checks the entries in use that were last checked more than `older_than` ago.
    pub async fn check_cached(&self, older_than: Duration) -> Result<Checked, StoreError> {
        let due = self.cache.due(older_than, IN_USE);
        let mut checked = Checked::default();
        if due.is_empty() {
            return Ok(checked);
        }
        let keys: Vec<_> = due.iter().map(|(key, _)| key.clone()).collect();
        let asked = Instant::now();
        let versions: HashMap<_, _> = self
            .store
            .account_versions(&keys)
            .await?
            .into_iter()
            .collect();
        for (key, generation) in due {
            match versions.get(&key) {
                Some(version) if version.usable && version.generation == generation => {
                    self.cache.confirm(&key, version, asked);
                    checked.confirmed += 1;
                }
                _ => {
                    self.drop_stale(&key);
                    checked.dropped += 1;
                }
            }
        }
        Ok(checked)
    }

    /// Checks the cache every [`CHECK_EVERY`] until the process ends.
    pub async fn check_cache_forever(self: Arc<Self>) {
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = self.check_cached(CHECK_EVERY).await {
                tracing::warn!(%error, "could not check cached accounts against the database");
            }
        }
    }
}
