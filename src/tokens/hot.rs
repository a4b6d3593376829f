//! The account a call is made for, as the store's cache hands it out (`store/cache.rs`), and
//! the rule for when a pair from the user's browser may take a stored pair's place.

use url::Url;

use super::{CallError, Key};
use crate::store::{
    Account, AccountRecord, AccountState, CallTarget, PortalState, StoreError, Tokens,
};
use bitrix24::domain::{MemberId, UserId};

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
    pub tokens: Tokens,
    /// The pair's generation in the store.
    pub generation: i64,
    /// Whether the store names the user an administrator, as of the last read.
    pub is_admin: bool,
}

impl Hot {
    /// What a call needs of an account read from the store, if its pair may be used (whatever
    /// its portal's state).
    pub(super) fn of(target: CallTarget) -> Result<Self, CallError> {
        let is_admin = target.account.is_admin;
        let (tokens, generation) = usable(target.account)?;
        Ok(Self {
            is_admin,
            endpoint: target.endpoint,
            server: target.server,
            tokens,
            generation,
        })
    }
}

impl super::TokenManager {
    /// The account's pair and endpoints, through the store's cache, or why no call can be
    /// made for it.
    pub(super) async fn hot(&self, key: &Key) -> Result<Hot, CallError> {
        let (member_id, user_id) = (&key.0, key.1);
        let Some(target) = self.store.call_target(member_id, user_id).await? else {
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
        if target.suspended {
            return Err(CallError::BeingRemoved);
        }
        if target.paused {
            return Err(CallError::Paused);
        }
        if target.period_ended {
            return Err(CallError::PaymentRequired);
        }
        Hot::of(target)
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
            Err(error) if pair_gone(&error) => {
                return self.store.upsert_account(account, now).await;
            }
            Err(CallError::Store(error)) => return Err(error),
            // Not known to be dead (a refresh under way, a pause): nothing is replaced.
            Err(_) => return Ok(()),
        };
        if hot.is_admin != account.is_admin {
            self.store
                .set_admin(&account.member_id, account.user_id, account.is_admin, now)
                .await?;
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
}

/// The account's pair, if it may be used.
pub(super) fn usable(account: Account) -> Result<(Tokens, i64), CallError> {
    match (account.state, account.tokens) {
        (AccountState::Active, Some(tokens)) => Ok((tokens, account.generation)),
        _ => Err(CallError::NeedsReauth),
    }
}
