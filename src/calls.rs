//! The app's side of every call to Bitrix24 (`bitrix24::observe`): counted in the metrics and
//! handed to a [`CallSink`], from which one writer per process stores the records in batches,
//! off the caller's path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bitrix24::observe::Observer;
pub use bitrix24::observe::{CallRecord, redact, redact_query};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::metrics::Metrics;

/// Where calls hand their records. Cheap to clone; a full queue drops records rather than
/// slow a call down, and counts them.
#[derive(Clone, Debug)]
pub struct CallSink {
    queue: Option<mpsc::Sender<CallRecord>>,
    clock: Clock,
    dropped: Arc<AtomicU64>,
}

impl Default for CallSink {
    fn default() -> Self {
        Self::off()
    }
}

impl CallSink {
    /// Records queued before the writer falls behind.
    const CAPACITY: usize = 20_000;

    /// A sink stamping records with `clock`, and the queue its writer drains.
    pub fn new(clock: Clock) -> (Self, mpsc::Receiver<CallRecord>) {
        let (queue, records) = mpsc::channel(Self::CAPACITY);
        let sink = Self {
            queue: Some(queue),
            clock,
            dropped: Arc::default(),
        };
        (sink, records)
    }

    /// A sink that keeps nothing (unit tests of the clients).
    pub fn off() -> Self {
        Self {
            queue: None,
            clock: Clock::default(),
            dropped: Arc::default(),
        }
    }

    /// The time a record is stamped with, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Queues `record`; never waits.
    pub fn record(&self, record: CallRecord) {
        if let Some(queue) = &self.queue
            && queue.try_send(record).is_err()
        {
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
