//! The scheduler's records, written in groups. Each look at a schedule ends by recording what it
//! did; in a wave hundreds end each second, and on PostgreSQL one commit each waits for the
//! log's flush to disk in turn. Looks that end while a group is being written wait here, and
//! the next group records them all in one transaction (`Store::finish_schedules`).

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use crate::store::{Finish, Store};

/// Looks recorded in one transaction, at most: as many changes as the scheduler makes at once.
const AT_ONCE: usize = 256;

/// A finished look and where to say it was written.
type Waiting = (Finish, oneshot::Sender<()>);

/// The queue of finished looks and its writer, started with the first look.
#[derive(Debug)]
pub(super) struct Finishes {
    store: Store,
    queue: OnceLock<mpsc::UnboundedSender<Waiting>>,
}

impl Finishes {
    pub(super) fn new(store: Store) -> Self {
        Self {
            store,
            queue: OnceLock::new(),
        }
    }

    /// Records what a look did, with whatever other looks end meanwhile; returns once its
    /// group was written, or failed (the writer logs that, once for the group, and the
    /// claims run out so the changes are looked at again).
    pub(super) async fn record(&self, finish: Finish) {
        // Unbounded, yet never long: each look waits here for its answer, and the scheduler
        // has at most its in-flight changes under way.
        let queue = self.queue.get_or_init(|| {
            let (queue, waiting) = mpsc::unbounded_channel();
            tokio::spawn(write(self.store.clone(), waiting));
            queue
        });
        let (written, answer) = oneshot::channel();
        if queue.send((finish, written)).is_ok() {
            // An error means the writer is gone; the claim runs out as after a failed write.
            answer.await.ok();
        }
    }
}

/// Writes what is waiting, one group at a time, until the scheduler that queued it is gone.
async fn write(store: Store, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut group = Vec::with_capacity(AT_ONCE);
    while waiting.recv_many(&mut group, AT_ONCE).await > 0 {
        let (finishes, written): (Vec<Finish>, Vec<_>) = group.drain(..).unzip();
        if let Err(error) = store.finish_schedules(&finishes).await {
            tracing::error!(%error, looks = finishes.len(), "the scheduler could not record what it did");
        }
        for look in written {
            // A look whose task was stopped no longer waits; its record is written all the same.
            look.send(()).ok();
        }
    }
}
