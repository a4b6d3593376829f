//! The token manager: the one place that hands out a working access token for an account and
//! makes REST calls with it (protocol doc §2 "Recommended refresh loop", §8 "Implication for
//! Rust").
//!
//! - Lazy refresh: call with the stored token; on a 401 refresh, store the new pair, retry
//!   once. A token whose stored expiry has passed is refreshed before the call.
//! - Single flight: concurrent callers for one account wait on one in-process lock, and
//!   processes sharing the database on a lease in the account's row, so one refresh token is
//!   spent once. Whoever waited re-reads the row and uses what the winner stored.
//! - The new pair is committed (compare-and-swap on the row's generation) before it is used.
//! - `invalid_grant` with nothing newer stored marks the account needs-reauth; it is never
//!   deleted. Any other refresh failure keeps the old tokens.
//! - Every call passes the per-portal rate limiter; a portal that still answers
//!   `QUERY_LIMIT_EXCEEDED` or `OPERATION_TIME_LIMIT` is waited for and retried (those calls
//!   were refused before running, so repeating them is safe).

pub mod keepalive;
pub mod limiter;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bitrix::types::{AccessToken, MemberId, PortalDomain, UserId};
use crate::bitrix::{self, OAuthClient, RestClient};
use crate::clock::{unix_now, unix_now_ms};
use crate::metrics::{Metrics, Refresh};
use crate::store::{AccountRecord, AccountState, PortalState, Store, StoreError, Tokens};
pub use limiter::Limiter;

/// Why a call on behalf of a user did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The portal has not installed the app, or uninstalled it.
    #[error("the app is not installed on this portal")]
    NotInstalled,
    /// The user's tokens are gone or refused: they must open the app again.
    #[error("the user must open the app again")]
    NeedsReauth,
    /// The portal's rate limit did not free up in time.
    #[error("the portal's rate limit is exhausted; retry in {retry_after:?}")]
    RateLimited {
        /// When a slot frees up.
        retry_after: Duration,
    },
    /// Another instance is refreshing this account and did not finish in time.
    #[error("a token refresh by another instance did not finish in time")]
    RefreshBusy,
    /// Bitrix24 failed or refused.
    #[error(transparent)]
    Bitrix(#[from] bitrix::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a call may be repeated after a failure whose effect is unknown (timeout, 5xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Repeating has the same effect as calling once (reads, setting a status).
    Safe,
    /// Must not be repeated blindly.
    Never,
}

/// Tuning of the token manager.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Burst of the per-portal rate limiter.
    pub rate_burst: u32,
    /// Drain rate of the per-portal rate limiter, per second.
    pub rate_per_sec: f64,
    /// Longest a call waits for the rate limiter.
    pub rate_max_wait: Duration,
    /// How long a refresh lease is held at most.
    pub lease: Duration,
    /// Whether `http://` and loopback portals are acceptable (development only).
    pub allow_http: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate_burst: 50,
            rate_per_sec: 2.0,
            rate_max_wait: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            allow_http: false,
        }
    }
}

type Key = (MemberId, UserId);

/// What a call needs, kept in memory for a short while so the hot path skips the database.
/// Staleness is safe: a pair rotated elsewhere answers 401, which re-reads the store.
#[derive(Clone)]
struct Hot {
    endpoint: url::Url,
    tokens: Tokens,
    generation: i64,
}

/// How long a cached account is trusted before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// Most accounts kept in memory.
const CACHE_CAPACITY: usize = 50_000;

/// Refresh tokens early by this much, so a token does not expire between check and use.
const EXPIRY_MARGIN_SECS: i64 = 30;

/// Hands out working tokens and makes REST calls with them. Share one per process.
pub struct TokenManager {
    store: Store,
    oauth: OAuthClient,
    rest: RestClient,
    limiter: Limiter,
    settings: Settings,
    /// Names this process in refresh leases.
    owner: String,
    metrics: Arc<Metrics>,
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    cache: Mutex<HashMap<Key, (Hot, Instant)>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager over the app's store and clients.
    pub fn new(
        store: Store,
        oauth: OAuthClient,
        rest: RestClient,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            metrics,
            limiter: Limiter::new(
                settings.rate_burst,
                settings.rate_per_sec,
                settings.rate_max_wait,
            ),
            owner: crate::store::crypto::random_hex(8),
            store,
            oauth,
            rest,
            settings,
            locks: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Calls `method` as `user_id` of `member_id`, refreshing the token as needed.
    #[tracing::instrument(skip(self, params), fields(member_id = %member_id, user_id = %user_id))]
    pub async fn call<T: DeserializeOwned>(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        method: &str,
        params: Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let key = (member_id.clone(), user_id);
        let result = self.call_as(&key, method, params, repeat).await;
        if matches!(
            result,
            Err(CallError::NeedsReauth | CallError::NotInstalled)
        ) {
            self.forget(&key);
        }
        result
    }

    async fn call_as<T: DeserializeOwned>(
        &self,
        key: &Key,
        method: &str,
        params: Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let (member_id, user_id) = (&key.0, key.1);
        let mut hot = match self.cached(key) {
            Some(hot) => hot,
            None => self.load(member_id, user_id).await?,
        };
        if hot.tokens.expires_at <= unix_now() + EXPIRY_MARGIN_SECS {
            (hot.tokens, hot.generation) =
                self.refreshed(member_id, user_id, hot.generation).await?;
            self.remember(key, &hot);
        }
        let attempt = |hot: Hot| {
            let params = params.clone();
            async move {
                self.call_with_token(
                    member_id,
                    &hot.endpoint,
                    &hot.tokens.access,
                    method,
                    params,
                    repeat,
                )
                .await
            }
        };
        let mut result = attempt(hot.clone()).await;
        if let Err(CallError::Bitrix(bitrix::Error::Moved { location })) = &result {
            hot.endpoint = self.follow_move(member_id, location).await?;
            self.remember(key, &hot);
            result = attempt(hot.clone()).await;
        }
        match result {
            // Expired, or killed by a rotation another caller or process just made (protocol
            // doc §8) — which is also how a stale cached pair shows: wait for any refresh in
            // flight, then use or make a newer pair, and retry.
            Err(error) if is_auth_refusal(&error) => {
                // Twice at most: the first newer pair may be one stored by someone else that
                // has since expired too; the second is then our own fresh one.
                for tries_left in [1, 0] {
                    (hot.tokens, hot.generation) =
                        self.refreshed(member_id, user_id, hot.generation).await?;
                    self.remember(key, &hot);
                    match attempt(hot.clone()).await {
                        Err(error) if tries_left > 0 && is_auth_refusal(&error) => {}
                        other => return other,
                    }
                }
                Err(error)
            }
            other => other,
        }
    }

    /// Reads an account and its portal's endpoint from the store (one query) into the cache.
    async fn load(&self, member_id: &MemberId, user_id: UserId) -> Result<Hot, CallError> {
        let Some((account, endpoint)) = self.store.account_for_call(member_id, user_id).await?
        else {
            let installed = self
                .store
                .portal(member_id)
                .await?
                .is_some_and(|p| p.record.state != PortalState::Deleted);
            return Err(if installed {
                CallError::NeedsReauth
            } else {
                CallError::NotInstalled
            });
        };
        let (tokens, generation) = usable(account)?;
        let hot = Hot {
            endpoint,
            tokens,
            generation,
        };
        self.remember(&(member_id.clone(), user_id), &hot);
        Ok(hot)
    }

    fn cached(&self, key: &Key) -> Option<Hot> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(hot, _)| hot.clone())
    }

    fn remember(&self, key: &Key, hot: &Hot) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            let now = Instant::now();
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key.clone(), (hot.clone(), Instant::now() + CACHE_TTL));
    }

    /// Stores a pair a portal just handed us for a user (a frame POST, a sign-in), replacing
    /// what this process had cached.
    pub async fn save_account(&self, account: &AccountRecord, now: i64) -> Result<(), StoreError> {
        self.store.upsert_account(account, now).await?;
        self.forget_account(&account.member_id, account.user_id);
        Ok(())
    }

    /// Drops what is cached for an account whose tokens were written behind this manager's
    /// back (another process, a test).
    pub fn forget_account(&self, member_id: &MemberId, user_id: UserId) {
        self.forget(&(member_id.clone(), user_id));
    }

    fn forget(&self, key: &Key) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// A renamed portal answered 302 (protocol doc §3): store its new domain and endpoint, keyed
    /// by `member_id`, and return the endpoint to repeat the call at.
    async fn follow_move(
        &self,
        member_id: &MemberId,
        location: &str,
    ) -> Result<url::Url, CallError> {
        let refuse =
            |why: &str| CallError::Bitrix(bitrix::Error::Refused(format!("portal moved: {why}")));
        let target =
            url::Url::parse(location).map_err(|_| refuse("the new location is not a URL"))?;
        let host = target
            .host_str()
            .ok_or_else(|| refuse("the new location has no host"))?;
        let authority = match target.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let domain =
            PortalDomain::parse(&authority).map_err(|_| refuse("the new host is not a domain"))?;
        let scheme_ok =
            target.scheme() == "https" || (self.settings.allow_http && target.scheme() == "http");
        if !scheme_ok || (domain.is_loopback() && !self.settings.allow_http) {
            return Err(refuse("the new location is not allowed"));
        }
        let endpoint = url::Url::parse(&format!("{}://{domain}/rest/", target.scheme()))
            .map_err(|_| refuse("the new location is not a URL"))?;
        self.store
            .move_portal(member_id, &domain, &endpoint, unix_now())
            .await?;
        tracing::info!(%domain, "portal renamed; stored its new address");
        Ok(endpoint)
    }

    /// Calls `method` at `endpoint` with a given token (one a portal just handed us, not yet
    /// stored), through the rate limiter, without refreshing.
    pub async fn call_with_token<T: DeserializeOwned>(
        &self,
        member_id: &MemberId,
        endpoint: &url::Url,
        access: &AccessToken,
        method: &str,
        params: Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let started = Instant::now();
        let mut repeated = false;
        loop {
            let waited = self
                .limiter
                .acquire(member_id)
                .await
                .map_err(|retry_after| CallError::RateLimited { retry_after })?;
            if waited {
                self.metrics.limiter_wait();
            }
            let permit = self.limiter.in_flight(member_id).await;
            let answer = self
                .rest
                .call::<T>(endpoint, method, access, params.clone())
                .await;
            drop(permit);
            let error = match answer {
                Ok(success) => return Ok(success.result),
                Err(error) => error,
            };
            match &error {
                // Refused before running, so repeating is safe: wait for the bucket.
                bitrix::Error::Api {
                    code, retry_after, ..
                } if code.is_rate_limit() => {
                    self.limiter.saturate(member_id);
                    if started.elapsed() >= self.settings.rate_max_wait {
                        return Err(CallError::RateLimited {
                            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                        });
                    }
                }
                error if error.is_transient() && repeat == Repeat::Safe && !repeated => {
                    repeated = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => return Err(CallError::Bitrix(error)),
            }
        }
    }

    /// The store the manager reads and writes accounts in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget locks nobody holds, so the map does not grow with every account ever seen.
        if locks.len() > 1024 {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(key.clone()).or_default().clone()
    }

    /// A pair newer than `stale_generation`: made by this call, or by whoever refreshed while
    /// it waited.
    async fn refreshed(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        stale_generation: i64,
    ) -> Result<(Tokens, i64), CallError> {
        let key = (member_id.clone(), user_id);
        let lock = self.lock_for(&key);
        let _one_at_a_time = lock.lock().await;

        let deadline = Instant::now() + self.settings.lease * 2;
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(30_000);
        let tokens = loop {
            let account = self
                .store
                .account(member_id, user_id)
                .await?
                .ok_or(CallError::NeedsReauth)?;
            if account.generation != stale_generation {
                return usable(account);
            }
            if account.state == AccountState::NeedsReauth {
                return Err(CallError::NeedsReauth);
            }
            let tokens = account.tokens.ok_or(CallError::NeedsReauth)?;
            let now_ms = unix_now_ms();
            if self
                .store
                .try_lease(
                    member_id,
                    user_id,
                    stale_generation,
                    &self.owner,
                    now_ms,
                    now_ms + lease_ms,
                )
                .await?
            {
                break tokens;
            }
            // Another process holds the lease: it will store a new pair shortly.
            if Instant::now() >= deadline {
                return Err(CallError::RefreshBusy);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };

        match self.oauth.refresh(&tokens.refresh).await {
            Ok(grant)
                if grant.member_id == *member_id && grant.user_id.is_none_or(|u| u == user_id) =>
            {
                let fresh = Tokens {
                    access: grant.access,
                    refresh: grant.refresh,
                    expires_at: grant.expires_at,
                };
                if self
                    .store
                    .rotate_tokens(member_id, user_id, stale_generation, &fresh, unix_now())
                    .await?
                {
                    tracing::info!("tokens refreshed");
                    self.metrics.refresh(Refresh::Ok);
                    return Ok((fresh, stale_generation + 1));
                }
                // The row changed meanwhile (the user reopened the app): that pair is as good.
                self.metrics.refresh(Refresh::LostRace);
                let account = self
                    .store
                    .account(member_id, user_id)
                    .await?
                    .ok_or(CallError::NeedsReauth)?;
                usable(account)
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
                let account = self
                    .store
                    .account(member_id, user_id)
                    .await?
                    .ok_or(CallError::NeedsReauth)?;
                if account.generation != stale_generation {
                    self.metrics.refresh(Refresh::LostRace);
                    return usable(account);
                }
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .mark_needs_reauth(member_id, user_id, stale_generation, unix_now())
                    .await?;
                tracing::warn!("refresh token refused; the user must open the app again");
                Err(CallError::NeedsReauth)
            }
            Err(error) => {
                // The OAuth server is down or odd: the old pair stays, the next call tries again.
                self.metrics.refresh(Refresh::Failed);
                self.store
                    .release_lease(member_id, user_id, &self.owner)
                    .await?;
                tracing::warn!(%error, "token refresh failed");
                Err(CallError::Bitrix(error))
            }
        }
    }

    /// Refreshes the account now, whatever its expiry (the keep-alive).
    pub async fn refresh_now(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<(), CallError> {
        let account = self
            .store
            .account(member_id, user_id)
            .await?
            .ok_or(CallError::NeedsReauth)?;
        self.refreshed(member_id, user_id, account.generation)
            .await
            .map(|_| ())
    }
}

/// A refusal a newer token can cure; not, say, `METHOD_CONFIRM_WAITING`, also sent with 401.
fn is_auth_refusal(error: &CallError) -> bool {
    matches!(error, CallError::Bitrix(bitrix::Error::Api { status, code, .. })
        if code.is_auth_failure() || (status.as_u16() == 401 && matches!(code, bitrix::ErrorCode::Other(_))))
}

fn usable(account: crate::store::Account) -> Result<(Tokens, i64), CallError> {
    match (account.state, account.tokens) {
        (AccountState::Active, Some(tokens)) => Ok((tokens, account.generation)),
        _ => Err(CallError::NeedsReauth),
    }
}
