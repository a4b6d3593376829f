//! Statuses that set themselves: each user's switches and where the automation stands for them,
//! and each portal's shared read, claimed by one process at a time as timers are (`timers.rs`).

use std::collections::BTreeMap;

use super::{Store, StoreError, on_pool, user_id_from_sql, user_id_to_sql};
use crate::automation::{Held, Reason, Settings, Wanted};
use bitrix24::domain::{MemberId, Status, UserId};
use bitrix24::presence::{Busy, DayState};

/// A user's switches, what the last reads found, and what holds their status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAutomation {
    pub user_id: UserId,
    pub settings: Settings,
    /// Their busy intervals ahead, sorted and merged.
    pub busy: Vec<Busy>,
    /// Their working day, as last read.
    pub day: Option<DayState>,
    /// What holds their status, if anything.
    pub held: Option<Held>,
}

/// A portal due for its shared read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuePortal {
    pub member_id: MemberId,
    /// When its calendar was last read.
    pub calendar_at: Option<i64>,
    /// A calendar event (or a save) asked for a sooner read.
    pub calendar_stale: bool,
    /// Grows with each such ask.
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    user_id: i64,
    meetings: bool,
    meeting_status: String,
    working_day: bool,
    busy: String,
    day_state: Option<String>,
    reason: Option<String>,
    reason_status: Option<String>,
    reason_until: Option<i64>,
    before_status: Option<String>,
    overridden: bool,
}

impl Row {
    fn parse(self) -> Result<UserAutomation, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("automation {what}"));
        let status = |text: &str| Status::parse(text).map_err(|_| corrupt("status"));
        let busy: Vec<(i64, i64)> =
            serde_json::from_str(&self.busy).map_err(|_| corrupt("busy"))?;
        let held = match (self.reason, self.reason_status, self.before_status) {
            (Some(reason), Some(held), Some(before)) => Some(Held {
                wanted: Wanted {
                    reason: Reason::parse(&reason).ok_or_else(|| corrupt("reason"))?,
                    status: status(&held)?,
                    until: self.reason_until,
                },
                before: status(&before)?,
                overridden: self.overridden,
            }),
            _ => None,
        };
        Ok(UserAutomation {
            user_id: user_id_from_sql(self.user_id)?,
            settings: Settings {
                meetings: self.meetings,
                meeting_status: status(&self.meeting_status)?,
                working_day: self.working_day,
            },
            busy: busy
                .into_iter()
                .map(|(from, to)| Busy { from, to })
                .collect(),
            day: self.day_state.as_deref().and_then(DayState::parse),
            held,
        })
    }
}

/// The columns a [`Row`] reads.
macro_rules! columns {
    () => {
        "user_id, meetings, meeting_status, working_day, busy, day_state, reason, reason_status,
         reason_until, before_status, overridden"
    };
}

/// Claims up to `$2` portals due at `$1` for `$3` until `$4`; `$lock` keeps two claims apart.
/// A portal on hold (paused, or its paid period ended) is left until it is back.
macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "UPDATE automation_portals SET claim_owner = $3, claim_until = $4
             WHERE member_id IN (
                 SELECT member_id FROM automation_portals
                 WHERE next_at <= $1 AND (claim_until IS NULL OR claim_until < $1)
                   AND NOT EXISTS (SELECT 1 FROM portals p
                       WHERE p.member_id = automation_portals.member_id
                       AND (p.paused_at IS NOT NULL OR p.payment_required_at IS NOT NULL))
                 ORDER BY next_at LIMIT $2 ",
            $lock,
            ") RETURNING member_id, calendar_at, calendar_stale, version"
        )
    };
}

impl Store {
    /// The user's switches, if they saved them.
    pub async fn automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<UserAutomation>, StoreError> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM automation WHERE member_id = $1 AND user_id = $2"
        );
        let row: Option<Row> = on_pool!(&self.db, |pool| sqlx::query_as(sql)
            .bind(member_id.as_str())
            .bind(user_id_to_sql(user_id))
            .fetch_optional(pool)
            .await)?;
        row.map(Row::parse).transpose()
    }

    /// Saves the user's switches and has their portal read at `now`, so a switch turned on
    /// (or off, ending what it held) takes effect at the next look.
    pub async fn save_automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        settings: &Settings,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO automation (member_id, user_id, meetings, meeting_status, working_day,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (member_id, user_id) DO UPDATE SET
                     meetings = excluded.meetings, meeting_status = excluded.meeting_status,
                     working_day = excluded.working_day, updated_at = excluded.updated_at",
            )
            .bind(member_id.as_str())
            .bind(user_id_to_sql(user_id))
            .bind(settings.meetings)
            .bind(settings.meeting_status.as_str())
            .bind(settings.working_day)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO automation_portals (member_id, next_at, calendar_stale)
                 VALUES ($1, $2, TRUE)
                 ON CONFLICT (member_id) DO UPDATE SET next_at = $2, calendar_stale = TRUE,
                     version = automation_portals.version + 1",
            )
            .bind(member_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        self.cache.note(&(member_id.clone(), user_id), |target| {
            target.has_automation = true
        });
        Ok(())
    }

    /// Claims for `owner`, until `claim_until`, up to `limit` portals due for a read at `now`.
    pub async fn claim_due_automation(
        &self,
        now: i64,
        limit: u32,
        owner: &str,
        claim_until: i64,
    ) -> Result<Vec<DuePortal>, StoreError> {
        let sql = (claim_due!(""), claim_due!("FOR UPDATE SKIP LOCKED"));
        let rows: Vec<(String, Option<i64>, bool, i64)> =
            self.claim_due(sql, now, limit, owner, claim_until).await?;
        rows.into_iter()
            .map(|(member, calendar_at, calendar_stale, version)| {
                Ok(DuePortal {
                    member_id: MemberId::parse(&member)
                        .map_err(|_| StoreError::Corrupt("automation member".into()))?,
                    calendar_at,
                    calendar_stale,
                    version,
                })
            })
            .collect()
    }

    /// Every user of the portal with a switch on or a reason still holding their status.
    pub async fn automated_users(
        &self,
        member_id: &MemberId,
    ) -> Result<Vec<UserAutomation>, StoreError> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM automation
             WHERE member_id = $1 AND (meetings OR working_day OR reason IS NOT NULL)
             ORDER BY user_id"
        );
        let rows: Vec<Row> = on_pool!(&self.db, |pool| sqlx::query_as(sql)
            .bind(member_id.as_str())
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Row::parse).collect()
    }

    /// Records what a read found: each listed user's busy intervals, each listed user's
    /// working day.
    pub async fn record_presence(
        &self,
        member_id: &MemberId,
        busy: &BTreeMap<UserId, Vec<Busy>>,
        days: &BTreeMap<UserId, DayState>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for (user_id, busy) in busy {
                let pairs: Vec<(i64, i64)> = busy.iter().map(|b| (b.from, b.to)).collect();
                sqlx::query(
                    "UPDATE automation SET busy = $3 WHERE member_id = $1 AND user_id = $2",
                )
                .bind(member_id.as_str())
                .bind(user_id_to_sql(*user_id))
                .bind(serde_json::json!(pairs).to_string())
                .execute(&mut *tx)
                .await?;
            }
            for (user_id, day) in days {
                sqlx::query(
                    "UPDATE automation SET day_state = $3 WHERE member_id = $1 AND user_id = $2",
                )
                .bind(member_id.as_str())
                .bind(user_id_to_sql(*user_id))
                .bind(day.as_str())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Records what holds the user's status now (`None`: nothing).
    pub async fn set_held(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        held: Option<&Held>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE automation SET reason = $3, reason_status = $4, reason_until = $5,
                 before_status = $6, overridden = $7
             WHERE member_id = $1 AND user_id = $2"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(held.map(|h| h.wanted.reason.as_str()))
        .bind(held.map(|h| h.wanted.status.as_str()))
        .bind(held.and_then(|h| h.wanted.until))
        .bind(held.map(|h| h.before.as_str()))
        .bind(held.is_some_and(|h| h.overridden))
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The user changed their status (or started a timer) while a reason held it: theirs
    /// stands until the reason ends. Reads nothing for users who never saved switches.
    pub async fn override_automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<(), StoreError> {
        if !self.may_have_automation(member_id, user_id).await? {
            return Ok(());
        }
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE automation SET overridden = TRUE
             WHERE member_id = $1 AND user_id = $2 AND reason IS NOT NULL AND NOT overridden"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// A calendar event arrived: the portal's calendar is read at its next look, at `now` at
    /// the latest (a portal with nobody opted in has no row and is left alone).
    pub async fn calendar_changed(&self, member_id: &MemberId, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE automation_portals SET calendar_stale = TRUE, version = version + 1,
                 next_at = CASE WHEN next_at < $2 THEN next_at ELSE $2 END
             WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Releases `owner`'s claim on `claimed`: looked at again at `next_at` (the row goes when
    /// nobody is left to look for); `calendar_at` when the calendar was read this time. A save
    /// or an event that came meanwhile keeps its sooner look.
    pub async fn finish_automation(
        &self,
        claimed: &DuePortal,
        owner: &str,
        next_at: Option<i64>,
        calendar_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let member_id = claimed.member_id.as_str();
        on_pool!(&self.db, |pool| match next_at {
            Some(next_at) => sqlx::query(
                "UPDATE automation_portals SET
                     next_at = CASE WHEN version = $5 THEN $3 ELSE next_at END,
                     calendar_at = COALESCE($4, calendar_at),
                     calendar_stale = CASE WHEN version = $5 AND COALESCE($4, -1) >= 0 THEN FALSE
                         ELSE calendar_stale END,
                     claim_owner = NULL, claim_until = NULL
                 WHERE member_id = $1 AND claim_owner = $2"
            )
            .bind(member_id)
            .bind(owner)
            .bind(next_at)
            .bind(calendar_at)
            .bind(claimed.version)
            .execute(pool)
            .await
            .map(|_| ()),
            None => sqlx::query(
                "DELETE FROM automation_portals
                 WHERE member_id = $1 AND claim_owner = $2 AND version = $3"
            )
            .bind(member_id)
            .bind(owner)
            .bind(claimed.version)
            .execute(pool)
            .await
            .map(|_| ()),
        })?;
        Ok(())
    }
}

impl Store {
    /// An administrator of the portal with a stored pair, the one who may read everyone's
    /// working day (the installer first, then whoever was refreshed last).
    pub async fn admin_account(&self, member_id: &MemberId) -> Result<Option<UserId>, StoreError> {
        let row: Option<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id FROM accounts
             WHERE member_id = $1 AND is_admin AND state = 'active' AND refresh_token IS NOT NULL
             ORDER BY is_installer DESC, refreshed_at DESC LIMIT 1"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        row.map(|(user,)| user_id_from_sql(user)).transpose()
    }
}
