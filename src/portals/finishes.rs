//! The scheduler's records, written in groups. Each look at a schedule ends by recording what it
//! did; in a wave hundreds end each second, and on PostgreSQL one commit each waits for the
//! log's flush to disk in turn. Looks that end while a group is being written wait here, and
//! the next group records them all in one transaction (`Store::finish_schedules`).

use std::sync::{Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::store::{ScheduleFinish, Store};

/// Looks recorded in one transaction, at most: as many changes as the scheduler makes at once.
const AT_ONCE: usize = 256;

/// A finished look and where to say it was written.
type Waiting = (ScheduleFinish, oneshot::Sender<()>);

/// The queue of finished looks and its writer, started with the first look (and again should
/// it have stopped: its runtime ended, or it panicked).
#[derive(Debug)]
pub(super) struct Finishes {
    store: Store,
    queue: Mutex<Option<mpsc::UnboundedSender<Waiting>>>,
}

impl Finishes {
    pub(super) fn new(store: Store) -> Self {
        Self {
            store,
            queue: Mutex::new(None),
        }
    }

    /// Records what a look did, with whatever other looks end meanwhile; returns once it was
    /// written, or failed (logged; the claim runs out and the change is looked at again).
    pub(super) async fn record(&self, finish: ScheduleFinish) {
        let (written, answer) = oneshot::channel();
        match self.queue().send((finish, written)) {
            Ok(()) => {
                if answer.await.is_err() {
                    tracing::error!(
                        "the scheduler's record writer stopped before writing a look; it is looked at again when its claim runs out"
                    );
                }
            }
            Err(mpsc::error::SendError((finish, _))) => {
                write_all(&self.store, std::slice::from_ref(&finish)).await;
            }
        }
    }

    /// The writer's queue, starting a writer when none runs.
    fn queue(&self) -> mpsc::UnboundedSender<Waiting> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = queue.as_ref().filter(|open| !open.is_closed()) {
            return open.clone();
        }
        if queue.is_some() {
            tracing::error!("the scheduler's record writer had stopped; starting another");
        }
        // Unbounded, yet never long: each look waits for its answer, and the scheduler has at
        // most its in-flight changes under way.
        let (open, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write(self.store.clone(), waiting));
        *queue = Some(open.clone());
        open
    }
}

/// Writes what is waiting, one group at a time, until the scheduler that queued it is gone.
async fn write(store: Store, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut group = Vec::with_capacity(AT_ONCE);
    while waiting.recv_many(&mut group, AT_ONCE).await > 0 {
        let (finishes, written): (Vec<ScheduleFinish>, Vec<_>) = group.drain(..).unzip();
        write_all(&store, &finishes).await;
        for look in written {
            // A look whose task was stopped no longer waits; its record is written all the same.
            look.send(()).ok();
        }
    }
}

/// Records `finishes` (`Store::finish_schedules`), logging what could not be.
async fn write_all(store: &Store, finishes: &[ScheduleFinish]) {
    if let Err(error) = store.finish_schedules(finishes).await {
        tracing::error!(%error, "the scheduler could not record what it did");
    }
}
