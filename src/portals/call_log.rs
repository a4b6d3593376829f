//! The call log Bitrix24 Market asks for (`docs/bitrix24.md`, "Market moderation"), in one
//! place: the client tells a [`Recorder`] of every call (`bitrix24::observe`), which counts it
//! in the metrics and queues its record on a [`CallSink`]; one writer task per process stores
//! the records in batches, off the caller's path, and deletes what is older than
//! `CALL_LOG_DAYS`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use bitrix24::clock::Clock;
use bitrix24::observe::{CallRecord, Observer};

/// Where calls hand their records. Cheap to clone; a full queue drops records rather than
/// slow a call down, and counts them.
#[derive(Clone, Debug)]
pub struct CallSink {
    queue: mpsc::Sender<CallRecord>,
    clock: Clock,
    dropped: Arc<AtomicU64>,
}

impl CallSink {
    /// Records queued before the writer falls behind.
    const CAPACITY: usize = 20_000;

    /// A sink stamping records with `clock`, and the queue its writer drains.
    pub fn new(clock: Clock) -> (Self, mpsc::Receiver<CallRecord>) {
        let (queue, records) = mpsc::channel(Self::CAPACITY);
        let sink = Self {
            queue,
            clock,
            dropped: Arc::default(),
        };
        (sink, records)
    }

    /// The time a record is stamped with, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Queues `record`; never waits.
    pub fn record(&self, record: CallRecord) {
        if self.queue.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped because the writer fell behind or had stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Counts each call in the metrics and queues its record for the call log.
pub struct Recorder {
    metrics: Arc<Metrics>,
    sink: CallSink,
}

impl Recorder {
    /// Reports to `metrics` and `sink`.
    pub fn new(metrics: Arc<Metrics>, sink: CallSink) -> Self {
        Self { metrics, sink }
    }
}

impl Observer for Recorder {
    fn now_ms(&self) -> i64 {
        self.sink.now_ms()
    }

    fn called(&self, record: CallRecord, outcome: &str, elapsed: Duration) {
        self.metrics.bitrix_call(&record.method, outcome, elapsed);
        self.sink.record(record);
    }
}

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
        // After the first record, what arrives while the batch gathers goes with it, taken in
        // one go afterwards: the writer is not woken once per call. A stop cuts the wait short.
        let stopping = tokio::select! {
            first = records.recv() => {
                let Some(first) = first else { return };
                batch.push(first);
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => false,
                    () = stop.notified() => true,
                }
            }
            () = stop.notified() => true,
        };
        if stopping {
            records.close();
        }
        write_queued(&store, &mut records, &mut batch).await;
        if stopping {
            return;
        }
    }
}

/// Writes `batch` and everything queued behind it, in as many batches as it takes, without
/// waiting for more.
async fn write_queued(
    store: &Store,
    records: &mut mpsc::Receiver<CallRecord>,
    batch: &mut Vec<CallRecord>,
) {
    loop {
        while batch.len() < BATCH
            && let Ok(record) = records.try_recv()
        {
            batch.push(record);
        }
        let full = batch.len() == BATCH;
        store_batch(store, batch).await;
        if !full {
            return;
        }
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::store::crypto::{Keyring, MasterKey};
    use bitrix24::domain::MemberId;

    fn call(member_id: &MemberId, n: i64) -> CallRecord {
        CallRecord {
            at_ms: n,
            member_id: member_id.as_str().to_owned(),
            user_id: Some(7),
            method: "im.user.status.set".into(),
            http_status: Some(200),
            error_code: None,
            duration_ms: 1,
            request: format!(r#"{{"STATUS":"dnd","n":{n}}}"#),
            response: r#"{"result":true}"#.into(),
        }
    }

    #[tokio::test]
    async fn more_calls_than_a_batch_at_once_are_all_written_and_a_stop_writes_what_is_queued() {
        let dir = tempfile::tempdir().expect("folder");
        let url = format!("sqlite://{}", dir.path().join("calls.db").display());
        let store = Store::open(&url, Keyring::new(&MasterKey::generate(), None))
            .await
            .expect("store");
        let member = MemberId::parse(&"ab".repeat(16)).expect("member");
        let (log, sink) = CallLog::start(store.clone(), Clock::default(), PRUNE_EVERY);
        let queued = i64::try_from(BATCH).expect("small") * 5 / 2;
        (0..queued).for_each(|n| sink.record(call(&member, n)));
        let deadline = Instant::now() + Duration::from_secs(10);
        let written = loop {
            let written = store.calls_of(&member, 0, 10_000).await.expect("read");
            if written.len() == usize::try_from(queued).expect("small") {
                break written;
            }
            assert!(Instant::now() < deadline, "{}", written.len());
            tokio::time::sleep(GATHER).await;
        };
        assert_eq!(written.last(), Some(&call(&member, queued - 1)));
        (queued..queued + 10).for_each(|n| sink.record(call(&member, n)));
        log.flush().await;
        let written = store.calls_of(&member, 0, 10_000).await.expect("read");
        assert_eq!(written.len(), usize::try_from(queued + 10).expect("small"));
        assert_eq!(log.dropped(), 0);
    }
}
