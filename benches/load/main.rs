//! The load harness: `cargo bench --bench load`.
//!
//! Every part in its own process: the release build of the app at production defaults
//! (`RUST_LOG=info`, the limiter raised because the upstream is not a real portal), the minimal
//! forwarder and the fixed-answer upstream (this binary again, `roles.rs`), and this process as
//! the load generator (the emulator it also hosts only installs portals and is idle while load
//! runs). Load is spread over 32 portals of 32 users. Prints the targets' table on SQLite, the
//! two backends side by side, the same status path with 1,000,000 accounts, the keep-alive over
//! simulated months, the 09:00 wave of 100,000 users on SQLite and on PostgreSQL with two
//! instances (`wave.rs`; `BENCH_PHASE=wave` runs it alone), 1,000,000 accounts of which
//! 100,000 are in use on both backends (`in_use.rs`; `BENCH_PHASE=accounts`), the team
//! board's cost (`team.rs`; `BENCH_PHASE=team`) and automatic statuses (`automation.rs`;
//! `BENCH_PHASE=automation`). Every figure is a ratio or a percentile of one run (the status
//! path and 1,000 connections: the median of `BENCH_RUNS` rounds in a row, with their range);
//! every loop is bounded in count and time and targets loopback only.

#![expect(
    clippy::expect_used,
    reason = "a harness: a step that fails stops the run and says which"
)]

mod app;
mod automation;
mod drive;
mod fleet;
mod in_use;
mod keepalive;
mod path;
mod report;
mod roles;
mod seed;
mod team;
mod wave;

use std::time::{Duration, Instant};

use b24_status::domain::Status;
use b24_status::emulator::{AppSpec, Emulator};
use sqlx::{Connection, PgConnection};

use app::{free_port, start_app};
use drive::own_connections;

// The app's allocator (src/main.rs), so the forwarder is built the way the app is and their
// memory and speed compare like with like; the upstream and the harness use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENT_ID: &str = "app.bench";
const CLIENT_SECRET: &str = "bench-secret-0123456789";
const APP_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PHASE: Duration = Duration::from_secs(6);
const WARM_UP: Duration = Duration::from_secs(2);
const CONCURRENCY: usize = 64;

/// Registers the app at `url` (the instance about to start) with the emulator.
fn register(emulator: &Emulator, url: &str) {
    emulator.register_app(AppSpec {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: Some(format!("{url}/oauth/callback")),
        install_url: Some(format!("{url}/install")),
        app_url: Some(format!("{url}/app")),
        scope: "im,placement,user_brief,department,calendar,timeman".into(),
        version: 1,
    });
}

/// Everything measured, for the report.
struct Measured {
    pub sqlite: path::BackendRun,
    pub postgres: Option<path::BackendRun>,
    pub big: path::Run,
    pub wide_big: drive::Figures,
    pub rss_big: u64,
    pub startup_big: Duration,
    pub db_size: u64,
    pub seed_time: Duration,
    pub keepalive: keepalive::Simulated,
    pub waves: Vec<wave::Wave>,
    pub in_use: Vec<in_use::InUse>,
}

fn main() {
    if roles::run_if_asked() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}

async fn run() {
    let total = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    // The load generator keeps every connection it opens (up to the widest phase's 1,000), so
    // neither the app nor the forwarder pays for reconnecting between requests.
    let _provider = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(usize::MAX)
        .build()
        .expect("client");
    let emulator = Emulator::start().await.expect("emulator");
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("wave") => {
            wave::print(&waves(&emulator, &http, dir.path()).await);
            return;
        }
        Ok("automation") => {
            report::print_automation(&automation::run(&emulator, &http, dir.path()).await);
            return;
        }
        Ok("team") => {
            report::print_team(&team::run(&emulator, &http, dir.path()).await);
            return;
        }
        Ok("keepalive") => {
            report::print_keepalive(&keepalive::simulate());
            return;
        }
        _ => {}
    }
    let (upstream, forwarder) = roles::upstream_and_forwarder(fleet::PORTALS);
    let parts = path::Parts {
        emulator: &emulator,
        http: &http,
        dir: dir.path(),
        upstream: &upstream,
        forwarder: &forwarder,
    };
    let db = dir.path().join("app.db");
    let sqlite_url = format!("sqlite://{}", db.display());
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("path" | "profile") => {
            let sqlite = path::backend_run(&parts, &sqlite_url).await;
            let postgres = match std::env::var("TEST_POSTGRES_URL") {
                Ok(server) => Some(on_postgres(&parts, &server).await),
                Err(_) => None,
            };
            report::print_backends(&sqlite, postgres.as_ref());
            return;
        }
        Ok("accounts") => {
            in_use::print(&in_use_runs(&parts).await);
            return;
        }
        _ => {}
    }
    let sqlite = path::backend_run(&parts, &sqlite_url).await;

    // Scale: 100,000 portals and 1,000,000 accounts beside the fleet.
    let seeding = Instant::now();
    seed::seed(&db).await;
    let seed_time = seeding.elapsed();
    let db_size = seed::file_size(&db);
    let port = free_port();
    let (app, startup_big) = start_app(&emulator, dir.path(), &sqlite_url, port, &http, &[]).await;
    let big = path::put_figures(&parts, &app, &sqlite.fleet).await;
    let wide_big = own_connections(&path::put_on(&app, &sqlite.fleet), 1000).await;
    let rss_big = app.peak_rss_kib();
    app.stop();
    let in_use = in_use_runs(&parts).await;

    let postgres = match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) => Some(on_postgres(&parts, &server).await),
        Err(_) => {
            println!("PostgreSQL column skipped: set TEST_POSTGRES_URL=postgres://… to fill it");
            None
        }
    };
    let keepalive = keepalive::simulate();
    let waves = waves(&emulator, &http, dir.path()).await;
    let team = team::run(&emulator, &http, dir.path()).await;
    let automated = automation::run(&emulator, &http, dir.path()).await;
    report::print(&Measured {
        sqlite,
        postgres,
        big,
        wide_big,
        rss_big,
        startup_big,
        db_size,
        seed_time,
        keepalive,
        waves,
        in_use,
    });
    report::print_team(&team);
    report::print_automation(&automated);
    println!("total time {:.0} s", total.elapsed().as_secs_f64());
}

/// The backend run again, on a database created on `server` for it and dropped after.
async fn on_postgres(parts: &path::Parts<'_>, server: &str) -> path::BackendRun {
    let database = PgDatabase::create(server).await;
    let run = path::backend_run(parts, &database.url).await;
    database.drop().await;
    run
}

/// Costs that grow with accounts on SQLite, then on PostgreSQL when `TEST_POSTGRES_URL` names a
/// server.
async fn in_use_runs(parts: &path::Parts<'_>) -> Vec<in_use::InUse> {
    let sqlite = format!("sqlite://{}", parts.dir.join("in_use.db").display());
    let mut runs = vec![in_use::run(parts, "SQLite", &sqlite).await];
    if let Ok(server) = std::env::var("TEST_POSTGRES_URL") {
        let database = PgDatabase::create(&server).await;
        runs.push(in_use::run(parts, "PostgreSQL", &database.url).await);
        database.drop().await;
    }
    runs
}

/// The wave on SQLite with one instance, then on PostgreSQL (when `TEST_POSTGRES_URL` names a
/// server) with two instances sharing a database.
async fn waves(
    emulator: &Emulator,
    http: &reqwest::Client,
    dir: &std::path::Path,
) -> Vec<wave::Wave> {
    let mut waves = Vec::new();
    // `BENCH_WAVE_BACKENDS=postgres` leaves SQLite out.
    if std::env::var("BENCH_WAVE_BACKENDS").map_or(true, |b| b.contains("sqlite")) {
        let sqlite = format!("sqlite://{}", dir.join("wave.db").display());
        let backend = ("SQLite", sqlite.as_str());
        waves.push(wave::run(emulator, http, dir, backend, 1, (Status::Dnd, &[])).await);
    }
    if let Ok(server) = std::env::var("TEST_POSTGRES_URL") {
        let database = PgDatabase::create(&server).await;
        let members = waves.first().map_or(&[][..], |w| w.members.as_slice());
        let backend = ("PostgreSQL", database.url.as_str());
        waves.push(wave::run(emulator, http, dir, backend, 2, (Status::Away, members)).await);
        database.drop().await;
    }
    waves
}

/// A database of the bench's own on a PostgreSQL server.
struct PgDatabase {
    admin: PgConnection,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(server: &str) -> Self {
        let name = format!("b24_bench_{}", b24_status::store::crypto::random_hex(6));
        let mut admin = PgConnection::connect(server).await.expect("PostgreSQL");
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .expect("database");
        let mut url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            admin,
            name,
            url: url.to_string(),
        }
    }

    async fn drop(mut self) {
        let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut self.admin)
            .await
            .expect("dropped");
    }
}
