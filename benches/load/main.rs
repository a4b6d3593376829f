//! The load harness: `cargo bench --bench load`.
//!
//! Starts the release build of the app as its own process at production defaults
//! (`RUST_LOG=info`) against the emulator (latency 0, rate limits raised, so the app is the
//! bottleneck), and prints two tables. The first, on SQLite: `PUT /api/status` through the app
//! against a minimal forwarder (a bare axum route here that forwards the same
//! `im.user.status.set` with the same reqwest client and no checks, storage or crypto), latency
//! at a fixed 1,000 requests/s (app, forwarder, upstream directly), `POST /app`, a refresh
//! storm, the same figures with 100,000 portals / 1,000,000 accounts seeded, start-up time,
//! database size and the app's peak resident memory. The second puts the status path,
//! `POST /app` and the storm on SQLite and on PostgreSQL side by side (the server of
//! `TEST_POSTGRES_URL`, on a database created for the run and dropped after). The third is the
//! 09:00 wave (`wave.rs`; `BENCH_PHASE=wave` runs it alone), and the last the team board's
//! cost to a portal by viewers (`team.rs`; `BENCH_PHASE=team`). Every loop is bounded in count and
//! time and targets loopback only.

#![expect(
    clippy::expect_used,
    reason = "a harness: a step that fails stops the run and says which"
)]

mod app;
mod drive;
mod report;
mod seed;
mod team;
mod wave;

use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_status::domain::MemberId;
use b24_status::emulator::{AppSpec, Emulator, FormPost, UserSpec};
use sqlx::{Connection, PgConnection};

use app::{App, free_port, post_form, session_in, start_app, start_forwarder};
use drive::{Figures, Target, closed_loop, closed_loop_for, fire, fixed_rate};

const CLIENT_ID: &str = "app.bench";
const CLIENT_SECRET: &str = "bench-secret-0123456789";
const APP_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PHASE: Duration = Duration::from_secs(8);
const WARM_UP: Duration = Duration::from_secs(2);
const CONCURRENCY: usize = 64;
const USERS: u64 = 20;

/// The status path's figures: app and forwarder flat out, and all three at 1,000 req/s.
struct Run {
    pub put_app: Figures,
    pub put_forwarder: Figures,
    pub rate_app: Figures,
    pub rate_forwarder: Figures,
    pub rate_direct: Figures,
}

async fn put_figures(http: &reqwest::Client, setup: &Setup) -> Run {
    let (app, forwarder) = (&setup.app_put, &setup.forwarder);
    // Warm both paths (connection pools, caches) so neither pays for it in its measured phase.
    for target in [app, forwarder] {
        closed_loop_for(http, target, CONCURRENCY, WARM_UP).await;
    }
    Run {
        put_app: closed_loop(http, app, CONCURRENCY).await,
        put_forwarder: closed_loop(http, forwarder, CONCURRENCY).await,
        rate_app: fixed_rate(http, app).await,
        rate_forwarder: fixed_rate(http, forwarder).await,
        rate_direct: fixed_rate(http, &setup.direct).await,
    }
}

/// A portal with our app installed through one app process, and what the phases send.
struct Setup {
    member: MemberId,
    sessions: Vec<String>,
    app_put: Target,
    forwarder: Target,
    direct: Target,
}

/// Registers the app at `url` (the instance about to start) with the emulator.
fn register(emulator: &Emulator, url: &str) {
    emulator.register_app(AppSpec {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: Some(format!("{url}/oauth/callback")),
        install_url: Some(format!("{url}/install")),
        app_url: Some(format!("{url}/app")),
        scope: "im,placement,user_brief,department".into(),
        version: 1,
    });
}

/// A new portal of `USERS` users, the app installed through `app` and opened by each.
async fn prepare(emulator: &Emulator, http: &reqwest::Client, app: &App) -> Setup {
    let portal = emulator
        .add_portal(UserSpec::new("Bench", "Admin", true))
        .await
        .expect("portal");
    let member = portal.member_id.clone();
    emulator.set_rate_limit(&member, u32::MAX, 1e12);
    for i in 1..USERS {
        emulator.add_user(&member, UserSpec::new(&format!("User{i}"), "Bench", false));
    }
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    let installed = post_form(http, &format!("{}/install", app.url), &install).await;
    assert_eq!(installed.status(), 200);
    emulator.finish_install(&member, CLIENT_ID);
    let mut sessions = Vec::new();
    for user in 1..=USERS {
        let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
        let page = post_form(http, &format!("{}/app", app.url), &post)
            .await
            .text()
            .await
            .expect("page");
        sessions.push(session_in(&page));
    }
    let direct_token = emulator.issue_tokens(&member, CLIENT_ID, 1).access;
    let set_url = format!("{}im.user.status.set", portal.client_endpoint);
    Setup {
        app_put: Target::Put {
            url: format!("{}/api/status", app.url),
            bearer: sessions[0].clone(),
        },
        forwarder: Target::Put {
            url: start_forwarder(set_url.clone(), direct_token.clone()).await,
            bearer: String::new(),
        },
        direct: Target::Direct {
            url: set_url,
            token: direct_token,
        },
        member,
        sessions,
    }
}

/// What one backend did on the status path, on `POST /app` and in a refresh storm.
struct BackendRun {
    pub put: Run,
    pub open: Figures,
    pub storm_refreshes: usize,
    pub storm_ok: usize,
    pub storm_time: Duration,
}

async fn backend_run(emulator: &Emulator, http: &reqwest::Client, app: &App) -> BackendRun {
    let setup = prepare(emulator, http, app).await;
    let put = put_figures(http, &setup).await;
    let posts: Vec<FormPost> = (0..20_000)
        .map(|i| {
            let user = 1 + (i % USERS);
            emulator.frame_post(&setup.member, CLIENT_ID, user, "DEFAULT", "en", "")
        })
        .collect();
    let open = Target::Open {
        url: format!("{}/app", app.url),
        posts: Arc::new(posts),
    };
    let open = closed_loop(http, &open, CONCURRENCY).await;

    // Refresh storm: 1,000 concurrent calls for one account whose access token just expired.
    emulator.expire_access_tokens(&setup.member, 2);
    let refreshes_before = emulator.refresh_count();
    let started = Instant::now();
    let mut storm = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let target = Target::Put {
            url: format!("{}/api/status", app.url),
            bearer: setup.sessions[1].clone(),
        };
        let http = http.clone();
        storm.spawn(async move { fire(&http, &target, i).await });
    }
    let mut storm_ok = 0;
    while let Some(Ok(ok)) = storm.join_next().await {
        storm_ok += usize::from(ok);
    }
    BackendRun {
        put,
        open,
        storm_refreshes: emulator.refresh_count() - refreshes_before,
        storm_ok,
        storm_time: started.elapsed(),
    }
}

/// Everything measured, for the report.
struct Measured {
    pub sqlite: BackendRun,
    pub postgres: Option<BackendRun>,
    pub big: Run,
    pub wide: Figures,
    pub wide_big: Figures,
    pub rss_phases: u64,
    pub rss_small: u64,
    pub rss_big: u64,
    pub startup_empty: Duration,
    pub startup_big: Duration,
    pub db_size: u64,
    pub seed_time: Duration,
    pub wave: wave::Wave,
}

#[tokio::main]
async fn main() {
    let total = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let http = b24_status::bitrix::http_client(Duration::from_secs(30), false).expect("client");
    let emulator = Emulator::start().await.expect("emulator");
    // `BENCH_PHASE=wave` runs the 09:00 wave alone.
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("wave") => {
            report::print_wave(&wave::run(&emulator, &http, dir.path()).await);
            return;
        }
        Ok("team") => {
            report::print_team(&team::run(&emulator, &http, dir.path()).await);
            return;
        }
        _ => {}
    }
    let db = dir.path().join("app.db");
    let sqlite_url = format!("sqlite://{}", db.display());

    let port = free_port();
    register(&emulator, &format!("http://127.0.0.1:{port}"));
    let (app, startup_empty) =
        start_app(&emulator, dir.path(), &sqlite_url, port, &http, &[]).await;
    let sqlite = backend_run(&emulator, &http, &app).await;
    let rss_phases = app.peak_rss_kib();
    // 1,000 concurrent connections, for the peak memory figure.
    let first = prepare(&emulator, &http, &app).await;
    let wide = closed_loop(&http, &first.app_put, 1000).await;
    let rss_small = app.peak_rss_kib();
    app.stop();

    // Scale: 100,000 portals and 1,000,000 accounts.
    let seeding = Instant::now();
    seed::seed(&db).await;
    let seed_time = seeding.elapsed();
    let db_size = seed::file_size(&db);
    let (app, startup_big) = start_app(&emulator, dir.path(), &sqlite_url, port, &http, &[]).await;
    let big = put_figures(&http, &first).await;
    let wide_big = closed_loop(&http, &first.app_put, 1000).await;
    let rss_big = app.peak_rss_kib();
    app.stop();

    let postgres = match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) => Some(on_postgres(&emulator, &http, &server, dir.path()).await),
        Err(_) => {
            println!("PostgreSQL column skipped: set TEST_POSTGRES_URL=postgres://… to fill it");
            None
        }
    };

    let wave = wave::run(&emulator, &http, dir.path()).await;
    let team = team::run(&emulator, &http, dir.path()).await;
    report::print(&Measured {
        sqlite,
        postgres,
        big,
        wide,
        wide_big,
        rss_phases,
        rss_small,
        rss_big,
        startup_empty,
        startup_big,
        db_size,
        seed_time,
        wave,
    });
    report::print_team(&team);
    println!("total time {:.0} s", total.elapsed().as_secs_f64());
}

/// The backend run again, on a database created on `server` for it and dropped after.
async fn on_postgres(
    emulator: &Emulator,
    http: &reqwest::Client,
    server: &str,
    dir: &std::path::Path,
) -> BackendRun {
    let name = format!("b24_bench_{}", b24_status::store::crypto::random_hex(6));
    let mut admin = PgConnection::connect(server).await.expect("PostgreSQL");
    let create = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .expect("database");
    let mut url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let port = free_port();
    register(emulator, &format!("http://127.0.0.1:{port}"));
    let (app, _) = start_app(emulator, dir, url.as_str(), port, http, &[]).await;
    let run = backend_run(emulator, http, &app).await;
    app.stop();
    let drop = format!("DROP DATABASE {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut admin)
        .await
        .expect("dropped");
    run
}
