//! The epoch of an account that sessions are tied to (`docs/security.md`, "Sessions"): a new
//! pair, a pause or a suspension sets a new random one, so a session issued before any of them
//! is not renewed; an uninstall or `reauth` forgets the pair, which ends renewal on its own.

use super::{Store, StoreError, on_pool, user_id_to_sql};
use bitrix24::domain::{MemberId, UserId};

/// A new epoch: random, so a row deleted and created again never repeats one.
pub(super) fn new_epoch() -> i64 {
    rand::random::<i64>() & i64::MAX
}

impl Store {
    /// The epoch of an account that may act now: its pair is kept and usable, and its portal
    /// is installed, not paused and not being removed. `None` otherwise.
    pub async fn session_epoch(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT a.session_epoch FROM accounts a JOIN portals p ON p.member_id = a.member_id
             WHERE a.member_id = $1 AND a.user_id = $2 AND a.state = 'active'
                 AND a.refresh_token IS NOT NULL AND p.state = 'active'
                 AND p.paused_at IS NULL AND p.removing_since IS NULL",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(epoch,)| epoch))
    }

    /// Ends every session of a portal's accounts (a pause, a suspension).
    pub(super) async fn end_sessions(&self, member_id: &MemberId) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE accounts SET session_epoch = $2 WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .bind(new_epoch())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }
}
