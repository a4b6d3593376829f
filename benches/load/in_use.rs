//! Costs that grow with accounts: 1,000,000 accounts stored, of which the 100,000 on the first
//! 10,000 portals hold tokens the app can open (sealed here with the bench's `APP_SECRET`) and
//! portals pointed at the fixed-answer upstream. The app's CPU with nothing asked is measured
//! before any account is in use (the scheduler's claims, the cache check with nothing cached;
//! the keep-alive's first pass comes 15 minutes after start, outside the phase), then each of
//! the 100,000 sets its status once, then `PUT /api/status` runs at 1,000 req/s spread over all
//! of them, then the CPU with nothing asked again. The cache holds 50,000 accounts, so about
//! half the requests find their account cached (idle for seconds: checked as it is read) and
//! the others read it in full.

use std::time::{Duration, Instant};

use b24_status::domain::{MemberId, UserId};
use b24_status::http::session::SessionKey;
use b24_status::i18n::Lang;
use b24_status::store::crypto::{Keyring, MasterKey};
use b24_status::store::{app_token_context, token_context};
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection, SqliteConnection};

use super::app::{quiet_cpu, start_app};
use super::drive::{Figures, fire, fixed_rate};
use super::path::Parts;
use super::roles::token_of;
use super::{APP_SECRET, CONCURRENCY, register};

/// Portals whose accounts are in use, 10 users each (the seed's first portals).
const PORTALS: u64 = 10_000;
const USERS: u64 = 10;

/// What one backend did.
pub struct InUse {
    pub backend: &'static str,
    /// CPU per second of wall clock with nothing asked: before any account was used, and in the
    /// 10 s after the 1,000 req/s (the cache full, the last 3 s' accounts checked).
    pub idle_cpu: f64,
    pub in_use_cpu: f64,
    /// Every one of the 100,000 setting its status once, 64 at a time.
    pub fill: Duration,
    pub fill_failed: usize,
    pub rate_app: Figures,
    pub rate_direct: Figures,
    pub peak_kib: u64,
}

impl InUse {
    pub fn overhead_ms(&self) -> f64 {
        self.rate_app.p99_ms - self.rate_direct.p99_ms
    }
}

fn member(i: u64) -> MemberId {
    MemberId::parse(&format!("{i:032x}")).expect("a seeded member id")
}

/// The rows the app must read for account `(i, user)`: its sealed pair, and the portal's
/// endpoint on the upstream and sealed application token.
struct Usable {
    portals: Vec<(String, String, Vec<u8>)>,
    accounts: Vec<(String, i64, Vec<u8>, Vec<u8>)>,
    key_id: String,
}

/// The app's master key, as the bench's `APP_SECRET` gives it.
fn master() -> MasterKey {
    MasterKey::from_base64(APP_SECRET).expect("the bench's key")
}

fn usable(upstreams: &[String]) -> Usable {
    let keys = Keyring::new(&master(), None);
    let mut rows = Usable {
        portals: Vec::new(),
        accounts: Vec::new(),
        key_id: keys.current_id().to_owned(),
    };
    for (i, upstream) in (1..=PORTALS).zip(upstreams.iter().cycle()) {
        let member = member(i);
        let app_token = keys.seal(&app_token_context(&member), &token_of(0));
        rows.portals
            .push((member.to_string(), format!("{upstream}/rest/"), app_token));
        for user in 1..=USERS {
            let id = UserId::new(user).expect("a user id");
            let access = keys.seal(&token_context("access", &member, id), &token_of(user));
            let refresh = keys.seal(&token_context("refresh", &member, id), &token_of(user));
            let user = i64::try_from(user).expect("small");
            rows.accounts
                .push((member.to_string(), user, access, refresh));
        }
    }
    rows
}

const PORTAL_ROW: &str =
    "UPDATE portals SET client_endpoint = $1, application_token = $2, key_id = $3
     WHERE member_id = $4";
/// Refreshed now, so a keep-alive pass would work through the 900,000 overdue others first.
const ACCOUNT_ROW: &str =
    "UPDATE accounts SET access_token = $1, refresh_token = $2, key_id = $3, refreshed_at = $4
     WHERE member_id = $5 AND user_id = $6";

/// Writes `rows` in one transaction over `connection`, whichever backend it is.
macro_rules! write_usable {
    ($connection:expr, $rows:expr) => {{
        let mut tx = $connection.begin().await.expect("transaction");
        for (member, endpoint, token) in &$rows.portals {
            sqlx::query(PORTAL_ROW)
                .bind(endpoint)
                .bind(token)
                .bind(&$rows.key_id)
                .bind(member)
                .execute(&mut *tx)
                .await
                .expect("portal");
        }
        let now = b24_status::clock::unix_now();
        for (member, user, access, refresh) in &$rows.accounts {
            sqlx::query(ACCOUNT_ROW)
                .bind(access)
                .bind(refresh)
                .bind(&$rows.key_id)
                .bind(now)
                .bind(member)
                .bind(user)
                .execute(&mut *tx)
                .await
                .expect("account");
        }
        tx.commit().await.expect("committed");
    }};
}

/// The seed, with the first 10,000 portals' rows made usable.
async fn prepare(database_url: &str, upstreams: &[String]) {
    match database_url.strip_prefix("sqlite://") {
        Some(file) => super::seed::seed(std::path::Path::new(file)).await,
        None => super::seed::seed_postgres(database_url).await,
    }
    let rows = usable(upstreams);
    if database_url.starts_with("postgres") {
        let mut db = PgConnection::connect(database_url).await.expect("database");
        write_usable!(db, rows);
    } else {
        let mut db = SqliteConnection::connect(database_url)
            .await
            .expect("database");
        write_usable!(db, rows);
    }
}

/// A session for each account in use, as its status page would hold one; consecutive ones on
/// different portals.
fn sessions() -> Vec<String> {
    let key = SessionKey::new(master().derive(SessionKey::PURPOSE));
    let now = b24_status::clock::unix_now();
    (1..=USERS)
        .flat_map(|user| {
            let (key, user) = (key.clone(), UserId::new(user).expect("a user id"));
            (1..=PORTALS).map(move |i| key.begin(&member(i), user, Lang::En, 0, now))
        })
        .collect()
}

/// The phase on `database_url` (a database of its own, dropped by the caller).
pub async fn run(parts: &Parts<'_>, backend: &'static str, database_url: &str) -> InUse {
    let (emulator, http) = (parts.emulator, parts.http);
    let port = super::app::free_port();
    register(emulator, &format!("http://127.0.0.1:{port}"));
    // Started once so its migrations create the tables the seed fills.
    let (app, _) = start_app(emulator, parts.dir, database_url, port, http, &[]).await;
    app.stop();
    prepare(database_url, &parts.upstream.urls).await;
    let (app, _) = start_app(emulator, parts.dir, database_url, port, http, &[]).await;
    let idle_cpu = quiet_cpu(std::slice::from_ref(&app)).await;

    let sessions = sessions();
    let target = super::fleet::put_target(&app, sessions.clone());
    let started = Instant::now();
    let fill_failed = futures_util::stream::iter(0..PORTALS as usize * USERS as usize)
        .map(|i| fire(http, &target, i))
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let fill = started.elapsed();
    // Consecutive requests 7,919 accounts apart (a prime, so every account comes up once in
    // 100,000): other portals, other users, each account last read seconds ago or evicted.
    let spread = (0..sessions.len())
        .map(|i| sessions[i * 7919 % sessions.len()].clone())
        .collect();
    let rate_app = fixed_rate(http, &super::fleet::put_target(&app, spread)).await;
    let in_use_cpu = quiet_cpu(std::slice::from_ref(&app)).await;
    let peak_kib = app.peak_rss_kib();
    app.stop();
    let rate_direct = fixed_rate(http, &parts.direct()).await;
    InUse {
        backend,
        idle_cpu,
        in_use_cpu,
        fill,
        fill_failed,
        rate_app,
        rate_direct,
        peak_kib,
    }
}

/// One column per backend.
pub fn print(runs: &[InUse]) {
    if runs.is_empty() {
        return;
    }
    println!();
    println!(
        "1,000,000 accounts on 100,000 portals, 100,000 of them in use (each set its status once, then `PUT` at 1,000 req/s spread over them):"
    );
    println!();
    let heads: Vec<String> = runs.iter().map(|r| r.backend.to_owned()).collect();
    let table = super::report::Columns::new(&heads, runs);
    table.row(
        "CPU with nothing asked: before any use / in the 10 s after the load (of one core)",
        &|r| {
            format!(
                "{:.1} % / {:.1} %",
                100.0 * r.idle_cpu,
                100.0 * r.in_use_cpu
            )
        },
        "",
    );
    table.row(
        "100,000 accounts' first status change, 64 at a time (failed)",
        &|r| format!("{:.1} s ({})", r.fill.as_secs_f64(), r.fill_failed),
        "",
    );
    table.row(
        "p50 / p99 at 1,000 req/s: app, upstream directly (ms)",
        &|r| {
            format!(
                "{:.2} / {:.2}, {:.2} / {:.2}",
                r.rate_app.p50_ms, r.rate_app.p99_ms, r.rate_direct.p50_ms, r.rate_direct.p99_ms
            )
        },
        "",
    );
    table.row(
        "p99 overhead at 1,000 req/s (ms)",
        &|r| format!("{:.2}", r.overhead_ms()),
        "≤ 1 SQLite, ≤ 2 PostgreSQL",
    );
    table.row(
        "errors at 1,000 req/s; peak RSS",
        &|r| {
            format!(
                "{}; {:.1} MiB",
                r.rate_app.errors,
                super::report::mib(r.peak_kib)
            )
        },
        "",
    );
}
