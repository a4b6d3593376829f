//! Places in the shared buckets (`docs/bitrix24.md`, "Rate limit"), reserved in batches: while
//! this instance's reservation for a portal is on its way to the database, the calls that
//! arrive for the same portal queue behind it, and the next reservation takes a place for each
//! of them in one statement. A lone call costs one statement; a burst costs a few.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::clock::unix_now_us;
use crate::domain::MemberId;
use crate::store::SharedBuckets;

/// A call's place: `Ok(wait)` before sending, `Err(retry_after)` when none was free within its
/// budget. `None` when the database did not answer.
pub type Outcome = Option<Result<Duration, Duration>>;

struct Waiter {
    max_wait: Duration,
    reply: oneshot::Sender<Outcome>,
}

/// The reservations of this instance.
#[derive(Debug)]
pub struct Reservations {
    buckets: SharedBuckets,
    /// Per portal with a reservation under way, the calls waiting for the next one.
    queued: Mutex<HashMap<MemberId, Vec<Waiter>>>,
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
            queued: Mutex::new(HashMap::new()),
        })
    }

    /// A place in `member_id`'s bucket within `max_wait`.
    pub async fn reserve(self: &Arc<Self>, member_id: &MemberId, max_wait: Duration) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let waiter = Waiter { max_wait, reply };
        let lead = match self.lock().entry(member_id.clone()) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(waiter);
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(vec![waiter]);
                true
            }
        };
        if lead {
            // A task of its own: a caller that goes away leaves the others served.
            tokio::spawn(self.clone().serve(member_id.clone()));
        }
        answer.await.ok().flatten()
    }

    /// Reserves for whoever is queued for `member_id`, until nobody is.
    async fn serve(self: Arc<Self>, member_id: MemberId) {
        loop {
            let mut batch = {
                let mut queued = self.lock();
                let Some(queue) = queued.get_mut(&member_id) else {
                    return;
                };
                if queue.is_empty() {
                    queued.remove(&member_id);
                    return;
                }
                // The entry stays, empty: calls arriving meanwhile queue for the next round.
                std::mem::take(queue)
            };
            // The earliest places go to the calls with the least time left.
            batch.sort_by_key(|waiter| waiter.max_wait);
            let longest = batch.last().map_or(Duration::ZERO, |w| w.max_wait);
            let places = self
                .buckets
                .reserve(&member_id, unix_now_us(), longest, batch.len())
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, Vec<Waiter>>> {
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The buckets, for marking one full.
    pub fn buckets(&self) -> &SharedBuckets {
        &self.buckets
    }
}
