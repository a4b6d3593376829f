//! What the operator's commands read and change: portals and accounts as an overview, a
//! portal's data for export, a pause, a forced re-authorisation, and a purge. Nothing here
//! decrypts a token.

use serde::Serialize;

use super::{Store, StoreError, member_id_from_sql, on_pool, user_id_from_sql, user_id_to_sql};
use bitrix24::domain::{MemberId, UserId};

/// A portal as the `portals` command lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PortalSummary {
    /// The portal's stable id.
    pub member_id: String,
    /// Its current domain.
    pub domain: String,
    /// `new`, `active` or `deleted`.
    pub state: String,
    /// Unix seconds since an unconfirmed uninstall suspended it.
    pub removing_since: Option<i64>,
    /// Unix seconds since the operator paused it.
    pub paused_at: Option<i64>,
    /// Accounts stored.
    pub users: i64,
    /// Unix seconds of the oldest refresh among its accounts with tokens.
    pub oldest_refresh: Option<i64>,
    /// The ids of the keys its ciphertexts are under, comma-separated.
    pub key_ids: Option<String>,
    /// The licence letter (`app.info`'s `STATUS`: F, D, T, P, L, S).
    pub licence: Option<String>,
    /// `app.info`'s `PAYMENT_EXPIRED`, when it was read.
    pub payment_expired: Option<bool>,
    /// Unix seconds when the paid period runs out (from `app.info`'s `DAYS`).
    pub paid_until: Option<i64>,
    /// Whole days left until then, negative past it (the grace period).
    #[sqlx(skip)]
    pub days_left: Option<i64>,
    /// Unix seconds since the OAuth server refuses its tokens with `PAYMENT_REQUIRED`: its
    /// calls and background work wait until payment returns.
    pub payment_required_at: Option<i64>,
}

/// An account as the `accounts` command lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AccountSummary {
    pub user_id: i64,
    /// Whether they are a portal administrator.
    pub is_admin: bool,
    /// Whether they installed the app.
    pub is_installer: bool,
    /// `active`, `needs_reauth`, or `revoked` (tokens gone while active: the portal
    /// uninstalled the app).
    pub state: String,
    /// Unix seconds of the last refresh (or first store).
    pub refreshed_at: Option<i64>,
    /// Unix seconds the account was first stored.
    pub created_at: i64,
}

/// A timed status, as exported.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct TimerSummary {
    pub user_id: i64,
    /// The status set for a while.
    pub status: String,
    /// Unix seconds it ends.
    pub until_at: i64,
    /// The status it goes back to.
    pub then_status: String,
    /// Whether the return could not be made.
    pub missed: bool,
}

/// A weekly schedule, as exported.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ScheduleSummary {
    pub user_id: i64,
    /// The rules, as JSON text.
    pub rules: String,
    /// Unix seconds of the next change.
    pub next_at: Option<i64>,
    /// Unix seconds it was last changed.
    pub updated_at: i64,
}

/// What a purge deleted.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Purged {
    /// Portal rows (0 or 1).
    pub portals: u64,
    /// Accounts, with their timers and schedules.
    pub accounts: u64,
    /// Call log records.
    pub calls: u64,
}

impl Store {
    /// The portal whose member id or domain is `name`.
    pub async fn find_portal(&self, name: &str) -> Result<Option<MemberId>, StoreError> {
        let row: Option<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id FROM portals WHERE member_id = $1 OR domain = $2
             ORDER BY member_id = $1 DESC LIMIT 1",
        )
        .bind(name)
        .bind(name.to_ascii_lowercase())
        .fetch_optional(pool)
        .await)?;
        row.map(|(id,)| member_id_from_sql(&id)).transpose()
    }

    /// Every portal, by domain.
    pub async fn portal_summaries(&self, now: i64) -> Result<Vec<PortalSummary>, StoreError> {
        let mut portals: Vec<PortalSummary> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT p.member_id, p.domain, p.state, p.removing_since, p.paused_at, p.licence,
                    p.payment_expired, p.paid_until, p.payment_required_at,
                    (SELECT COUNT(*) FROM accounts a WHERE a.member_id = p.member_id) AS users,
                    (SELECT MIN(a.refreshed_at) FROM accounts a
                     WHERE a.member_id = p.member_id AND a.refresh_token IS NOT NULL)
                        AS oldest_refresh,
                    NULL AS key_ids
             FROM portals p ORDER BY p.domain, p.member_id",
        )
        .fetch_all(pool)
        .await)?;
        let keys: Vec<(String, String)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, key_id FROM accounts
             WHERE refresh_token IS NOT NULL AND key_id IS NOT NULL
             UNION SELECT member_id, key_id FROM portals
             WHERE application_token IS NOT NULL AND key_id IS NOT NULL
             ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await)?;
        for portal in &mut portals {
            let ids: Vec<&str> = keys
                .iter()
                .filter(|(member, _)| *member == portal.member_id)
                .map(|(_, key)| key.as_str())
                .collect();
            portal.key_ids = (!ids.is_empty()).then(|| ids.join(","));
            portal.days_left = super::Period {
                paid_until: portal.paid_until,
                ..super::Period::default()
            }
            .days_left(now);
        }
        Ok(portals)
    }

    /// A portal's accounts, by user.
    pub async fn account_summaries(
        &self,
        member_id: &MemberId,
    ) -> Result<Vec<AccountSummary>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id, is_admin, is_installer,
                    CASE WHEN refresh_token IS NULL AND state = 'active' THEN 'revoked'
                         ELSE state END AS state,
                    refreshed_at, created_at
             FROM accounts WHERE member_id = $1 ORDER BY user_id"
        )
        .bind(member_id.as_str())
        .fetch_all(pool)
        .await)?)
    }

    /// A portal's timed statuses.
    pub async fn timer_summaries(
        &self,
        member_id: &MemberId,
    ) -> Result<Vec<TimerSummary>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id, status, until_at, then_status, missed
             FROM timers WHERE member_id = $1 ORDER BY user_id",
        )
        .bind(member_id.as_str())
        .fetch_all(pool)
        .await)?)
    }

    /// A portal's weekly schedules.
    pub async fn schedule_summaries(
        &self,
        member_id: &MemberId,
    ) -> Result<Vec<ScheduleSummary>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id, rules, next_at, updated_at
             FROM schedules WHERE member_id = $1 ORDER BY user_id",
        )
        .bind(member_id.as_str())
        .fetch_all(pool)
        .await)?)
    }

    /// The team board's last read of the portal's directory, as JSON text.
    pub async fn team_directory(&self, member_id: &MemberId) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT body FROM team_cache WHERE member_id = $1 AND read_at > 0"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(body,)| body))
    }

    /// Pauses a portal (`paused`) or lifts the pause; returns whether it exists.
    pub async fn set_paused(
        &self,
        member_id: &MemberId,
        paused: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET paused_at = CASE WHEN $2 THEN COALESCE(paused_at, $3) END,
                 updated_at = $3
             WHERE member_id = $1",
        )
        .bind(member_id.as_str())
        .bind(paused)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if paused {
            self.end_sessions(member_id).await?;
        }
        self.cache.forget_portal(member_id);
        Ok(done == 1)
    }

    /// Forgets the tokens of one account of a portal, or of all, so each user signs in again
    /// on their next visit. The generation moves on, so every instance's cached copy goes
    /// stale within a second. Returns how many accounts were changed.
    pub async fn force_reauth(
        &self,
        member_id: &MemberId,
        user_id: Option<UserId>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE accounts SET access_token = NULL, refresh_token = NULL, key_id = NULL,
                 expires_at = NULL, state = 'needs_reauth',
                 token_generation = token_generation + 1, refresh_lease_owner = NULL,
                 refresh_lease_until = NULL, updated_at = $3
             WHERE member_id = $1 AND ($2 IS NULL OR user_id = $2)",
        )
        .bind(member_id.as_str())
        .bind(user_id.map(user_id_to_sql))
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_portal(member_id);
        Ok(done)
    }

    /// Whether the portal has an account for `user_id`.
    pub async fn has_account(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id FROM accounts WHERE member_id = $1 AND user_id = $2"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        row.map(|(id,)| user_id_from_sql(id))
            .transpose()
            .map(|u| u.is_some())
    }

    /// How many accounts a portal holds.
    pub async fn account_count(&self, member_id: &MemberId) -> Result<i64, StoreError> {
        let (count,): (i64,) = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT COUNT(*) FROM accounts WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .fetch_one(pool)
        .await)?;
        Ok(count)
    }

    /// Deletes everything held about a portal, in one transaction: the portal, its accounts
    /// (with their timers, schedules and the team board's read), sign-ins under way, and its
    /// call log.
    pub async fn purge_portal(&self, member_id: &MemberId) -> Result<Purged, StoreError> {
        let id = member_id.as_str();
        let purged = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let calls = sqlx::query("DELETE FROM call_log WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM oauth_states WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let accounts = sqlx::query("DELETE FROM accounts WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let portals = sqlx::query("DELETE FROM portals WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Purged {
                portals,
                accounts,
                calls,
            })
        })?;
        self.cache.forget_portal(member_id);
        Ok(purged)
    }
}
