//! The team board's shared read of each portal's directory: one row per portal, read again by
//! one instance at a time (a lease), so every viewer on every instance shares one read.

use super::{Store, StoreError, on_pool, user_id_from_sql};
use bitrix24::domain::{MemberId, UserId};

/// A portal's stored directory read.
#[derive(Debug, sqlx::FromRow)]
pub struct TeamRead {
    /// Its JSON, as the board wrote it.
    pub body: String,
    /// Unix seconds when Bitrix24 was read; 0 when it never was.
    pub read_at: i64,
}

impl Store {
    /// When the portal's directory was last read (0: never), without its body.
    pub async fn team_read_at(&self, member_id: &MemberId) -> Result<Option<i64>, StoreError> {
        let at: Option<i64> = on_pool!(&self.db, |pool| sqlx::query_scalar(
            "SELECT read_at FROM team_cache WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(at)
    }

    /// The portal's directory read, if one was made.
    pub async fn team_read(&self, member_id: &MemberId) -> Result<Option<TeamRead>, StoreError> {
        let read: Option<TeamRead> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT body, read_at FROM team_cache WHERE member_id = $1 AND read_at > 0"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(read)
    }

    /// Takes the right to read the portal's directory again until `lease_until`, unless another
    /// process holds it at `now` or has stored a read made after `stale_before` meanwhile.
    pub async fn claim_team_read(
        &self,
        member_id: &MemberId,
        now: i64,
        stale_before: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let claimed: Option<String> = on_pool!(&self.db, |pool| {
            sqlx::query_scalar(
            "INSERT INTO team_cache (member_id, body, read_at, lease_until) VALUES ($1, '', 0, $3)
             ON CONFLICT (member_id) DO UPDATE SET lease_until = excluded.lease_until
             WHERE team_cache.lease_until <= $2 AND team_cache.read_at <= $4
             RETURNING member_id"
        )
        .bind(member_id.as_str())
        .bind(now)
        .bind(lease_until)
        .bind(stale_before)
        .fetch_optional(pool)
        .await
        })?;
        Ok(claimed.is_some())
    }

    /// Stores a fresh read and gives up the lease.
    pub async fn save_team_read(
        &self,
        member_id: &MemberId,
        body: &str,
        read_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE team_cache SET body = $2, read_at = $3, lease_until = 0 WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .bind(body)
        .bind(read_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Gives up the lease without a new read (the read failed).
    pub async fn release_team_read(&self, member_id: &MemberId) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE team_cache SET lease_until = 0 WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The end of every running timer on a portal, by user.
    pub async fn timer_ends(&self, member_id: &MemberId) -> Result<Vec<(UserId, i64)>, StoreError> {
        let rows: Vec<(i64, i64)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id, until_at FROM timers WHERE member_id = $1 AND NOT missed"
        )
        .bind(member_id.as_str())
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(user, until)| Ok((user_id_from_sql(user)?, until)))
            .collect()
    }
}
