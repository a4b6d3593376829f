//! The tables the harness prints, in Markdown, as docs/performance.md quotes them.

use super::path::BackendRun;
use super::{CONCURRENCY, Measured, PHASE};
use crate::drive::Figures;
use crate::fleet::{PORTALS, USERS_PER_PORTAL};
use crate::keepalive::{ACCOUNTS, Simulated};

fn ratio(a: &Figures, b: &Figures) -> f64 {
    a.throughput / b.throughput
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The machine, as the table's heading names it.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{} cores of {cpu}, Linux {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.trim()
    )
}

/// `values`' median and their range over the rounds: `0.61 (0.58–0.66)`.
fn spread(values: impl Iterator<Item = f64>, digits: usize) -> String {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = match n {
        0 => return "none".into(),
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    if n == 1 {
        return format!("{median:.digits$}");
    }
    format!(
        "{median:.digits$} ({:.digits$}–{:.digits$})",
        values[0],
        values[n - 1]
    )
}

/// A table with a column per run and a target column, its head printed when made.
pub struct Columns<'a, T>(&'a [T]);

impl<'a, T> Columns<'a, T> {
    pub fn new(heads: &[String], runs: &'a [T]) -> Self {
        println!("| measurement | {} | target |", heads.join(" | "));
        println!("|---|{}---|", "---|".repeat(runs.len()));
        Self(runs)
    }

    /// A row: `figure` of each run.
    pub fn row(&self, name: &str, figure: &dyn Fn(&T) -> String, target: &str) {
        let figures: Vec<String> = self.0.iter().map(figure).collect();
        println!("| {name} | {} | {target} |", figures.join(" | "));
    }
}

fn audit_cost(r: &BackendRun) -> f64 {
    100.0 * (1.0 - r.audit_on.throughput / r.audit_off.throughput)
}

pub fn print(m: &Measured) {
    let s = &m.sqlite;
    println!();
    println!("b24-status load harness on {}", machine());
    println!(
        "{PORTALS} portals × {USERS_PER_PORTAL} users, phases of {} s, {CONCURRENCY} clients unless noted; the app at RUST_LOG=info; the status path and 1,000 connections in {} rounds in a row (median, and the range in brackets)",
        PHASE.as_secs(),
        s.put.len()
    );
    println!();
    println!("| measurement (SQLite) | figure | target |");
    println!("|---|---|---|");
    println!(
        "| the audit line's cost (`PUT` req/s off → on) | {:.1} % ({:.0} → {:.0}) | ≤ 5 % |",
        audit_cost(s),
        s.audit_off.throughput,
        s.audit_on.throughput
    );
    println!(
        "| start-up until ready with 1,000,000 accounts (ms) | {:.0} | ≤ 100 |",
        ms(m.startup_big)
    );
    if let Some(worst) = m
        .keepalive
        .scenarios
        .iter()
        .take(2)
        .max_by(|a, b| a.oldest_days.total_cmp(&b.oldest_days))
    {
        println!(
            "| keep-alive, {ACCOUNTS} accounts: oldest token (days), busiest minute | {:.1}, {} refreshes | ≤ {:.0} |",
            worst.oldest_days, worst.busiest_minute, m.keepalive.window_days
        );
    }
    print_backends(s, m.postgres.as_ref());
    let big = &m.big;
    println!();
    println!("SQLite with 100,000 more portals and 1,000,000 accounts, same run:");
    println!();
    println!("| measurement | figure |");
    println!("|---|---|");
    println!(
        "| `PUT /api/status` req/s (app / forwarder) | {:.0} ({:.2}) |",
        big.put_app.throughput,
        ratio(&big.put_app, &big.put_forwarder)
    );
    println!(
        "| p99 overhead at 1,000 req/s (ms) | {:.2} |",
        big.rate_app.p99_ms - big.rate_direct.p99_ms
    );
    println!(
        "| 1,000 connections: req/s, p99 (ms); peak RSS (MiB) | {:.0}, {:.2}; {:.1} |",
        m.wide_big.throughput,
        m.wide_big.p99_ms,
        mib(m.rss_big)
    );
    println!(
        "| start-up until ready (ms); database size | {:.0}; {:.0} MiB (seeded in {:.1} s) |",
        ms(m.startup_big),
        m.db_size as f64 / 1_048_576.0,
        m.seed_time.as_secs_f64()
    );
    print_keepalive(&m.keepalive);
    let errors = |r: &BackendRun| {
        let put: usize = r
            .put
            .iter()
            .map(|p| {
                p.put_app.errors
                    + p.put_forwarder.errors
                    + p.put_upstream.errors
                    + p.rate_app.errors
            })
            .sum();
        let wide: usize = r
            .wide
            .iter()
            .map(|w| w.app.errors + w.unlogged.errors + w.forwarder.errors)
            .sum();
        put + wide + r.open.errors + r.audit_on.errors + r.audit_off.errors
    };
    let in_use: usize = m
        .in_use
        .iter()
        .map(|r| r.fill_failed + r.rate_app.errors)
        .sum();
    let errors = errors(s)
        + m.postgres.as_ref().map_or(0, errors)
        + big.put_app.errors
        + m.wide_big.errors
        + in_use;
    crate::in_use::print(&m.in_use);
    crate::wave::print(&m.waves);
    println!();
    println!("errors during the run: {errors}");
}

/// The status path on both backends, side by side, with its targets.
pub fn print_backends(sqlite: &BackendRun, postgres: Option<&BackendRun>) {
    println!();
    println!(
        "Both backends, same run; the status path and 1,000 connections in {} rounds in a row (median, and the range in brackets):",
        sqlite.put.len()
    );
    println!();
    println!("| measurement | SQLite | PostgreSQL | target |");
    println!("|---|---|---|---|");
    let both = |label: &str, show: &dyn Fn(&BackendRun) -> String, target: &str| {
        let pg = postgres.map_or("skipped".to_owned(), show);
        println!("| {label} | {} | {pg} | {target} |", show(sqlite));
    };
    both(
        "`PUT /api/status` req/s: app / minimal forwarder / upstream alone (median round)",
        &|r| {
            let put = r.median_put();
            format!(
                "{:.0} / {:.0} / {:.0}",
                put.put_app.throughput, put.put_forwarder.throughput, put.put_upstream.throughput
            )
        },
        "upstream not the bottleneck",
    );
    both(
        "app / minimal forwarder",
        &|r| spread(r.put.iter().map(super::path::Run::ratio), 2),
        "≥ 0.80 SQLite, ≥ 0.60 PostgreSQL",
    );
    both(
        "p50 / p99 at 1,000 req/s: app, forwarder, upstream directly (ms; median round)",
        &|r| {
            let put = r.median_put();
            format!(
                "{:.2} / {:.2}, {:.2} / {:.2}, {:.2} / {:.2}",
                put.rate_app.p50_ms,
                put.rate_app.p99_ms,
                put.rate_forwarder.p50_ms,
                put.rate_forwarder.p99_ms,
                put.rate_direct.p50_ms,
                put.rate_direct.p99_ms
            )
        },
        "",
    );
    both(
        "p99 overhead over a direct call at 1,000 req/s (ms)",
        &|r| spread(r.put.iter().map(super::path::Run::overhead_ms), 2),
        "≤ 1 SQLite, ≤ 2 PostgreSQL",
    );
    both(
        "`POST /app` req/s (/ `PUT`)",
        &|r| {
            format!(
                "{:.0} ({:.2})",
                r.open.throughput,
                ratio(&r.open, &r.median_put().put_app)
            )
        },
        "≥ 0.60",
    );
    both(
        "`POST /app` p50 / p99 (ms)",
        &|r| format!("{:.2} / {:.2}", r.open.p50_ms, r.open.p99_ms),
        "",
    );
    both(
        "the audit line's cost",
        &|r| format!("{:.1} %", audit_cost(r)),
        "≤ 5 %",
    );
    both(
        "1,000 connections: req/s, p99 (ms), app / forwarder (first round)",
        &|r| {
            r.wide.first().map_or_else(String::new, |w| {
                format!(
                    "{:.0}, {:.2} / {:.0}, {:.2}",
                    w.app.throughput, w.app.p99_ms, w.forwarder.throughput, w.forwarder.p99_ms
                )
            })
        },
        "",
    );
    both(
        "peak RSS at 1,000 connections, fresh app (MiB)",
        &|r| spread(r.wide.iter().map(|w| mib(w.rss_app)), 1),
        "",
    );
    both(
        "the same with no log lines, `RUST_LOG=warn` (MiB)",
        &|r| spread(r.wide.iter().map(|w| mib(w.rss_unlogged)), 1),
        "",
    );
    both(
        "the same for a fresh minimal forwarder, same allocator (MiB)",
        &|r| spread(r.wide.iter().map(|w| mib(w.rss_forwarder)), 1),
        "",
    );
    both(
        "the app over the forwarder, each round (MiB)",
        &|r| {
            spread(
                r.wide.iter().map(|w| mib(w.rss_app) - mib(w.rss_forwarder)),
                1,
            )
        },
        "≤ 8",
    );
    both(
        "peak RSS after the 64-client phases (MiB)",
        &|r| format!("{:.1}", mib(r.rss_phases)),
        "",
    );
    both(
        "start-up until ready, fleet only (ms)",
        &|r| format!("{:.0}", ms(r.startup)),
        "",
    );
    both(
        "refresh storm: 1,000 calls on an expired token",
        &|r| {
            format!(
                "{} refresh, {} ok, {:.0} ms",
                r.storm_refreshes,
                r.storm_ok,
                ms(r.storm_time)
            )
        },
        "one refresh",
    );
}

/// The keep-alive's months on a simulated clock.
pub fn print_keepalive(k: &Simulated) {
    println!();
    println!(
        "Keep-alive, {ACCOUNTS} accounts, KEEPALIVE_DAYS={:.0}, {:.0} simulated days:",
        k.window_days,
        crate::keepalive::simulated().as_secs_f64() / 86_400.0
    );
    println!();
    println!(
        "| accounts' last refreshes | refreshes per day | busiest minute | oldest token (days) | target |"
    );
    println!("|---|---|---|---|---|");
    for s in &k.scenarios {
        println!(
            "| {} | {:.0} | {} | {:.1} | ≤ {:.0} |",
            s.name, s.refreshes_per_day, s.busiest_minute, s.oldest_days, k.window_days
        );
    }
}

/// The team board's cost per portal.
pub fn print_team(watched: &[crate::team::Watched]) {
    println!();
    println!(
        "Team board: portals of {} employees, pages refreshing every 30 s, limits burst 50 and 2/s per portal:",
        crate::team::EMPLOYEES
    );
    println!();
    println!(
        "| viewers | requests to the portal per minute | board answers (failed) | p50 / p99 (ms) | `QUERY_LIMIT_EXCEEDED` |"
    );
    println!("|---|---|---|---|---|");
    for w in watched {
        println!(
            "| {} | {:.1} | {} ({}) | {:.2} / {:.2} | {} |",
            w.viewers, w.requests_per_minute, w.answers, w.failed, w.p50_ms, w.p99_ms, w.over_limit
        );
    }
}

/// Automatic statuses' cost per portal and how late the changes landed.
pub fn print_automation(a: &crate::automation::Automated) {
    println!();
    println!(
        "Automatic statuses: {} users opted in on {} portals, every one with a meeting at the same minute, half pausing their working day after it; limits burst 50 and 2/s per portal, counted over {:.1} min:",
        a.users,
        crate::automation::PORTALS,
        a.minutes
    );
    println!();
    println!("| measurement | figure | target |");
    println!("|---|---|---|");
    println!(
        "| requests per portal per minute: shared reads / status changes | {:.2} / {:.2} | under a tenth of the portal's 120 |",
        a.reads_per_portal_minute, a.changes_per_portal_minute
    );
    let late = |name: &str, l: &crate::automation::Late, target: &str| {
        println!(
            "| {name}: p50 / p99 / max late (not landed) | {:.1} / {:.1} / {:.1} s ({}) | {target} |",
            l.p50.as_secs_f64(),
            l.p99.as_secs_f64(),
            l.max.as_secs_f64(),
            l.missing
        );
    };
    late("a meeting's start", &a.start, "within a minute");
    late("a meeting's end", &a.end, "within a minute");
    late(
        "a paused working day",
        &a.pause,
        "within a minute (read every minute)",
    );
    println!("| `QUERY_LIMIT_EXCEEDED` answers | {} | 0 |", a.over_limit);
}
