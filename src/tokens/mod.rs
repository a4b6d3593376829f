//! The token manager: the one place that hands out a working access token for an account and
//! makes REST calls with it (`docs/bitrix24.md`, "Refresh", "Rate limit").
//!
//! - Lazy refresh: call with the stored token; on a 401 refresh, store the new pair, retry.
//!   A token whose stored expiry is less than a minute away is refreshed before the call.
//! - Single flight, detached: see `refresh.rs`. While a refresh of an account is under way,
//!   its other calls wait for it instead of going out with the dying token.
//! - Accounts are read through the store's cache (`store/cache.rs`), which every write keeps
//!   true and which is checked against the database at least once a second.
//! - Every call passes the per-portal rate limiter; a portal that still answers
//!   `QUERY_LIMIT_EXCEEDED` is waited for and retried within `RATE_LIMIT_MAX_WAIT` (those
//!   calls were refused before running, so repeating them is safe).

pub mod confirm;
mod error;
mod hot;
pub mod keepalive;
pub mod limiter;
mod moved;
mod period;
mod refresh;
mod reservations;
mod settings;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use crate::metrics::Metrics;
use crate::store::Store;
use bitrix24::clock::Clock;
use bitrix24::domain::{AccessToken, MemberId, UserId};
use bitrix24::{self as bitrix, OAuthClient, RestClient};
pub use error::{CallError, Repeat};
use hot::Hot;
pub use limiter::Limiter;
use refresh::{Job, Refresher};
pub use settings::Settings;

type Key = (MemberId, UserId);

/// Refresh a token this long before its stored expiry, so it does not die between the check
/// and its use.
const EXPIRY_MARGIN_SECS: i64 = 60;

/// One REST call's parts.
struct Call<'a> {
    member_id: &'a MemberId,
    /// The account whose stored pair `access` is, if it is one.
    account: Option<&'a Key>,
    endpoint: &'a Url,
    access: &'a AccessToken,
    method: &'a str,
    params: &'a Value,
    repeat: Repeat,
}

/// What one attempt to send a call came to.
enum Sent<T> {
    /// Sent (or refused before sending), with this outcome.
    Done(Result<T, CallError>),
    /// Not sent: a refresh of the account finished meanwhile, so its stored pair is newer.
    Refreshed,
}

/// Hands out working tokens and makes REST calls with them. Share one per process.
pub struct TokenManager {
    store: Store,
    oauth: OAuthClient,
    rest: RestClient,
    limiter: Limiter,
    settings: Settings,
    clock: Clock,
    metrics: Arc<Metrics>,
    refresher: Refresher,
    reauth_seen: Arc<Notify>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager").finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager over the app's store and clients, reading time from `clock`.
    pub fn new(
        store: Store,
        oauth: OAuthClient,
        rest: RestClient,
        settings: Settings,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reauth_seen = Arc::new(Notify::new());
        let refresher = Refresher::new(Job {
            store: store.clone(),
            oauth: oauth.clone(),
            metrics: metrics.clone(),
            owner: crate::store::crypto::random_hex(8).into(),
            lease: settings.lease,
            wait: settings.rate_max_wait,
            clock: clock.clone(),
            reauth_seen: reauth_seen.clone(),
        });
        Self {
            limiter: Limiter::new(settings.rate_burst, settings.rate_per_sec).shared(&store),
            metrics,
            store,
            oauth,
            rest,
            settings,
            clock,
            refresher,
            reauth_seen,
        }
    }

    /// Calls `method` as `user_id` of `member_id`, refreshing the token as needed.
    // Debug only: the callers' spans and lines name the account; at `info` this span would
    // cost the status path an allocation and work at every poll.
    #[tracing::instrument(level = "debug", skip(self, params), fields(member_id = %member_id, user_id = %user_id))]
    pub async fn call<T: DeserializeOwned>(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        method: &str,
        params: Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let key = (member_id.clone(), user_id);
        let result = self.call_as(&key, method, &params, repeat).await;
        if matches!(
            result,
            Err(CallError::NeedsReauth
                | CallError::NotInstalled
                | CallError::BeingRemoved
                | CallError::Paused
                | CallError::PaymentRequired)
        ) {
            // What made it unusable may have been written by another process: read it afresh.
            self.store.forget_stale(member_id, user_id);
        }
        result
    }

    async fn call_as<T: DeserializeOwned>(
        &self,
        key: &Key,
        method: &str,
        params: &Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let mut hot = self.hot(key).await?;
        if hot.tokens.expires_at <= self.clock.now() + EXPIRY_MARGIN_SECS {
            hot = self.refreshed(key, hot).await?;
        }
        let (mut refusals, mut moved, mut prepaid) = (0, false, false);
        loop {
            let call = Call {
                member_id: &key.0,
                account: Some(key),
                endpoint: &hot.endpoint,
                access: &hot.tokens.access,
                method,
                params,
                repeat,
            };
            let result = match self.send(call, prepaid).await {
                Sent::Refreshed => {
                    hot = self.hot(key).await?;
                    prepaid = true;
                    continue;
                }
                Sent::Done(result) => result,
            };
            prepaid = false;
            match result {
                Err(CallError::Bitrix(bitrix::Error::Moved { location })) if !moved => {
                    moved = true;
                    hot.endpoint = self.follow_move(&key.0, &hot, &location).await?;
                }
                // Expired, or killed by a rotation another caller or process just made — which
                // is also how a stale cached pair shows: use or make a newer pair, and retry.
                // Twice at most: the first newer pair may be one stored by someone else that
                // has since expired too; the second is then our own fresh one.
                Err(CallError::Bitrix(error)) if error.is_payment_required() => {
                    return Err(period::ended(&self.store, &key.0, self.clock.now()).await);
                }
                Err(error) if error.is_auth_refusal() => {
                    if refusals == 2 {
                        return Err(error);
                    }
                    refusals += 1;
                    hot = self.refreshed(key, hot).await?;
                }
                other => return other,
            }
        }
    }

    /// `hot` with a pair newer than its own (see `refresh.rs`), remembered.
    async fn refreshed(&self, key: &Key, mut hot: Hot) -> Result<Hot, CallError> {
        (hot.tokens, hot.generation) = self
            .refresher
            .newer_than(key, &hot.server, hot.generation)
            .await?;
        Ok(hot)
    }

    /// Calls `method` at `endpoint` with a given token (one a portal just handed us, not yet
    /// stored), through the rate limiter, without refreshing.
    pub async fn call_with_token<T: DeserializeOwned>(
        &self,
        member_id: &MemberId,
        endpoint: &Url,
        access: &AccessToken,
        method: &str,
        params: Value,
        repeat: Repeat,
    ) -> Result<T, CallError> {
        let call = Call {
            member_id,
            account: None,
            endpoint,
            access,
            method,
            params: &params,
            repeat,
        };
        match self.send::<T>(call, false).await {
            Sent::Done(result) => result,
            Sent::Refreshed => Err(CallError::Internal("a handed-over token was refreshed")),
        }
    }

    /// One call through the limiter, waiting for the portal's rate limit within
    /// `RATE_LIMIT_MAX_WAIT` and repeating a transient failure once if `repeat` allows. With
    /// an account, a refresh of it under way stops the call before it is sent; the slot it
    /// took in the portal's bucket is then `prepaid` for the next attempt.
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>, mut prepaid: bool) -> Sent<T> {
        let Call {
            member_id,
            account,
            endpoint,
            access,
            method,
            params,
            repeat,
        } = call;
        let started = Instant::now();
        let mut repeated = false;
        loop {
            let budget = self
                .settings
                .rate_max_wait
                .saturating_sub(started.elapsed());
            if !std::mem::take(&mut prepaid) {
                match self.limiter.acquire(member_id, budget).await {
                    Ok(true) => self.metrics.limiter_wait(),
                    Ok(false) => {}
                    Err(retry_after) => {
                        return Sent::Done(Err(CallError::RateLimited { retry_after }));
                    }
                }
            }
            let permit = self.limiter.in_flight(member_id).await;
            if let Some(key) = account
                && self.refresher.is_refreshing(key)
            {
                drop(permit);
                self.refresher.wait(key).await;
                return Sent::Refreshed;
            }
            let answer = self
                .rest
                .call::<T>(
                    bitrix::Caller {
                        member_id,
                        user_id: account.map(|(_, user_id)| *user_id),
                    },
                    endpoint,
                    method,
                    access,
                    params.clone(),
                )
                .await;
            drop(permit);
            let error = match answer {
                Ok(success) => return Sent::Done(Ok(success.result)),
                Err(error) => error,
            };
            match &error {
                // Refused before running, so repeating is safe: our bucket is full too (and
                // the refused request counted), so the next try waits for a slot.
                bitrix::Error::Api {
                    code, retry_after, ..
                } if code.is_rate_limit() => {
                    self.limiter.saturate(member_id).await;
                    if started.elapsed() >= self.settings.rate_max_wait {
                        let retry_after = retry_after.unwrap_or(Duration::from_secs(1));
                        return Sent::Done(Err(CallError::RateLimited { retry_after }));
                    }
                }
                error if error.is_transient() && repeat == Repeat::Safe && !repeated => {
                    repeated = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => return Sent::Done(Err(CallError::Bitrix(error))),
            }
        }
    }

    /// Woken whenever an account's refresh token turns out dead: a portal whose every pair is
    /// refused may have been uninstalled without our hearing of it.
    pub fn reauth_seen(&self) -> Arc<Notify> {
        self.reauth_seen.clone()
    }

    /// Refreshes the account now, whatever its expiry (the keep-alive).
    pub async fn refresh_now(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<(), CallError> {
        let key = (member_id.clone(), user_id);
        let hot = self.hot(&key).await?;
        self.refreshed(&key, hot).await.map(|_| ())
    }

    /// Waits up to `within` for the refreshes under way (at shutdown, so no rotated pair is
    /// lost); returns whether they all finished.
    pub async fn drain(&self, within: Duration) -> bool {
        self.refresher.drain(within).await
    }
}
