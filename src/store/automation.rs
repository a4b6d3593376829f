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

#[derive(Clone, sqlx::FromRow)]
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

    /// Records what holds the user's status now (`None`: nothing). A hand change recorded
    /// since the look read the row stands: the same reason stays overridden.
    pub async fn set_held(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        held: Option<&Held>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE automation SET reason = $3, reason_status = $4, reason_until = $5,
                 before_status = $6,
                 overridden = CASE WHEN overridden AND reason = $3 THEN TRUE ELSE $7 END
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
}

impl Store {
    /// A timer that ran into a reason just brought back `status`, the one the reason set: the
    /// reason holds the status again, and its end brings back the status from before it.
    pub async fn resume_automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        status: Status,
    ) -> Result<(), StoreError> {
        if !self.may_have_automation(member_id, user_id).await? {
            return Ok(());
        }
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE automation SET overridden = FALSE
             WHERE member_id = $1 AND user_id = $2 AND reason IS NOT NULL AND overridden
               AND reason_status = $3"
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(status.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

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

/// Rows of `automation` copied per round trip.
const COPY_PAGE: i64 = 1000;

impl Store {
    /// Copies every user's switches and where the automation stands for them into `target`
    /// (`migrate-store`, after the accounts they belong to), and has the target look at each
    /// of their portals at once.
    pub(super) async fn copy_automation_to(&self, target: &Store) -> Result<(), StoreError> {
        let mut after = (String::new(), 0);
        loop {
            let page: Vec<(String, Row, i64)> = self.automation_page(&after).await?;
            for (member, row, updated_at) in &page {
                let member_id = MemberId::parse(member)
                    .map_err(|_| StoreError::Corrupt("automation member".into()))?;
                let user = row.clone().parse()?;
                target
                    .save_automation(&member_id, user.user_id, &user.settings, *updated_at)
                    .await?;
                let busy = BTreeMap::from([(user.user_id, user.busy.clone())]);
                let days: BTreeMap<_, _> =
                    user.day.map(|d| (user.user_id, d)).into_iter().collect();
                target.record_presence(&member_id, &busy, &days).await?;
                target
                    .set_held(&member_id, user.user_id, user.held.as_ref())
                    .await?;
            }
            match page.last() {
                Some((member, row, _)) => after = (member.clone(), row.user_id),
                None => return Ok(()),
            }
        }
    }

    async fn automation_page(
        &self,
        after: &(String, i64),
    ) -> Result<Vec<(String, Row, i64)>, StoreError> {
        let rows: Vec<CopyRow> = on_pool!(&self.db, |pool| sqlx::query_as(concat!(
            "SELECT member_id, updated_at, ",
            columns!(),
            " FROM automation WHERE member_id > $1 OR (member_id = $1 AND user_id > $2)
             ORDER BY member_id, user_id LIMIT $3"
        ))
        .bind(&after.0)
        .bind(after.1)
        .bind(COPY_PAGE)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.member_id, r.row, r.updated_at))
            .collect())
    }
}

/// An `automation` row with the columns a copy adds.
#[derive(sqlx::FromRow)]
struct CopyRow {
    member_id: String,
    updated_at: i64,
    #[sqlx(flatten)]
    row: Row,
}
