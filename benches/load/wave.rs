//! The 09:00 wave: 10,000 users on 1,000 portals whose schedule rules start at the same minute,
//! applied by the app's scheduler at Bitrix24's real limits (burst 50, 2 per second per portal,
//! on the emulator and in the app). Reports how long the wave took from the rule's start until
//! every status was set, the scheduler's CPU time and the app's peak memory, and checks that
//! each user was changed once and no portal's limit was exceeded.

use std::time::{Duration, Instant};

use b24_status::domain::{MemberId, Status};
use b24_status::emulator::{Emulator, UserSpec};
use serde_json::json;

use super::app::{free_port, post_form, session_in, start_app};
use super::{CLIENT_ID, register};

pub const PORTALS: usize = 1000;
pub const USERS: u64 = 10;

/// What the wave came to.
pub struct Wave {
    pub users: usize,
    pub length: Duration,
    pub cpu: Duration,
    pub rss_before_kib: u64,
    pub peak_before_kib: u64,
    pub rss_kib: u64,
    pub changes: usize,
    pub over_limit: usize,
}

/// The next whole minute at least 20 s ahead, as unix seconds.
fn next_minute() -> i64 {
    let now = b24_status::clock::unix_now() + 20;
    now - now.rem_euclid(60) + 60
}

pub async fn run(emulator: &Emulator, http: &reqwest::Client, dir: &std::path::Path) -> Wave {
    let db = dir.join("wave.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    register(emulator, &url);
    let limits = [("RATE_LIMIT_BURST", "50"), ("RATE_LIMIT_PER_SECOND", "2")];
    let database = format!("sqlite://{}", db.display());
    let (app, _) = start_app(emulator, dir, &database, port, http, &limits).await;
    let mut users: Vec<(MemberId, u64, String)> = Vec::new();
    for n in 0..PORTALS {
        let portal = emulator
            .add_portal(UserSpec::new("Wave", &format!("Admin{n}"), true))
            .await
            .expect("portal");
        let member = portal.member_id.clone();
        for i in 2..=USERS {
            emulator.add_user(&member, UserSpec::new(&format!("User{i}"), "Wave", false));
        }
        let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
        let installed = post_form(http, &format!("{url}/install"), &install).await;
        assert_eq!(installed.status(), 200, "install");
        emulator.finish_install(&member, CLIENT_ID);
        for user in 1..=USERS {
            let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
            let page = post_form(http, &format!("{url}/app"), &post).await;
            let session = session_in(&page.text().await.expect("page"));
            users.push((member.clone(), user, session));
        }
    }
    let at = next_minute();
    let start = jiff::Timestamp::from_second(at)
        .expect("time")
        .to_zoned(jiff::tz::TimeZone::UTC);
    let day = b24_status::schedule::DAYS
        [usize::try_from(start.weekday().to_monday_zero_offset()).expect("day")];
    let from = start.strftime("%H:%M").to_string();
    let minutes = start.hour() as u16 * 60 + start.minute() as u16;
    let to = b24_status::schedule::clock_text((minutes + 60).min(24 * 60));
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": from, "to": to, "status": "dnd"},
    ]});
    for (_, _, session) in &users {
        let saved = http
            .put(format!("{url}/api/schedule"))
            .bearer_auth(session)
            .json(&rules)
            .send()
            .await
            .expect("saved");
        assert_eq!(saved.status(), 200, "schedule");
    }
    let calls_before = emulator.calls().len();
    let wait = at - b24_status::clock::unix_now();
    assert!(wait > 0, "the setup took longer than the lead time");
    tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0))).await;
    let cpu_before = app.cpu_time();
    let rss_before_kib = app.rss_kib();
    let peak_before_kib = app.peak_rss_kib();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    loop {
        let done = users
            .iter()
            .filter(|(member, user, _)| emulator.user_status(member, *user) == Some(Status::Dnd))
            .count();
        if done == users.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the wave did not finish: {done} of {}",
            users.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let length = started.elapsed();
    let cpu = app.cpu_time() - cpu_before;
    let rss_kib = app.peak_rss_kib();
    app.stop();
    let calls = emulator.calls();
    let wave = &calls[calls_before..];
    Wave {
        users: users.len(),
        length,
        cpu,
        rss_before_kib,
        peak_before_kib,
        rss_kib,
        changes: wave.iter().filter(|c| c.method == "batch").count(),
        over_limit: calls
            .iter()
            .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
            .count(),
    }
}
