//! Each portal's request bucket, shared by every instance on the database: Bitrix24 counts a
//! portal's requests, not an instance's (`docs/bitrix24.md`, "Rate limit"). A bucket is one
//! number, the moment it would be empty if nothing more were sent; a reservation moves it as
//! many requests' drain time later as it takes places, in one atomic statement, so instances
//! never hand out the same place twice.

use std::time::Duration;

use sqlx::PgPool;

use crate::store::StoreError;
use bitrix24::domain::MemberId;

/// The statement's `clock` (`now_us`): `$2` when given (tests), else the database's clock as
/// the statement runs. The database's clock is the one to use: a time taken before the
/// statement waited for a connection would count that wait as drain the portal never saw, and
/// the next burst would arrive early. One clock also keeps instances on different hosts in step.
macro_rules! clock_cte {
    () => {
        "WITH clock AS (SELECT COALESCE($2,
             (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint) AS now_us) "
    };
}

/// Consecutive places one reservation got, the first leaving soonest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Places {
    /// When the bucket empties after the first place's request.
    first_empty_at: i64,
    /// How many places were reserved.
    pub granted: usize,
    now_us: i64,
    per_request_us: i64,
    burst_us: i64,
}

impl Places {
    /// How long the request of place `index` (from 0) waits so that the bucket holds at most
    /// the burst when it is sent; past the granted places, when the next one would leave.
    pub fn wait(&self, index: usize) -> Duration {
        let index = i64::try_from(index).unwrap_or(i64::MAX / 4);
        let empty_at = self.first_empty_at + index * self.per_request_us;
        let ahead = empty_at - self.now_us - self.burst_us;
        Duration::from_micros(u64::try_from(ahead).unwrap_or(0))
    }
}

/// The shared buckets (PostgreSQL only). Cheap to clone.
#[derive(Clone, Debug)]
pub struct SharedBuckets {
    pool: PgPool,
    /// Drain time of one request, in microseconds.
    per_request_us: i64,
    /// How far ahead of now a bucket may empty before it counts as full: the burst, as drain
    /// time (less the limiter's margin for requests that leave late).
    burst_us: i64,
}

impl SharedBuckets {
    pub(in crate::store) fn new(pool: PgPool, per_request: Duration, full_after: Duration) -> Self {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4).max(1);
        Self {
            pool,
            per_request_us: micros(per_request),
            burst_us: micros(full_after),
        }
    }

    /// How long the portal takes to drain one request.
    pub fn per_request(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.per_request_us).unwrap_or(1))
    }

    /// Reserves up to `count` consecutive places in `member_id`'s bucket at `now_us` (unix
    /// microseconds; `None`: the database's clock, see `clock_cte!`) in one statement: as
    /// many as leave within `max_wait`.
    pub async fn reserve(
        &self,
        member_id: &MemberId,
        now_us: Option<i64>,
        max_wait: Duration,
        count: usize,
    ) -> Result<Places, StoreError> {
        let max_wait_us = i64::try_from(max_wait.as_micros()).unwrap_or(i64::MAX / 4);
        // `granted` is how many places fit before the last one would wait past `max_wait`;
        // both it and the new end are computed from the row as it was.
        let (empty_at, granted, now_us): (i64, i64, i64) = sqlx::query_as(concat!(
            clock_cte!(),
            "INSERT INTO rate_buckets AS b (member_id, empty_at_us, granted)
             SELECT $1, clock.now_us + $3 * g, g
             FROM clock, LATERAL (SELECT LEAST($6, ($4 + $5) / $3) AS g) AS fresh
             ON CONFLICT (member_id) DO UPDATE SET
                 granted = LEAST($6, GREATEST(0, ((SELECT now_us FROM clock) + $4 + $5
                     - GREATEST(b.empty_at_us, (SELECT now_us FROM clock))) / $3)),
                 empty_at_us = GREATEST(b.empty_at_us, (SELECT now_us FROM clock))
                     + $3 * LEAST($6, GREATEST(0, ((SELECT now_us FROM clock) + $4 + $5
                         - GREATEST(b.empty_at_us, (SELECT now_us FROM clock))) / $3))
             RETURNING empty_at_us, granted, (SELECT now_us FROM clock)",
        ))
        .bind(member_id.as_str())
        .bind(now_us)
        .bind(self.per_request_us)
        .bind(self.burst_us)
        .bind(max_wait_us)
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        let granted = usize::try_from(granted).unwrap_or(0);
        let step = i64::try_from(granted).unwrap_or(0) * self.per_request_us;
        Ok(Places {
            first_empty_at: empty_at - step + self.per_request_us,
            granted,
            now_us,
            per_request_us: self.per_request_us,
            burst_us: self.burst_us,
        })
    }

    /// The portal said its bucket is full: ours is too from now on, and the refused request
    /// counted on top, as the portal counts it. `now_us` as for [`SharedBuckets::reserve`].
    pub async fn saturate(
        &self,
        member_id: &MemberId,
        now_us: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(concat!(
            clock_cte!(),
            "INSERT INTO rate_buckets (member_id, empty_at_us)
             SELECT $1, clock.now_us + $3 + $4 FROM clock
             ON CONFLICT (member_id) DO UPDATE SET empty_at_us =
                 GREATEST(rate_buckets.empty_at_us, (SELECT now_us FROM clock) + $3) + $4",
        ))
        .bind(member_id.as_str())
        .bind(now_us)
        .bind(self.burst_us)
        .bind(self.per_request_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
