//! Nobody makes the app work for free: `/install`, `/events` and `/app` take unauthenticated
//! POSTs, and checking one costs a call to Bitrix24 (the OAuth server or the portal). Every
//! check that fails is charged to the portal it names and to the address it came from; once
//! either has spent its budget, further POSTs are refused with 429 before anything is called,
//! until the budget refills. Checks that pass cost nothing here: the portal's own rate limiter
//! already paces them, so a busy office behind one address is never turned away. Events are
//! budgeted by address only, so forged frame POSTs cannot turn a portal's real events away.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::MemberId;

/// Failed checks a portal or an address may cause at once.
pub const FAILURE_BURST: f64 = 20.0;
/// Failed checks a portal or an address may cause per second after that.
pub const FAILURE_REFILL_PER_SEC: f64 = 0.2;
/// Past this many tracked keys, empty buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    level: f64,
    last: Instant,
}

/// Leaky buckets of failures by key.
struct Buckets<K> {
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new() -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn drained(bucket: &Bucket, now: Instant) -> f64 {
        (bucket.level - now.duration_since(bucket.last).as_secs_f64() * FAILURE_REFILL_PER_SEC)
            .max(0.0)
    }

    /// `Err(retry_after)` when one more failure would not fit.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let now = Instant::now();
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(bucket) = buckets.get(key) else {
            return Ok(());
        };
        let level = Self::drained(bucket, now) + 1.0;
        if level <= FAILURE_BURST {
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (level - FAILURE_BURST) / FAILURE_REFILL_PER_SEC,
        ))
    }

    fn charge(&self, key: &K) {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| Self::drained(b, now) > 0.0);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            level: 0.0,
            last: now,
        });
        bucket.level = Self::drained(bucket, now) + 1.0;
        bucket.last = now;
    }
}

/// The budgets of failed checks, per portal and per source address.
pub struct Gate {
    portals: Buckets<MemberId>,
    addresses: Buckets<IpAddr>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            portals: Buckets::new(),
            addresses: Buckets::new(),
        }
    }
}

impl Gate {
    /// `Err(retry_after)` when the portal or the address has no failures left to spend.
    pub fn check(&self, member_id: &MemberId, from: IpAddr) -> Result<(), Duration> {
        let portal = self.portals.check(member_id);
        let address = self.addresses.check(&from);
        match (portal, address) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(wait), _) | (_, Err(wait)) => Err(wait),
        }
    }

    /// A check failed: charge the portal and the address.
    pub fn charge(&self, member_id: &MemberId, from: IpAddr) {
        tracing::info!(%member_id, %from, "a request failed verification");
        self.portals.charge(member_id);
        self.addresses.charge(&from);
    }

    /// `Err(retry_after)` when the address has no failures left to spend. Events use this
    /// alone: Bitrix24 never retries one, so a portal's budget spent by someone else's forged
    /// POSTs must not turn its real events away.
    pub fn check_address(&self, from: IpAddr) -> Result<(), Duration> {
        self.addresses.check(&from)
    }

    /// An event failed its check: charge the address it came from.
    pub fn charge_address(&self, from: IpAddr) {
        tracing::info!(%from, "an event failed verification");
        self.addresses.charge(&from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_burst_are_refused_until_they_drain() {
        let gate = Gate::default();
        let member = MemberId::parse("0123456789abcdef0123456789abcdef").expect("id");
        let other = MemberId::parse("ffffffffffffffffffffffffffffffff").expect("id");
        let from = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
        for _ in 0..20 {
            assert!(gate.check(&member, from).is_ok());
            gate.charge(&member, from);
        }
        let wait = gate.check(&member, from).expect_err("budget spent");
        assert!(wait > Duration::from_secs(4), "{wait:?}");
        assert!(
            gate.check(&member, elsewhere).is_err(),
            "the portal's budget is spent"
        );
        assert!(
            gate.check(&other, from).is_err(),
            "the address's budget is spent"
        );
        assert!(gate.check(&other, elsewhere).is_ok());
    }
}
