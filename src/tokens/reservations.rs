//! Places in the shared buckets (`docs/bitrix24.md`, "Rate limit"), reserved in batches: each
//! call reserves its own place while fewer than [`STATEMENTS_PER_PORTAL`] reservations for its
//! portal are on their way to the database; past that, calls queue, and the next reservation
//! takes a place for each of them in one statement. A lone call costs one statement and one
//! round trip; a burst costs a few statements.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::store::SharedBuckets;
use bitrix24::domain::MemberId;

/// Most reservations for one portal on their way to the database at once, from this instance.
/// Measured with the load harness: one at a time batched the most but made every call wait
/// for the round trip ahead of it; one per call spent the database on a single hot row.
const STATEMENTS_PER_PORTAL: usize = 4;

/// A call's place: `Ok(wait)` before sending, `Err(retry_after)` when none was free within its
/// budget. `None` when the database did not answer.
pub type Outcome = Option<Result<Duration, Duration>>;

struct Waiter {
    max_wait: Duration,
    reply: oneshot::Sender<Outcome>,
}

/// A portal's reservations under way, and the calls waiting for the next one.
#[derive(Debug, Default)]
struct Portal {
    in_flight: usize,
    queued: Vec<Waiter>,
}

/// The reservations of this instance.
#[derive(Debug)]
pub struct Reservations {
    buckets: SharedBuckets,
    /// The portals with a reservation under way.
    portals: Mutex<HashMap<MemberId, Portal>>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl Reservations {
    pub fn new(buckets: SharedBuckets) -> Arc<Self> {
        Arc::new(Self {
            buckets,
            portals: Mutex::new(HashMap::new()),
        })
    }

    /// A place in `member_id`'s bucket within `max_wait`.
    pub async fn reserve(self: &Arc<Self>, member_id: &MemberId, max_wait: Duration) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let waiter = Waiter { max_wait, reply };
        let lead = {
            let mut portals = self.lock();
            let portal = portals.entry(member_id.clone()).or_default();
            portal.queued.push(waiter);
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

    /// Reserves for whoever is queued for `member_id`, until nobody is; then this reservation
    /// is no longer under way.
    async fn serve(self: Arc<Self>, member_id: MemberId) {
        loop {
            let mut batch = {
                let mut portals = self.lock();
                let Some(portal) = portals.get_mut(&member_id) else {
                    return;
                };
                if portal.queued.is_empty() {
                    portal.in_flight -= 1;
                    if portal.in_flight == 0 {
                        portals.remove(&member_id);
                    }
                    return;
                }
                std::mem::take(&mut portal.queued)
            };
            // The earliest places go to the calls with the least time left.
            batch.sort_by_key(|waiter| waiter.max_wait);
            let longest = batch.last().map_or(Duration::ZERO, |w| w.max_wait);
            let places = self
                .buckets
                .reserve(&member_id, None, longest, batch.len())
                .await;
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
                    Ok(places) => Some(Err(places.wait(places.granted))),
                    Err(_) => None,
                };
                let _gone = waiter.reply.send(outcome);
            }
            if let Err(error) = places {
                tracing::warn!(%error, %member_id, "the shared rate limit is unavailable; this instance counts alone");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, Portal>> {
        self.portals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The buckets, for marking one full.
    pub fn buckets(&self) -> &SharedBuckets {
        &self.buckets
    }
}
