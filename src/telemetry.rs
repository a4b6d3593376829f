//! Log set-up: `RUST_LOG` filters, `LOG_FORMAT` picks human or JSON lines, colour only on a
//! terminal. Logs go to stderr;
//! stdout carries only the line that says where the app listens.
//!
//! Lines are formatted on the thread that logs them and written by one thread of their own,
//! which writes whatever has queued up in one go: a request no longer waits for a `write` to
//! stderr, and a busy second costs a few writes, not two per request. The queue is not lossy:
//! if the log cannot keep up, callers wait rather than lose lines.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{BufWriter, Stderr};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

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
        .with_timer(LineTime)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}

/// Each line's time as the crate's own timer writes it (RFC 3339, UTC, microseconds), with the
/// date and the time of day formatted once a second per thread: formatted for every line, they
/// were about 2 % of a status change's instructions (callgrind).
struct LineTime;

thread_local! {
    /// The second last formatted on this thread, and its text up to the fraction.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

impl FormatTime for LineTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (second, micros) = (now.as_secs(), now.subsec_micros());
        SECOND.with_borrow_mut(|(formatted, text)| {
            if *formatted != second {
                text.clear();
                let at = i64::try_from(second)
                    .ok()
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                    .unwrap_or_default();
                write!(text, "{}", at.strftime("%Y-%m-%dT%H:%M:%S"))?;
                *formatted = second;
            }
            write!(w, "{text}.{micros:06}Z")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_times_are_rfc_3339_in_utc_with_microseconds() {
        let mut line = String::new();
        LineTime
            .format_time(&mut Writer::new(&mut line))
            .expect("formats");
        let (whole, fraction) = line.split_once('.').expect("a fraction");
        assert_eq!(whole.len(), "2026-12-06T19:42:20".len(), "{line}");
        assert_eq!(fraction.len(), "123456Z".len(), "{line}");
        let read: jiff::Timestamp = line.parse().expect("RFC 3339");
        let off = jiff::Timestamp::now().duration_since(read).as_secs_f64();
        assert!((0.0..5.0).contains(&off), "{line} is now");
        let mut again = String::new();
        LineTime
            .format_time(&mut Writer::new(&mut again))
            .expect("formats");
        assert!(again >= line, "{again} after {line}");
    }
}
