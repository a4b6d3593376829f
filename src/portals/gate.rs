//! Nobody makes the app work for free, and nobody spends another's budget: `/install`,
//! `/events` and `/app` take unauthenticated POSTs, and checking one costs a call to Bitrix24.
//! A check is reserved before the call, against two budgets: the portal it names *from the
//! network it came from* (IPv4 /24, IPv6 /64), and that network over all portals. A check
//! that passes is refunded, so a busy office behind one address is never turned away; one that
//! fails stays spent. `member_id` is known to every employee and every other vendor, so a
//! budget keyed by it alone would be a lock anyone could turn: junk from one network closes
//! that network, not the portal (`docs/security.md`, "Budgets"). Verifications in flight are
//! capped for the whole process, so nobody can hammer the OAuth server through us.
//! Authenticated events (a valid token of the portal) have a budget per user of their own.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::domain::{MemberId, UserId};

/// Failed checks a portal from one network, or a network, may cause at once.
pub const FAILURE_BURST: f64 = 20.0;
/// Failed checks they may cause per second after that.
pub const FAILURE_REFILL_PER_SEC: f64 = 0.2;
/// Re-binds an authenticated update event of one user may cause at once …
pub const REBIND_BURST: f64 = 3.0;
/// … and per second after that (three an hour).
pub const REBIND_REFILL_PER_SEC: f64 = 3.0 / 3600.0;
/// Verifications at the OAuth server in flight at once, for the whole process.
pub const VERIFICATIONS_IN_FLIGHT: usize = 32;
/// How long a check waits for a place among them before it is refused as busy.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);
/// Past this many tracked keys, empty buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// The network an address belongs to, as budgets see it: an IPv4 /24 or an IPv6 /64 (one
/// subscriber's allocation; the 2^64 addresses inside are one key). An IPv4-mapped IPv6
/// address is its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network(IpAddr);

impl Network {
    /// The network of `address`.
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4((u32::from(v4) & 0xffff_ff00).into())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of(IpAddr::V4(v4)),
                None => Self(IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into())),
            },
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}/24"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

struct Bucket {
    level: f64,
    last: Instant,
}

/// Leaky buckets by key.
struct Buckets<K> {
    burst: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(burst: f64, refill_per_sec: f64) -> Self {
        Self {
            burst,
            refill_per_sec,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn drained(&self, bucket: &Bucket, now: Instant) -> f64 {
        (bucket.level - now.duration_since(bucket.last).as_secs_f64() * self.refill_per_sec)
            .max(0.0)
    }

    /// How long until one more unit fits, or zero when it fits now.
    fn wait(&self, key: &K, now: Instant) -> Duration {
        let Some(bucket) = self.lock().get(key).map(|b| self.drained(b, now)) else {
            return Duration::ZERO;
        };
        let level = bucket + 1.0;
        if level <= self.burst {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((level - self.burst) / self.refill_per_sec)
    }

    /// Adds `units` (negative to refund) to the key's bucket.
    fn add(&self, key: &K, units: f64, now: Instant) {
        let mut buckets = self.lock();
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                (b.level - now.duration_since(b.last).as_secs_f64() * self.refill_per_sec) > 0.0
            });
        }
        let drained = buckets.get(key).map_or(0.0, |b| self.drained(b, now));
        buckets.insert(
            key.clone(),
            Bucket {
                level: (drained + units).max(0.0),
                last: now,
            },
        );
    }
}

/// Why the gate refused a check before anything was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The budget is spent; it has room again after this long.
    Budget(Duration),
    /// Too many verifications are in flight in this process.
    Busy,
}

/// A check reserved against the budgets of a portal from a network and of that network:
/// [`Gate::refund`] gives it back when the check passed; dropped, it stays spent.
#[derive(Debug)]
#[must_use = "a reservation is refunded when the check passed"]
pub struct Reservation {
    member_id: Option<MemberId>,
    network: Network,
}

/// The budgets of checks, and the cap on verifications in flight.
pub struct Gate {
    pairs: Buckets<(MemberId, Network)>,
    networks: Buckets<Network>,
    rebinds: Buckets<(MemberId, UserId)>,
    in_flight: Semaphore,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            pairs: Buckets::new(FAILURE_BURST, FAILURE_REFILL_PER_SEC),
            networks: Buckets::new(FAILURE_BURST, FAILURE_REFILL_PER_SEC),
            rebinds: Buckets::new(REBIND_BURST, REBIND_REFILL_PER_SEC),
            in_flight: Semaphore::new(VERIFICATIONS_IN_FLIGHT),
        }
    }
}

impl Gate {
    /// Reserves one check of a request naming `member_id` (none: a request that names no portal
    /// we could charge, such as a sign-in start) from `from`, or says how long until there is
    /// room.
    pub fn reserve(
        &self,
        member_id: Option<&MemberId>,
        from: IpAddr,
    ) -> Result<Reservation, Closed> {
        let network = Network::of(from);
        let now = Instant::now();
        let pair = member_id.map(|m| (m.clone(), network));
        let wait = self.networks.wait(&network, now).max(
            pair.as_ref()
                .map_or(Duration::ZERO, |key| self.pairs.wait(key, now)),
        );
        if !wait.is_zero() {
            tracing::info!(%network, "a check was refused: its budget is spent");
            return Err(Closed::Budget(wait));
        }
        self.networks.add(&network, 1.0, now);
        if let Some(key) = &pair {
            self.pairs.add(key, 1.0, now);
        }
        Ok(Reservation {
            member_id: member_id.cloned(),
            network,
        })
    }

    /// The check passed: its reservation is given back.
    pub fn refund(&self, reservation: Reservation) {
        let now = Instant::now();
        self.networks.add(&reservation.network, -1.0, now);
        if let Some(member_id) = reservation.member_id {
            self.pairs.add(&(member_id, reservation.network), -1.0, now);
        }
    }

    /// The check failed: its reservation stays spent, and the log says so.
    pub fn spent(&self, reservation: Reservation) {
        tracing::info!(network = %reservation.network, "a request failed verification");
    }

    /// A place among the verifications in flight, waiting a little for one.
    pub async fn in_flight(&self) -> Result<SemaphorePermit<'_>, Closed> {
        match tokio::time::timeout(IN_FLIGHT_WAIT, self.in_flight.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                tracing::warn!("too many verifications in flight; a check was refused");
                Err(Closed::Busy)
            }
        }
    }

    /// Spends one re-bind of an authenticated event of `user_id`, or says how long until there
    /// is room. Keyed by the user whose valid token came with it, so nobody spends another's.
    pub fn rebind(&self, member_id: &MemberId, user_id: UserId) -> Result<(), Closed> {
        let key = (member_id.clone(), user_id);
        let now = Instant::now();
        let wait = self.rebinds.wait(&key, now);
        if !wait.is_zero() {
            return Err(Closed::Budget(wait));
        }
        self.rebinds.add(&key, 1.0, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn member(byte: char) -> MemberId {
        MemberId::parse(&byte.to_string().repeat(32)).expect("id")
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn networks_are_ipv4_24s_and_ipv6_64s() {
        assert_eq!(
            Network::of(v4(192, 0, 2, 1)),
            Network::of(v4(192, 0, 2, 254))
        );
        assert_ne!(Network::of(v4(192, 0, 2, 1)), Network::of(v4(192, 0, 3, 1)));
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: Ipv6Addr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("v6");
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(Network::of(a.into()), Network::of(b.into()));
        assert_ne!(Network::of(a.into()), Network::of(c.into()));
        let mapped: Ipv6Addr = "::ffff:192.0.2.77".parse().expect("v6");
        assert_eq!(Network::of(mapped.into()), Network::of(v4(192, 0, 2, 1)));
        assert_eq!(Network::of(a.into()).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn failures_close_the_portal_from_that_network_only() {
        let gate = Gate::default();
        let (portal, other) = (member('a'), member('b'));
        let attacker = v4(203, 0, 113, 9);
        for _ in 0..20 {
            let reservation = gate.reserve(Some(&portal), attacker).expect("room");
            gate.spent(reservation);
        }
        let Err(Closed::Budget(wait)) = gate.reserve(Some(&portal), attacker) else {
            panic!("the budget is spent");
        };
        assert!(wait > Duration::from_secs(4), "{wait:?}");
        assert!(
            gate.reserve(Some(&portal), v4(203, 0, 113, 200)).is_err(),
            "the whole /24 is one network"
        );
        assert!(
            gate.reserve(Some(&other), attacker).is_err(),
            "the network's budget over all portals is spent"
        );
        let office = gate
            .reserve(Some(&portal), v4(198, 51, 100, 7))
            .expect("the portal is open from every other network");
        gate.refund(office);
    }

    #[test]
    fn checks_that_pass_cost_nothing() {
        let gate = Gate::default();
        let portal = member('c');
        for _ in 0..200 {
            let reservation = gate.reserve(Some(&portal), v4(192, 0, 2, 1)).expect("room");
            gate.refund(reservation);
        }
        assert!(gate.reserve(None, v4(192, 0, 2, 1)).is_ok());
    }

    #[test]
    fn rebinds_are_counted_per_user() {
        let gate = Gate::default();
        let portal = member('d');
        let (one, two) = (UserId::new(1).expect("id"), UserId::new(2).expect("id"));
        for _ in 0..3 {
            assert!(gate.rebind(&portal, one).is_ok());
        }
        assert!(matches!(gate.rebind(&portal, one), Err(Closed::Budget(_))));
        assert!(
            gate.rebind(&portal, two).is_ok(),
            "another user's is their own"
        );
    }
}
