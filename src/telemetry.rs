//! Log set-up: `RUST_LOG` filters, `LOG_FORMAT` picks human or JSON lines, colour only on a
//! terminal. Logs go to stderr;
//! stdout carries only the line that says where the app listens.
//!
//! Lines are formatted on the thread that logs them and written by one thread of their own,
//! which writes whatever has queued up in one go: a request no longer waits for a `write` to
//! stderr, and a busy second costs a few writes, not two per request. The queue is not lossy:
//! if the log cannot keep up, callers wait rather than lose lines.

use std::io::{BufWriter, Stderr};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines queued for the writer before a caller waits: a few tenths of a second of the busiest
/// status path. The queue's slots are allocated and touched up front (32 bytes each).
const QUEUED_LINES: usize = 8_192;

/// Keeps the log's writer running; dropping it writes out what is queued.
#[must_use = "dropping it stops the log"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colour codes only for a person at a terminal: journald, Docker and files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(BufWriter::<Stderr>::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}
