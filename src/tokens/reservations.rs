//! Places in the shared buckets (`docs/bitrix24.md`, "Rate limit"), reserved in batches and
//! leased ahead: each call reserves its own place while fewer than [`STATEMENTS_PER_PORTAL`]
//! reservations for its portal are on their way to the database; past that, calls queue, and
//! the next reservation takes a place for each of them in one statement. While the portal's
//! bucket has room, a reservation also takes, ahead, the places the calls coming at the recent
//! rate will need within [`LEASE`]: the next calls take those without a statement. A leased
//! place is good for [`LEASE`] after the moment it was reserved for, which the limiter's margin
//! covers. Unused, it counts a request the portal never saw, so others wait longer, never too
//! little; and no more are leased than the portal drains within [`LEASE`], so at most that
//! much of its capacity goes unused. At Bitrix24's own limits (2 a second) that is none: every
//! place is reserved when it is needed, as near the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::store::{Places, SharedBuckets};
use bitrix24::domain::MemberId;

/// Most reservations for one portal on their way to the database at once, from this instance.
/// Measured with the load harness: one at a time batched the most but made every call wait
/// for the round trip ahead of it; one per call spent the database on a single hot row.
const STATEMENTS_PER_PORTAL: usize = 4;

/// How long after the moment it was reserved for a leased place may still be taken. The
/// bucket counts as full this much earlier (the limiter's shared buckets): a
/// request sent this late can only find the portal's bucket fuller than the shared one says by
/// what drains meanwhile.
pub const LEASE: Duration = Duration::from_millis(20);

/// Most places leased ahead for one portal, however fast it drains.
const MOST_LEASED: usize = 32;

/// Past this many portals tracked (at the least), the idle ones are dropped.
const PRUNE_ABOVE: usize = 1_024;

/// A call's place: `Ok(wait)` before sending, `Err(retry_after)` when none was free within its
/// budget. `None` when the database did not answer.
pub type Outcome = Option<Result<Duration, Duration>>;

struct Waiter {
    max_wait: Duration,
    reply: oneshot::Sender<Outcome>,
}

/// A portal's reservations under way, the calls waiting for the next one, and the places
/// leased ahead.
#[derive(Debug, Default)]
struct Portal {
    in_flight: usize,
    queued: Vec<Waiter>,
    /// Places reserved ahead, earliest first: when each may leave, and until when.
    leased: VecDeque<(Instant, Instant)>,
    /// Calls since the last reservation, and when it was sent: the rate at which calls come.
    demand: usize,
    last_sent: Option<Instant>,
    /// Whether the last reservation found room: every place it got could leave at once.
    roomy: bool,
    /// Counts the times the portal said it was full: a reservation sent before the last time
    /// leases nothing.
    full_count: u64,
}

impl Portal {
    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.queued.is_empty() && self.leased.iter().all(|l| l.1 < now)
    }
}

/// A reservation's answer, as the lease keeps it.
struct Reserved {
    places: Places,
    /// The places before this index went to the callers.
    callers: usize,
    /// When the answer came.
    at: Instant,
    roomy: bool,
    /// The portal's count of "full" when the reservation was sent.
    full_count: u64,
}

/// The reservations of this instance.
#[derive(Debug)]
pub struct Reservations {
    buckets: SharedBuckets,
    /// Statements sent to the database so far.
    statements: AtomicU64,
    /// Most places leased ahead: what a portal drains within [`LEASE`].
    most_ahead: usize,
    /// The portals with reservations under way or seen lately.
    portals: Mutex<HashMap<MemberId, Portal>>,
    /// How many portals the table may hold before the idle ones are dropped: twice what was
    /// left after the last pruning, so pruning costs a constant share of calls.
    prune_at: AtomicUsize,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl Reservations {
    /// `leases`: whether the buckets count as full [`LEASE`] early, so places may be leased.
    pub fn new(buckets: SharedBuckets, leases: bool) -> Arc<Self> {
        let drained = LEASE.as_micros() / buckets.per_request().as_micros().max(1);
        let most_ahead = match leases {
            true => usize::try_from(drained).unwrap_or(usize::MAX),
            false => 0,
        };
        Arc::new(Self {
            most_ahead: most_ahead.min(MOST_LEASED),
            buckets,
            statements: AtomicU64::new(0),
            portals: Mutex::new(HashMap::new()),
            prune_at: AtomicUsize::new(PRUNE_ABOVE),
        })
    }

    /// A place in `member_id`'s bucket within `max_wait`: a leased one when there is one,
    /// else one the database reserves.
    pub async fn reserve(self: &Arc<Self>, member_id: &MemberId, max_wait: Duration) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let now = Instant::now();
            let mut portals = self.lock();
            if portals.len() > self.prune_at.load(Ordering::Relaxed) {
                portals.retain(|_, portal| !portal.idle(now));
                let next = (portals.len() * 2).max(PRUNE_ABOVE);
                self.prune_at.store(next, Ordering::Relaxed);
            }
            let portal = portals.entry(member_id.clone()).or_default();
            portal.demand += 1;
            while portal.leased.front().is_some_and(|l| l.1 < now) {
                portal.leased.pop_front();
            }
            if portal.queued.is_empty()
                && let Some(&(leave_at, _)) = portal.leased.front()
            {
                let wait = leave_at.saturating_duration_since(now);
                if wait > max_wait {
                    return Some(Err(wait));
                }
                portal.leased.pop_front();
                return Some(Ok(wait));
            }
            portal.queued.push(Waiter { max_wait, reply });
            if portal.in_flight < STATEMENTS_PER_PORTAL {
                portal.in_flight += 1;
                true
            } else {
                false
            }
        };
        if lead {
            // A task of its own: a caller that goes away leaves the others served.
            tokio::spawn(self.clone().serve(member_id.clone()));
        }
        answer.await.ok().flatten()
    }

    /// Forgets the places leased for `member_id`: the portal said its bucket is full.
    pub fn drop_leases(&self, member_id: &MemberId) {
        if let Some(portal) = self.lock().get_mut(member_id) {
            portal.leased.clear();
            portal.roomy = false;
            portal.full_count += 1;
        }
    }

    /// Reserves for whoever is queued for `member_id`, until nobody is; then this reservation
    /// is no longer under way.
    async fn serve(self: Arc<Self>, member_id: MemberId) {
        loop {
            let (mut batch, ahead, full_count) = {
                let mut portals = self.lock();
                let Some(portal) = portals.get_mut(&member_id) else {
                    return;
                };
                if portal.queued.is_empty() {
                    // Kept while idle, for the rate and the room it saw; pruned with the rest.
                    portal.in_flight -= 1;
                    return;
                }
                // As many places as calls come in a lease's lifetime, at the rate they came since
                // the last reservation.
                // One reservation at a time leases, less what is leased already.
                let now = Instant::now();
                let ahead = match (portal.roomy && portal.in_flight == 1, portal.last_sent) {
                    (true, Some(last)) => {
                        let since = now.duration_since(last).max(Duration::from_millis(1));
                        let expected =
                            portal.demand as f64 * LEASE.as_secs_f64() / since.as_secs_f64();
                        (expected.floor() as usize)
                            .min(self.most_ahead)
                            .saturating_sub(portal.leased.len())
                    }
                    _ => 0,
                };
                portal.demand = 0;
                portal.last_sent = Some(now);
                (std::mem::take(&mut portal.queued), ahead, portal.full_count)
            };
            // The earliest places go to the calls with the least time left.
            batch.sort_by_key(|waiter| waiter.max_wait);
            // Places leased ahead must leave at once: with some to lease nothing may wait, and
            // the callers the bucket has no room for now are reserved for again, as usual.
            let longest = match ahead {
                0 => batch.last().map_or(Duration::ZERO, |w| w.max_wait),
                _ => Duration::ZERO,
            };
            let wanted = batch.len() + ahead;
            self.statements.fetch_add(1, Ordering::Relaxed);
            let places = self
                .buckets
                .reserve(&member_id, None, longest, wanted)
                .await;
            let reserved_at = Instant::now();
            let callers = batch.len();
            let mut again = Vec::new();
            for (index, waiter) in batch.into_iter().enumerate() {
                let outcome = match &places {
                    Ok(places) if index < places.granted => {
                        let wait = places.wait(index);
                        Some(if wait <= waiter.max_wait {
                            Ok(wait)
                        } else {
                            Err(wait)
                        })
                    }
                    Ok(_) if ahead > 0 => {
                        again.push(waiter);
                        continue;
                    }
                    Ok(places) => Some(Err(places.wait(places.granted))),
                    Err(_) => None,
                };
                let _gone = waiter.reply.send(outcome);
            }
            match places {
                Ok(places) => {
                    let roomy = match ahead {
                        0 => places.granted > 0 && places.wait(places.granted - 1).is_zero(),
                        _ => places.granted == wanted,
                    };
                    let reserved = Reserved {
                        places,
                        callers,
                        at: reserved_at,
                        roomy,
                        full_count,
                    };
                    self.lease(&member_id, &reserved, again);
                }
                Err(error) => {
                    tracing::warn!(%error, %member_id, "the shared rate limit is unavailable; this instance counts alone");
                }
            }
        }
    }

    /// Keeps the places past the callers' as leased, handing them first to calls queued
    /// meanwhile; whether the bucket had room for all; and the callers to reserve for again,
    /// first in the queue. A portal that said it was full since the reservation was sent
    /// leases nothing.
    fn lease(&self, member_id: &MemberId, reserved: &Reserved, mut again: Vec<Waiter>) {
        let now = Instant::now();
        let mut portals = self.lock();
        let Some(portal) = portals.get_mut(member_id) else {
            return;
        };
        again.append(&mut portal.queued);
        portal.queued = again;
        if portal.full_count != reserved.full_count {
            return;
        }
        portal.roomy = reserved.roomy;
        let places = &reserved.places;
        for index in reserved.callers..places.granted {
            let leave_at = reserved.at + places.wait(index);
            portal.leased.push_back((leave_at, leave_at + LEASE));
        }
        let mut left = Vec::new();
        for waiter in std::mem::take(&mut portal.queued) {
            match portal.leased.front() {
                Some(&(leave_at, _))
                    if leave_at.saturating_duration_since(now) <= waiter.max_wait =>
                {
                    portal.leased.pop_front();
                    let _gone = waiter
                        .reply
                        .send(Some(Ok(leave_at.saturating_duration_since(now))));
                }
                _ => left.push(waiter),
            }
        }
        portal.queued = left;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, Portal>> {
        self.portals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many reservations this instance has sent to the database.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The buckets, for marking one full.
    pub fn buckets(&self) -> &SharedBuckets {
        &self.buckets
    }
}
