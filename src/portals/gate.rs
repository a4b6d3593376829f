//! Nobody makes the app work for free, and nobody spends another's budget: `/install`,
//! `/events` and `/app` take unauthenticated POSTs, and checking one costs a call to Bitrix24.
//! A check is reserved before the call, against two budgets: the portal it names *from the
//! network it came from* (IPv4 /24, IPv6 /64), and that network over all portals. A check
//! that passes is refunded, so a busy office behind one address is never turned away; one that
//! fails stays spent. `member_id` is known to every employee and every other vendor, so a
//! budget keyed by it alone would be a lock anyone could turn: junk from one network closes
//! that network, not the portal (`docs/security.md`, "Budgets"). Verifications in flight are
//! capped for the whole process, so nobody can hammer the OAuth server through us.
//! Authenticated events (a valid token of the portal) have a budget per user of their own, and
//! sign-in starts one per network.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::network::Network;
use bitrix24::domain::{MemberId, UserId};

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

struct Bucket {
    /// Failed checks, draining at the refill rate.
    level: f64,
    last: Instant,
    /// Checks reserved and not yet settled.
    pending: u32,
}

/// Why a bucket has no room now.
enum Full {
    /// Failed checks filled it: room again after this long.
    Failed(Duration),
    /// Checks still under way fill it: room as soon as they settle.
    Pending,
}

/// Leaky buckets by key.
struct Buckets<K> {
    burst: f64,
    refill_per_sec: f64,
    buckets: Mutex<(HashMap<K, Bucket>, usize)>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(burst: f64, refill_per_sec: f64) -> Self {
        Self {
            burst,
            refill_per_sec,
            buckets: Mutex::new((HashMap::new(), PRUNE_ABOVE)),
        }
    }

    fn drained(&self, bucket: &Bucket, now: Instant) -> f64 {
        (bucket.level - now.duration_since(bucket.last).as_secs_f64() * self.refill_per_sec)
            .max(0.0)
    }

    /// Runs `change` on the key's bucket under the lock, dropping empty buckets whenever the
    /// map has doubled since it was last pruned (so a flood of keys costs no scan per call).
    fn with<T>(&self, key: &K, now: Instant, change: impl FnOnce(&mut Bucket, f64) -> T) -> T {
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (buckets, prune_at) = &mut *guard;
        if buckets.len() > *prune_at {
            buckets.retain(|_, b| b.pending > 0 || self.drained(b, now) > 0.0);
            *prune_at = (buckets.len() * 2).max(PRUNE_ABOVE);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            level: 0.0,
            last: now,
            pending: 0,
        });
        let drained = self.drained(bucket, now);
        bucket.level = drained;
        bucket.last = now;
        change(bucket, drained)
    }

    /// Reserves one check, or says why there is no room.
    fn reserve(&self, key: &K, now: Instant) -> Result<(), Full> {
        let (burst, refill) = (self.burst, self.refill_per_sec);
        self.with(key, now, |bucket, failed| {
            if failed + 1.0 > burst {
                return Err(Full::Failed(Duration::from_secs_f64(
                    (failed + 1.0 - burst) / refill,
                )));
            }
            if failed + f64::from(bucket.pending) + 1.0 > burst {
                return Err(Full::Pending);
            }
            bucket.pending += 1;
            Ok(())
        })
    }

    /// Settles a reserved check: a failed one stays in the bucket.
    fn settle(&self, key: &K, failed: bool, now: Instant) {
        self.with(key, now, |bucket, _| {
            bucket.pending = bucket.pending.saturating_sub(1);
            if failed {
                bucket.level += 1.0;
            }
        });
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

/// A check reserved against the budgets of a portal from a network and of that network. It
/// counts as passed when dropped; [`Gate::spent`] settles it as failed.
#[must_use = "a reservation settles when it is dropped"]
pub struct Reservation<'a> {
    gate: &'a Gate,
    member_id: Option<MemberId>,
    network: Network,
    failed: bool,
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let gate = self.gate;
        match self.member_id.take() {
            Some(member_id) => {
                gate.networks.settle(&self.network, self.failed, now);
                gate.pairs
                    .settle(&(member_id, self.network), self.failed, now);
            }
            None => gate.sign_ins.settle(&self.network, self.failed, now),
        }
    }
}

/// The budgets of checks, and the cap on verifications in flight.
pub struct Gate {
    pairs: Buckets<(MemberId, Network)>,
    networks: Buckets<Network>,
    sign_ins: Buckets<Network>,
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
            sign_ins: Buckets::new(FAILURE_BURST, FAILURE_REFILL_PER_SEC),
            rebinds: Buckets::new(REBIND_BURST, REBIND_REFILL_PER_SEC),
            in_flight: Semaphore::new(VERIFICATIONS_IN_FLIGHT),
        }
    }
}

impl Gate {
    /// Reserves one check of a request naming `member_id` from `from`, or says how long until
    /// there is room. Checks of the same network still under way make it wait a little, not
    /// refuse: only failures close a budget, so a busy office is never turned away.
    pub async fn reserve(
        &self,
        member_id: &MemberId,
        from: IpAddr,
    ) -> Result<Reservation<'_>, Closed> {
        let network = Network::of(from);
        let pair = (member_id.clone(), network);
        let deadline = Instant::now() + IN_FLIGHT_WAIT;
        loop {
            let now = Instant::now();
            let full = match self.networks.reserve(&network, now) {
                Err(full) => full,
                Ok(()) => match self.pairs.reserve(&pair, now) {
                    Ok(()) => {
                        return Ok(Reservation {
                            gate: self,
                            member_id: Some(member_id.clone()),
                            network,
                            failed: false,
                        });
                    }
                    Err(full) => {
                        self.networks.settle(&network, false, now);
                        full
                    }
                },
            };
            match full {
                Full::Failed(wait) => {
                    tracing::info!(%network, "a check was refused: its budget is spent");
                    return Err(Closed::Budget(wait));
                }
                Full::Pending if now >= deadline => return Err(Closed::Busy),
                Full::Pending => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Reserves one sign-in start from `from`: a budget of its own, so starts never close a
    /// network's checks of frame POSTs.
    pub fn reserve_sign_in(&self, from: IpAddr) -> Result<Reservation<'_>, Closed> {
        let network = Network::of(from);
        match self.sign_ins.reserve(&network, Instant::now()) {
            Ok(()) => Ok(Reservation {
                gate: self,
                member_id: None,
                network,
                failed: false,
            }),
            Err(Full::Failed(wait)) => Err(Closed::Budget(wait)),
            Err(Full::Pending) => Err(Closed::Busy),
        }
    }

    /// The check passed: its reservation is given back.
    pub fn refund(&self, reservation: Reservation<'_>) {
        drop(reservation);
    }

    /// The check failed: its reservation stays spent, and the log says so.
    pub fn spent(&self, mut reservation: Reservation<'_>) {
        tracing::info!(network = %reservation.network, "a request failed verification");
        reservation.failed = true;
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
        match self.rebinds.reserve(&key, now) {
            Ok(()) => {
                self.rebinds.settle(&key, true, now);
                Ok(())
            }
            Err(Full::Failed(wait)) => Err(Closed::Budget(wait)),
            Err(Full::Pending) => Err(Closed::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn member(byte: char) -> MemberId {
        MemberId::parse(&byte.to_string().repeat(32)).expect("id")
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[tokio::test]
    async fn failures_close_the_portal_from_that_network_only() {
        let gate = Gate::default();
        let (portal, other) = (member('a'), member('b'));
        let attacker = v4(203, 0, 113, 9);
        for _ in 0..20 {
            let reservation = gate.reserve(&portal, attacker).await.expect("room");
            gate.spent(reservation);
        }
        let Err(Closed::Budget(wait)) = gate.reserve(&portal, attacker).await else {
            panic!("the budget is spent");
        };
        assert!(wait > Duration::from_secs(4), "{wait:?}");
        assert!(
            gate.reserve(&portal, v4(203, 0, 113, 200)).await.is_err(),
            "the whole /24 is one network"
        );
        assert!(
            gate.reserve(&other, attacker).await.is_err(),
            "the network's budget over all portals is spent"
        );
        let office = gate
            .reserve(&portal, v4(198, 51, 100, 7))
            .await
            .expect("the portal is open from every other network");
        gate.refund(office);
        assert!(
            gate.reserve_sign_in(attacker).is_ok(),
            "sign-in starts have a budget of their own"
        );
    }

    #[tokio::test]
    async fn checks_that_pass_cost_nothing_and_checks_under_way_make_others_wait() {
        let gate = Gate::default();
        let portal = member('c');
        let office = v4(192, 0, 2, 1);
        for _ in 0..200 {
            let reservation = gate.reserve(&portal, office).await.expect("room");
            gate.refund(reservation);
        }
        let mut under_way = Vec::new();
        for _ in 0..20 {
            under_way.push(gate.reserve(&portal, office).await.expect("room"));
        }
        let (waited, ()) = tokio::join!(gate.reserve(&portal, office), async {
            tokio::time::sleep(Duration::from_millis(120)).await;
            under_way.clear();
        });
        assert!(
            waited.is_ok(),
            "a 21st check waits for the others, not refused"
        );
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
