//! The token manager's in-memory copy of what a call needs, so the hot path skips decrypting
//! rows. A cache is a second copy of the truth: an entry is trusted for at most
//! [`CHECK_AFTER`] before its account's version (generation and state, no decryption) is read
//! again, so a rotation, re-authorisation or uninstall made by any process sharing the
//! database reaches every copy within a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use super::Key;
use crate::domain::MemberId;
use crate::store::Tokens;

/// How long an entry is used before its account's version is checked again.
pub const CHECK_AFTER: Duration = Duration::from_secs(1);
/// Most accounts kept in memory.
const CAPACITY: usize = 50_000;

/// What a call on an account's behalf needs.
#[derive(Clone)]
pub(super) struct Hot {
    /// The portal's REST endpoint.
    pub endpoint: Url,
    /// The REST endpoint of the portal's OAuth server.
    pub server: Url,
    /// The pair.
    pub tokens: Tokens,
    /// The pair's generation in the store.
    pub generation: i64,
}

struct Entry {
    hot: Hot,
    checked: Instant,
}

/// Accounts by key, each with when it was last known to match the store.
#[derive(Default)]
pub(super) struct Cache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry, and whether it was checked against the store less than [`CHECK_AFTER`] ago.
    pub fn get(&self, key: &Key) -> Option<(Hot, bool)> {
        self.entries()
            .get(key)
            .map(|entry| (entry.hot.clone(), entry.checked.elapsed() < CHECK_AFTER))
    }

    /// Stores what was just read from (or written to) the store.
    pub fn put(&self, key: &Key, hot: &Hot) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            let stale = Instant::now().checked_sub(CHECK_AFTER);
            entries.retain(|_, e| stale.is_some_and(|stale| e.checked > stale));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key.clone(),
            Entry {
                hot: hot.clone(),
                checked: Instant::now(),
            },
        );
    }

    /// The store still holds what this entry holds, as of now.
    pub fn confirm(&self, key: &Key, generation: i64) {
        if let Some(entry) = self.entries().get_mut(key)
            && entry.hot.generation == generation
        {
            entry.checked = Instant::now();
        }
    }

    /// Drops one account.
    pub fn forget(&self, key: &Key) {
        self.entries().remove(key);
    }

    /// Drops every account of a portal (an uninstall or suspension).
    pub fn forget_portal(&self, member_id: &MemberId) {
        self.entries().retain(|(member, _), _| member != member_id);
    }
}
