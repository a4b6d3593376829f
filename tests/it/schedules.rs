//! Weekly focus schedules over real HTTP: the `/api/schedule` contract, and the scheduler
//! starting and ending rules on the app's clock — moved forward, never slept on — with the
//! user's own change winning until the next boundary.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::portals::scheduler::Report;
use serde_json::{Value, json};

use super::harness::TestApp;

pub async fn schedule_get(app: &TestApp, session: &str) -> (u16, Value) {
    let answer = app
        .http
        .get(app.url("/api/schedule"))
        .bearer_auth(session)
        .send()
        .await
        .expect("app answers");
    (answer.status().as_u16(), answer.json().await.expect("json"))
}

pub async fn schedule_put(app: &TestApp, session: &str, body: &Value) -> (u16, Value) {
    let answer = app
        .http
        .put(app.url("/api/schedule"))
        .bearer_auth(session)
        .json(body)
        .send()
        .await
        .expect("app answers");
    (answer.status().as_u16(), answer.json().await.expect("json"))
}

/// Moves the app's and the portal's clocks forward together to `to` (unix seconds).
pub fn advance_to(app: &TestApp, to: i64) {
    let by = to - app.state.clock.now();
    assert!(by >= 0, "clocks only move forward");
    let by = Duration::from_secs(u64::try_from(by).expect("forward"));
    app.state.clock.advance(by);
    app.bitrix.emulator.advance_clock(by);
}

/// The next 08:00 UTC at least an hour ahead on the app's clock, and its day as the API
/// spells it.
pub fn next_eight_utc(app: &TestApp) -> (i64, &'static str) {
    let now = app.state.clock.now() + 3600;
    let at = now - now.rem_euclid(86_400) + 8 * 3600;
    let at = if at < now { at + 86_400 } else { at };
    let day = jiff::Timestamp::from_second(at)
        .expect("time")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .weekday()
        .to_monday_zero_offset();
    (
        at,
        b24_status::schedule::DAYS[usize::try_from(day).expect("day")],
    )
}

/// The employee's session, their status set to `status` first.
pub async fn employee_with(app: &TestApp, status: &str) -> (u64, String) {
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let set = app.api_put(&session, json!({ "status": status })).await;
    assert_eq!(set.status(), 200);
    (user, session)
}

pub async fn run(app: &TestApp) -> Report {
    app.state
        .portals
        .jobs()
        .apply_due("t", app.state.clock.now())
        .await
}

#[tokio::test]
async fn the_schedule_api_keeps_the_contract_and_refuses_naming_rule_and_field() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    // Before a save: no rules, in the zone of the user's Bitrix24 profile.
    assert_eq!(
        schedule_get(&app, &session).await,
        (200, json!({"time_zone": "Europe/Berlin", "rules": []}))
    );
    let mine = json!({"time_zone": "Europe/Berlin", "rules": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "13:00", "to": "13:45", "status": "break"},
    ]});
    assert_eq!(
        schedule_put(&app, &session, &mine).await,
        (200, mine.clone())
    );
    assert_eq!(schedule_get(&app, &session).await, (200, mine.clone()));

    let with =
        |rule: Value| json!({"time_zone": "Europe/Berlin", "rules": [mine["rules"][0], rule]});
    let cases = [
        (
            with(json!({"days": ["fri", "fun"], "from": "15:00", "to": "16:00", "status": "dnd"})),
            Some(2),
            "days",
        ),
        (
            with(json!({"days": ["fri"], "from": "15:00", "to": "16:5", "status": "dnd"})),
            Some(2),
            "to",
        ),
        (
            with(json!({"days": ["fri"], "from": "16:00", "to": "15:00", "status": "dnd"})),
            Some(2),
            "to",
        ),
        (
            with(json!({"days": ["fri"], "from": "15:00", "to": "16:00", "status": "busy"})),
            Some(2),
            "status",
        ),
        (
            json!({"time_zone": "Mars/Olympus", "rules": []}),
            None,
            "time_zone",
        ),
        (
            json!({"time_zone": "Europe/Berlin", "rules": (0..21).map(|h| json!({"days": ["sun"], "from": format!("{:02}:00", h), "to": format!("{:02}:30", h), "status": "away"})).collect::<Vec<_>>()}),
            None,
            "rules",
        ),
    ];
    for (bad, rule, field) in cases {
        let (status, answer) = schedule_put(&app, &session, &bad).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(answer["error"], "invalid_schedule", "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert_eq!(
            answer.get("rule").and_then(Value::as_u64),
            rule.map(|r| r as u64),
            "{answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| m.len() > 20),
            "{answer}"
        );
    }
    let (status, answer) = schedule_put(
        &app,
        &session,
        &with(json!({"days": ["thu", "fri"], "from": "10:30", "to": "12:00", "status": "away"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        (answer["rule"].clone(), answer["overlaps"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        answer["message"],
        "Rule 2 overlaps rule 1 on Thu: at any moment only one rule may apply."
    );
    // Nothing refused changed what was saved.
    assert_eq!(schedule_get(&app, &session).await, (200, mine));

    // A profile without a zone means UTC; a bearer-less call is refused.
    let other = 1;
    app.bitrix.emulator.set_time_zone(app.member(), other, "");
    let theirs = app.session_of(other).await;
    assert_eq!(schedule_get(&app, &theirs).await.1["time_zone"], "UTC");
    let anonymous = app
        .http
        .get(app.url("/api/schedule"))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_rule_starts_and_ends_on_time_and_a_change_during_it_wins_until_its_end() {
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "away").await;
    let (eight, day) = next_eight_utc(&app);
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": "08:00", "to": "09:00", "status": "dnd"},
        {"days": [day], "from": "09:00", "to": "09:30", "status": "break"},
    ]});
    assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
    let status = || app.bitrix.emulator.user_status(app.member(), user);

    advance_to(&app, eight - 30);
    assert_eq!(run(&app).await, Report::default(), "nothing before 08:00");
    assert_eq!(status(), Some(Status::Away));
    advance_to(&app, eight);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(status(), Some(Status::Dnd));
    assert_eq!(run(&app).await, Report::default(), "applied once");

    // The user's own change during the rule stands; the next rule follows at 09:00 and the
    // status from before the first rule comes back at 09:30.
    advance_to(&app, eight + 1800);
    assert_eq!(
        app.api_put(&session, json!({"status": "online"}))
            .await
            .status(),
        200
    );
    assert_eq!(run(&app).await, Report::default());
    assert_eq!(status(), Some(Status::Online));
    advance_to(&app, eight + 3600);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(status(), Some(Status::Break));
    advance_to(&app, eight + 5400 + 2);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(
        status(),
        Some(Status::Away),
        "the status from before the rules"
    );
}

#[tokio::test]
async fn a_rule_running_when_saved_starts_at_once_and_removing_it_restores() {
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "break").await;
    let (eight, day) = next_eight_utc(&app);
    advance_to(&app, eight + 600);
    let rule = json!({"days": [day], "from": "08:00", "to": "10:00", "status": "dnd"});
    let saved = json!({"time_zone": "UTC", "rules": [rule]});
    assert_eq!(schedule_put(&app, &session, &saved).await.0, 200);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Dnd)
    );
    // Removing the rule while it runs ends it: the status from before it comes back.
    let empty = json!({"time_zone": "UTC", "rules": []});
    assert_eq!(schedule_put(&app, &session, &empty).await.0, 200);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Break)
    );
    assert_eq!(app.count("schedules").await, 1, "kept, empty");
}

#[tokio::test]
async fn a_timer_running_into_a_rule_ends_there_and_what_it_would_restore_comes_back_after() {
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "away").await;
    let (eight, day) = next_eight_utc(&app);
    advance_to(&app, eight - 600);
    let until = jiff::Timestamp::from_second(eight + 600)
        .expect("time")
        .to_string();
    let timed = app
        .api_put(&session, json!({"status": "break", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": "08:00", "to": "09:00", "status": "dnd"},
    ]});
    assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
    advance_to(&app, eight);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(app.count("timers").await, 0, "the rule ended the timer");
    advance_to(&app, eight + 3600);
    assert_eq!(run(&app).await.applied, 1);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Away)
    );
}

#[tokio::test]
async fn a_rule_due_while_the_app_was_down_is_applied_when_it_starts() {
    // The in-process app saves the schedule but runs no scheduler: for the rule that starts at
    // once, the app is "down".
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "away").await;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let day = b24_status::schedule::DAYS
        [usize::try_from(now.weekday().to_monday_zero_offset()).expect("day")];
    let minute = u16::try_from(now.hour()).expect("hour") * 60
        + u16::try_from(now.minute()).expect("minute");
    let rules = json!({"time_zone": "UTC", "rules": [{
        "days": [day],
        "from": b24_status::schedule::clock_text(minute),
        "to": b24_status::schedule::clock_text((minute + 120).min(24 * 60)),
        "status": "dnd",
    }]});
    assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Away)
    );

    // The app's process starts over the same database and applies the running rule.
    let port = super::process::free_port();
    let _process =
        super::process::AppProcess::start(&app.bitrix, &app.db, port, "restarted", &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.bitrix.emulator.user_status(app.member(), user) != Some(Status::Dnd) {
        assert!(
            std::time::Instant::now() < deadline,
            "the started app never applied the rule"
        );
        // Waits for the process's scheduler, which runs on the wall clock.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_uninstall_deletes_the_portals_timers_and_schedules() {
    let app = TestApp::installed(&[]).await;
    let (_, session) = employee_with(&app, "away").await;
    let (eight, day) = next_eight_utc(&app);
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": "08:00", "to": "09:00", "status": "dnd"},
    ]});
    assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
    let until = jiff::Timestamp::from_second(eight - 60)
        .expect("time")
        .to_string();
    let timed = app
        .api_put(&session, json!({"status": "break", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    assert_eq!(
        (app.count("timers").await, app.count("schedules").await),
        (1, 1)
    );

    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), super::harness::CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    assert_eq!(
        (app.count("timers").await, app.count("schedules").await),
        (0, 0)
    );
    let calls = app.portal_calls().len();
    advance_to(&app, eight);
    assert_eq!(run(&app).await, Report::default());
    assert_eq!(
        app.portal_calls().len(),
        calls,
        "nothing is done for a gone portal"
    );
}
