//! The token manager's in-memory copy of what a call needs, so the hot path skips decrypting
//! rows. A cache is a second copy of the truth: an entry is trusted for at most
//! [`CHECK_AFTER`] before its account's version (generation, state, whether a timer runs or a
//! schedule is saved; no decryption) is read again, so a rotation, re-authorisation, uninstall,
//! timer or schedule made by
//! any process sharing the database reaches every copy within a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use super::{CallError, Key, refresh};
use crate::store::{AccountRecord, AccountVersion, CallTarget, StoreError, Tokens};
use bitrix24::domain::MemberId;
use bitrix24::domain::UserId;

/// How long an entry is used before its account's version is checked again.
pub const CHECK_AFTER: Duration = Duration::from_secs(1);
/// Most accounts kept in memory.
const CAPACITY: usize = 50_000;

/// Whether an account's pair is known to be gone (never stored, `reauth`, uninstalled): the
/// only case in which a pair from the browser or an event may take its place.
fn pair_gone(error: &CallError) -> bool {
    matches!(error, CallError::NeedsReauth | CallError::NotInstalled)
}

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
    /// Whether the account has a timed status (running, or a failed restore not yet told), as
    /// of the last check: a status change finding none skips the database.
    pub timer: bool,
    /// Whether the user saved a schedule, as of the last check: a page open finding none and
    /// no timer reads neither.
    pub schedule: bool,
    /// Whether the store names the user an administrator, as of the last read.
    pub is_admin: bool,
}

impl Hot {
    /// What a call needs of an account read from the store, if its pair may be used.
    pub(super) fn of(target: CallTarget) -> Result<Self, CallError> {
        let is_admin = target.account.is_admin;
        let (tokens, generation) = refresh::usable(target.account)?;
        Ok(Self {
            is_admin,
            endpoint: target.endpoint,
            server: target.server,
            tokens,
            generation,
            timer: target.has_timer,
            schedule: target.has_schedule,
        })
    }
}

struct Entry {
    hot: Hot,
    checked: Instant,
    /// When a call last asked for it: only entries in use are checked in the background.
    used: Instant,
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
        let now = Instant::now();
        self.entries().get_mut(key).map(|entry| {
            entry.used = now;
            (
                entry.hot.clone(),
                now.saturating_duration_since(entry.checked) < CHECK_AFTER,
            )
        })
    }

    /// The entries used within `in_use` and last checked more than `older_than` ago, with the
    /// generation each holds.
    pub fn due(&self, older_than: Duration, in_use: Duration) -> Vec<(Key, i64)> {
        let now = Instant::now();
        self.entries()
            .iter()
            .filter(|(_, e)| {
                now.saturating_duration_since(e.checked) >= older_than
                    && now.saturating_duration_since(e.used) < in_use
            })
            .map(|(key, e)| (key.clone(), e.hot.generation))
            .collect()
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
        let now = Instant::now();
        entries.insert(
            key.clone(),
            Entry {
                hot: hot.clone(),
                checked: now,
                used: now,
            },
        );
    }

    /// The store held this entry's pair, with this timer and schedule, when asked at `asked`.
    pub fn confirm(&self, key: &Key, version: &AccountVersion, asked: Instant) {
        if let Some(entry) = self.entries().get_mut(key)
            && entry.hot.generation == version.generation
        {
            entry.checked = entry.checked.max(asked);
            entry.hot.timer = version.has_timer;
            entry.hot.schedule = version.has_schedule;
        }
    }

    /// This process just started (`true`) or ended the account's timer.
    pub fn note_timer(&self, key: &Key, timer: bool) {
        if let Some(entry) = self.entries().get_mut(key) {
            entry.hot.timer = timer;
        }
    }

    /// This process just saved the account's schedule.
    pub fn note_schedule(&self, key: &Key) {
        if let Some(entry) = self.entries().get_mut(key) {
            entry.hot.schedule = true;
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

/// The cache as the token manager reads it.
impl super::TokenManager {
    /// Drops an account found unusable or rotated elsewhere, and its portal's row: what
    /// changed (a pause, an uninstall) may be the portal's.
    pub(super) fn drop_stale(&self, key: &Key) {
        self.cache.forget(key);
        self.portals.forget(&key.0);
    }

    /// Stores a pair from the user's browser unless the account has a working pair: only the
    /// access token was confirmed, so an unproven refresh token never replaces one that works
    /// (`docs/security.md`, "Tokens"). A changed administrator flag is written either way.
    pub async fn save_account_unless_working(
        &self,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = (account.member_id.clone(), account.user_id);
        let hot = match self.hot(&key).await {
            Ok(hot) => hot,
            Err(error) if pair_gone(&error) => return self.save_account(account, now).await,
            Err(CallError::Store(error)) => return Err(error),
            // Not known to be dead (a refresh under way, a pause): nothing is replaced.
            Err(_) => return Ok(()),
        };
        if hot.is_admin != account.is_admin {
            self.store
                .set_admin(&account.member_id, account.user_id, account.is_admin, now)
                .await?;
            self.forget_account(&account.member_id, account.user_id);
        }
        Ok(())
    }

    /// Whether the account may hold a pair that works (anything but one known to be gone): a
    /// pair from the user's browser or an event must not replace it.
    pub async fn has_working_pair(&self, member_id: &MemberId, user_id: UserId) -> bool {
        let key = (member_id.clone(), user_id);
        self.hot(&key)
            .await
            .err()
            .is_none_or(|error| !pair_gone(&error))
    }

    /// The account's entry: from the cache while it is fresh or still matches the store's
    /// version, else read again.
    pub(super) async fn hot(&self, key: &Key) -> Result<Hot, CallError> {
        if let Some((hot, fresh)) = self.cache.get(key) {
            if fresh {
                return Ok(hot);
            }
            let asked = Instant::now();
            let version = self.store.account_version(&key.0, key.1).await?;
            if let Some(version) = version
                && version.usable
                && version.generation == hot.generation
            {
                self.cache.confirm(key, &version, asked);
                return Ok(Hot {
                    timer: version.has_timer,
                    schedule: version.has_schedule,
                    ..hot
                });
            }
        }
        self.load(key).await
    }

    /// Reads an account and its portal's endpoints from the store (one query) into the cache.
    pub(super) async fn load(&self, key: &Key) -> Result<Hot, CallError> {
        let (member_id, user_id) = (&key.0, key.1);
        let Some(target) = self.store.account_for_call(member_id, user_id).await? else {
            let installed = self
                .store
                .portal(member_id)
                .await?
                .is_some_and(|p| p.record.state != crate::store::PortalState::Deleted);
            return Err(if installed {
                CallError::NeedsReauth
            } else {
                CallError::NotInstalled
            });
        };
        if target.suspended {
            return Err(CallError::BeingRemoved);
        }
        if target.paused {
            return Err(CallError::Paused);
        }
        if target.period_ended {
            return Err(CallError::PaymentRequired);
        }
        let hot = Hot::of(target)?;
        self.cache.put(key, &hot);
        Ok(hot)
    }

    /// Whether the account has a timed status, as this process knows it: from its cached
    /// entry, checked against the store at least once a second like the tokens.
    pub async fn has_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<bool, CallError> {
        Ok(self.hot(&(member_id.clone(), user_id)).await?.timer)
    }

    /// Records that this process just started (`true`) or ended the account's timer.
    pub fn note_timer(&self, member_id: &MemberId, user_id: UserId, timer: bool) {
        self.cache.note_timer(&(member_id.clone(), user_id), timer);
    }

    /// Whether the account may have a timer and a schedule (in that order), known the same way
    /// as [`super::TokenManager::has_timer`]; both `true` when the account cannot be read, so the
    /// caller reads the store.
    pub async fn may_have_plans(&self, member_id: &MemberId, user_id: UserId) -> (bool, bool) {
        match self.hot(&(member_id.clone(), user_id)).await {
            Ok(hot) => (hot.timer, hot.schedule),
            Err(_) => (true, true),
        }
    }

    /// Records that this process just saved the account's schedule.
    pub fn note_schedule(&self, member_id: &MemberId, user_id: UserId) {
        self.cache.note_schedule(&(member_id.clone(), user_id));
    }
}
