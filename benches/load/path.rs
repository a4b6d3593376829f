//! The status path on one backend: `PUT /api/status` through the app, the minimal forwarder
//! and the upstream alone (flat out, then at a fixed 1,000 req/s), `POST /app`, the audit
//! line's cost, a refresh storm and 1,000 connections (through a fresh app process and the
//! forwarder).

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

/// What one backend did.
pub struct BackendRun {
    pub fleet: Opened,
    pub put: Run,
    pub open: Figures,
    pub audit_off: Figures,
    pub audit_on: Figures,
    pub wide: Figures,
    pub wide_forwarder: Figures,
    pub rss_phases: u64,
    /// Peak RSS of a fresh app process, and of the forwarder, through 1,000 connections.
    pub rss_wide: u64,
    pub rss_wide_forwarder: u64,
    pub startup: Duration,
    pub storm_refreshes: usize,
    pub storm_ok: usize,
    pub storm_time: Duration,
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
    let direct = Target::Direct {
        urls: Arc::new(
            parts
                .upstream
                .urls
                .iter()
                .map(|url| format!("{url}/rest/im.user.status.set"))
                .collect(),
        ),
        token: token_of(1),
    };
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
    let put = put_figures(parts, &app, &opened).await;
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

    // 1,000 connections, each client its own, through a fresh process and the forwarder.
    let (fresh, _) = start(&[]).await;
    let wide = own_connections(&put_on(&fresh, &opened), 1000).await;
    let rss_wide = fresh.peak_rss_kib();
    fresh.stop();
    let wide_forwarder = own_connections(&put_forwarded(parts.forwarder), 1000).await;
    let rss_wide_forwarder = parts.forwarder.peak_rss_kib();

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
        wide_forwarder,
        rss_phases,
        rss_wide,
        rss_wide_forwarder,
        startup,
        storm_refreshes,
        storm_ok,
        storm_time,
    }
}
