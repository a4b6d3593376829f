//! The team board's cost to a portal: three portals of 5,000 employees each, watched by 1, 50
//! and 500 viewers whose pages refresh every 30 seconds (each at its own moment, each with its
//! own department, page or search), with the app at Bitrix24's real limits (burst 50, 2 per
//! second per portal, on the emulator and in the app). Reports the requests each portal
//! received per minute, the board's answers and their latency, and checks that no portal's
//! limit was exceeded.

use std::time::{Duration, Instant};

use b24_status::domain::MemberId;
use b24_status::emulator::{Emulator, Server, UserSpec};

use super::app::{free_port, post_form, session_in, start_app};
use super::{CLIENT_ID, register};

pub const EMPLOYEES: u64 = 5000;
pub const VIEWERS: [usize; 3] = [1, 50, 500];
/// How long the viewers watch.
const WINDOW: Duration = Duration::from_secs(61);
/// How often a page refreshes (static/app.js).
const REFRESH: Duration = Duration::from_secs(30);

/// One portal's figures.
pub struct Watched {
    pub viewers: usize,
    pub requests_per_minute: f64,
    pub answers: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub over_limit: usize,
}

/// What viewer `n` looks at: their own department, everyone page by page, or a search.
fn query(n: usize) -> String {
    match n % 4 {
        0 => String::new(),
        1 => format!("department=all&page={}", n % 100 + 1),
        2 => format!("department={}", n % 3 + 2),
        _ => format!("department=all&q=user{}", n % 50),
    }
}

async fn portal(
    emulator: &Emulator,
    http: &reqwest::Client,
    url: &str,
    viewers: usize,
) -> (MemberId, Vec<String>) {
    let portal = emulator
        .add_portal(UserSpec::new("Team", "Admin", true))
        .await
        .expect("portal");
    let member = portal.member_id.clone();
    // Installs and first opens go at raised limits; the board is watched at the real ones.
    emulator.set_rate_limit(&member, 100_000_000, 100_000_000.0);
    let departments: Vec<u64> = ["Sales", "Development", "Support"]
        .iter()
        .map(|name| emulator.add_department(&member, name))
        .collect();
    for i in 2..=EMPLOYEES {
        let department = departments[usize::try_from(i).expect("id") % 3];
        let spec =
            UserSpec::new(&format!("User{i}"), "Team", false).in_department(department, "Engineer");
        emulator.add_user(&member, spec);
    }
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    assert_eq!(
        post_form(http, &format!("{url}/install"), &install)
            .await
            .status(),
        200
    );
    emulator.finish_install(&member, CLIENT_ID);
    let mut sessions = Vec::new();
    for user in 1..=u64::try_from(viewers).expect("count") {
        let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
        let page = post_form(http, &format!("{url}/app"), &post).await;
        assert_eq!(page.status(), 200, "open");
        sessions.push(session_in(&page.text().await.expect("page")));
    }
    (member, sessions)
}

/// One viewer's page: a refresh every 30 s from `offset`, until the window ends.
async fn watch(
    http: reqwest::Client,
    url: String,
    session: String,
    query: String,
    offset: Duration,
    end: Instant,
) -> Vec<Option<Duration>> {
    tokio::time::sleep(offset).await;
    let mut seen = Vec::new();
    while Instant::now() < end {
        let sent = Instant::now();
        let answer = http
            .get(format!("{url}/api/team?{query}"))
            .bearer_auth(&session)
            .send()
            .await;
        let ok = matches!(&answer, Ok(r) if r.status() == 200);
        seen.push(ok.then(|| sent.elapsed()));
        tokio::time::sleep(REFRESH.saturating_sub(sent.elapsed())).await;
    }
    seen
}

pub async fn run(
    emulator: &Emulator,
    http: &reqwest::Client,
    dir: &std::path::Path,
) -> Vec<Watched> {
    let db = dir.join("team.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    register(emulator, &url);
    let database = format!("sqlite://{}", db.display());
    // Installs and first opens at raised limits; the board is then watched at the real ones.
    let (app, _) = start_app(emulator, dir, &database, port, http, &[]).await;
    let mut portals = Vec::new();
    for viewers in VIEWERS {
        portals.push((viewers, portal(emulator, http, &url, viewers).await));
    }
    app.stop();
    let limits = [("RATE_LIMIT_BURST", "50"), ("RATE_LIMIT_PER_SECOND", "2")];
    let (app, _) = start_app(emulator, dir, &database, port, http, &limits).await;
    for (_, (member, _)) in &portals {
        emulator.set_rate_limit(member, 50, 2.0);
    }
    let calls_before = emulator.calls().len();
    let started = Instant::now();
    let end = started + WINDOW;
    let mut tasks = Vec::new();
    for (viewers, (_, sessions)) in &portals {
        let step = REFRESH.as_secs_f64() / *viewers as f64;
        let views: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(n, session)| {
                let offset = Duration::from_secs_f64(step * n as f64);
                tokio::spawn(watch(
                    http.clone(),
                    url.clone(),
                    session.clone(),
                    query(n),
                    offset,
                    end,
                ))
            })
            .collect();
        tasks.push(views);
    }
    let mut results = Vec::new();
    for views in tasks {
        let mut seen = Vec::new();
        for view in views {
            seen.extend(view.await.expect("viewer"));
        }
        results.push(seen);
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    app.stop();
    let calls = emulator.calls();
    let window = &calls[calls_before..];
    portals
        .iter()
        .zip(results)
        .map(|((viewers, (member, _)), seen)| {
            let to_portal: Vec<_> = window
                .iter()
                .filter(|c| c.server == Server::Portal(member.clone()))
                .collect();
            let mut latencies: Vec<Duration> = seen.iter().flatten().copied().collect();
            latencies.sort();
            let at = |p: f64| {
                latencies
                    .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
                    .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
            };
            Watched {
                viewers: *viewers,
                requests_per_minute: to_portal.len() as f64 / minutes,
                answers: seen.len(),
                failed: seen.iter().filter(|s| s.is_none()).count(),
                p50_ms: at(0.5),
                p99_ms: at(0.99),
                over_limit: to_portal
                    .iter()
                    .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
                    .count(),
            }
        })
        .collect()
}
