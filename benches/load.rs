//! The load harness: `cargo bench --bench load`.
//!
//! Starts the release build of the app as its own process against the emulator (latency 0,
//! rate limits raised, so the app is the bottleneck), seeds its database, and prints one table:
//! `PUT /api/status` through the app against a minimal forwarder (a bare axum route here that
//! forwards the same `im.user.status.set` with the same reqwest client and no checks, storage or
//! crypto), latency at a fixed 1,000 requests/s (app, forwarder, upstream directly), `POST /app`,
//! a refresh storm, the same figures with 100,000 portals / 1,000,000 accounts seeded, start-up
//! time, database size and the app's peak resident memory. Every loop is bounded in count and
//! time and targets loopback only.

#![expect(
    clippy::expect_used,
    reason = "a harness: a step that fails stops the run and says which"
)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};
use b24_status::emulator::{AppSpec, Emulator, FormPost, UserSpec};
use serde_json::{Value, json};

const CLIENT_ID: &str = "app.bench";
const CLIENT_SECRET: &str = "bench-secret-0123456789";
const APP_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PHASE: Duration = Duration::from_secs(8);
const WARM_UP: Duration = Duration::from_secs(2);
const CONCURRENCY: usize = 64;
const USERS: u64 = 20;

struct App {
    child: Child,
    url: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl App {
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }

    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Starts the app binary; returns it and how long it took until `/readyz` answered.
async fn start_app(
    emulator: &Emulator,
    dir: &Path,
    port: u16,
    http: &reqwest::Client,
) -> (App, Duration) {
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_b24-status"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("B24_CLIENT_ID", CLIENT_ID),
            ("B24_CLIENT_SECRET", CLIENT_SECRET),
            ("APP_SECRET", APP_SECRET),
            ("B24_ALLOW_HTTP", "true"),
            ("RATE_LIMIT_BURST", "100000000"),
            ("RATE_LIMIT_PER_SECOND", "100000000"),
            ("RUST_LOG", "warn"),
        ])
        .env("B24_OAUTH_URL", emulator.oauth_urls())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &url)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("app.db").display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the app starts");
    let app = App { child, url };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{}/readyz", app.url)).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not come up");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (app, started.elapsed())
}

async fn post_form(http: &reqwest::Client, url: &str, post: &FormPost) -> reqwest::Response {
    http.post(format!("{url}?{}", post.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(post.body())
        .send()
        .await
        .expect("answer")
}

fn session_in(page: &str) -> String {
    let start = page
        .find(r#"<meta name="b24-session" content=""#)
        .expect("session")
        + 34;
    page[start..start + page[start..].find('"').expect("end")].to_owned()
}

/// One request of a load phase.
#[derive(Clone)]
enum Target {
    /// `PUT` through the app or the forwarder, with a bearer session.
    Put { url: String, bearer: String },
    /// `im.user.status.set` straight at the emulator.
    Direct { url: String, token: String },
    /// `POST /app` with pregenerated frame POSTs.
    Open {
        url: String,
        posts: Arc<Vec<FormPost>>,
    },
}

async fn fire(http: &reqwest::Client, target: &Target, i: usize) -> bool {
    let status = ["online", "dnd", "away", "break"][i % 4];
    let sent = match target {
        Target::Put { url, bearer } => {
            http.put(url)
                .bearer_auth(bearer)
                .json(&json!({"status": status}))
                .send()
                .await
        }
        Target::Direct { url, token } => {
            http.post(url)
                .json(&json!({"auth": token, "STATUS": status}))
                .send()
                .await
        }
        Target::Open { url, posts } => {
            let post = &posts[i % posts.len()];
            http.post(format!("{url}?{}", post.query_string()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(post.body())
                .send()
                .await
        }
    };
    match sent {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

struct Figures {
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn figures(mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Figures {
    latencies.sort();
    Figures {
        throughput: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
    }
}

/// `workers` clients, each sending one request after another for `PHASE`.
async fn closed_loop(http: &reqwest::Client, target: &Target, workers: usize) -> Figures {
    closed_loop_for(http, target, workers, PHASE).await
}

async fn closed_loop_for(
    http: &reqwest::Client,
    target: &Target,
    workers: usize,
    phase: Duration,
) -> Figures {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (http, target) = (http.clone(), target.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors, mut i) = (Vec::new(), 0, w);
            while started.elapsed() < phase {
                let sent = Instant::now();
                if fire(&http, &target, i).await {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
                i += workers;
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(Ok((l, e))) = tasks.join_next().await {
        latencies.extend(l);
        errors += e;
    }
    figures(latencies, errors, started.elapsed())
}

/// One request every millisecond for `PHASE`, whatever the answers take.
async fn fixed_rate(http: &reqwest::Client, target: &Target) -> Figures {
    let started = Instant::now();
    let samples = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while started.elapsed() < PHASE {
        ticker.tick().await;
        let (http, target, samples) = (http.clone(), target.clone(), samples.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let ok = fire(&http, &target, i).await;
            let mut samples = samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if ok {
                samples.0.push(sent.elapsed());
            } else {
                samples.1 += 1;
            }
        });
        i += 1;
    }
    while tasks.join_next().await.is_some() {}
    let (latencies, errors) = std::mem::take(
        &mut *samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    figures(latencies, errors, started.elapsed())
}

/// The least any Rust app must do: receive the PUT, forward `im.user.status.set`, answer.
async fn start_forwarder(upstream: String, token: String) -> String {
    #[derive(Clone)]
    struct Forward {
        http: reqwest::Client,
        upstream: String,
        token: String,
    }
    async fn forward(State(f): State<Forward>, Json(body): Json<Value>) -> Json<Value> {
        let status = body["status"].clone();
        let _ = f
            .http
            .post(&f.upstream)
            .json(&json!({"auth": f.token, "STATUS": status}))
            .send()
            .await
            .map(|r| r.bytes());
        Json(json!({"status": status}))
    }
    let state = Forward {
        http: b24_status::bitrix::http_client(Duration::from_secs(15), false).expect("client"),
        upstream,
        token,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    let router = Router::new()
        .route("/api/status", put(forward))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/api/status")
}

/// 100,000 portals with 10 accounts each, ciphertext-sized blobs in the token columns.
async fn seed(db: &Path) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint, application_token,
             key_id, scope, licence, state, app_version, created_at, updated_at)
         SELECT printf('%032x', i), 'p' || i || '.bitrix24.com', 'https://p' || i || '.bitrix24.com/rest/',
             'https://oauth.bitrix.info/rest/', randomblob(60), 'seed', 'im,placement,user_brief', 'P',
             'active', 1, 1700000000, 1700000000 FROM n",
    )
    .execute(&pool)
    .await
    .expect("portals");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
         INSERT INTO accounts (member_id, user_id, is_admin, is_installer, access_token, refresh_token,
             key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at)
         SELECT printf('%032x', i / 10 + 1), i % 10 + 1, i % 10 = 0, i % 10 = 0, randomblob(92), randomblob(92),
             'seed', 1, 1900000000, 1700000000 + i, 'active', 1700000000, 1700000000 FROM n",
    )
    .execute(&pool)
    .await
    .expect("accounts");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("checkpoint");
    pool.close().await;
}

fn file_size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

struct Run {
    put_app: Figures,
    put_forwarder: Figures,
    rate_app: Figures,
    rate_forwarder: Figures,
    rate_direct: Figures,
}

async fn put_figures(
    http: &reqwest::Client,
    app: &Target,
    forwarder: &Target,
    direct: &Target,
) -> Run {
    // Warm both paths (connection pools, caches) so neither pays for it in its measured phase.
    for target in [app, forwarder] {
        closed_loop_for(http, target, CONCURRENCY, WARM_UP).await;
    }
    Run {
        put_app: closed_loop(http, app, CONCURRENCY).await,
        put_forwarder: closed_loop(http, forwarder, CONCURRENCY).await,
        rate_app: fixed_rate(http, app).await,
        rate_forwarder: fixed_rate(http, forwarder).await,
        rate_direct: fixed_rate(http, direct).await,
    }
}

#[tokio::main]
async fn main() {
    let total = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let http = b24_status::bitrix::http_client(Duration::from_secs(30), false).expect("client");

    let emulator = Emulator::start().await.expect("emulator");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    emulator.register_app(AppSpec {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: Some(format!("{url}/oauth/callback")),
        install_url: Some(format!("{url}/install")),
        app_url: Some(format!("{url}/app")),
        scope: "im,placement,user_brief".into(),
        version: 1,
    });
    let portal = emulator
        .add_portal(UserSpec::new("Bench", "Admin", true))
        .await
        .expect("portal");
    let member = portal.member_id.clone();
    emulator.set_rate_limit(&member, u32::MAX, 1e12);
    for i in 1..USERS {
        emulator.add_user(&member, UserSpec::new(&format!("User{i}"), "Bench", false));
    }

    let (app, startup_empty) = start_app(&emulator, dir.path(), port, &http).await;
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    assert_eq!(
        post_form(&http, &format!("{}/install", app.url), &install)
            .await
            .status(),
        200
    );
    emulator.finish_install(&member, CLIENT_ID);
    let mut sessions = Vec::new();
    for user in 1..=USERS {
        let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
        let page = post_form(&http, &format!("{}/app", app.url), &post)
            .await
            .text()
            .await
            .expect("page");
        sessions.push(session_in(&page));
    }
    let direct_token = emulator.issue_tokens(&member, CLIENT_ID, 1).access;
    let set_url = format!("{}im.user.status.set", portal.client_endpoint);
    let forwarder_url = start_forwarder(set_url.clone(), direct_token.clone()).await;
    let app_put = Target::Put {
        url: format!("{}/api/status", app.url),
        bearer: sessions[0].clone(),
    };
    let forwarder = Target::Put {
        url: forwarder_url,
        bearer: String::new(),
    };
    let direct = Target::Direct {
        url: set_url,
        token: direct_token,
    };

    let small = put_figures(&http, &app_put, &forwarder, &direct).await;
    let rss_put = app.peak_rss_kib();

    let posts: Vec<FormPost> = (0..20_000)
        .map(|i| emulator.frame_post(&member, CLIENT_ID, 1 + (i % USERS), "DEFAULT", "en", ""))
        .collect();
    let open = closed_loop(
        &http,
        &Target::Open {
            url: format!("{}/app", app.url),
            posts: Arc::new(posts),
        },
        CONCURRENCY,
    )
    .await;
    let rss_open = app.peak_rss_kib();

    // Refresh storm: 1,000 concurrent calls for one account whose access token just expired.
    emulator.expire_access_tokens(&member, 2);
    let refreshes_before = emulator.refresh_count();
    let storm_started = Instant::now();
    let mut storm = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let target = Target::Put {
            url: format!("{}/api/status", app.url),
            bearer: sessions[1].clone(),
        };
        let http = http.clone();
        storm.spawn(async move { fire(&http, &target, i).await });
    }
    let mut storm_ok = 0;
    while let Some(Ok(ok)) = storm.join_next().await {
        storm_ok += usize::from(ok);
    }
    let storm_time = storm_started.elapsed();
    let storm_refreshes = emulator.refresh_count() - refreshes_before;

    // 1,000 concurrent connections, for the peak memory figure.
    let wide = closed_loop(&http, &app_put, 1000).await;
    let rss_small = app.peak_rss_kib();
    app.stop();

    // Scale: 100,000 portals and 1,000,000 accounts.
    let db = dir.path().join("app.db");
    let seeding = Instant::now();
    seed(&db).await;
    let seed_time = seeding.elapsed();
    let db_size = file_size(&db);
    let (app, startup_big) = start_app(&emulator, dir.path(), port, &http).await;
    let big = put_figures(&http, &app_put, &forwarder, &direct).await;
    let wide_big = closed_loop(&http, &app_put, 1000).await;
    let rss_big = app.peak_rss_kib();
    app.stop();

    let ratio = |a: &Figures, b: &Figures| a.throughput / b.throughput;
    println!();
    println!(
        "b24-status load harness — {} cores, phases of {} s, {} clients unless noted",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        PHASE.as_secs(),
        CONCURRENCY
    );
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
    println!(
        "| p50 / p99 at 1,000 req/s, app (ms) | {:.2} / {:.2} | {:.2} / {:.2} | |",
        small.rate_app.p50_ms, small.rate_app.p99_ms, big.rate_app.p50_ms, big.rate_app.p99_ms
    );
    println!(
        "| p50 / p99 at 1,000 req/s, minimal forwarder (ms) | {:.2} / {:.2} | {:.2} / {:.2} | |",
        small.rate_forwarder.p50_ms,
        small.rate_forwarder.p99_ms,
        big.rate_forwarder.p50_ms,
        big.rate_forwarder.p99_ms
    );
    println!(
        "| p50 / p99 at 1,000 req/s, upstream directly (ms) | {:.2} / {:.2} | {:.2} / {:.2} | |",
        small.rate_direct.p50_ms,
        small.rate_direct.p99_ms,
        big.rate_direct.p50_ms,
        big.rate_direct.p99_ms
    );
    println!(
        "| p99 overhead of the app over direct (ms) | {:.2} | {:.2} | ≤ 2 |",
        small.rate_app.p99_ms - small.rate_direct.p99_ms,
        big.rate_app.p99_ms - big.rate_direct.p99_ms
    );
    println!(
        "| `POST /app` (verify + page), req/s, p50 / p99 (ms) | {:.0}, {:.2} / {:.2} | | ≥ 5,000 req/s |",
        open.throughput, open.p50_ms, open.p99_ms
    );
    println!(
        "| refresh storm: 1,000 calls, refreshes at upstream, time | {storm_refreshes} refresh, {storm_ok} ok, {:.0} ms | | 1 refresh |",
        storm_time.as_secs_f64() * 1000.0
    );
    println!(
        "| 1,000 connections: req/s, p99 (ms) | {:.0}, {:.2} | {:.0}, {:.2} | |",
        wide.throughput, wide.p99_ms, wide_big.throughput, wide_big.p99_ms
    );
    println!(
        "| peak RSS of the app after the 64-client phases / `POST /app` (MiB) | {:.1} / {:.1} | | |",
        rss_put as f64 / 1024.0,
        rss_open as f64 / 1024.0
    );
    println!(
        "| peak RSS of the app, whole run incl. 1,000 connections (MiB) | {:.1} | {:.1} | ≤ 64 at 1,000 connections |",
        rss_small as f64 / 1024.0,
        rss_big as f64 / 1024.0
    );
    println!(
        "| start-up until ready (ms) | {:.0} | {:.0} | ≤ 300 |",
        startup_empty.as_secs_f64() * 1000.0,
        startup_big.as_secs_f64() * 1000.0
    );
    println!(
        "| database size | | {:.0} MiB (seeded in {:.1} s) | |",
        db_size as f64 / 1_048_576.0,
        seed_time.as_secs_f64()
    );
    let errors = small.put_app.errors
        + small.put_forwarder.errors
        + big.put_app.errors
        + open.errors
        + wide.errors
        + wide_big.errors;
    println!();
    println!(
        "errors during the run: {errors}; total time {:.0} s",
        total.elapsed().as_secs_f64()
    );
}
