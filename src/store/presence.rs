//! The automation's shared read of a portal: when its calendar and working days are read
//! next, claimed by one process at a time as timers are (`timers.rs`), and sooner when a
//! calendar event or a saved switch asks.

use super::{Store, StoreError, on_pool};
use bitrix24::domain::MemberId;

/// A portal due for its shared read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuePortal {
    pub member_id: MemberId,
    /// When its calendar was last read.
    pub calendar_at: Option<i64>,
    /// When its working days were last read.
    pub days_at: Option<i64>,
    /// A calendar event (or a save) asked for a sooner read.
    pub calendar_stale: bool,
    /// Grows with each such ask.
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    member_id: String,
    calendar_at: Option<i64>,
    days_at: Option<i64>,
    calendar_stale: bool,
    version: i64,
}

/// What a look at a portal did, for its row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Looked {
    /// When to look again; `None` when nobody is left to look for.
    pub next_at: Option<i64>,
    /// When it read the calendar, if it did.
    pub calendar_at: Option<i64>,
    /// When it read the working days, if it did.
    pub days_at: Option<i64>,
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
            ") RETURNING member_id, calendar_at, days_at, calendar_stale, version"
        )
    };
}

impl Store {
    /// Claims for `owner`, until `claim_until`, up to `limit` portals due for a read at `now`.
    pub async fn claim_due_automation(
        &self,
        now: i64,
        limit: u32,
        owner: &str,
        claim_until: i64,
    ) -> Result<Vec<DuePortal>, StoreError> {
        let sql = (claim_due!(""), claim_due!("FOR UPDATE SKIP LOCKED"));
        let rows: Vec<DueRow> = self.claim_due(sql, now, limit, owner, claim_until).await?;
        rows.into_iter()
            .map(|row| {
                Ok(DuePortal {
                    member_id: MemberId::parse(&row.member_id)
                        .map_err(|_| StoreError::Corrupt("automation member".into()))?,
                    calendar_at: row.calendar_at,
                    days_at: row.days_at,
                    calendar_stale: row.calendar_stale,
                    version: row.version,
                })
            })
            .collect()
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

    /// Releases `owner`'s claim on `claimed` with what the look did: looked at again at
    /// `next_at` (the row goes when nobody is left to look for), and when it read the calendar
    /// and the working days. A save or an event that came meanwhile keeps its sooner look.
    pub async fn finish_automation(
        &self,
        claimed: &DuePortal,
        owner: &str,
        looked: &Looked,
    ) -> Result<(), StoreError> {
        let member_id = claimed.member_id.as_str();
        on_pool!(&self.db, |pool| match looked.next_at {
            Some(next_at) => sqlx::query(
                "UPDATE automation_portals SET
                     next_at = CASE WHEN version = $5 THEN $3 ELSE next_at END,
                     calendar_at = COALESCE($4, calendar_at),
                     days_at = COALESCE($6, days_at),
                     calendar_stale = CASE WHEN version = $5 AND COALESCE($4, -1) >= 0 THEN FALSE
                         ELSE calendar_stale END,
                     claim_owner = NULL, claim_until = NULL
                 WHERE member_id = $1 AND claim_owner = $2"
            )
            .bind(member_id)
            .bind(owner)
            .bind(next_at)
            .bind(looked.calendar_at)
            .bind(claimed.version)
            .bind(looked.days_at)
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
