//! The 09:00 wave at test size: many users on several portals whose rules start at the same
//! minute are all applied, each once, one portal's changes one after another, with the portals'
//! rate limits paced and never exceeded — on PostgreSQL by two instances sharing the database
//! and its rate-limit buckets (SQLite serves one instance). The bench runs it at 100,000 users
//! on 10,000 portals.

use b24_status::domain::{MemberId, Status};
use b24_status::emulator::UserSpec;
use b24_status::portals::scheduler::Report;
use serde_json::json;

use super::db::on_postgres;
use super::harness::{CLIENT_ID, TestApp, session_in};
use super::schedules::{advance_to, next_eight_utc, schedule_put};

const PORTALS: usize = 4;
const USERS: u64 = 15;
/// The portals' burst and rate (an Enterprise portal's pace, a smaller burst), so that each
/// portal's share of the wave must wait.
const BURST: u32 = 10;
const PER_SECOND: f64 = 5.0;

/// A new installed portal of [`USERS`] users, each with the app opened once: their sessions.
async fn portal(app: &TestApp, n: usize) -> (MemberId, Vec<(u64, String)>) {
    let emulator = &app.bitrix.emulator;
    let portal = emulator
        .add_portal(UserSpec::new("Wave", &format!("Admin{n}"), true))
        .await
        .expect("portal");
    let member = portal.member_id.clone();
    emulator.set_rate_limit(&member, BURST, PER_SECOND);
    for i in 2..=USERS {
        emulator.add_user(&member, UserSpec::new(&format!("User{i}"), "Wave", false));
    }
    let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
    assert_eq!(app.post_form("/install", &install).await.status(), 200);
    emulator.finish_install(&member, CLIENT_ID);
    let mut sessions = Vec::new();
    for user in 1..=USERS {
        let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
        let page = app.post_form("/app", &post).await;
        assert_eq!(page.status(), 200);
        sessions.push((user, session_in(&page.text().await.expect("page"))));
    }
    (member, sessions)
}

#[tokio::test]
async fn a_wave_of_rules_starting_at_one_minute_is_applied_once_inside_every_rate_limit() {
    let limits = ["--rate-limit-burst", "10", "--rate-limit-per-second", "5"];
    let app = TestApp::spawn_with(&limits).await;
    let (_, second) = app.second_instance(&limits).await;
    let (eight, day) = next_eight_utc(&app);
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": "08:00", "to": "09:00", "status": "dnd"},
    ]});
    let mut everyone = Vec::new();
    for n in 0..PORTALS {
        let (member, sessions) = portal(&app, n).await;
        for (user, session) in sessions {
            assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
            everyone.push((member.clone(), user));
        }
    }
    // Saving looked once (nothing due before 08:00).
    let now = app.state.clock.now();
    let early = app.state.portals.jobs().apply_due("a", now).await;
    assert_eq!(early, Report::default());

    advance_to(&app, eight);
    second.clock.advance(std::time::Duration::from_secs(
        u64::try_from(eight - second.clock.now()).expect("forward"),
    ));
    let calls_before = app.bitrix.emulator.calls().len();
    // Each answer takes a moment, so changes made side by side would overlap at the portal.
    app.bitrix
        .emulator
        .set_latency(std::time::Duration::from_millis(20));
    let portals: Vec<MemberId> = everyone
        .iter()
        .step_by(USERS as usize)
        .map(|e| e.0.clone())
        .collect();
    for member in &portals {
        app.bitrix.emulator.take_most_in_flight(member);
    }
    let (a, b) = if on_postgres() {
        tokio::join!(
            app.state.portals.jobs().apply_due("a", eight),
            second.portals.jobs().apply_due("b", eight),
        )
    } else {
        let a = app.state.portals.jobs().apply_due("a", eight).await;
        (a, Report::default())
    };
    assert_eq!(a.applied + b.applied, everyone.len(), "{a:?} {b:?}");
    assert_eq!(a.dropped + b.dropped + a.deferred + b.deferred, 0);
    for (member, user) in &everyone {
        assert_eq!(
            app.bitrix.emulator.user_status(member, *user),
            Some(Status::Dnd),
            "{member} {user}"
        );
    }
    // A portal's changes go one after another (one connection to it), one line per instance.
    let instances = if on_postgres() { 2 } else { 1 };
    for member in &portals {
        let most = app.bitrix.emulator.take_most_in_flight(member);
        assert!(most <= instances, "{member}: {most} calls at once");
    }
    let wave: Vec<_> = app.bitrix.emulator.calls().split_off(calls_before);
    let sets = wave.iter().filter(|c| c.method == "batch").count();
    assert_eq!(sets, everyone.len(), "one call per user, none twice");
    let over = app
        .bitrix
        .emulator
        .calls()
        .iter()
        .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
        .count();
    assert_eq!(over, 0, "no portal's limit was exceeded");
}
