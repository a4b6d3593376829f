//! The call log's writer and retention: one task per process stores what calls recorded, in
//! batches, and deletes what is older than `CALL_LOG_DAYS`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::calls::{CallRecord, CallSink};
use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// The most records written in one statement (9 values each: SQLite takes 32,766).
const BATCH: usize = 1000;

/// How long the writer gathers records after the first before writing them: one statement
/// carries a busy second's calls in a few batches instead of one per call.
const GATHER: Duration = Duration::from_millis(100);

/// How often old records are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The running writer.
#[derive(Debug)]
pub struct CallLog {
    store: Store,
    clock: Clock,
    retention: Duration,
    sink: CallSink,
    stop: Arc<Notify>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl CallLog {
    /// Starts the writer and the hourly pruning; calls record through the returned sink.
    pub fn start(store: Store, clock: Clock, retention: Duration) -> (Arc<Self>, CallSink) {
        let (sink, records) = CallSink::new(clock.clone());
        let stop = Arc::new(Notify::new());
        let writer = tokio::spawn(write(store.clone(), records, stop.clone()));
        let log = Arc::new(Self {
            store,
            clock,
            retention,
            sink: sink.clone(),
            stop,
            writer: Mutex::new(Some(writer)),
        });
        let pruner = Arc::downgrade(&log);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            loop {
                every.tick().await;
                let Some(log) = pruner.upgrade() else { return };
                if let Err(error) = log.prune().await {
                    tracing::warn!(%error, "could not delete old call log records");
                }
            }
        });
        (log, sink)
    }

    /// Deletes the records older than the retention, by the app's clock; returns how many.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        self.store
            .prune_calls(self.clock.now_ms().saturating_sub(retention))
            .await
    }

    /// Writes what is queued and stops the writer (a shutdown).
    pub async fn flush(&self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            self.stop.notify_one();
            let _finished = writer.await;
        }
    }

    /// Records dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }
}

async fn write(store: Store, mut records: mpsc::Receiver<CallRecord>, stop: Arc<Notify>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            first = records.recv() => {
                let Some(first) = first else { return };
                batch.push(first);
            }
            () = stop.notified() => {
                records.close();
                while let Some(record) = records.recv().await {
                    batch.push(record);
                    if batch.len() == BATCH {
                        store_batch(&store, &mut batch).await;
                    }
                }
                store_batch(&store, &mut batch).await;
                return;
            }
        }
        // What arrives while the batch gathers goes with it; a stop cuts the wait short.
        let gathered = tokio::time::sleep(GATHER);
        tokio::pin!(gathered);
        while batch.len() < BATCH {
            tokio::select! {
                record = records.recv() => match record {
                    Some(record) => batch.push(record),
                    None => break,
                },
                () = &mut gathered => break,
                () = stop.notified() => {
                    stop.notify_one();
                    break;
                }
            }
        }
        store_batch(&store, &mut batch).await;
    }
}

async fn store_batch(store: &Store, batch: &mut Vec<CallRecord>) {
    if batch.is_empty() {
        return;
    }
    if let Err(error) = store.insert_calls(batch).await {
        tracing::warn!(%error, records = batch.len(), "could not write call log records");
    }
    batch.clear();
}
