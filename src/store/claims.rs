//! Background work claimed by one instance: the keep-alive leases a batch of stale accounts in
//! one statement, so instances sharing the database never refresh the same account and none
//! of them polls for rows another holds.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Db, Store, StoreError, on_pool, user_id_from_sql};
use bitrix24::domain::{MemberId, UserId};

/// Leases up to `$2` accounts refreshed before `$1` to `$3` until `$5`, skipping leases
/// unexpired at `$4`; `$lock` is how the backend keeps two claims apart.
macro_rules! claim_stale {
    ($lock:literal) => {
        concat!(
            "UPDATE accounts SET refresh_lease_owner = $3, refresh_lease_until = $5
             WHERE (member_id, user_id) IN (
                 SELECT a.member_id, a.user_id FROM accounts a
                 JOIN portals p ON p.member_id = a.member_id
                 WHERE a.refresh_token IS NOT NULL AND a.refreshed_at < $1
                   AND a.state = 'active' AND p.state = 'active' AND p.removing_since IS NULL
                   AND p.payment_required_at IS NULL
                   AND (a.refresh_lease_until IS NULL OR a.refresh_lease_until < $4)
                 ORDER BY a.refreshed_at LIMIT $2 ",
            $lock,
            ") RETURNING member_id, user_id"
        )
    };
}

/// SQLite runs one writer at a time: the statement itself is the claim.
const CLAIM_STALE_SQLITE: &str = claim_stale!("");
/// Rows another instance is claiming at the same moment are skipped, not waited for.
const CLAIM_STALE_POSTGRES: &str = claim_stale!("FOR UPDATE OF a SKIP LOCKED");

impl Store {
    /// Leases to `owner`, until `until_ms`, up to `limit` accounts of active portals whose
    /// tokens were last refreshed before `before` and that nobody holds a lease on at `now_ms`:
    /// the keep-alive's share of the work. The lease is the refresher's own, so the refresh
    /// that follows goes ahead without asking again.
    pub async fn claim_stale_accounts(
        &self,
        before: i64,
        limit: u32,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(MemberId, UserId)>, StoreError> {
        let sql = match self.db {
            Db::Sqlite(_) => CLAIM_STALE_SQLITE,
            Db::Postgres(_) => CLAIM_STALE_POSTGRES,
        };
        // Planned afresh each time, as claims of due work are (below).
        let rows: Vec<(String, i64)> = super::on_pool!(&self.db, |pool| sqlx::query_as(sql)
            .persistent(false)
            .bind(before)
            .bind(i64::from(limit))
            .bind(owner)
            .bind(now_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(member, user)| {
                let member = MemberId::parse(&member)
                    .map_err(|_| StoreError::Corrupt("account member".into()))?;
                Ok((member, user_id_from_sql(user)?))
            })
            .collect()
    }
}

impl Store {
    /// Runs a claim of due work (`$1` now, `$2` how many, `$3` owner, `$4` claimed until) in the
    /// backend's form: `sqlite` as it is, `postgres` skipping rows another instance is
    /// claiming. Timers and schedules claim through here.
    pub(super) async fn claim_due<R>(
        &self,
        (sqlite, postgres): (&'static str, &'static str),
        now: i64,
        limit: u32,
        owner: &str,
        claim_until: i64,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = match self.db {
            Db::Sqlite(_) => sqlite,
            Db::Postgres(_) => postgres,
        };
        // Planned afresh for every claim, never kept by the connection: PostgreSQL's plan for
        // a statement it ran often turns generic, and one made while the table was nearly
        // empty ran the `LIMIT` subquery again for every row once a wave filled it (minutes per
        // claim; `docs/performance.md`, "The wave at scale"). A claim's planning costs well
        // under a millisecond beside its work.
        Ok(on_pool!(&self.db, |pool| sqlx::query_as::<_, R>(sql)
            .persistent(false)
            .bind(now)
            .bind(i64::from(limit))
            .bind(owner)
            .bind(claim_until)
            .fetch_all(pool)
            .await)?)
    }
}
