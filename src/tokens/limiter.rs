//! A per-portal leaky bucket in front of every REST call, mirroring the portal's own
//! (`docs/bitrix24.md`, "Rate limit": a counter that grows by one per request — a refused one
//! too — and drains at a fixed rate). Callers wait for a slot rather than fail; only a wait
//! longer than what is left of the call's budget is refused, with the time after which a slot
//! frees up.
//!
//! On PostgreSQL the bucket lives in the database, shared by every instance
//! ([`crate::store::SharedBuckets`]); the one in memory stands in only while the database does not answer.
//! On SQLite each process keeps its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::reservations::{LEASE, Reservations};
use crate::store::Store;
use bitrix24::MAX_IN_FLIGHT_PER_PORTAL;
use bitrix24::domain::MemberId;

#[derive(Debug)]
struct Bucket {
    level: f64,
    last: Instant,
}

/// The limiter for all portals.
#[derive(Debug)]
pub struct Limiter {
    burst: f64,
    drain_per_sec: f64,
    buckets: Mutex<HashMap<MemberId, Bucket>>,
    in_flight: Mutex<HashMap<MemberId, Arc<Semaphore>>>,
    shared: Option<Arc<Reservations>>,
}

/// Past this many tracked portals, idle buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl Limiter {
    /// `burst` requests at once, then `drain_per_sec`.
    pub fn new(burst: u32, drain_per_sec: f64) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            drain_per_sec: drain_per_sec.max(0.01),
            buckets: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Keeps the buckets in the database when the store shares them between instances: each
    /// request drains in `1 / drain_per_sec`; a bucket counts as full `Limiter::margin` before
    /// it holds the burst, and a leased place's lifetime (20 ms) earlier still (never so much
    /// that no request passes at once).
    pub fn shared(mut self, store: &Store) -> Self {
        let per_request = Duration::from_secs_f64(1.0 / self.drain_per_sec);
        let burst = per_request.mul_f64(self.burst);
        // Leases only where the bucket can count as full a lease's lifetime early.
        let leases = burst >= self.margin() + LEASE + per_request;
        let full_after = burst.saturating_sub(self.margin() + LEASE).max(per_request);
        self.shared = store
            .shared_buckets(per_request, full_after)
            .map(|buckets| Reservations::new(buckets, leases));
        self
    }

    /// How much earlier than at its burst a bucket counts as full. A request leaves a little
    /// after the moment it reserved (the answer's way back, a new connection to the portal), and the
    /// portal drains from when requests arrive: the first of a burst arriving late must not
    /// push a later one past the limit. A quarter of one request's drain time, at most 100 ms,
    /// and never so much that no request passes at once.
    fn margin(&self) -> Duration {
        let quarter = 0.25 / self.drain_per_sec;
        let spare = (self.burst - 1.0) / self.drain_per_sec;
        Duration::from_secs_f64(quarter.min(0.1).min(spare).max(0.0))
    }

    /// Reserves a slot in the shared bucket, or in ours when there is none or the database
    /// does not answer.
    async fn reserve_anywhere(
        &self,
        member_id: &MemberId,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        if let Some(shared) = &self.shared
            && let Some(outcome) = shared.reserve(member_id, max_wait).await
        {
            return outcome;
        }
        self.reserve(member_id, max_wait)
    }

    /// Reserves a slot: `Ok(wait)` before sending, or `Err(retry_after)` when the wait would
    /// exceed `max_wait` (nothing is reserved then).
    fn reserve(&self, member_id: &MemberId, max_wait: Duration) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            let drain = self.drain_per_sec;
            buckets.retain(|_, b| b.level - now.duration_since(b.last).as_secs_f64() * drain > 0.0);
        }
        let bucket = buckets.entry(member_id.clone()).or_insert(Bucket {
            level: 0.0,
            last: now,
        });
        let drained = now.saturating_duration_since(bucket.last).as_secs_f64() * self.drain_per_sec;
        let level = (bucket.level - drained).max(0.0) + 1.0;
        let ahead = (level - self.burst) / self.drain_per_sec + self.margin().as_secs_f64();
        let wait = Duration::from_secs_f64(ahead.max(0.0));
        if wait > max_wait {
            return Err(wait);
        }
        bucket.level = level;
        bucket.last = now;
        Ok(wait)
    }

    /// How many reservations this instance sent to the shared buckets (`None` without them).
    pub fn shared_statements(&self) -> Option<u64> {
        self.shared.as_ref().map(|shared| shared.statements())
    }

    /// Waits for a slot for `member_id`: `Ok(true)` if it had to wait, `Err(retry_after)` if
    /// that would take longer than `max_wait`.
    pub async fn acquire(
        &self,
        member_id: &MemberId,
        max_wait: Duration,
    ) -> Result<bool, Duration> {
        let wait = self.reserve_anywhere(member_id, max_wait).await?;
        if wait.is_zero() {
            return Ok(false);
        }
        tracing::debug!(member_id = %member_id, wait_ms = wait.as_millis(), "waiting for the portal's rate limit");
        tokio::time::sleep(wait).await;
        Ok(true)
    }

    /// A place among the requests in flight to `member_id`, held until the permit is dropped.
    #[expect(clippy::expect_used, reason = "these semaphores are never closed")]
    pub async fn in_flight(&self, member_id: &MemberId) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut portals = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if portals.len() > PRUNE_ABOVE {
                portals.retain(|_, s| Arc::strong_count(s) > 1);
            }
            portals
                .entry(member_id.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_PORTAL)))
                .clone()
        };
        semaphore
            .acquire_owned()
            .await
            .expect("these semaphores are never closed")
    }

    /// The portal said its bucket is full: ours is too from now on, and the refused request
    /// counted on top, as the portal counts it.
    pub async fn saturate(&self, member_id: &MemberId) {
        if let Some(shared) = &self.shared
            && let Err(error) = shared.buckets().saturate(member_id, None).await
        {
            tracing::warn!(%error, %member_id, "could not mark the shared rate limit full");
        }
        if let Some(shared) = &self.shared {
            shared.drop_leases(member_id);
        }
        self.saturate_here(member_id);
    }

    fn saturate_here(&self, member_id: &MemberId) {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(member_id.clone()).or_insert(Bucket {
            level: 0.0,
            last: now,
        });
        let drained = now.saturating_duration_since(bucket.last).as_secs_f64() * self.drain_per_sec;
        bucket.level = (bucket.level - drained).max(self.burst) + 1.0;
        bucket.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> MemberId {
        MemberId::parse("0123456789abcdef0123456789abcdef").expect("id")
    }

    #[test]
    fn the_burst_passes_then_slots_are_spaced_by_the_drain_rate() {
        let limiter = Limiter::new(3, 10.0);
        let m = member();
        let second = Duration::from_secs(1);
        for _ in 0..2 {
            assert_eq!(limiter.reserve(&m, second), Ok(Duration::ZERO));
        }
        // The bucket counts as full a quarter of a slot early (25 ms at 10/s).
        let waits: Vec<f64> = (0..3)
            .map(|_| limiter.reserve(&m, second).expect("fits").as_secs_f64())
            .collect();
        for (wait, expected) in waits.iter().zip([0.025, 0.125, 0.225]) {
            assert!((wait - expected).abs() < 0.01, "{waits:?}");
        }
    }

    #[test]
    fn a_wait_beyond_the_maximum_is_refused_and_reserves_nothing() {
        let limiter = Limiter::new(1, 1.0);
        let m = member();
        let budget = Duration::from_millis(1500);
        assert_eq!(limiter.reserve(&m, budget), Ok(Duration::ZERO));
        assert!(limiter.reserve(&m, budget).is_ok());
        let refused = limiter.reserve(&m, budget).expect_err("two seconds away");
        assert!(refused > budget);
        assert!(
            limiter.reserve(&m, budget).is_err(),
            "the refused call took no slot"
        );
        assert!(
            limiter.reserve(&m, Duration::from_secs(3)).is_ok(),
            "a call with more budget left still waits its turn"
        );
    }

    #[tokio::test]
    async fn requests_in_flight_to_one_portal_are_capped() {
        let limiter = Limiter::new(50, 10.0);
        let m = member();
        let mut held = Vec::new();
        for _ in 0..MAX_IN_FLIGHT_PER_PORTAL {
            held.push(limiter.in_flight(&m).await);
        }
        let waiting = tokio::time::timeout(Duration::from_millis(50), limiter.in_flight(&m)).await;
        assert!(waiting.is_err(), "one more than the cap must wait");
        let other = MemberId::parse("ffffffffffffffffffffffffffffffff").expect("id");
        let _elsewhere = limiter.in_flight(&other).await;
        held.pop();
        let freed = tokio::time::timeout(Duration::from_millis(50), limiter.in_flight(&m)).await;
        assert!(freed.is_ok(), "a released place is taken");
    }

    #[test]
    fn a_portal_saying_it_is_full_fills_our_bucket() {
        let limiter = Limiter::new(50, 10.0);
        let m = member();
        limiter.saturate_here(&m);
        let wait = limiter.reserve(&m, Duration::from_secs(1)).expect("fits");
        // Full, plus the refused request the portal counted: two slots to drain at 10/s.
        assert!(wait >= Duration::from_millis(190), "{wait:?}");
    }
}
