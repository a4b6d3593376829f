//! The app's paid period on each portal (`docs/bitrix24.md`, "Paid apps"): what `app.info` last
//! said of it, since when the OAuth server refuses tokens with `PAYMENT_REQUIRED` (calls and
//! background work for the portal pause meanwhile), and the claims on reading `app.info` and
//! on asking whether payment returned.

use super::{Store, StoreError, member_id_from_sql, on_pool, user_id_from_sql};
use bitrix24::domain::{Licence, MemberId, UserId};
use bitrix24::licence::PaidPeriod;

const DAY: i64 = 86_400;

/// The app's paid period on a portal, as last learnt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Period {
    /// `app.info`'s `PAYMENT_EXPIRED`; `None` until it was read.
    pub expired: Option<bool>,
    /// Unix seconds when the period runs out (from `DAYS`); `None` for one without an end.
    pub paid_until: Option<i64>,
    /// Unix seconds since the OAuth server refuses the portal's tokens with
    /// `PAYMENT_REQUIRED`: the period ended, and so did its grace.
    pub ended_at: Option<i64>,
}

impl Period {
    /// Days left at `now`, a day begun counting whole, as `app.info`'s `DAYS` would say
    /// (negative past the end).
    pub fn days_left(&self, now: i64) -> Option<i64> {
        self.paid_until.map(|until| -(now - until).div_euclid(DAY))
    }

    /// Expired but still working: Bitrix24's grace period, when administrators should renew.
    pub fn in_grace(&self) -> bool {
        self.expired == Some(true) && self.ended_at.is_none()
    }
}

impl Store {
    /// Records what `app.info` said of the portal's period at `now`.
    pub async fn record_period(
        &self,
        member_id: &MemberId,
        period: &PaidPeriod,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET licence = COALESCE($2, licence), payment_expired = $3,
                 paid_until = $4, licence_read_at = $5
             WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .bind(period.licence.as_ref().map(Licence::as_str))
        .bind(period.expired)
        .bind(
            period
                .days
                .map(|days| now.saturating_add(days.saturating_mul(DAY)))
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        self.cache.forget_portal(member_id);
        Ok(())
    }

    /// Records that the OAuth server refused the portal's tokens with `PAYMENT_REQUIRED` at
    /// `now`; returns whether this is news (the first refusal since the period was last seen
    /// working).
    pub async fn end_period(&self, member_id: &MemberId, now: i64) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET payment_required_at = $2, payment_probed_at = $2
             WHERE member_id = $1 AND payment_required_at IS NULL"
        )
        .bind(member_id.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_portal(member_id);
        Ok(done == 1)
    }

    /// Records that the OAuth server issues the portal's tokens again; returns whether its
    /// period had been ended.
    pub async fn resume_period(&self, member_id: &MemberId) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET payment_required_at = NULL, payment_probed_at = NULL
             WHERE member_id = $1 AND payment_required_at IS NOT NULL"
        )
        .bind(member_id.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_portal(member_id);
        Ok(done == 1)
    }

    /// Takes the right to ask, at `now`, whether payment returned on a portal whose period
    /// ended, if nobody (in any instance) asked since `since`.
    pub async fn claim_payment_probe(
        &self,
        member_id: &MemberId,
        now: i64,
        since: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET payment_probed_at = $2
             WHERE member_id = $1 AND payment_required_at IS NOT NULL
               AND (payment_probed_at IS NULL OR payment_probed_at <= $3)"
        )
        .bind(member_id.as_str())
        .bind(now)
        .bind(since)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Up to `limit` portals whose period ended and that nobody asked about since `since`.
    pub async fn periods_to_probe(
        &self,
        since: i64,
        limit: u32,
    ) -> Result<Vec<MemberId>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id FROM portals
             WHERE payment_required_at IS NOT NULL AND state = 'active'
               AND removing_since IS NULL AND paused_at IS NULL
               AND (payment_probed_at IS NULL OR payment_probed_at <= $1)
             ORDER BY COALESCE(payment_probed_at, 0) LIMIT $2"
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.iter()
            .map(|(member,)| member_id_from_sql(member))
            .collect()
    }

    /// Claims, at `now`, up to `limit` portals in use whose `app.info` is due a read: never read,
    /// read before `stale`, or past the end of their period and read before `recheck`.
    pub async fn claim_period_reads(
        &self,
        now: i64,
        stale: i64,
        recheck: i64,
        limit: u32,
    ) -> Result<Vec<MemberId>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "UPDATE portals SET licence_read_at = $1
             WHERE member_id IN (
                 SELECT member_id FROM portals
                 WHERE state = 'active' AND removing_since IS NULL AND paused_at IS NULL
                   AND payment_required_at IS NULL
                   AND (licence_read_at IS NULL OR licence_read_at <= $2
                        OR (paid_until <= $1 AND licence_read_at <= $3))
                 ORDER BY COALESCE(licence_read_at, 0) LIMIT $4)
             RETURNING member_id"
        )
        // Planned afresh each time, as claims of due work are (`claims.rs`): a plan kept from
        // when `portals` was nearly empty can rerun the `LIMIT` subquery for every row.
        .persistent(false)
        .bind(now)
        .bind(stale)
        .bind(recheck)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.iter()
            .map(|(member,)| member_id_from_sql(member))
            .collect()
    }

    /// Takes the right to read the portal's `app.info` at `now`, if nobody (in any instance)
    /// read it since `since`.
    pub async fn claim_period_read(
        &self,
        member_id: &MemberId,
        now: i64,
        since: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE portals SET licence_read_at = $2
             WHERE member_id = $1 AND (licence_read_at IS NULL OR licence_read_at <= $3)"
        )
        .bind(member_id.as_str())
        .bind(now)
        .bind(since)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// The account to ask Bitrix24 with about a portal's period: one with a pair, an
    /// administrator's first, the most recently refreshed.
    pub async fn period_account(&self, member_id: &MemberId) -> Result<Option<UserId>, StoreError> {
        let row: Option<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id FROM accounts
             WHERE member_id = $1 AND state = 'active' AND refresh_token IS NOT NULL
             ORDER BY is_admin DESC, refreshed_at DESC LIMIT 1"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        row.map(|(user,)| user_id_from_sql(user)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_begun_counts_whole_on_both_sides_of_the_end() {
        let period = Period {
            paid_until: Some(100 * DAY),
            ..Period::default()
        };
        assert_eq!(period.days_left(70 * DAY), Some(30));
        assert_eq!(period.days_left(70 * DAY + 1), Some(30));
        assert_eq!(period.days_left(100 * DAY), Some(0));
        assert_eq!(period.days_left(103 * DAY), Some(-3));
        assert_eq!(period.days_left(103 * DAY + 1), Some(-3));
        assert_eq!(Period::default().days_left(0), None);
        let grace = Period {
            expired: Some(true),
            ..Period::default()
        };
        assert!(grace.in_grace());
        assert!(
            !Period {
                ended_at: Some(1),
                ..grace
            }
            .in_grace()
        );
    }
}
