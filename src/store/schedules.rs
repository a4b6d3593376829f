//! Weekly focus schedules and where the scheduler stands in each: the rule window it applied,
//! the status it restores, and when it looks again. A due schedule is claimed by one process at
//! a time, as timers are (`timers.rs`).

use futures_util::future::join_all;

use super::{Db, Store, StoreError, on_pool, user_id_from_sql, user_id_to_sql};
use crate::schedule::{Schedule, ScheduleShape};
use bitrix24::domain::{MemberId, Status, UserId};

/// A user's schedule with the scheduler's state.
#[derive(Clone, Debug)]
pub struct SavedSchedule {
    pub member_id: MemberId,
    pub user_id: UserId,
    /// The rules and their zone.
    pub schedule: Schedule,
    /// Bumped by every save.
    pub version: i64,
    /// When the scheduler looks again.
    pub next_at: Option<i64>,
    /// The end of the rule window applied.
    pub active_until: Option<i64>,
    /// The status restored when it ends.
    pub before: Option<Status>,
    /// A change that could not be applied, for the user's next visit.
    pub missed_at: Option<i64>,
}

/// How long a group of the scheduler's records waits for a row another writer holds
/// (PostgreSQL; the connection's own wait is 10 s): one row must not hold up the group's
/// others, nor keep the rows written before it locked.
const GROUP_LOCK_WAIT: &str = "SET LOCAL lock_timeout = '1s'";

/// Looks written at once when a group failed and each is written on its own.
const ALONE_AT_ONCE: usize = 8;

/// What one look at a claimed schedule did, for [`Store::finish_schedules`].
#[derive(Clone, Debug)]
pub struct ScheduleFinish {
    /// The schedule as claimed.
    pub claimed: SavedSchedule,
    /// Who holds the claim.
    pub owner: String,
    /// Where the scheduler stands after the look.
    pub state: ScheduleState,
    /// The moment the look was made for.
    pub claimed_at: i64,
}

/// Where the scheduler stands after a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleState {
    /// The end of the rule window in force.
    pub active_until: Option<i64>,
    /// The status to restore then.
    pub before: Option<Status>,
    /// When to look again.
    pub next_at: Option<i64>,
    /// A change that could not be applied now, for the user's next visit.
    pub missed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    member_id: String,
    user_id: i64,
    rules: String,
    version: i64,
    next_at: Option<i64>,
    active_until: Option<i64>,
    before_status: Option<String>,
    missed_at: Option<i64>,
}

impl ScheduleRow {
    fn parse(self) -> Result<SavedSchedule, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("schedule {what}"));
        let rules: ScheduleShape =
            serde_json::from_str(&self.rules).map_err(|_| corrupt("rules"))?;
        Ok(SavedSchedule {
            member_id: MemberId::parse(&self.member_id).map_err(|_| corrupt("member"))?,
            user_id: user_id_from_sql(self.user_id)?,
            schedule: Schedule::try_from(rules).map_err(|_| corrupt("rules"))?,
            version: self.version,
            next_at: self.next_at,
            active_until: self.active_until,
            before: self
                .before_status
                .map(|s| Status::parse(&s).map_err(|_| corrupt("before")))
                .transpose()?,
            missed_at: self.missed_at,
        })
    }
}

/// Claims up to `$2` schedules due at `$1` for `$3` until `$4`; `$lock` keeps two claims apart.
/// A portal on hold (paused, or its paid period ended) keeps its schedules unclaimed until it is
/// back: nothing is tried, dropped or lost meanwhile.
macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "UPDATE schedules SET claim_owner = $3, claim_until = $4
             WHERE (member_id, user_id) IN (
                 SELECT member_id, user_id FROM schedules
                 WHERE next_at <= $1 AND (claim_until IS NULL OR claim_until < $1)
                   AND NOT EXISTS (SELECT 1 FROM portals p WHERE p.member_id = schedules.member_id
                       AND (p.paused_at IS NOT NULL OR p.payment_required_at IS NOT NULL))
                 ORDER BY next_at LIMIT $2 ",
            $lock,
            ") RETURNING member_id, user_id, rules, version, next_at, active_until,
                         before_status, missed_at"
        )
    };
}

impl Store {
    /// Replaces a user's schedule at `now`. The scheduler looks at it at once when a rule runs
    /// now or one was in force (it starts, or ends), else at the schedule's next boundary:
    /// a look before then would find nothing to do.
    pub async fn save_schedule(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        schedule: &Schedule,
        now: i64,
    ) -> Result<(), StoreError> {
        let rules = serde_json::json!(ScheduleShape::from(schedule)).to_string();
        let first_look = match schedule.window_at(now) {
            Some(_) => Some(now),
            None => schedule.next_boundary(now),
        };
        on_pool!(&self.db, |pool| sqlx::query(
            "INSERT INTO schedules (member_id, user_id, rules, next_at, updated_at)
             VALUES ($1, $2, $3, $5, $4)
             ON CONFLICT (member_id, user_id) DO UPDATE SET
                 rules = excluded.rules, version = schedules.version + 1,
                 next_at = CASE WHEN schedules.active_until IS NULL THEN excluded.next_at
                           ELSE $4 END,
                 updated_at = excluded.updated_at"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(&rules)
        .bind(now)
        .bind(first_look)
        .execute(pool)
        .await
        .map(|_| ()))?;
        let key = (member_id.clone(), user_id);
        self.cache.note(&key, |target| target.has_schedule = true);
        Ok(())
    }

    /// A user's schedule, if they saved one.
    pub async fn schedule(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<SavedSchedule>, StoreError> {
        let row: Option<ScheduleRow> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, rules, version, next_at, active_until, before_status,
                    missed_at
             FROM schedules WHERE member_id = $1 AND user_id = $2"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await)?;
        row.map(ScheduleRow::parse).transpose()
    }

    /// Forgets the missed change at `missed_at` once the user was told; false if another look
    /// took it first.
    pub async fn clear_missed_change(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        missed_at: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE schedules SET missed_at = NULL
             WHERE member_id = $1 AND user_id = $2 AND missed_at = $3"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(missed_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Claims for `owner`, until `claim_until`, up to `limit` schedules due at `now`.
    pub async fn claim_due_schedules(
        &self,
        now: i64,
        limit: u32,
        owner: &str,
        claim_until: i64,
    ) -> Result<Vec<SavedSchedule>, StoreError> {
        let sql = (claim_due!(""), claim_due!("FOR UPDATE SKIP LOCKED"));
        let rows: Vec<ScheduleRow> = self.claim_due(sql, now, limit, owner, claim_until).await?;
        rows.into_iter().map(ScheduleRow::parse).collect()
    }

    /// Leaves `claimed` to be claimed again from `at`: Bitrix24 could not take the change yet.
    pub async fn retry_schedule(
        &self,
        claimed: &SavedSchedule,
        owner: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE schedules SET claim_until = $4
             WHERE member_id = $1 AND user_id = $2 AND claim_owner = $3"
        )
        .bind(claimed.member_id.as_str())
        .bind(user_id_to_sql(claimed.user_id))
        .bind(owner)
        .bind(at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Records what each look in `finishes` did and releases its schedule, all in one
    /// transaction (one commit for the group). When the user saved meanwhile, the new rules are
    /// looked at again at once: the save could not know the window the look applied. A
    /// schedule whose claim another process holds now is left as it is. Should the group fail
    /// (on PostgreSQL it waits at most a second for a row another writer holds), each look is
    /// written on its own, a few at once: one held row must not cost the others their record,
    /// for a change not recorded is made again once its claim runs out, and would then take
    /// the status it set for the one to restore. Answers the first error left.
    pub async fn finish_schedules(&self, finishes: &[ScheduleFinish]) -> Result<(), StoreError> {
        // Rows in the order of their keys, as the row-by-row form takes them. Groups of
        // different instances hold different claims, so only a claim that ran out and was
        // taken again, the one-statement form (rows in its plan's order) or an uninstall's
        // delete can make two writers wait for each other: the group's short lock wait and
        // the fallback cover those.
        let mut ordered: Vec<&ScheduleFinish> = finishes.iter().collect();
        ordered.sort_by(|a, b| {
            (a.claimed.member_id.as_str(), a.claimed.user_id)
                .cmp(&(b.claimed.member_id.as_str(), b.claimed.user_id))
        });
        let Err(error) = self.finish_together(&ordered).await else {
            return Ok(());
        };
        if ordered.len() == 1 {
            return Err(error);
        }
        tracing::warn!(%error, looks = ordered.len(), "a group of the scheduler's records failed; writing each alone");
        let mut alone = Vec::with_capacity(ordered.len());
        for few in ordered.chunks(ALONE_AT_ONCE) {
            let written = few
                .iter()
                .map(|f| self.finish_together(std::slice::from_ref(f)));
            alone.extend(join_all(written).await);
        }
        alone.into_iter().collect()
    }

    /// Records `finishes` in one transaction.
    async fn finish_together(&self, finishes: &[&ScheduleFinish]) -> Result<(), StoreError> {
        if let (Db::Postgres(pool), 2..) = (&self.db, finishes.len()) {
            return Self::finish_on_postgres(pool, finishes).await;
        }
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for finish in finishes {
                let ScheduleFinish {
                    claimed,
                    owner,
                    state,
                    claimed_at,
                } = finish;
                sqlx::query(
                    "UPDATE schedules SET active_until = $4, before_status = $5,
                         missed_at = COALESCE($6, missed_at),
                         next_at = CASE WHEN version = $7 THEN $8
                                   WHEN next_at IS NULL OR next_at > $9 THEN $9 ELSE next_at END,
                         claim_owner = NULL, claim_until = NULL
                     WHERE member_id = $1 AND user_id = $2 AND claim_owner = $3",
                )
                .bind(claimed.member_id.as_str())
                .bind(user_id_to_sql(claimed.user_id))
                .bind(owner.as_str())
                .bind(state.active_until)
                .bind(state.before.map(Status::as_str))
                .bind(state.missed_at)
                .bind(claimed.version)
                .bind(state.next_at)
                .bind(*claimed_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// The same as one statement over arrays: a round trip per row kept the group's
    /// transaction open while the server waited for the next row (most of a PostgreSQL wave's
    /// writer time, `docs/performance.md`).
    async fn finish_on_postgres(
        pool: &sqlx::PgPool,
        finishes: &[&ScheduleFinish],
    ) -> Result<(), StoreError> {
        let column = |get: fn(&ScheduleFinish) -> Option<i64>| -> Vec<Option<i64>> {
            finishes.iter().map(|f| get(f)).collect()
        };
        let members: Vec<&str> = finishes
            .iter()
            .map(|f| f.claimed.member_id.as_str())
            .collect();
        let users: Vec<i64> = finishes
            .iter()
            .map(|f| user_id_to_sql(f.claimed.user_id))
            .collect();
        let owners: Vec<&str> = finishes.iter().map(|f| f.owner.as_str()).collect();
        let before: Vec<Option<&str>> = finishes
            .iter()
            .map(|f| f.state.before.map(Status::as_str))
            .collect();
        let mut tx = pool.begin().await?;
        sqlx::query(GROUP_LOCK_WAIT).execute(&mut *tx).await?;
        sqlx::query(
            "UPDATE schedules AS s SET active_until = f.active_until,
                 before_status = f.before_status, missed_at = COALESCE(f.missed_at, s.missed_at),
                 next_at = CASE WHEN s.version = f.version THEN f.next_at
                           WHEN s.next_at IS NULL OR s.next_at > f.claimed_at THEN f.claimed_at
                           ELSE s.next_at END,
                 claim_owner = NULL, claim_until = NULL
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
                 AS f(member_id, user_id, owner, active_until, before_status, missed_at, version,
                      next_at, claimed_at)
             WHERE s.member_id = f.member_id AND s.user_id = f.user_id
               AND s.claim_owner = f.owner",
        )
        // Planned for the tables as they are, as the claims are (`claims.rs`).
        .persistent(false)
        .bind(members)
        .bind(users)
        .bind(owners)
        .bind(column(|f| f.state.active_until))
        .bind(before)
        .bind(column(|f| f.state.missed_at))
        .bind(column(|f| Some(f.claimed.version)))
        .bind(column(|f| f.state.next_at))
        .bind(column(|f| Some(f.claimed_at)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
