//! A portal whose app's paid period ended (`docs/bitrix24.md`, "Paid apps"): recording the end
//! when Bitrix24 answers `PAYMENT_REQUIRED`, and the one refresh allowed meanwhile, which asks
//! whether payment returned.

use super::hot::Hot;
use super::{CallError, TokenManager};
use crate::store::Store;
use bitrix24::domain::{MemberId, UserId};

impl TokenManager {
    /// Refreshes the account now, whatever its expiry, even while its portal's paid period is
    /// ended: whether the OAuth server issues a pair again is how a payment shows. Not for a
    /// portal being removed or paused.
    pub async fn refresh_despite_period(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<(), CallError> {
        let key = (member_id.clone(), user_id);
        let target = self
            .store
            .account_for_call(member_id, user_id)
            .await?
            .ok_or(CallError::NeedsReauth)?;
        if target.suspended || target.paused {
            return Err(CallError::Paused);
        }
        let hot = Hot::of(target)?;
        self.refreshed(&key, hot).await.map(|_| ())
    }
}

/// Records that Bitrix24 refused `member_id` for want of payment at `now`: every instance's
/// caches see the portal unusable within a second, and its background work waits.
pub(super) async fn ended(store: &Store, member_id: &MemberId, now: i64) -> CallError {
    match store.end_period(member_id, now).await {
        Ok(true) => {
            tracing::warn!(%member_id, "the app's paid period on this portal ended: calls and background work for it wait until it is paid for");
            CallError::PaymentRequired
        }
        Ok(false) => CallError::PaymentRequired,
        Err(error) => CallError::Store(error),
    }
}
