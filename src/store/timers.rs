//! Timed statuses: a user's status for a while, and the status the scheduler restores when the
//! time is up. One per account; a due timer is claimed by one process at a time, so instances
//! sharing the database apply each once.

use super::{Store, StoreError, on_pool, user_id_from_sql, user_id_to_sql};
use bitrix24::domain::{MemberId, Status, UserId};

/// A running timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    pub member_id: MemberId,
    pub user_id: UserId,
    /// The status set for a while.
    pub status: Status,
    /// Unix seconds at which it ends.
    pub until: i64,
    /// The status restored then.
    pub then: Status,
}

#[derive(sqlx::FromRow)]
struct TimerRow {
    member_id: String,
    user_id: i64,
    status: String,
    until_at: i64,
    then_status: String,
}

impl TimerRow {
    fn parse(self) -> Result<Timer, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("timer {what}"));
        Ok(Timer {
            member_id: MemberId::parse(&self.member_id).map_err(|_| corrupt("member"))?,
            user_id: user_id_from_sql(self.user_id)?,
            status: Status::parse(&self.status).map_err(|_| corrupt("status"))?,
            until: self.until_at,
            then: Status::parse(&self.then_status).map_err(|_| corrupt("then"))?,
        })
    }
}

/// Claims up to `$2` timers due at `$1` for `$3` until `$4`; `$lock` keeps two claims apart.
/// A portal on hold (paused, or its paid period ended) keeps its timers unclaimed until it is
/// back: nothing is tried, dropped or lost meanwhile.
macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "UPDATE timers SET claim_owner = $3, claim_until = $4
             WHERE (member_id, user_id) IN (
                 SELECT member_id, user_id FROM timers
                 WHERE NOT missed AND until_at <= $1
                   AND (claim_until IS NULL OR claim_until < $1)
                   AND NOT EXISTS (SELECT 1 FROM portals p WHERE p.member_id = timers.member_id
                       AND (p.paused_at IS NOT NULL OR p.payment_required_at IS NOT NULL))
                 ORDER BY until_at LIMIT $2 ",
            $lock,
            ") RETURNING member_id, user_id, status, until_at, then_status"
        )
    };
}

impl Store {
    /// Starts (or replaces) the timer of an account.
    pub async fn set_timer(&self, timer: &Timer, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "INSERT INTO timers (member_id, user_id, status, until_at, then_status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (member_id, user_id) DO UPDATE SET
                 status = excluded.status, until_at = excluded.until_at,
                 then_status = excluded.then_status, claim_owner = NULL, claim_until = NULL,
                 missed = FALSE, created_at = excluded.created_at"
        )
        .bind(timer.member_id.as_str())
        .bind(user_id_to_sql(timer.user_id))
        .bind(timer.status.as_str())
        .bind(timer.until)
        .bind(timer.then.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        let key = (timer.member_id.clone(), timer.user_id);
        self.cache.note(&key, |target| target.has_timer = true);
        Ok(())
    }

    /// The running timer of an account.
    pub async fn timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Timer>, StoreError> {
        let row: Option<TimerRow> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, status, until_at, then_status FROM timers
             WHERE member_id = $1 AND user_id = $2 AND NOT missed"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        row.map(TimerRow::parse).transpose()
    }

    /// The account's timer, running or missed (`true`: a restore that could not be made).
    pub async fn any_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<(Timer, bool)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            timer: TimerRow,
            missed: bool,
        }
        let row: Option<Row> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, status, until_at, then_status, missed FROM timers
             WHERE member_id = $1 AND user_id = $2"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        row.map(|row| Ok((row.timer.parse()?, row.missed)))
            .transpose()
    }

    /// Ends an account's timer, if it has one. Most status changes find none: they only read,
    /// so the write lock (SQLite has one per database) is taken only when there is a timer.
    pub async fn clear_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<(), StoreError> {
        if self.any_timer(member_id, user_id).await?.is_none() {
            return Ok(());
        }
        on_pool!(&self.db, |pool| sqlx::query(
            "DELETE FROM timers WHERE member_id = $1 AND user_id = $2"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .execute(pool)
        .await
        .map(|_| ()))?;
        let key = (member_id.clone(), user_id);
        self.cache.note(&key, |target| target.has_timer = false);
        Ok(())
    }

    /// Makes a running timer restore `then` when it ends; false if none runs.
    pub async fn retarget_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        then: Status,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE timers SET then_status = $3
             WHERE member_id = $1 AND user_id = $2 AND NOT missed"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(then.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Removes `timer` once applied or dropped, unless the user started another meanwhile.
    pub async fn finish_timer(&self, timer: &Timer) -> Result<(), StoreError> {
        let finished = self
            .on_timer(
                "DELETE FROM timers WHERE member_id = $1 AND user_id = $2 AND until_at = $3
                     AND status = $4",
                timer,
            )
            .await?;
        // One timer per account: this one gone, none is left; another started meanwhile stays.
        if finished {
            let key = (timer.member_id.clone(), timer.user_id);
            self.cache.note(&key, |target| target.has_timer = false);
        }
        Ok(())
    }

    /// Leaves `timer` to be claimed again from `at`: Bitrix24 could not take it yet.
    pub async fn retry_timer(&self, timer: &Timer, at: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE timers SET claim_until = $5
             WHERE member_id = $1 AND user_id = $2 AND until_at = $3 AND status = $4"
        )
        .bind(timer.member_id.as_str())
        .bind(user_id_to_sql(timer.user_id))
        .bind(timer.until)
        .bind(timer.status.as_str())
        .bind(at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Keeps `timer` as a restore that could not be made, for the user's next visit.
    pub async fn miss_timer(&self, timer: &Timer) -> Result<(), StoreError> {
        self.on_timer(
            "UPDATE timers SET missed = TRUE, claim_owner = NULL, claim_until = NULL
             WHERE member_id = $1 AND user_id = $2 AND until_at = $3 AND status = $4",
            timer,
        )
        .await
        .map(|_| ())
    }

    /// Runs `sql` on this very timer (`$1`–`$4`: its account, end and status), so a timer the
    /// user started meanwhile is left alone; returns whether it was there.
    async fn on_timer(&self, sql: &'static str, timer: &Timer) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(sql)
            .bind(timer.member_id.as_str())
            .bind(user_id_to_sql(timer.user_id))
            .bind(timer.until)
            .bind(timer.status.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// The restore that could not be made for this user, if any; told once, then forgotten.
    pub async fn take_missed_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Timer>, StoreError> {
        let row: Option<TimerRow> = on_pool!(&self.db, |pool| sqlx::query_as(
            "DELETE FROM timers WHERE member_id = $1 AND user_id = $2 AND missed
             RETURNING member_id, user_id, status, until_at, then_status"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        if row.is_some() {
            let key = (member_id.clone(), user_id);
            self.cache.note(&key, |target| target.has_timer = false);
        }
        row.map(TimerRow::parse).transpose()
    }

    /// Claims for `owner`, until `claim_until`, up to `limit` timers due at `now`; a claim that
    /// ran out (its holder died) is claimed again.
    pub async fn claim_due_timers(
        &self,
        now: i64,
        limit: u32,
        owner: &str,
        claim_until: i64,
    ) -> Result<Vec<Timer>, StoreError> {
        let sql = (claim_due!(""), claim_due!("FOR UPDATE SKIP LOCKED"));
        let rows: Vec<TimerRow> = self.claim_due(sql, now, limit, owner, claim_until).await?;
        rows.into_iter().map(TimerRow::parse).collect()
    }
}
