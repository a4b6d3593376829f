//! The status path on one backend: `PUT /api/status` through the app, the minimal forwarder
//! and the upstream alone (flat out, then at a fixed 1,000 req/s), `POST /app`, the audit
//! line's cost, a refresh storm and 1,000 connections (through a fresh app process and a fresh
//! forwarder); the status path and the 1,000 connections in [`rounds`] rounds in a row.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_status::emulator::{Emulator, UserSpec};

use super::app::{App, free_port, post_form, session_in, start_app};
use super::drive::{
    Figures, Target, closed_loop, closed_loop_for, fire, fixed_rate, interleaved, own_connections,
};
use super::fleet::{self, Fleet};
use super::roles::{Process, token_of};
use super::{CLIENT_ID, CONCURRENCY, WARM_UP, register};

/// What every phase uses.
pub struct Parts<'a> {
    pub emulator: &'a Emulator,
    pub http: &'a reqwest::Client,
    pub dir: &'a Path,
    pub upstream: &'a Process,
    pub forwarder: &'a Process,
}

/// The fleet as opened on one backend: its users' sessions.
pub struct Opened {
    pub sessions: Vec<String>,
    pub frames: Vec<b24_status::emulator::FormPost>,
}

/// The status path flat out (app, forwarder, upstream alone) and at 1,000 req/s.
pub struct Run {
    pub put_app: Figures,
    pub put_forwarder: Figures,
    pub put_upstream: Figures,
    pub rate_app: Figures,
    pub rate_forwarder: Figures,
    pub rate_direct: Figures,
}

/// 1,000 connections through a fresh app process, another with no log lines
/// (`RUST_LOG=warn`: what the log's queue holds), and a fresh forwarder, and their peaks.
pub struct Wide {
    pub app: Figures,
    pub unlogged: Figures,
    pub forwarder: Figures,
    pub rss_app: u64,
    pub rss_unlogged: u64,
    pub rss_forwarder: u64,
}

/// What one backend did; `put` and `wide` once per round ([`rounds`]).
pub struct BackendRun {
    pub fleet: Opened,
    pub put: Vec<Run>,
    pub open: Figures,
    pub audit_off: Figures,
    pub audit_on: Figures,
    pub wide: Vec<Wide>,
    pub rss_phases: u64,
    pub startup: Duration,
    pub storm_refreshes: usize,
    pub storm_ok: usize,
    pub storm_time: Duration,
}

/// The status path's and the 1,000 connections' rounds in a row, for the spread of each
/// figure (`BENCH_RUNS`, 3 unless set).
pub fn rounds() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1)
}

impl BackendRun {
    /// The round whose app / forwarder ratio is the median (the upper one of an even count).
    pub fn median_put(&self) -> &Run {
        let mut runs: Vec<&Run> = self.put.iter().collect();
        runs.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
        runs[runs.len() / 2]
    }
}

impl Run {
    pub fn ratio(&self) -> f64 {
        self.put_app.throughput / self.put_forwarder.throughput
    }

    /// The app's p99 over a direct call's, at 1,000 req/s.
    pub fn overhead_ms(&self) -> f64 {
        self.rate_app.p99_ms - self.rate_direct.p99_ms
    }
}

impl Parts<'_> {
    /// `im.user.status.set` straight at the upstream, its portals in turn.
    pub fn direct(&self) -> Target {
        Target::Direct {
            urls: Arc::new(self.upstream.status_set_urls()),
            token: token_of(1),
        }
    }
}

pub fn put_on(app: &App, opened: &Opened) -> Target {
    fleet::put_target(app, opened.sessions.clone())
}

fn put_forwarded(forwarder: &Process) -> Target {
    Target::Put {
        url: format!("{}/api/status", forwarder.url()),
        bearers: Arc::new(vec![String::new()]),
    }
}

/// The three status paths, warmed, then measured one after another.
pub async fn put_figures(parts: &Parts<'_>, app: &App, opened: &Opened) -> Run {
    let http = parts.http;
    let app_put = put_on(app, opened);
    let forwarder = put_forwarded(parts.forwarder);
    let direct = parts.direct();
    for target in [&app_put, &forwarder, &direct] {
        closed_loop_for(http, target, CONCURRENCY, WARM_UP).await;
    }
    let mut put = interleaved(http, &[&app_put, &forwarder, &direct], CONCURRENCY)
        .await
        .into_iter();
    Run {
        put_app: put.next().expect("app"),
        put_forwarder: put.next().expect("forwarder"),
        put_upstream: put.next().expect("upstream"),
        rate_app: fixed_rate(http, &app_put).await,
        rate_forwarder: fixed_rate(http, &forwarder).await,
        rate_direct: fixed_rate(http, &direct).await,
    }
}

/// A portal on the emulator whose second user's token the storm finds expired.
async fn storm_portal(parts: &Parts<'_>, app: &App) -> (b24_status::domain::MemberId, String) {
    let emulator = parts.emulator;
    let portal = emulator
        .add_portal(UserSpec::new("Storm", "Admin", true))
        .await
        .expect("portal");
    let member = portal.member_id.clone();
    emulator.set_rate_limit(&member, u32::MAX, 1e12);
    emulator.add_user(&member, UserSpec::new("Storm", "User", false));
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    let installed = post_form(parts.http, &format!("{}/install", app.url), &install).await;
    assert_eq!(installed.status(), 200);
    emulator.finish_install(&member, CLIENT_ID);
    let post = emulator.frame_post(&member, CLIENT_ID, 2, "DEFAULT", "en", "");
    let page = post_form(parts.http, &format!("{}/app", app.url), &post).await;
    (member, session_in(&page.text().await.expect("page")))
}

/// 1,000 concurrent calls for one account whose access token just expired.
async fn storm(
    parts: &Parts<'_>,
    app: &App,
    member: &b24_status::domain::MemberId,
    session: String,
) -> (usize, usize, Duration) {
    parts.emulator.expire_access_tokens(member, 2);
    let refreshes_before = parts.emulator.refresh_count();
    let started = Instant::now();
    let target = fleet::put_target(app, vec![session]);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (http, target) = (parts.http.clone(), target.clone());
        calls.spawn(async move { fire(&http, &target, i).await });
    }
    let mut ok = 0;
    while let Some(Ok(answered)) = calls.join_next().await {
        ok += usize::from(answered);
    }
    (
        parts.emulator.refresh_count() - refreshes_before,
        ok,
        started.elapsed(),
    )
}

pub async fn backend_run(parts: &Parts<'_>, database_url: &str) -> BackendRun {
    let (emulator, http) = (parts.emulator, parts.http);
    let port = free_port();
    register(emulator, &format!("http://127.0.0.1:{port}"));
    let start = |env: &'static [(&'static str, &'static str)]| {
        start_app(emulator, parts.dir, database_url, port, http, env)
    };
    let (app, _) = start(&[]).await;
    let fleet = fleet::install(emulator, http, &app).await;
    let (storm_member, storm_session) = storm_portal(parts, &app).await;
    app.stop();
    fleet.point_at(database_url, &parts.upstream.urls).await;

    let (app, startup) = start(&[]).await;
    let frames = fleet.frames(emulator);
    let sessions = Fleet::open(http, &app, &frames).await;
    let opened = Opened { sessions, frames };
    if std::env::var("BENCH_PHASE").as_deref() == Ok("profile") {
        // Long phases of one kind each, for a profiler attached to the app's process.
        let open = Target::Open {
            url: format!("{}/app", app.url),
            posts: Arc::new(opened.frames.clone()),
        };
        for (name, target) in [("PUT", put_on(&app, &opened)), ("POST /app", open)] {
            eprintln!("profile: {name} on pid {} for 30 s", app.pid());
            closed_loop_for(http, &target, CONCURRENCY, Duration::from_secs(30)).await;
        }
    }
    let mut put = Vec::new();
    for _ in 0..rounds() {
        put.push(put_figures(parts, &app, &opened).await);
    }
    let open = Target::Open {
        url: format!("{}/app", app.url),
        posts: Arc::new(opened.frames.clone()),
    };
    closed_loop_for(http, &open, CONCURRENCY, WARM_UP).await;
    let open = closed_loop(http, &open, CONCURRENCY).await;
    let (storm_refreshes, storm_ok, storm_time) =
        storm(parts, &app, &storm_member, storm_session).await;
    let rss_phases = app.peak_rss_kib();
    app.stop();

    // 1,000 connections, each client its own, through a fresh process and a fresh forwarder.
    let mut wide = Vec::new();
    for _ in 0..rounds() {
        let (fresh, _) = start(&[]).await;
        let app = own_connections(&put_on(&fresh, &opened), 1000).await;
        let rss_app = fresh.peak_rss_kib();
        fresh.stop();
        let (quiet, _) = start(&[("RUST_LOG", "warn")]).await;
        let unlogged = own_connections(&put_on(&quiet, &opened), 1000).await;
        let rss_unlogged = quiet.peak_rss_kib();
        quiet.stop();
        let forwarder = super::roles::forwarder(parts.upstream);
        let figures = own_connections(&put_forwarded(&forwarder), 1000).await;
        wide.push(Wide {
            app,
            unlogged,
            forwarder: figures,
            rss_app,
            rss_unlogged,
            rss_forwarder: forwarder.peak_rss_kib(),
        });
    }

    // The audit line's cost: the same path through two fresh processes running side by side,
    // one with the line off, loaded in turn.
    let (off, _) = start_app(
        emulator,
        parts.dir,
        database_url,
        free_port(),
        http,
        &[("RUST_LOG", "info,audit=off")],
    )
    .await;
    let (on, _) = start_app(emulator, parts.dir, database_url, free_port(), http, &[]).await;
    let (off_put, on_put) = (put_on(&off, &opened), put_on(&on, &opened));
    for target in [&off_put, &on_put] {
        closed_loop_for(http, target, CONCURRENCY, WARM_UP).await;
    }
    let mut audit = interleaved(http, &[&off_put, &on_put], CONCURRENCY)
        .await
        .into_iter();
    let (audit_off, audit_on) = (audit.next().expect("off"), audit.next().expect("on"));
    off.stop();
    on.stop();
    BackendRun {
        fleet: opened,
        put,
        open,
        audit_off,
        audit_on,
        wide,
        rss_phases,
        startup,
        storm_refreshes,
        storm_ok,
        storm_time,
    }
}
