//! Statuses that set themselves, over real HTTP: the `/api/automation` contract, a meeting in
//! the emulated calendar applied at its start and ended at its end on the app's clock (moved
//! forward, never slept on), a hand change kept, a user who did not opt in left alone, a
//! missing scope named, an uninstall removing the settings.

use b24_status::domain::Status;
use serde_json::{Value, json};

use super::harness::{CLIENT_ID, TestApp};
use super::schedules::advance_to;

pub async fn automation_put(app: &TestApp, session: &str, body: &Value) -> (u16, Value) {
    let answer = app
        .http
        .put(app.url("/api/automation"))
        .bearer_auth(session)
        .json(body)
        .send()
        .await
        .expect("app answers");
    (answer.status().as_u16(), answer.json().await.expect("json"))
}

pub async fn automation_get(app: &TestApp, session: &str) -> Value {
    let answer = app
        .http
        .get(app.url("/api/automation"))
        .bearer_auth(session)
        .send()
        .await
        .expect("app answers");
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("json")
}

/// The switches with meetings on (setting `status`) and the working day `day`.
pub fn switches(status: &str, day: bool) -> Value {
    json!({"meetings": {"enabled": true, "status": status}, "working_day": {"enabled": day}})
}

/// An installed app whose employee saved `switches`: the app, the employee, their session.
pub async fn opted_in(switches: &Value) -> (TestApp, u64, String) {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(automation_put(&app, &session, switches).await.0, 200);
    (app, user, session)
}

/// Applies what is due at the app's clock.
pub async fn run(app: &TestApp) {
    app.state
        .portals
        .jobs()
        .apply_due("t", app.state.clock.now())
        .await;
}

pub fn status_of(app: &TestApp, user: u64) -> Status {
    app.bitrix
        .emulator
        .user_status(app.member(), user)
        .unwrap_or(Status::Online)
}

/// `GET /api/status`'s body.
pub async fn status_answer(app: &TestApp, session: &str) -> Value {
    let answer = app.api_get(session).await;
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("json")
}

/// A meeting of `user` from `from` to `to`, its calendar events delivered to the app.
pub async fn meeting(app: &TestApp, user: u64, from: i64, to: i64) -> u64 {
    let (id, events) = app
        .bitrix
        .emulator
        .add_meeting(app.member(), CLIENT_ID, user, (from, to));
    for (_, event) in events {
        assert_eq!(app.post_form("/events", &event).await.status(), 200);
    }
    id
}

pub fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .expect("time")
        .to_string()
}

#[tokio::test]
async fn the_automation_api_keeps_the_contract_and_refuses_naming_the_field() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    let off =
        json!({"meetings": {"enabled": false, "status": "dnd"}, "working_day": {"enabled": false}});
    assert_eq!(automation_get(&app, &session).await, off);
    let mine = switches("away", true);
    assert_eq!(
        automation_put(&app, &session, &mine).await,
        (200, mine.clone())
    );
    assert_eq!(automation_get(&app, &session).await, mine);
    let cases = [
        (
            json!({"meetings": {"enabled": true, "status": "online"}, "working_day": {"enabled": false}}),
            "meetings.status",
        ),
        (
            json!({"meetings": {"enabled": true, "status": "busy"}, "working_day": {"enabled": false}}),
            "meetings.status",
        ),
        (
            json!({"meetings": {"enabled": "yes", "status": "dnd"}, "working_day": {"enabled": false}}),
            "meetings.enabled",
        ),
        (
            json!({"meetings": {"enabled": true}, "working_day": {"enabled": false}}),
            "meetings.status",
        ),
        (
            json!({"meetings": true, "working_day": {"enabled": false}}),
            "meetings",
        ),
        (
            json!({"meetings": {"enabled": true, "status": "dnd"}}),
            "working_day",
        ),
        (
            json!({"meetings": {"enabled": true, "status": "dnd"}, "working_day": {"enabled": null}}),
            "working_day.enabled",
        ),
    ];
    for (bad, field) in cases {
        let (status, answer) = automation_put(&app, &session, &bad).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(answer["error"], "invalid_automation", "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{answer}"
        );
    }
    assert_eq!(
        automation_get(&app, &session).await,
        mine,
        "nothing was stored"
    );
    let anonymous = app
        .http
        .get(app.url("/api/automation"))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_meeting_sets_do_not_disturb_at_its_start_and_the_status_before_at_its_end() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(app.set_status(&session, "away").await, 200);
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", false))
            .await
            .0,
        200
    );
    let start = app.state.clock.now() + 600;
    meeting(&app, user, start, start + 1800).await;
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Away, "not before it starts");
    assert!(status_answer(&app, &session).await.get("reason").is_none());
    advance_to(&app, start);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Dnd);
    assert_eq!(
        status_answer(&app, &session).await,
        json!({"status": "dnd", "reason": "meeting", "until": rfc3339(start + 1800)})
    );
    advance_to(&app, start + 1800);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Away);
    assert_eq!(
        status_answer(&app, &session).await,
        json!({"status": "away"})
    );
}

#[tokio::test]
async fn a_change_by_hand_during_a_meeting_is_kept_after_it() {
    let (app, user, session) = opted_in(&switches("break", false)).await;
    let start = app.state.clock.now() + 60;
    meeting(&app, user, start, start + 900).await;
    advance_to(&app, start);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Break);
    assert_eq!(app.set_status(&session, "online").await, 200);
    assert!(
        status_answer(&app, &session).await.get("reason").is_none(),
        "a hand change"
    );
    advance_to(&app, start + 900);
    run(&app).await;
    assert_eq!(
        status_of(&app, user),
        Status::Online,
        "the hand change stands"
    );
    // The next meeting is the automation's again.
    let next = start + 1200;
    meeting(&app, user, next, next + 600).await;
    advance_to(&app, next);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Break);
}

#[tokio::test]
async fn a_user_who_did_not_opt_in_is_left_alone_and_costs_no_call() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let start = app.state.clock.now() + 60;
    meeting(&app, user, start, start + 900).await;
    let calls = app.portal_calls().len();
    advance_to(&app, start + 1);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Online);
    assert_eq!(
        app.portal_calls().len(),
        calls,
        "nothing was read for nobody"
    );
    assert_eq!(app.count("automation_portals").await, 0);
    assert!(status_answer(&app, &session).await.get("reason").is_none());
}

#[tokio::test]
async fn without_the_calendar_scope_the_page_names_it_and_nothing_is_read() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    app.bitrix.emulator.set_scope(
        app.member(),
        CLIENT_ID,
        "im,placement,user_brief,department",
    );
    // The portal's grant reaches the app with the next install or update event.
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 2, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    let session = app.session_of(user).await;
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", true))
            .await
            .0,
        200
    );
    let start = app.state.clock.now() + 60;
    meeting(&app, user, start, start + 900).await;
    let calls = app.portal_calls().len();
    advance_to(&app, start + 1);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Online);
    assert_eq!(
        app.portal_calls().len(),
        calls,
        "no call the portal would refuse"
    );
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Calendar permission (calendar)"), "{page}");
    assert!(
        page.contains("Time tracking permission (timeman)"),
        "{page}"
    );
}

#[tokio::test]
async fn an_uninstall_removes_the_settings() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", true))
            .await
            .0,
        200
    );
    assert_eq!(app.count("automation").await, 1);
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    assert_eq!(app.count("automation").await, 0);
    assert_eq!(app.count("automation_portals").await, 0);
}
