//! Places in the shared buckets (`docs/bitrix24.md`, "Rate limit"), reserved for many portals
//! at once and leased ahead. A call with no leased place waits in its portal's queue; one
//! statement then reserves for every portal with calls waiting (up to
//! [`PORTALS_PER_STATEMENT`]), a place for each call, and at most [`STATEMENTS_AT_ONCE`] such
//! statements are on their way to the database: the calls that come meanwhile go with the next.
//! A lone call sends its own at once; under load one statement serves many calls of many
//! portals, as a database's group commit does.
//!
//! While a portal's bucket has room, its reservation also takes, ahead, the places the calls
//! coming at the recent rate will need within [`LEASE`]: the next calls take those without a
//! statement. A leased place is good for [`LEASE`] after the moment it was reserved for, which
//! the limiter's margin covers. Unused, it counts a request the portal never saw, so others
//! wait longer, never too little; and no more are leased than the portal drains within
//! [`LEASE`], so at most that much of its capacity goes unused. At Bitrix24's own limits (2 a
//! second) that is none: every place is reserved when it is needed, as near the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::store::{Places, SharedBuckets, Want};
use bitrix24::domain::MemberId;

/// Most statements on their way to the database at once, from this instance. Two: while one
/// is answered the next gathers, and a call waits for the one ahead of its own (more while
/// over [`PORTALS_PER_STATEMENT`] portals have calls waiting).
const STATEMENTS_AT_ONCE: usize = 2;

/// Most portals one statement reserves for; the rest wait for the next.
const PORTALS_PER_STATEMENT: usize = 128;

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

#[derive(Debug)]
struct Waiter {
    max_wait: Duration,
    reply: oneshot::Sender<Outcome>,
}

/// A portal's statements under way, the calls waiting for the next one, and the places
/// leased ahead.
#[derive(Debug, Default)]
struct Portal {
    /// Statements under way that reserve for this portal.
    in_flight: usize,
    queued: Vec<Waiter>,
    /// Whether the portal is in the table's list of those with calls waiting.
    listed: bool,
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

/// The portals this instance reserves for, and the statements under way.
#[derive(Debug, Default)]
struct Table {
    portals: HashMap<MemberId, Portal>,
    /// The portals with calls waiting for a statement, first come first.
    listed: VecDeque<MemberId>,
    /// Statements on their way to the database.
    in_flight: usize,
}

impl Table {
    /// Puts the portal's waiting calls in the list for the next statement.
    fn list(&mut self, member_id: &MemberId) {
        if let Some(portal) = self.portals.get_mut(member_id)
            && !portal.listed
            && !portal.queued.is_empty()
        {
            portal.listed = true;
            self.listed.push_back(member_id.clone());
        }
    }

    /// Whether a task must be started to send the listed calls: counts it as under way.
    fn start(&mut self) -> bool {
        let start = !self.listed.is_empty() && self.in_flight < STATEMENTS_AT_ONCE;
        self.in_flight += usize::from(start);
        start
    }
}

/// A portal's part of a statement's answer, as `settle` keeps it.
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

/// One portal's part of a statement: its callers, earliest place first, and how many places
/// it leases ahead.
struct Part {
    member_id: MemberId,
    batch: Vec<Waiter>,
    ahead: usize,
    /// The portal's count of "full" when the statement was sent.
    full_count: u64,
}

impl Part {
    fn want(&self) -> Want {
        // Places leased ahead must leave at once: with some to lease nothing may wait, and
        // the callers the bucket has no room for now are reserved for again, as usual.
        let max_wait = match self.ahead {
            0 => self.batch.last().map_or(Duration::ZERO, |w| w.max_wait),
            _ => Duration::ZERO,
        };
        Want {
            member_id: self.member_id.clone(),
            max_wait,
            count: self.batch.len() + self.ahead,
        }
    }
}

/// The reservations of this instance.
#[derive(Debug)]
pub struct Reservations {
    buckets: SharedBuckets,
    /// Statements sent to the database so far.
    statements: AtomicU64,
    /// Most places leased ahead: what a portal drains within [`LEASE`].
    most_ahead: usize,
    table: Mutex<Table>,
    /// How many portals the table may hold before the idle ones are dropped: twice what was
    /// left after the last pruning, so pruning costs a constant share of calls.
    prune_at: AtomicUsize,
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
            table: Mutex::new(Table::default()),
            prune_at: AtomicUsize::new(PRUNE_ABOVE),
        })
    }

    /// A place in `member_id`'s bucket within `max_wait`: a leased one when there is one,
    /// else one the database reserves.
    pub async fn reserve(self: &Arc<Self>, member_id: &MemberId, max_wait: Duration) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let start = {
            let now = Instant::now();
            let mut table = self.lock();
            if table.portals.len() > self.prune_at.load(Ordering::Relaxed) {
                table.portals.retain(|_, portal| !portal.idle(now));
                let next = (table.portals.len() * 2).max(PRUNE_ABOVE);
                self.prune_at.store(next, Ordering::Relaxed);
            }
            let portal = table.portals.entry(member_id.clone()).or_default();
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
            table.list(member_id);
            table.start()
        };
        if start {
            // A task of its own: a caller that goes away leaves the others served.
            tokio::spawn(self.clone().serve());
        }
        answer.await.ok().flatten()
    }

    /// Forgets the places leased for `member_id`: the portal said its bucket is full.
    pub fn drop_leases(&self, member_id: &MemberId) {
        if let Some(portal) = self.lock().portals.get_mut(member_id) {
            portal.leased.clear();
            portal.roomy = false;
            portal.full_count += 1;
        }
    }

    /// Sends statements for the portals with calls waiting until none are; then this
    /// statement is no longer under way.
    async fn serve(self: Arc<Self>) {
        loop {
            let parts = {
                let mut table = self.lock();
                if table.listed.is_empty() {
                    table.in_flight -= 1;
                    return;
                }
                self.take_parts(&mut table)
            };
            if parts.is_empty() {
                continue;
            }
            let wants: Vec<Want> = parts.iter().map(Part::want).collect();
            self.statements.fetch_add(1, Ordering::Relaxed);
            let answers = self.buckets.reserve_many(&wants, None).await;
            let reserved_at = Instant::now();
            if let Err(error) = &answers {
                tracing::warn!(%error, portals = parts.len(), "the shared rate limit is unavailable; this instance counts alone");
            }
            for (index, part) in parts.into_iter().enumerate() {
                let places = answers
                    .as_ref()
                    .ok()
                    .and_then(|all| all.get(index).copied());
                self.answer(part, places, reserved_at);
            }
        }
    }

    /// Takes the calls of up to [`PORTALS_PER_STATEMENT`] listed portals, each with the
    /// places to lease ahead: as many as calls come in a lease's lifetime at the rate they
    /// came since the portal's last reservation, less what is leased already, and only while
    /// no other statement reserves for the portal.
    fn take_parts(&self, table: &mut Table) -> Vec<Part> {
        let now = Instant::now();
        let mut parts = Vec::new();
        while parts.len() < PORTALS_PER_STATEMENT
            && let Some(member_id) = table.listed.pop_front()
        {
            let Some(portal) = table.portals.get_mut(&member_id) else {
                continue;
            };
            portal.listed = false;
            if portal.queued.is_empty() {
                continue;
            }
            let ahead = match (portal.roomy && portal.in_flight == 0, portal.last_sent) {
                (true, Some(last)) => {
                    let since = now.duration_since(last).max(Duration::from_millis(1));
                    let expected = portal.demand as f64 * LEASE.as_secs_f64() / since.as_secs_f64();
                    (expected.floor() as usize)
                        .min(self.most_ahead)
                        .saturating_sub(portal.leased.len())
                }
                _ => 0,
            };
            portal.in_flight += 1;
            portal.demand = 0;
            portal.last_sent = Some(now);
            let mut batch = std::mem::take(&mut portal.queued);
            // The earliest places go to the calls with the least time left.
            batch.sort_by_key(|waiter| waiter.max_wait);
            parts.push(Part {
                member_id,
                batch,
                ahead,
                full_count: portal.full_count,
            });
        }
        parts
    }

    /// Answers a portal's callers from its places (`None`: the database did not answer), and
    /// leases the rest.
    fn answer(&self, part: Part, places: Option<Places>, reserved_at: Instant) {
        let callers = part.batch.len();
        let mut again = Vec::new();
        for (index, waiter) in part.batch.into_iter().enumerate() {
            let outcome = match &places {
                Some(places) if index < places.granted => {
                    let wait = places.wait(index);
                    Some(if wait <= waiter.max_wait {
                        Ok(wait)
                    } else {
                        Err(wait)
                    })
                }
                Some(_) if part.ahead > 0 => {
                    again.push(waiter);
                    continue;
                }
                Some(places) => Some(Err(places.wait(places.granted))),
                None => None,
            };
            let _gone = waiter.reply.send(outcome);
        }
        let reserved = places.map(|places| Reserved {
            roomy: match part.ahead {
                0 => places.granted > 0 && places.wait(places.granted - 1).is_zero(),
                _ => places.granted == callers + part.ahead,
            },
            places,
            callers,
            at: reserved_at,
            full_count: part.full_count,
        });
        self.settle(&part.member_id, reserved.as_ref(), again);
    }

    /// Ends the statement's part for the portal: keeps the places past the callers' as
    /// leased, handing them first to calls queued meanwhile, and whether the bucket had room
    /// for all; puts the callers to reserve for again first in the queue, and lists the
    /// portal again when calls wait. A portal that said it was full since the reservation was
    /// sent leases nothing.
    fn settle(&self, member_id: &MemberId, reserved: Option<&Reserved>, mut again: Vec<Waiter>) {
        let now = Instant::now();
        let mut table = self.lock();
        let Some(portal) = table.portals.get_mut(member_id) else {
            return;
        };
        portal.in_flight -= 1;
        again.append(&mut portal.queued);
        portal.queued = again;
        if let Some(reserved) = reserved
            && portal.full_count == reserved.full_count
        {
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
        // The task that sent this statement goes on serving the list.
        table.list(member_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many statements this instance has sent to the buckets, each for one portal or more.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The buckets, for marking one full.
    pub fn buckets(&self) -> &SharedBuckets {
        &self.buckets
    }
}
