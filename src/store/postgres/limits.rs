//! Each portal's request bucket, shared by every instance on the database: Bitrix24 counts a
//! portal's requests, not an instance's (`docs/bitrix24.md`, "Rate limit"). A bucket is one
//! number, the moment it would be empty if nothing more were sent; a reservation moves it one
//! request's drain time later in one atomic statement, so instances never hand out the same
//! place twice.

use std::time::Duration;

use sqlx::PgPool;

use crate::domain::MemberId;
use crate::store::StoreError;

/// What a reservation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSlot {
    /// Reserved: send after this wait.
    Reserved(Duration),
    /// The wait would exceed the caller's budget; nothing is reserved. A place frees up after
    /// this long.
    Full(Duration),
}

/// How late a request may leave after the moment it reserved (the reservation's own round
/// trip, scheduling): the bucket counts as full this much earlier, so a request that leaves
/// late does not push a later one past the portal's limit.
const LATENESS_US: i64 = 100_000;

/// The shared buckets (PostgreSQL only). Cheap to clone.
#[derive(Clone, Debug)]
pub struct SharedBuckets {
    pool: PgPool,
    /// Drain time of one request, in microseconds.
    per_request_us: i64,
    /// The burst, as drain time: a bucket this far ahead of now is full.
    burst_us: i64,
}

impl SharedBuckets {
    pub(in crate::store) fn new(pool: PgPool, burst: u32, per_second: f64) -> Self {
        let per_request_us = (1e6 / per_second.max(0.01)).round() as i64;
        let burst_us = per_request_us.saturating_mul(i64::from(burst.max(1)));
        Self {
            pool,
            per_request_us,
            burst_us: (burst_us - LATENESS_US).max(per_request_us),
        }
    }

    /// Reserves a place in `member_id`'s bucket at `now_us` (unix microseconds), unless the
    /// wait would exceed `max_wait`.
    pub async fn reserve(
        &self,
        member_id: &MemberId,
        now_us: i64,
        max_wait: Duration,
    ) -> Result<RateSlot, StoreError> {
        let max_wait_us = i64::try_from(max_wait.as_micros()).unwrap_or(i64::MAX / 4);
        let reserved: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO rate_buckets (member_id, empty_at_us) VALUES ($1, $2 + $3)
             ON CONFLICT (member_id) DO UPDATE
                 SET empty_at_us = GREATEST(rate_buckets.empty_at_us, $2) + $3
                 WHERE GREATEST(rate_buckets.empty_at_us, $2) + $3 - $2 - $4 <= $5
             RETURNING empty_at_us",
        )
        .bind(member_id.as_str())
        .bind(now_us)
        .bind(self.per_request_us)
        .bind(self.burst_us)
        .bind(max_wait_us)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((empty_at,)) = reserved {
            return Ok(RateSlot::Reserved(self.wait(empty_at, now_us)));
        }
        let (empty_at,): (i64,) =
            sqlx::query_as("SELECT empty_at_us FROM rate_buckets WHERE member_id = $1")
                .bind(member_id.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(RateSlot::Full(
            self.wait(empty_at.max(now_us) + self.per_request_us, now_us),
        ))
    }

    /// The portal said its bucket is full: ours is too from now on, and the refused request
    /// counted on top, as the portal counts it.
    pub async fn saturate(&self, member_id: &MemberId, now_us: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rate_buckets (member_id, empty_at_us) VALUES ($1, $2 + $3 + $4)
             ON CONFLICT (member_id) DO UPDATE
                 SET empty_at_us = GREATEST(rate_buckets.empty_at_us, $2 + $3) + $4",
        )
        .bind(member_id.as_str())
        .bind(now_us)
        .bind(self.burst_us)
        .bind(self.per_request_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How long a request that empties the bucket at `empty_at` waits at `now` so that the
    /// bucket holds at most the burst when it is sent.
    fn wait(&self, empty_at: i64, now: i64) -> Duration {
        let ahead = empty_at - now - self.burst_us;
        Duration::from_micros(u64::try_from(ahead).unwrap_or(0))
    }
}
