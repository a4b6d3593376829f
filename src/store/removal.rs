//! The rows of an uninstall that is not yet confirmed: a suspended portal keeps its tokens but
//! no call is made with them until a background check deletes or resumes it; and the portals
//! whose removal should be checked.

use super::{PortalState, Store, StoreError, member_id_from_sql, on_pool, user_id_from_sql};
use bitrix24::domain::{MemberId, UserId};

impl Store {
    /// Suspends a portal whose uninstall could not be confirmed yet; `clean` is kept for when
    /// it is.
    pub async fn suspend_portal(
        &self,
        member_id: &MemberId,
        clean: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET removing_since = COALESCE(removing_since, $2),
                 removing_clean = (removing_clean OR $3), updated_at = $2
             WHERE member_id = $1 AND state != 'deleted'",
        )
        .bind(member_id.as_str())
        .bind(now)
        .bind(clean)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_portal(member_id);
        self.end_sessions(member_id).await
    }

    /// Lifts a suspension: the app turned out to be still installed.
    pub async fn resume_portal(&self, member_id: &MemberId, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET removing_since = NULL, removing_clean = FALSE, updated_at = $2
             WHERE member_id = $1",
        )
        .bind(member_id.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_portal(member_id);
        Ok(())
    }

    /// Whether a suspended portal's uninstall asked for its data to be deleted.
    pub async fn removal_is_clean(&self, member_id: &MemberId) -> Result<bool, StoreError> {
        let row: Option<(bool,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT removing_clean FROM portals WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some_and(|(clean,)| clean))
    }

    /// Up to `limit` users of a portal whose stored pairs can show whether the app is still
    /// installed: active accounts first, most recently refreshed first.
    pub async fn probe_candidates(
        &self,
        member_id: &MemberId,
        limit: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id FROM accounts
             WHERE member_id = $1 AND refresh_token IS NOT NULL
             ORDER BY state = 'active' DESC, refreshed_at DESC NULLS LAST, user_id LIMIT $2",
        )
        .bind(member_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(|(id,)| user_id_from_sql(id)).collect()
    }

    /// Portals whose removal should be checked: suspended ones, and installed ones whose every
    /// stored pair was refused (a lost `ONAPPUNINSTALL` looks like that).
    pub async fn portals_to_reconcile(&self) -> Result<Vec<MemberId>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT p.member_id FROM portals p
             WHERE p.state = $1 AND (p.removing_since IS NOT NULL OR (
                 EXISTS (SELECT 1 FROM accounts a
                         WHERE a.member_id = p.member_id AND a.refresh_token IS NOT NULL)
                 AND NOT EXISTS (SELECT 1 FROM accounts a
                                 WHERE a.member_id = p.member_id AND a.state = 'active'
                                   AND a.refresh_token IS NOT NULL)))",
        )
        .bind(PortalState::Active.as_str())
        .fetch_all(pool)
        .await)?;
        rows.iter()
            .map(|(member,)| member_id_from_sql(member))
            .collect()
    }
}
