//! Single-flight refresh that survives its caller (`docs/bitrix24.md`, "Rotation").
//!
//! Bitrix24 rotates the pair the moment it receives a refresh, before its answer reaches us;
//! a rotated pair that lives only inside a request's future is lost when the client
//! disconnects or a timeout fires. So the refresh and the commit of the new pair run in a
//! task of their own that callers await, holding the account's lock: a dropped caller drops
//! only its wait. Across processes, a lease in the account's row decides who spends the
//! refresh token, and the commit is a compare-and-swap on the row's generation, retried while
//! the database is busy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use url::Url;

use super::hot::usable;
use super::{CallError, Key};
use crate::metrics::{Metrics, Refresh};
use crate::store::{Account, AccountState, BUSY_TIMEOUT, Store, StoreError, Tokens};
use bitrix24::clock::{Clock, unix_now_ms};
use bitrix24::{self as bitrix, OAuthClient};

/// Everything a refresh task needs, cloned into it.
#[derive(Clone)]
pub(super) struct Job {
    pub store: Store,
    pub oauth: OAuthClient,
    pub metrics: Arc<Metrics>,
    /// Names this process in refresh leases.
    pub owner: Arc<str>,
    /// How long a lease is held at most: longer than the longest refresh.
    pub lease: Duration,
    /// The longest a call waits for another process's refresh before it answers "busy".
    pub wait: Duration,
    pub clock: Clock,
    /// Woken when an account's refresh token is found dead, so the portal's removal is checked.
    pub reauth_seen: Arc<Notify>,
}

/// The accounts whose refresh task runs now: a call sees a refresh under way, and a shutdown
/// waits for them all. Not read off an account's lock: a caller that only waits for a refresh
/// takes that lock too, and reading it as "refreshing" made callers wait on each other's waits
/// for ever.
#[derive(Clone, Default)]
struct Tracker(Arc<(Mutex<HashSet<Key>>, Notify)>);

/// One running refresh, marked while it lives.
struct Tracked(Tracker, Key);

impl Tracker {
    fn enter(&self, key: &Key) -> Tracked {
        locked(&self.0.0).insert(key.clone());
        Tracked(self.clone(), key.clone())
    }

    fn has(&self, key: &Key) -> bool {
        locked(&self.0.0).contains(key)
    }

    async fn idle(&self) {
        loop {
            let notified = self.0.1.notified();
            if locked(&self.0.0).is_empty() {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        locked(&self.0.0.0).remove(&self.1);
        self.0.0.1.notify_waiters();
    }
}

/// Runs refreshes, one at a time per account.
pub(super) struct Refresher {
    job: Job,
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    tracker: Tracker,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Refresher {
    /// The name this process's leases carry, and how long one is held.
    pub fn lease_holder(&self) -> (&str, Duration) {
        (&self.job.owner, self.job.lease)
    }

    pub fn new(job: Job) -> Self {
        Self {
            job,
            locks: Mutex::new(HashMap::new()),
            tracker: Tracker::default(),
        }
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<tokio::sync::Mutex<()>>>> {
        locked(&self.locks)
    }

    fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks();
        // Forget locks nobody holds, so the map does not grow with every account ever seen.
        if locks.len() > 1024 {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(key.clone()).or_default().clone()
    }

    /// Whether a refresh of this account is under way in this process.
    pub fn is_refreshing(&self, key: &Key) -> bool {
        self.tracker.has(key)
    }

    /// Waits until no refresh of this account is under way in this process.
    pub async fn wait(&self, key: &Key) {
        let lock = self.locks().get(key).cloned();
        if let Some(lock) = lock {
            drop(lock.lock().await);
        }
    }

    /// A pair newer than `stale_generation`: made by a refresh at `server` that this call
    /// starts, or by whoever refreshed while it waited.
    pub async fn newer_than(
        &self,
        key: &Key,
        server: &Url,
        stale_generation: i64,
    ) -> Result<(Tokens, i64), CallError> {
        let guard = self.lock_for(key).lock_owned().await;
        let (job, key, server) = (self.job.clone(), key.clone(), server.clone());
        let tracked = self.tracker.enter(&key);
        tokio::spawn(async move {
            let _one_at_a_time = guard;
            let _tracked = tracked;
            job.run(&key, &server, stale_generation).await
        })
        .await
        .unwrap_or(Err(CallError::Internal(
            "a token refresh stopped unexpectedly",
        )))
    }

    /// Waits up to `within` for the refreshes under way; returns whether they all finished.
    pub async fn drain(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.tracker.idle())
            .await
            .is_ok()
    }
}

impl Job {
    async fn run(
        &self,
        key: &Key,
        server: &Url,
        stale_generation: i64,
    ) -> Result<(Tokens, i64), CallError> {
        let (member_id, user_id) = (&key.0, key.1);
        let deadline = Instant::now() + self.wait.min(self.lease * 2);
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let mut pause = Duration::from_millis(25);
        let tokens = loop {
            let account = self.account(key).await?;
            if account.generation != stale_generation {
                return self.stored_elsewhere(account);
            }
            if account.state == AccountState::NeedsReauth {
                return Err(CallError::NeedsReauth);
            }
            let tokens = account.tokens.ok_or(CallError::NeedsReauth)?;
            // Leases are about elapsed time between processes: the wall clock, not ours.
            let now_ms = unix_now_ms();
            let owner = &self.owner;
            if self
                .store
                .try_lease(
                    member_id,
                    user_id,
                    stale_generation,
                    owner,
                    now_ms,
                    now_ms + lease_ms,
                )
                .await?
            {
                break tokens;
            }
            // Another process holds the lease: it will store a new pair shortly. A refresh
            // takes a round trip, so the first looks come soon; a holder that died leaves its
            // lease to run out, so later ones back off rather than poll the database.
            if Instant::now() >= deadline {
                return Err(CallError::RefreshBusy);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        };

        let caller = bitrix::Caller {
            member_id,
            user_id: Some(user_id),
        };
        match self.oauth.refresh(caller, server, &tokens.refresh).await {
            Ok(grant)
                if grant.member_id == *member_id && grant.user_id.is_none_or(|u| u == user_id) =>
            {
                let fresh = Tokens {
                    access: grant.access,
                    refresh: grant.refresh,
                    expires_at: grant.expires_at,
                };
                if self.commit(key, stale_generation, &fresh).await? {
                    tracing::info!(%member_id, %user_id, "tokens refreshed");
                    self.metrics.refresh(Refresh::Ok);
                    return Ok((fresh, stale_generation + 1));
                }
                // The row changed meanwhile (the user reopened the app): that pair is as good,
                // and our lease must not hold up the next refresh of it.
                self.metrics.refresh(Refresh::LostRace);
                self.store
                    .release_lease(member_id, user_id, &self.owner)
                    .await?;
                self.stored_elsewhere(self.account(key).await?)
            }
            Ok(_) => {
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .release_lease(member_id, user_id, &self.owner)
                    .await?;
                Err(CallError::Bitrix(bitrix::Error::Unexpected {
                    status: reqwest::StatusCode::OK,
                    detail: "a refresh answered for another account".into(),
                }))
            }
            Err(bitrix::Error::OAuth { code, .. }) if code.is_dead_grant() => {
                let account = self.account(key).await?;
                if account.generation != stale_generation {
                    self.metrics.refresh(Refresh::LostRace);
                    return self.stored_elsewhere(account);
                }
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .mark_needs_reauth(member_id, user_id, stale_generation, self.clock.now())
                    .await?;
                tracing::warn!(%member_id, %user_id, "refresh token refused; the user must open the app again");
                self.reauth_seen.notify_one();
                Err(CallError::NeedsReauth)
            }
            Err(error) if error.is_payment_required() => {
                // No pair is issued and the old one stays: it works again once paid for.
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .release_lease(member_id, user_id, &self.owner)
                    .await?;
                Err(super::period::ended(&self.store, member_id, self.clock.now()).await)
            }
            Err(error) => {
                // The OAuth server is down or odd: the old pair stays, the next call tries again.
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .release_lease(member_id, user_id, &self.owner)
                    .await?;
                tracing::warn!(%member_id, %user_id, %error, "token refresh failed");
                Err(CallError::Bitrix(error))
            }
        }
    }

    /// A pair someone else stored (another process, or the user's browser): this process's
    /// cached copy of the account is older, so it is read afresh next time.
    fn stored_elsewhere(&self, account: Account) -> Result<(Tokens, i64), CallError> {
        self.store.forget_stale(&account.member_id, account.user_id);
        usable(account)
    }

    async fn account(&self, key: &Key) -> Result<Account, CallError> {
        self.store
            .account(&key.0, key.1)
            .await?
            .ok_or(CallError::NeedsReauth)
    }

    /// Stores the rotated pair: the old one is already dead at Bitrix24, so a busy database is
    /// waited out for as long as the lease allows rather than losing the pair.
    async fn commit(
        &self,
        key: &Key,
        stale_generation: i64,
        fresh: &Tokens,
    ) -> Result<bool, StoreError> {
        let deadline = Instant::now() + BUSY_TIMEOUT * 2;
        loop {
            let stored = self
                .store
                .rotate_tokens(&key.0, key.1, stale_generation, fresh, self.clock.now())
                .await;
            match stored {
                Err(StoreError::Database(error)) if Instant::now() < deadline => {
                    tracing::warn!(%error, "storing a refreshed pair failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => {
                    tracing::error!(member_id = %key.0, user_id = %key.1, %error, "a refreshed pair could not be stored");
                    return Err(error);
                }
                Ok(done) => return Ok(done),
            }
        }
    }
}
