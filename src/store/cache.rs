//! The store's in-memory copy of the rows every request reads: an account with its portal's
//! endpoints (decrypted, so the hot path skips decryption) and a portal's row. A cache is a
//! second copy of the truth, so it lives here, behind the store: every write this store makes
//! forgets what it touched, and what another process writes reaches this copy within
//! [`CHECK_AFTER`], through the account's version (generation, usability, timer and schedule
//! flags; no decryption) or the portal row's age.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::call_targets::{AccountVersion, CallTarget};
use super::{AccountState, Portal, Tokens};
use bitrix24::domain::{MemberId, UserId};

/// How long an entry is used before it is checked against the store again.
pub const CHECK_AFTER: Duration = Duration::from_secs(1);
/// Most accounts kept.
const ACCOUNTS: usize = 50_000;
/// Accounts nothing read in this long are dropped.
const KEEP_UNUSED: Duration = Duration::from_secs(60);
/// Most portal rows kept.
const PORTALS: usize = 10_000;

pub(super) type Key = (MemberId, UserId);

struct Entry {
    target: CallTarget,
    checked: Instant,
    /// When a read last asked for it: only entries in use are checked in the background.
    used: Instant,
}

/// Both copies. One per store, shared by its clones.
#[derive(Default)]
pub(super) struct Caches {
    accounts: Mutex<HashMap<Key, Entry>>,
    portals: Mutex<HashMap<MemberId, (Portal, Instant)>>,
}

/// Makes room for `key` in a cache holding `capacity` entries: drops one other entry, the first
/// the map yields (in effect any one). Sweeping the whole map under its lock when it filled, as
/// before, stalled every read for milliseconds each time, and with more accounts in use than
/// the cache holds it filled every few seconds (`docs/performance.md`, "Accounts in use").
fn make_room<K: Clone + Eq + Hash, V>(entries: &mut HashMap<K, V>, capacity: usize, key: &K) {
    if entries.len() >= capacity
        && !entries.contains_key(key)
        && let Some(other) = entries.keys().next().cloned()
    {
        entries.remove(&other);
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CallTarget {
    /// Whether a call may use this account's pair: only such targets are kept, so anything
    /// else is read again (and its return seen at once).
    pub(super) fn usable(&self) -> bool {
        self.account.state == AccountState::Active
            && self.account.tokens.is_some()
            && !self.suspended
            && !self.paused
            && !self.period_ended
    }
}

impl Caches {
    /// The account, and whether it was checked against the store less than [`CHECK_AFTER`]
    /// ago.
    pub fn account(&self, key: &Key) -> Option<(CallTarget, bool)> {
        let now = Instant::now();
        locked(&self.accounts).get_mut(key).map(|entry| {
            entry.used = now;
            let fresh = now.saturating_duration_since(entry.checked) < CHECK_AFTER;
            (entry.target.clone(), fresh)
        })
    }

    /// The timer, schedule and automation flags of a fresh entry, without copying its pair.
    pub fn fresh_flags(&self, key: &Key) -> Option<Flags> {
        let now = Instant::now();
        locked(&self.accounts)
            .get(key)
            .filter(|entry| now.saturating_duration_since(entry.checked) < CHECK_AFTER)
            .map(|entry| Flags::of(&entry.target))
    }

    /// Keeps what was read at `read`, if a call may use it.
    pub fn put_account(&self, key: &Key, target: &CallTarget, read: Instant) {
        if !target.usable() {
            return;
        }
        let mut entries = locked(&self.accounts);
        make_room(&mut entries, ACCOUNTS, key);
        let entry = Entry {
            target: target.clone(),
            checked: read,
            used: Instant::now(),
        };
        entries.insert(key.clone(), entry);
    }

    /// The entries used within `in_use` and last checked more than `older_than` ago, with the
    /// generation each holds — in the same pass dropping the accounts nothing read for
    /// [`KEEP_UNUSED`], and the portal rows too old to be used: reading one again costs a query
    /// and a decryption, keeping every account a wave touched once would cost memory for each.
    pub fn due(&self, older_than: Duration, in_use: Duration) -> Vec<(Key, i64)> {
        let now = Instant::now();
        let mut due = Vec::new();
        locked(&self.accounts).retain(|key, e| {
            let unused = now.saturating_duration_since(e.used);
            if unused < in_use && now.saturating_duration_since(e.checked) >= older_than {
                due.push((key.clone(), e.target.account.generation));
            }
            unused < KEEP_UNUSED
        });
        locked(&self.portals).retain(|_, (_, read)| read.elapsed() < CHECK_AFTER);
        due
    }

    /// The entries of `keys` there are, last checked more than `older_than` ago, with the
    /// generation each holds.
    pub fn due_of(&self, keys: &[Key], older_than: Duration) -> Vec<(Key, i64)> {
        let now = Instant::now();
        let entries = locked(&self.accounts);
        keys.iter()
            .filter_map(|key| {
                let entry = entries.get(key)?;
                (now.saturating_duration_since(entry.checked) >= older_than)
                    .then(|| (key.clone(), entry.target.account.generation))
            })
            .collect()
    }

    /// The store still held this entry's pair, with these flags, when asked at `asked`.
    pub fn confirm(&self, key: &Key, version: &AccountVersion, asked: Instant) {
        if let Some(entry) = locked(&self.accounts).get_mut(key)
            && entry.target.account.generation == version.generation
        {
            entry.checked = entry.checked.max(asked);
            entry.target.has_timer = version.has_timer;
            entry.target.has_schedule = version.has_schedule;
            entry.target.has_automation = version.has_automation;
        }
    }

    /// Changes a cached account the way a write just changed its rows (a timer started or
    /// ended, a schedule saved), so the next read needs no database.
    pub fn note(&self, key: &Key, change: impl FnOnce(&mut CallTarget)) {
        if let Some(entry) = locked(&self.accounts).get_mut(key) {
            change(&mut entry.target);
        }
    }

    /// The account's pair of `generation` was just replaced by `tokens`: a cached copy of the
    /// old pair takes the new one, anything else is dropped.
    pub fn rotated(&self, key: &Key, generation: i64, tokens: &Tokens) {
        let mut entries = locked(&self.accounts);
        match entries.get_mut(key) {
            Some(entry) if entry.target.account.generation == generation => {
                entry.target.account.tokens = Some(tokens.clone());
                entry.target.account.generation = generation + 1;
                entry.checked = Instant::now();
            }
            Some(_) => {
                entries.remove(key);
            }
            None => {}
        }
    }

    /// The portal's row, if read less than [`CHECK_AFTER`] ago.
    pub fn portal(&self, member_id: &MemberId) -> Option<Portal> {
        locked(&self.portals)
            .get(member_id)
            .filter(|(_, read)| read.elapsed() < CHECK_AFTER)
            .map(|(portal, _)| portal.clone())
    }

    /// Keeps a portal's row read at `read`, if it is in use: a paused, suspended or removed
    /// one is read again every time, so its return is seen at once.
    pub fn put_portal(&self, portal: &Portal, read: Instant) {
        if !portal.in_use() {
            return;
        }
        let mut entries = locked(&self.portals);
        make_room(&mut entries, PORTALS, &portal.record.member_id);
        entries.insert(portal.record.member_id.clone(), (portal.clone(), read));
    }

    /// An account changed (its pair, its flags, a timer, a schedule), or was found stale: its
    /// portal's row goes too, since what changed (a pause, an uninstall) may be the portal's.
    pub fn forget_account(&self, member_id: &MemberId, user_id: UserId) {
        locked(&self.accounts).remove(&(member_id.clone(), user_id));
        locked(&self.portals).remove(member_id);
    }

    /// A portal changed: its row and every account of it go.
    pub fn forget_portal(&self, member_id: &MemberId) {
        locked(&self.accounts).retain(|(member, _), _| member != member_id);
        locked(&self.portals).remove(member_id);
    }

    /// Everything goes (a re-encryption).
    pub fn forget_all(&self) {
        locked(&self.accounts).clear();
        locked(&self.portals).clear();
    }
}

/// What an account has beyond its pair, from its cached entry: a timer, a schedule, automation
/// switches. A status change or page open finding none reads none of their tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    pub timer: bool,
    pub schedule: bool,
    pub automation: bool,
}

impl Flags {
    /// Every flag set: what a caller assumes when the account cannot be read.
    pub const ALL: Self = Self {
        timer: true,
        schedule: true,
        automation: true,
    };

    pub(super) fn of(target: &CallTarget) -> Self {
        Self {
            timer: target.has_timer,
            schedule: target.has_schedule,
            automation: target.has_automation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_drops_one_entry_for_a_new_one_and_none_for_a_known_one() {
        let mut entries: HashMap<u32, u32> = (0..4).map(|k| (k, k)).collect();
        make_room(&mut entries, 4, &2);
        assert_eq!(entries.len(), 4, "a known key needs no room");
        for key in 10..110 {
            make_room(&mut entries, 4, &key);
            entries.insert(key, key);
            assert_eq!(entries.len(), 4);
            assert!(entries.contains_key(&key), "the new entry is kept");
        }
        let mut roomy: HashMap<u32, u32> = (0..3).map(|k| (k, k)).collect();
        make_room(&mut roomy, 4, &9);
        assert_eq!(roomy.len(), 3, "below capacity nothing goes");
    }
}
