//! OAuth `state` values of `/oauth/start`: stored hashed, consumed once, expiring, and
//! bounded per portal so nobody can grow the table without limit.

use super::{Store, StoreError, on_pool};
use bitrix24::domain::MemberId;

/// Most sign-ins a portal may have under way at once.
pub const STATES_PER_PORTAL: i64 = 200;

impl Store {
    /// Remembers a hashed OAuth `state` for the portal `member_id` until `expires_at`, unless
    /// the portal already has `STATES_PER_PORTAL` unexpired ones at `now`: then `false`.
    pub async fn put_oauth_state(
        &self,
        state_hash: &[u8],
        member_id: &MemberId,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
            "INSERT INTO oauth_states (state_hash, member_id, expires_at)
             SELECT $1, $2, $3
             WHERE (SELECT COUNT(*) FROM oauth_states WHERE member_id = $2 AND expires_at >= $4) < $5",
        )
        .bind(state_hash)
        .bind(member_id.as_str())
        .bind(expires_at)
        .bind(now)
        .bind(STATES_PER_PORTAL)
        .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Consumes a hashed OAuth `state`: returns its portal if it existed and had not expired
    /// at `now`. A state can be consumed once, by any instance.
    pub async fn take_oauth_state(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> Result<Option<MemberId>, StoreError> {
        let row: Option<(String, i64)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "DELETE FROM oauth_states WHERE state_hash = $1 RETURNING member_id, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(pool)
        .await)?;
        let Some((member, expires_at)) = row else {
            return Ok(None);
        };
        if expires_at < now {
            return Ok(None);
        }
        MemberId::parse(&member)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("oauth state member".into()))
    }

    /// Deletes every state that expired before `now`; returns how many went.
    pub async fn sweep_oauth_states(&self, now: i64) -> Result<u64, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "DELETE FROM oauth_states WHERE expires_at < $1"
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }
}
