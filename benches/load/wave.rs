//! The 09:00 wave: 100,000 users on 10,000 portals (`BENCH_WAVE_PORTALS` changes the count of
//! portals, 10 users each) whose schedule rules start at the same minute, applied by the app's
//! scheduler at Bitrix24's real limits (burst 50, 2 per second per portal, on the emulator and in
//! the app), on SQLite with one instance and on PostgreSQL with two sharing the database.
//! Reports how long the wave took from the rule's start until every status was set, the
//! schedulers' CPU time, the memory and the connections to portals before and during it, and
//! checks that each user was changed once and no portal's limit was exceeded.

use std::time::{Duration, Instant};

use b24_status::domain::{MemberId, Status};
use b24_status::emulator::{Emulator, UserSpec};
use futures_util::StreamExt;
use serde_json::json;

use super::app::{App, free_port, post_form, quiet_cpu, session_in, start_app};
use super::report::mib;
use super::{CLIENT_ID, register};

pub const USERS: u64 = 10;
/// Portals set up at once: the harness's two cores stay busy without the emulator falling far
/// behind.
const SETTING_UP: usize = 16;

/// Portals in the wave.
pub fn portals() -> usize {
    std::env::var("BENCH_WAVE_PORTALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// What the wave came to.
pub struct Wave {
    pub backend: &'static str,
    pub instances: usize,
    pub portals: usize,
    pub members: Vec<MemberId>,
    pub users: usize,
    pub setup: Duration,
    pub length: Duration,
    pub cpu: Duration,
    /// Resident memory of a fresh instance, and at the wave's start (every portal installed
    /// and opened), of the instance that grew most.
    pub rss_fresh_kib: u64,
    pub rss_before_kib: u64,
    pub peak_before_kib: u64,
    /// Peak resident memory over the whole run, of the instance that peaked highest.
    pub peak_kib: u64,
    /// Open sockets of all instances at the wave's start and at most during it.
    pub sockets_before: usize,
    pub sockets_peak: usize,
    pub changes: usize,
    pub over_limit: usize,
    /// The instances' CPU time per second of wall clock with nothing asked of them, in the
    /// 10 s after the wave and a minute later.
    pub quiet_in_use: f64,
    pub quiet_idle: f64,
}

/// The next whole minute at least `lead` ahead, as unix seconds.
fn minute_after(lead: i64) -> i64 {
    let now = b24_status::clock::unix_now() + lead;
    now - now.rem_euclid(60) + 60
}

/// Open sockets of the process, from `/proc`.
fn sockets(app: &App) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", app.pid())).map_or(0, |fds| {
        fds.filter_map(Result::ok)
            .filter(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            })
            .count()
    })
}

/// A portal of `USERS` users on the emulator.
async fn new_portal(emulator: &Emulator, n: usize) -> MemberId {
    let portal = emulator
        .add_portal(UserSpec::new("Wave", &format!("Admin{n}"), true))
        .await
        .expect("portal");
    for i in 2..=USERS {
        emulator.add_user(
            &portal.member_id,
            UserSpec::new(&format!("User{i}"), "Wave", false),
        );
    }
    portal.member_id
}

/// The portal (`member`, or a new one) installed through `url` and opened by each of its
/// users; their sessions.
async fn set_up_portal(
    emulator: &Emulator,
    http: &reqwest::Client,
    url: &str,
    n: usize,
    member: Option<MemberId>,
) -> Vec<(MemberId, u64, String)> {
    let member = match member {
        Some(member) => member,
        None => new_portal(emulator, n).await,
    };
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    let installed = post_form(http, &format!("{url}/install"), &install).await;
    assert_eq!(installed.status(), 200, "install");
    emulator.finish_install(&member, CLIENT_ID);
    let mut users = Vec::new();
    for user in 1..=USERS {
        let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
        let page = post_form(http, &format!("{url}/app"), &post).await;
        let session = session_in(&page.text().await.expect("page"));
        users.push((member.clone(), user, session));
    }
    users
}

/// The wave on `database` with `instances` app processes sharing it, to `status`: on the
/// portals `reused` (an earlier wave's, whose users are in another status now) and new ones up
/// to [`portals`]. The harness can listen as about 10,000 portals at most (its open files), so
/// the second backend's wave installs the app again on the first one's portals.
pub async fn run(
    emulator: &Emulator,
    http: &reqwest::Client,
    dir: &std::path::Path,
    backend: (&'static str, &str),
    instances: usize,
    (status, reused): (Status, &[MemberId]),
) -> Wave {
    let (backend, database) = backend;
    let portals = portals();
    let calls_at_start = emulator.calls().len();
    let limits = [("RATE_LIMIT_BURST", "50"), ("RATE_LIMIT_PER_SECOND", "2")];
    let mut apps = Vec::new();
    for i in 0..instances {
        let port = free_port();
        if i == 0 {
            register(emulator, &format!("http://127.0.0.1:{port}"));
        }
        apps.push(
            start_app(emulator, dir, database, port, http, &limits)
                .await
                .0,
        );
    }
    // A million more accounts on 100,000 more portals, none of them in use: what the
    // background's costs must not grow with.
    match database.strip_prefix("sqlite://") {
        Some(file) => super::seed::seed(std::path::Path::new(file)).await,
        None => super::seed::seed_postgres(database).await,
    }
    let rss_fresh_kib = apps.iter().map(App::rss_kib).max().unwrap_or(0);
    let setting_up = Instant::now();
    let url = apps[0].url.clone();
    let users: Vec<(MemberId, u64, String)> = futures_util::stream::iter(0..portals)
        .map(|n| set_up_portal(emulator, http, &url, n, reused.get(n).cloned()))
        .buffer_unordered(SETTING_UP)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    // Saving 100,000 schedules takes a while: the rule starts a minute after they are saved
    // at about 2,000 a second, whichever instance each goes through.
    let lead = 20 + i64::try_from(users.len() / 2000).unwrap_or(0);
    let at = minute_after(lead);
    let start = jiff::Timestamp::from_second(at)
        .expect("time")
        .to_zoned(jiff::tz::TimeZone::UTC);
    let day = b24_status::schedule::DAYS
        [usize::try_from(start.weekday().to_monday_zero_offset()).expect("day")];
    let from = start.strftime("%H:%M").to_string();
    let minutes = start.hour() as u16 * 60 + start.minute() as u16;
    let to = b24_status::schedule::clock_text((minutes + 60).min(24 * 60));
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": from, "to": to, "status": status.as_str()},
    ]});
    let urls: Vec<&str> = apps.iter().map(|app| app.url.as_str()).collect();
    let retried = std::sync::atomic::AtomicUsize::new(0);
    futures_util::stream::iter(users.iter().enumerate())
        .for_each_concurrent(SETTING_UP * 2, |(i, (_, _, session))| {
            let (url, rules, retried) = (urls[i % urls.len()], &rules, &retried);
            async move {
                // A 503 says "try again": the harness does, as the page would, a few times.
                for _ in 0..5 {
                    let saved = http
                        .put(format!("{url}/api/schedule"))
                        .bearer_auth(session)
                        .json(rules)
                        .send()
                        .await
                        .expect("saved");
                    if saved.status() != 503 {
                        assert_eq!(saved.status(), 200, "schedule");
                        return;
                    }
                    retried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                panic!("a schedule was refused with 503 five times");
            }
        })
        .await;
    let setup = setting_up.elapsed();
    let retried = retried.into_inner();
    if !database.starts_with("sqlite://") && super::seed::analyze_without_autovacuum(database).await
    {
        eprintln!(
            "wave on {backend}: the server runs without autovacuum; analysed after the setup, as it would have"
        );
    }
    eprintln!(
        "wave on {backend}: {portals} portals set up in {:.0} s ({retried} saves answered 503 and retried), the rule starts at {from} UTC",
        setup.as_secs_f64()
    );
    let calls_before = emulator.calls().len();
    let wait = at - b24_status::clock::unix_now();
    assert!(wait > 0, "the setup took longer than the lead time");
    tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0))).await;
    let cpu_before: Duration = apps.iter().map(App::cpu_time).sum();
    let rss_before_kib = apps.iter().map(App::rss_kib).max().unwrap_or(0);
    let peak_before_kib = apps.iter().map(App::peak_rss_kib).max().unwrap_or(0);
    let sockets_before: usize = apps.iter().map(sockets).sum();
    let mut sockets_peak = sockets_before;
    let started = Instant::now();
    eprintln!("wave on {backend}: started");
    let deadline = started + Duration::from_secs(600);
    // Users not yet seen in Do not disturb; each look asks only about those.
    let mut waiting: Vec<&(MemberId, u64, String)> = users.iter().collect();
    while !waiting.is_empty() {
        waiting.retain(|(member, user, _)| emulator.user_status(member, *user) != Some(status));
        sockets_peak = sockets_peak.max(apps.iter().map(sockets).sum());
        assert!(
            Instant::now() < deadline,
            "the wave did not finish: {} of {} left",
            waiting.len(),
            users.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let length = started.elapsed();
    eprintln!(
        "wave on {backend}: every status set after {:.1} s",
        length.as_secs_f64()
    );
    let cpu = apps.iter().map(App::cpu_time).sum::<Duration>() - cpu_before;
    // The background alone: in the 10 s after the wave (the accounts it used are still
    // cached, the last of them checked for 3 s more), then a minute later (dropped).
    let quiet_in_use = quiet_cpu(&apps).await;
    tokio::time::sleep(Duration::from_secs(62)).await;
    let quiet_idle = quiet_cpu(&apps).await;
    let peak_kib = apps.iter().map(App::peak_rss_kib).max().unwrap_or(0);
    eprintln!(
        "wave on {backend}: peak RSS {:.1} MiB, sockets {sockets_before} / {sockets_peak}",
        mib(peak_kib)
    );
    for app in apps {
        app.stop();
    }
    let calls = emulator.calls();
    let wave = &calls[calls_before..];
    Wave {
        backend,
        instances,
        portals,
        members: users
            .iter()
            .filter(|(_, user, _)| *user == 1)
            .map(|(member, _, _)| member.clone())
            .collect(),
        users: users.len(),
        setup,
        length,
        cpu,
        quiet_in_use,
        quiet_idle,
        rss_fresh_kib,
        rss_before_kib,
        peak_before_kib,
        peak_kib,
        sockets_before,
        sockets_peak,
        changes: wave.iter().filter(|c| c.method == "batch").count(),
        over_limit: calls[calls_at_start..]
            .iter()
            .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
            .count(),
    }
}

/// The 09:00 wave's figures, one column per backend.
pub fn print(waves: &[Wave]) {
    let Some(first) = waves.first() else {
        return;
    };
    println!();
    println!(
        "09:00 wave: {} users on {} portals, one rule starting at the same minute, limits burst 50 and 2/s per portal:",
        first.users, first.portals
    );
    println!();
    let heads: Vec<String> = waves
        .iter()
        .map(|w| format!("{}, {} instance(s)", w.backend, w.instances))
        .collect();
    let table = super::report::Columns::new(&heads, waves);
    table.row(
        "from the rule's start until every status was set",
        &|w| format!("{:.1} s", w.length.as_secs_f64()),
        "≤ 30 s",
    );
    table.row(
        "status changes made (`batch` calls)",
        &|w| w.changes.to_string(),
        "one per user",
    );
    table.row(
        "`QUERY_LIMIT_EXCEEDED` answers",
        &|w| w.over_limit.to_string(),
        "0",
    );
    table.row(
        "peak RSS over the run, highest instance",
        &|w| format!("{:.1} MiB", mib(w.peak_kib)),
        "≤ 256 MiB",
    );
    table.row(
        "RSS fresh / at the wave's start / peak before it",
        &|w| {
            format!(
                "{:.1} / {:.1} / {:.1} MiB",
                mib(w.rss_fresh_kib),
                mib(w.rss_before_kib),
                mib(w.peak_before_kib)
            )
        },
        "",
    );
    table.row(
        "per installed portal at the wave's start",
        &|w| {
            let grown = w.rss_before_kib.saturating_sub(w.rss_fresh_kib) as f64;
            format!("{:.1} KiB", grown / w.portals.max(1) as f64)
        },
        "",
    );
    table.row(
        "open sockets at the wave's start / most during it",
        &|w| format!("{} / {}", w.sockets_before, w.sockets_peak),
        "",
    );
    table.row(
        "growth per socket opened during the wave",
        &|w| {
            let opened = w.sockets_peak.saturating_sub(w.sockets_before).max(1) as f64;
            let grown = w.peak_kib.saturating_sub(w.rss_before_kib) as f64;
            format!("{:.1} KiB", grown / opened)
        },
        "",
    );
    table.row(
        "CPU time during the wave, all instances",
        &|w| {
            format!(
                "{:.1} s ({:.0} % of one core)",
                w.cpu.as_secs_f64(),
                100.0 * w.cpu.as_secs_f64() / w.length.as_secs_f64().max(0.001)
            )
        },
        "",
    );
    table.row(
        "CPU with nothing asked (1,100,000 accounts stored): 10 s after the wave / a minute later",
        &|w| {
            format!(
                "{:.1} % / {:.1} % of one core",
                100.0 * w.quiet_in_use,
                100.0 * w.quiet_idle
            )
        },
        "",
    );
    table.row(
        "setting up (install, open, save the rule)",
        &|w| format!("{:.0} s", w.setup.as_secs_f64()),
        "",
    );
}
