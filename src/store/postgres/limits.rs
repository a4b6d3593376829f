//! Each portal's request bucket, shared by every instance on the database: Bitrix24 counts a
//! portal's requests, not an instance's (`docs/bitrix24.md`, "Rate limit"). A bucket is one
//! number, the moment it would be empty if nothing more were sent; a reservation moves it as
//! many requests' drain time later as it takes places, in one atomic statement, so instances
//! never hand out the same place twice.

use std::collections::HashMap;
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

/// One portal's part of a reservation for several: up to `count` places, as many as leave
/// within `max_wait`.
#[derive(Clone, Debug)]
pub struct Want {
    /// The portal.
    pub member_id: MemberId,
    /// How long the last place may wait.
    pub max_wait: Duration,
    /// How many places are asked for.
    pub count: usize,
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
    /// microseconds; `None`: the database's clock, see `clock_cte!`): as many as leave within
    /// `max_wait`.
    pub async fn reserve(
        &self,
        member_id: &MemberId,
        now_us: Option<i64>,
        max_wait: Duration,
        count: usize,
    ) -> Result<Places, StoreError> {
        let want = Want {
            member_id: member_id.clone(),
            max_wait,
            count,
        };
        let places = self
            .reserve_many(std::slice::from_ref(&want), now_us)
            .await?;
        places
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("a reservation came back empty".into()))
    }

    /// Reserves for several portals in one statement (each at most once), as
    /// [`SharedBuckets::reserve`] does for one: the places of `wants[i]` are the answer's `i`th.
    /// The rows are taken in the order of their portals' ids, so statements from any number
    /// of instances, each holding several rows' locks until it commits, never wait for each
    /// other in a circle.
    pub async fn reserve_many(
        &self,
        wants: &[Want],
        now_us: Option<i64>,
    ) -> Result<Vec<Places>, StoreError> {
        let mut order: Vec<&Want> = wants.iter().collect();
        order.sort_by(|a, b| a.member_id.as_str().cmp(b.member_id.as_str()));
        let ids: Vec<&str> = order.iter().map(|want| want.member_id.as_str()).collect();
        debug_assert!(
            ids.windows(2).all(|pair| pair[0] != pair[1]),
            "a portal twice"
        );
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4);
        let max_waits: Vec<i64> = order.iter().map(|want| micros(want.max_wait)).collect();
        let counts: Vec<i64> = order
            .iter()
            .map(|want| i64::try_from(want.count).unwrap_or(i64::MAX))
            .collect();
        // Per portal, `granted` is how many places fit before the last one would wait past
        // its `max_wait`; both it and the new end are computed from the row as it was. A
        // portal's own figures are found again by its place in the arrays.
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(concat!(
            clock_cte!(),
            "INSERT INTO rate_buckets AS b (member_id, empty_at_us, granted)
             SELECT w.member_id, clock.now_us + $3 * fresh.g, fresh.g
             FROM unnest($1::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY
                     AS w(member_id, max_wait_us, wanted, ord),
                  clock,
                  LATERAL (SELECT LEAST(w.wanted, ($4 + w.max_wait_us) / $3) AS g) AS fresh
             ORDER BY w.ord
             ON CONFLICT (member_id) DO UPDATE SET (granted, empty_at_us) = (
                 SELECT u.g, u.start + $3 * u.g FROM (
                     SELECT s.start, LEAST($6[s.i],
                         GREATEST(0, (clock.now_us + $4 + $5[s.i] - s.start) / $3)) AS g
                     FROM clock, LATERAL (SELECT array_position($1::text[], EXCLUDED.member_id)
                         AS i, GREATEST(b.empty_at_us, clock.now_us) AS start) AS s) AS u)
             RETURNING b.member_id, b.empty_at_us, b.granted, (SELECT now_us FROM clock)",
        ))
        .bind(&ids)
        .bind(now_us)
        .bind(self.per_request_us)
        .bind(self.burst_us)
        .bind(&max_waits)
        .bind(&counts)
        .fetch_all(&self.pool)
        .await?;
        let answers: HashMap<String, (i64, i64, i64)> = rows
            .into_iter()
            .map(|(member_id, empty_at, granted, now_us)| (member_id, (empty_at, granted, now_us)))
            .collect();
        wants
            .iter()
            .map(|want| {
                let &(empty_at, granted, now_us) =
                    answers.get(want.member_id.as_str()).ok_or_else(|| {
                        StoreError::Corrupt("a portal's reservation came back empty".into())
                    })?;
                Ok(self.places(empty_at, granted, now_us))
            })
            .collect()
    }

    /// The places one row's answer stands for: `granted` of them, the last ending at `empty_at`.
    fn places(&self, empty_at: i64, granted: i64, now_us: i64) -> Places {
        let granted = usize::try_from(granted).unwrap_or(0);
        let step = i64::try_from(granted).unwrap_or(0) * self.per_request_us;
        Places {
            first_empty_at: empty_at - step + self.per_request_us,
            granted,
            now_us,
            per_request_us: self.per_request_us,
            burst_us: self.burst_us,
        }
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
