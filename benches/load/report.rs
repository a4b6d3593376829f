//! The tables the harness prints, in Markdown, as README.md quotes them.

use super::{BackendRun, CONCURRENCY, Measured, PHASE};
use crate::drive::Figures;

fn ratio(a: &Figures, b: &Figures) -> f64 {
    a.throughput / b.throughput
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub fn print(m: &Measured) {
    let (small, big) = (&m.sqlite.put, &m.big);
    println!();
    println!(
        "b24-status load harness — {} cores, phases of {} s, {} clients unless noted",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        PHASE.as_secs(),
        CONCURRENCY
    );
    println!();
    println!("SQLite:");
    println!();
    println!("| measurement | 1 portal | 100,000 portals / 1,000,000 accounts | target |");
    println!("|---|---|---|---|");
    println!(
        "| `PUT /api/status` via the app, req/s | {:.0} | {:.0} | |",
        small.put_app.throughput, big.put_app.throughput
    );
    println!(
        "| same via the minimal forwarder, req/s | {:.0} | {:.0} | |",
        small.put_forwarder.throughput, big.put_forwarder.throughput
    );
    println!(
        "| app / minimal throughput | {:.2} | {:.2} | ≥ 0.8 |",
        ratio(&small.put_app, &small.put_forwarder),
        ratio(&big.put_app, &big.put_forwarder)
    );
    for (what, a, b) in [
        ("app", &small.rate_app, &big.rate_app),
        (
            "minimal forwarder",
            &small.rate_forwarder,
            &big.rate_forwarder,
        ),
        ("upstream directly", &small.rate_direct, &big.rate_direct),
    ] {
        println!(
            "| p50 / p99 at 1,000 req/s, {what} (ms) | {:.2} / {:.2} | {:.2} / {:.2} | |",
            a.p50_ms, a.p99_ms, b.p50_ms, b.p99_ms
        );
    }
    println!(
        "| p99 overhead of the app over direct (ms) | {:.2} | {:.2} | ≤ 2 |",
        small.rate_app.p99_ms - small.rate_direct.p99_ms,
        big.rate_app.p99_ms - big.rate_direct.p99_ms
    );
    println!(
        "| 1,000 connections: req/s, p99 (ms) | {:.0}, {:.2} | {:.0}, {:.2} | |",
        m.wide.throughput, m.wide.p99_ms, m.wide_big.throughput, m.wide_big.p99_ms
    );
    println!(
        "| peak RSS of the app after the 64-client phases (MiB) | {:.1} | | |",
        mib(m.rss_phases)
    );
    println!(
        "| peak RSS of the app, whole run incl. 1,000 connections (MiB) | {:.1} | {:.1} | ≤ 64 at 1,000 connections |",
        mib(m.rss_small),
        mib(m.rss_big)
    );
    println!(
        "| start-up until ready (ms) | {:.0} | {:.0} | ≤ 300 |",
        m.startup_empty.as_secs_f64() * 1000.0,
        m.startup_big.as_secs_f64() * 1000.0
    );
    println!(
        "| database size | | {:.0} MiB (seeded in {:.1} s) | |",
        m.db_size as f64 / 1_048_576.0,
        m.seed_time.as_secs_f64()
    );
    println!();
    println!("Both backends, one portal each, same run:");
    println!();
    println!("| measurement | SQLite | PostgreSQL |");
    println!("|---|---|---|");
    let both = |label: &str, show: &dyn Fn(&BackendRun) -> String| {
        let pg = m.postgres.as_ref().map_or("skipped".to_owned(), show);
        println!("| {label} | {} | {pg} |", show(&m.sqlite));
    };
    both("`PUT /api/status` via the app, req/s", &|r| {
        format!("{:.0}", r.put.put_app.throughput)
    });
    both("app / minimal throughput", &|r| {
        format!("{:.2}", ratio(&r.put.put_app, &r.put.put_forwarder))
    });
    both("p50 / p99 at 1,000 req/s, app (ms)", &|r| {
        format!(
            "{:.2} / {:.2}",
            r.put.rate_app.p50_ms, r.put.rate_app.p99_ms
        )
    });
    both("`POST /app` (verify + page), req/s, p50 / p99 (ms)", &|r| {
        format!(
            "{:.0}, {:.2} / {:.2}",
            r.open.throughput, r.open.p50_ms, r.open.p99_ms
        )
    });
    both("refresh storm: 1,000 calls on an expired token", &|r| {
        format!(
            "{} refresh, {} ok, {:.0} ms",
            r.storm_refreshes,
            r.storm_ok,
            r.storm_time.as_secs_f64() * 1000.0
        )
    });
    let errors = |r: &BackendRun| r.put.put_app.errors + r.put.put_forwarder.errors + r.open.errors;
    let errors = errors(&m.sqlite)
        + m.postgres.as_ref().map_or(0, errors)
        + big.put_app.errors
        + m.wide.errors
        + m.wide_big.errors;
    print_wave(&m.wave);
    println!();
    println!("errors during the run: {errors}");
}

/// The 09:00 wave's figures.
pub fn print_wave(w: &crate::wave::Wave) {
    println!();
    println!(
        "09:00 wave: {} users on {} portals, one rule starting at the same minute, limits burst 50 and 2/s per portal:",
        w.users,
        crate::wave::PORTALS
    );
    println!();
    println!("| measurement | figure | target |");
    println!("|---|---|---|");
    println!(
        "| from the rule's start until every status was set | {:.1} s | within the limits' allowance (10 calls per portal fit its burst) |",
        w.length.as_secs_f64()
    );
    println!(
        "| status changes made (`batch` calls) | {} | {} (each user once) |",
        w.changes, w.users
    );
    println!("| `QUERY_LIMIT_EXCEEDED` answers | {} | 0 |", w.over_limit);
    println!(
        "| app CPU time during the wave | {:.1} s ({:.0} % of one core) | |",
        w.cpu.as_secs_f64(),
        100.0 * w.cpu.as_secs_f64() / w.length.as_secs_f64().max(0.001)
    );
    println!(
        "| app RSS when the wave started / peak before it / peak after it | {:.1} / {:.1} / {:.1} MiB | |",
        mib(w.rss_before_kib),
        mib(w.peak_before_kib),
        mib(w.rss_kib)
    );
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
