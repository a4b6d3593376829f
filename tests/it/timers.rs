//! A status for a while: `PUT /api/status` with `until`, what `GET` shows meanwhile, and the
//! scheduler restoring the status before — on the app's clock, once between instances, after a
//! restart, and never on behalf of a user whose tokens died.

use std::time::{Duration, Instant};

use b24_status::domain::Status;
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use b24_status::portals::scheduler::{RETRY, Report};
use serde_json::{Value, json};

use super::db::TestDb;
use super::harness::{CLIENT_ID, TestApp, assert_page, session_in};
use super::process::{AppProcess, free_port};

/// `unix` as RFC 3339 with a +01:00 offset, as a client in Berlin would send it.
fn rfc3339(unix: i64) -> String {
    let at = jiff::Timestamp::from_second(unix).expect("a time");
    at.display_with_offset(jiff::tz::offset(1)).to_string()
}

async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_timed_status_runs_until_its_end_then_the_one_before_comes_back() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    let clock = app.state.clock.clone();
    let until = clock.now() + 3600;

    let (status, answer) = body(
        app.api_put(&session, json!({"status": "dnd", "until": rfc3339(until)}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let utc = jiff::Timestamp::from_second(until)
        .expect("time")
        .to_string();
    assert_eq!(
        answer,
        json!({"status": "dnd", "reason": "timer", "until": utc, "then": "away"})
    );
    assert!(utc.ends_with('Z'), "answered in UTC: {utc}");
    let (_, shown) = body(app.api_get(&session).await).await;
    assert_eq!(
        shown,
        json!({"status": "dnd", "reason": "timer", "until": utc, "then": "away"})
    );

    // Not yet: a minute before the end nothing changes.
    clock.advance(Duration::from_secs(3540));
    assert_eq!(
        app.state.portals.jobs().apply_due("t", clock.now()).await,
        Report::default()
    );
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Dnd)
    );
    clock.advance(Duration::from_secs(60));
    let done = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(done.applied, 1, "{done:?}");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Away)
    );
    let (_, shown) = body(app.api_get(&session).await).await;
    assert_eq!(shown, json!({"status": "away"}), "no timer any more");
    assert_eq!(
        app.state.portals.jobs().apply_due("t", clock.now()).await,
        Report::default()
    );
}

#[tokio::test]
async fn an_until_that_is_not_a_moment_within_a_week_is_422_and_changes_nothing() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let now = app.state.clock.now();
    let calls = app.portal_calls().len();
    for until in [
        json!("tomorrow"),
        json!("2030-01-01T10:00:00"),
        json!(rfc3339(now - 60)),
        json!(rfc3339(now + 8 * 24 * 3600)),
        json!(1_900_000_000),
        json!(null),
    ] {
        let (status, answer) = body(
            app.api_put(&session, json!({"status": "dnd", "until": until}))
                .await,
        )
        .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (422, Some("invalid_until")),
            "{until}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| m.contains("7")),
            "{answer}"
        );
    }
    assert_eq!(app.portal_calls().len(), calls, "Bitrix24 was not called");
    assert_eq!(app.count("timers").await, 0);
}

#[tokio::test]
async fn a_plain_change_ends_the_timer_and_leaves_no_restore_behind() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let clock = app.state.clock.clone();
    let until = rfc3339(clock.now() + 1800);
    assert_eq!(
        app.api_put(&session, json!({"status": "break", "until": until}))
            .await
            .status(),
        200
    );
    let (_, answer) = body(app.api_put(&session, json!({"status": "online"})).await).await;
    assert_eq!(answer, json!({"status": "online"}));
    clock.advance(Duration::from_secs(3600));
    let done = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(done, Report::default());
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Online)
    );
}

#[tokio::test]
async fn two_instances_restore_each_timer_once() {
    let app = TestApp::installed(&[]).await;
    let (_, second) = app.second_instance(&[]).await;
    let clock = app.state.clock.clone();
    let mut users = Vec::new();
    for i in 0..8 {
        let user = app.bitrix.emulator.add_user(
            app.member(),
            b24_status::emulator::UserSpec::new(&format!("Timed{i}"), "User", false),
        );
        let session = app.session_of(user).await;
        let until = rfc3339(clock.now() + 600);
        let put = app
            .api_put(&session, json!({"status": "dnd", "until": until}))
            .await;
        assert_eq!(put.status(), 200);
        users.push(user);
    }
    let sets = || {
        app.portal_calls()
            .iter()
            .filter(|c| c.method == "im.user.status.set")
            .count()
    };
    let before = sets();
    clock.advance(Duration::from_secs(601));
    second.clock.advance(Duration::from_secs(601));
    let (first, other) = tokio::join!(
        app.state.portals.jobs().apply_due("first", clock.now()),
        second
            .portals
            .jobs()
            .apply_due("second", second.clock.now()),
    );
    assert_eq!(first.applied + other.applied, 8, "{first:?} {other:?}");
    assert_eq!(sets(), before + 8, "no status restored twice");
    for user in users {
        let status = app.bitrix.emulator.user_status(app.member(), user);
        assert_eq!(status, Some(Status::Online), "user {user}");
    }
}

#[tokio::test]
async fn a_timer_whose_tokens_died_is_not_retried_and_the_user_is_told_on_their_next_visit() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let clock = app.state.clock.clone();
    let ends = clock.now() + 600;
    let until = rfc3339(ends);
    assert_eq!(
        app.api_put(&session, json!({"status": "dnd", "until": until}))
            .await
            .status(),
        200
    );
    // The user's refresh token dies (unused for too long, say): the access token has expired
    // and the OAuth server refuses the refresh.
    clock.advance(Duration::from_secs(4000));
    app.bitrix.emulator.expire_access_tokens(app.member(), user);
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::ErrorWith200 {
            code: "invalid_grant".into(),
        },
        1,
    );
    let done = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(done.dropped, 1, "{done:?}");
    clock.advance(Duration::from_secs(120));
    let again = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(again, Report::default(), "not retried");

    // The user's next visit says what happened, once, in their language and time zone (their
    // profile's, Europe/Berlin).
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin").expect("zone");
    let wall = jiff::Timestamp::from_second(ends)
        .expect("time")
        .to_zoned(berlin);
    let page = assert_page(app.open_app_as(user, "de").await, 200, "endete um").await;
    assert!(page.contains(&wall.strftime("%H:%M").to_string()), "{page}");
    assert!(page.contains("„Nicht stören“ endete um"), "{page}");
    assert!(page.contains("zu „Online“ zurückwechseln"), "{page}");
    let page = assert_page(app.open_app_as(user, "de").await, 200, "Status").await;
    assert!(!page.contains("endete um"), "told once");
    assert_eq!(app.count("timers").await, 0);
}

#[tokio::test]
async fn a_timer_survives_a_restart_of_the_app() {
    let app = TestApp::installed(&[]).await;
    let db = TestDb::new().await;
    let port = free_port();
    let first = AppProcess::start(&app.bitrix, &db, port, "first", &[]).await;
    let http = super::harness::client();
    let install = app
        .bitrix
        .emulator
        .begin_install(app.member(), CLIENT_ID, 1, "en");
    let post = |path: &str, form: &b24_status::emulator::FormPost, url: &str| {
        http.post(format!("{url}{path}?{}", form.query_string()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.body())
            .send()
    };
    let installed = post("/install", &install, &first.url)
        .await
        .expect("install");
    assert_eq!(installed.status(), 200);
    app.bitrix.emulator.finish_install(app.member(), CLIENT_ID);
    let user = app.bitrix.employee;
    let frame = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, user, "DEFAULT", "en", "");
    let page = post("/app", &frame, &first.url).await.expect("open");
    let session = session_in(&page.text().await.expect("page"));
    // The process runs on the wall clock: a timer a few seconds long.
    let until = jiff::Timestamp::now().as_second() + 3;
    let set = http
        .put(format!("{}/api/status", first.url))
        .bearer_auth(&session)
        .json(&json!({"status": "dnd", "until": rfc3339(until)}))
        .send()
        .await
        .expect("set");
    assert_eq!(set.status(), 200);
    let mut first = first;
    first.kill();
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Dnd)
    );

    let _second = AppProcess::start(&app.bitrix, &db, port, "second", &[]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.bitrix.emulator.user_status(app.member(), user) != Some(Status::Online) {
        assert!(
            Instant::now() < deadline,
            "the restarted app never restored the status"
        );
        // Waits for the timer's end on the wall clock, which the process runs on.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_restore_bitrix24_cannot_take_yet_is_tried_again_within_seconds() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    let clock = app.state.clock.clone();
    let until = rfc3339(clock.now() + 60);
    let timed = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    clock.advance(Duration::from_secs(61));
    // Bitrix24 fails the restore twice (the call and its one retry), then recovers.
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::Portal(app.member().clone())),
            method: Some("im.user.status.set".into()),
        },
        FaultKind::Error {
            status: 503,
            code: "INTERNAL_SERVER_ERROR".into(),
        },
        2,
    );
    let first = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(first.deferred, 1, "{first:?}");
    assert_eq!(
        app.state.portals.jobs().apply_due("t", clock.now()).await,
        Report::default(),
        "not before the retry is due"
    );
    clock.advance(Duration::from_secs(RETRY as u64 + 1));
    let again = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(again.applied, 1, "{again:?}");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Away)
    );
}

#[tokio::test]
async fn a_plain_change_on_another_instance_ends_a_timer_set_a_second_before() {
    let app = TestApp::installed(&[]).await;
    let (address, _) = app.second_instance(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let put_other = |body: Value| {
        app.http
            .put(format!("http://{address}/api/status"))
            .bearer_auth(&session)
            .json(&body)
            .send()
    };
    // The other instance knows the account, without a timer.
    let plain = put_other(json!({"status": "away"})).await.expect("answer");
    assert_eq!(plain.status(), 200);
    let until = rfc3339(app.state.clock.now() + 600);
    let timed = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    // Its cached account is checked against the database at least once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let plain = put_other(json!({"status": "break"})).await.expect("answer");
    assert_eq!(plain.status(), 200);
    assert_eq!(app.count("timers").await, 0, "no stale restore left behind");
}
