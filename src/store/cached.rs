//! Reads through the store's cache (`cache.rs`), and its background check: every account read
//! in the last few seconds is checked against the database in a few batch queries several
//! times a second, so a busy account's read finds its entry fresh instead of reading the
//! account's version itself (one query per account and second was a tenth of the status
//! path's work). A read still checks its own entry if the background falls behind or the
//! account was idle, so an entry is never trusted for more than a second.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::cache::Flags;
use super::{CallTarget, Portal, Store, StoreError};
use bitrix24::domain::{MemberId, UserId};

/// How often the background check runs, and how old an entry's last check must be for it to
/// be included.
pub const CHECK_EVERY: Duration = Duration::from_millis(400);
/// Entries nothing read in this long are left to the reads' own checks. Checking an entry in
/// the background costs 2.5 looks a second, a read's own check at most one: only accounts read
/// again within moments are worth it. (With a minute here, every account a 09:00 wave touched
/// once was looked at for a minute afterwards: `docs/performance.md`, "The wave at scale".)
const IN_USE: Duration = Duration::from_secs(3);

/// What one background check did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Entries the database still matched.
    pub confirmed: usize,
    /// Entries dropped: rotated, re-authorised, suspended, uninstalled or gone.
    pub dropped: usize,
}

impl Store {
    /// [`Store::account_for_call`], from the cache while its entry is fresh or still matches
    /// the account's version.
    pub async fn call_target(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<CallTarget>, StoreError> {
        let key = (member_id.clone(), user_id);
        if let Some((mut target, fresh)) = self.cache.account(&key) {
            if fresh {
                return Ok(Some(target));
            }
            let asked = Instant::now();
            if let Some(version) = self.account_version(member_id, user_id).await?
                && version.usable
                && version.generation == target.account.generation
            {
                self.cache.confirm(&key, &version, asked);
                target.has_timer = version.has_timer;
                target.has_schedule = version.has_schedule;
                target.has_automation = version.has_automation;
                return Ok(Some(target));
            }
            self.cache.forget_account(member_id, user_id);
        }
        let read = Instant::now();
        let target = self.account_for_call(member_id, user_id).await?;
        if let Some(target) = &target {
            self.cache.put_account(&key, target, read);
        }
        Ok(target)
    }

    /// The portal's row, as read from the database less than a second ago: a busy portal's
    /// page opens read and decrypt it once a second instead of once per open.
    pub async fn recent_portal(&self, member_id: &MemberId) -> Result<Option<Portal>, StoreError> {
        if let Some(portal) = self.cache.portal(member_id) {
            return Ok(Some(portal));
        }
        let read = Instant::now();
        let portal = self.portal(member_id).await?;
        if let Some(portal) = &portal {
            self.cache.put_portal(portal, read);
        }
        Ok(portal)
    }

    /// Whether the account may have a timer and a schedule (in that order), from its cached
    /// entry: a status change or page open finding neither reads neither table. Both `true`
    /// when the account cannot be read, so the caller reads the tables.
    pub async fn may_have_plans(&self, member_id: &MemberId, user_id: UserId) -> (bool, bool) {
        match self.flags(member_id, user_id).await {
            Ok(Some(flags)) => (flags.timer, flags.schedule),
            Ok(None) | Err(_) => (true, true),
        }
    }

    /// Whether the account may have a timer, known as [`Store::may_have_plans`] knows it, or
    /// why the database could not say.
    pub async fn may_have_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let flags = self.flags(member_id, user_id).await?;
        Ok(flags.unwrap_or(Flags::ALL).timer)
    }

    /// Whether the user may have saved automation switches, known as
    /// [`Store::may_have_plans`] knows it.
    pub async fn may_have_automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let flags = self.flags(member_id, user_id).await?;
        Ok(flags.unwrap_or(Flags::ALL).automation)
    }

    /// The account's flags: a fresh cached entry's (the call just before read it), else
    /// through [`Store::call_target`].
    async fn flags(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Flags>, StoreError> {
        if let Some(flags) = self.cache.fresh_flags(&(member_id.clone(), user_id)) {
            return Ok(Some(flags));
        }
        let target = self.call_target(member_id, user_id).await?;
        Ok(target.as_ref().map(Flags::of))
    }

    /// Checks the cached accounts in use that were last checked more than `older_than` ago,
    /// having dropped those long unused.
    pub async fn check_cached(&self, older_than: Duration) -> Result<Checked, StoreError> {
        self.check_entries(self.cache.due(older_than, IN_USE)).await
    }

    /// Checks the cached entries of `accounts` last checked more than `older_than` ago, in a
    /// few queries: work about to call for many accounts (a wave of scheduled changes) then
    /// finds each fresh instead of reading its version on its own.
    pub async fn check_cached_accounts(
        &self,
        accounts: &[(MemberId, UserId)],
        older_than: Duration,
    ) -> Result<Checked, StoreError> {
        self.check_entries(self.cache.due_of(accounts, older_than))
            .await
    }

    async fn check_entries(
        &self,
        due: Vec<((MemberId, UserId), i64)>,
    ) -> Result<Checked, StoreError> {
        let mut checked = Checked::default();
        if due.is_empty() {
            return Ok(checked);
        }
        let keys: Vec<_> = due.iter().map(|(key, _)| key.clone()).collect();
        let asked = Instant::now();
        let versions: HashMap<_, _> = self.account_versions(&keys).await?.into_iter().collect();
        for (key, generation) in due {
            match versions.get(&key) {
                Some(version) if version.usable && version.generation == generation => {
                    self.cache.confirm(&key, version, asked);
                    checked.confirmed += 1;
                }
                _ => {
                    self.cache.forget_account(&key.0, key.1);
                    checked.dropped += 1;
                }
            }
        }
        Ok(checked)
    }

    /// Runs [`Store::check_cached`] every [`CHECK_EVERY`] until the process ends.
    pub async fn check_cache_forever(self) {
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = self.check_cached(CHECK_EVERY).await {
                tracing::warn!(%error, "could not check cached accounts against the database");
            }
        }
    }

    /// Forgets what is cached of an account found unusable by a call (a pause or an uninstall
    /// another process made): the next read goes to the database.
    pub fn forget_stale(&self, member_id: &MemberId, user_id: UserId) {
        self.cache.forget_account(member_id, user_id);
    }
}
