//! Who wins when statuses set themselves, over real HTTP: a timer running into a meeting, a
//! meeting over a schedule rule, the working day paused, resumed and closed, a calendar event
//! bringing the next read sooner, two instances applying each change once, and the page's form
//! and reason line without script.

use b24_status::domain::Status;
use b24_status::emulator::Call;
use serde_json::json;

use super::automation::{
    automation_put, meeting, opted_in, rfc3339, run, status_answer, status_of, switches,
};
use super::harness::{TestApp, session_in};
use super::schedules::{advance_to, next_eight_utc, schedule_put};

fn count(calls: &[Call], method: &str) -> usize {
    calls.iter().filter(|c| c.method == method).count()
}

#[tokio::test]
async fn a_timer_running_into_a_meeting_wins_until_it_ends() {
    let (app, user, session) = opted_in(&switches("dnd", false)).await;
    let now = app.state.clock.now();
    let until = rfc3339(now + 3600);
    let timed = app
        .api_put(&session, json!({"status": "away", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    meeting(&app, user, now + 600, now + 1200).await;
    advance_to(&app, now + 600);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Away, "the timer wins");
    assert_eq!(status_answer(&app, &session).await["reason"], "timer");
    advance_to(&app, now + 1200);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Away);
    advance_to(&app, now + 3600);
    run(&app).await;
    assert_eq!(
        status_of(&app, user),
        Status::Online,
        "the timer restores what it replaced"
    );
}

#[tokio::test]
async fn a_meeting_wins_over_a_schedule_rule_and_gives_it_back() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let (eight, day) = next_eight_utc(&app);
    let rule = json!({"time_zone": "UTC", "rules": [{"days": [day], "from": "08:00", "to": "10:00", "status": "away"}]});
    assert_eq!(schedule_put(&app, &session, &rule).await.0, 200);
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", false))
            .await
            .0,
        200
    );
    meeting(&app, user, eight + 1800, eight + 3600).await;
    meeting(&app, user, eight + 5400, eight + 9000).await;
    let expect = [
        (eight, Status::Away, Some("schedule")),
        (eight + 1800, Status::Dnd, Some("meeting")),
        (eight + 3600, Status::Away, Some("schedule")),
        (eight + 5400, Status::Dnd, Some("meeting")),
        (eight + 7200, Status::Dnd, Some("meeting")),
        (eight + 9000, Status::Online, None),
    ];
    for (at, status, reason) in expect {
        advance_to(&app, at);
        run(&app).await;
        assert_eq!(status_of(&app, user), status, "at +{}", at - eight);
        let answer = status_answer(&app, &session).await;
        assert_eq!(
            answer["reason"].as_str(),
            reason,
            "at +{}: {answer}",
            at - eight
        );
    }
}

#[tokio::test]
async fn a_paused_working_day_is_a_break_a_closed_one_away_and_reopening_brings_back_the_status() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let member = app.member().clone();
    let emulator = &app.bitrix.emulator;
    let session = app.session_of(user).await;
    assert_eq!(app.set_status(&session, "dnd").await, 200);
    assert!(emulator.change_working_day(&member, user, "timeman.open"));
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", true))
            .await
            .0,
        200
    );
    run(&app).await;
    assert_eq!(
        status_of(&app, user),
        Status::Dnd,
        "an open day changes nothing"
    );
    let mut now = app.state.clock.now();
    for (method, status, reason) in [
        ("timeman.pause", Status::Break, Some("working_day")),
        ("timeman.open", Status::Dnd, None),
        ("timeman.close", Status::Away, Some("working_day")),
    ] {
        assert!(
            emulator.change_working_day(&member, user, method),
            "{method}"
        );
        now += 60;
        advance_to(&app, now);
        run(&app).await;
        assert_eq!(status_of(&app, user), status, "after {method}");
        assert_eq!(
            status_answer(&app, &session).await["reason"].as_str(),
            reason
        );
    }
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Away — your working day is closed"), "{page}");
}

#[tokio::test]
async fn a_calendar_event_brings_the_next_read_sooner_and_a_look_costs_two_calls() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let member = app.member().clone();
    assert!(
        app.bitrix
            .emulator
            .change_working_day(&member, user, "timeman.open")
    );
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", true))
            .await
            .0,
        200
    );
    let before = app.portal_calls().len();
    run(&app).await;
    let look: Vec<Call> = app.portal_calls().split_off(before);
    assert_eq!(count(&look, "calendar.accessibility.get"), 1, "{look:?}");
    assert_eq!(
        count(&look, "batch"),
        1,
        "the working days in one batch: {look:?}"
    );
    assert_eq!(look.len(), 2, "{look:?}");
    // A meeting added now, starting in 30 s: without the event it would wait for the next read.
    let now = app.state.clock.now();
    meeting(&app, user, now + 30, now + 600).await;
    advance_to(&app, now + 30);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Dnd);
}

#[tokio::test]
async fn two_instances_read_once_and_apply_each_change_once() {
    let app = TestApp::installed(&[]).await;
    let (_, second) = app.second_instance(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", false))
            .await
            .0,
        200
    );
    let now = app.state.clock.now();
    meeting(&app, user, now + 60, now + 600).await;
    advance_to(&app, now + 60);
    second.clock.advance(std::time::Duration::from_secs(60));
    let before = app.portal_calls().len();
    let at = app.state.clock.now();
    let (one, two) = tokio::join!(
        app.state.portals.jobs().apply_due("one", at),
        second.portals.jobs().apply_due("two", at)
    );
    assert_eq!(one.applied + two.applied, 1, "{one:?} {two:?}");
    let look = app.portal_calls().split_off(before);
    assert_eq!(count(&look, "calendar.accessibility.get"), 1, "{look:?}");
    let swaps = look
        .iter()
        .filter(|c| c.method == "batch" && c.user_id == Some(user))
        .count();
    assert_eq!(swaps, 1, "{look:?}");
    assert_eq!(status_of(&app, user), Status::Dnd);
}

#[tokio::test]
async fn the_page_saves_the_switches_without_script_and_says_why() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Automatic status"), "{page}");
    let session = session_in(&page);
    let form = [
        ("session", session.as_str()),
        ("meetings", "on"),
        ("meeting_status", "break"),
    ];
    let saved = app
        .http
        .post(app.url("/app/automation"))
        .form(&form)
        .send()
        .await
        .expect("answer");
    assert_eq!(saved.status(), 200);
    let page = saved.text().await.expect("page");
    assert!(page.contains("Automatic status saved."), "{page}");
    let api_session = app.session_of(user).await;
    assert_eq!(
        super::automation::automation_get(&app, &api_session).await,
        switches("break", false)
    );
    let bad = [("session", session.as_str()), ("meeting_status", "online")];
    let refused = app
        .http
        .post(app.url("/app/automation"))
        .form(&bad)
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 400);
    let now = app.state.clock.now();
    meeting(&app, user, now + 60, now + 1860).await;
    advance_to(&app, now + 60);
    run(&app).await;
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("On a break — in a meeting until"), "{page}");
}

#[tokio::test]
async fn until_the_end_of_my_working_day_is_the_end_time_tracking_names() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let (eight, _) = next_eight_utc(&app);
    advance_to(&app, eight);
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("Until the end of my working day (6:00 PM)"),
        "{page}"
    );
    app.bitrix
        .emulator
        .set_work_end(app.member(), user, "16:45:00");
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("Until the end of my working day (4:45 PM)"),
        "{page}"
    );
}

#[tokio::test]
async fn a_timer_ending_during_a_meeting_gives_the_status_back_to_the_meeting() {
    let (app, user, session) = opted_in(&switches("dnd", false)).await;
    let now = app.state.clock.now();
    meeting(&app, user, now + 60, now + 3600).await;
    advance_to(&app, now + 60);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Dnd);
    let until = rfc3339(now + 1200);
    let timed = app
        .api_put(&session, json!({"status": "away", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    advance_to(&app, now + 1200);
    run(&app).await;
    assert_eq!(
        status_of(&app, user),
        Status::Dnd,
        "the timer restores the meeting's status"
    );
    assert_eq!(status_answer(&app, &session).await["reason"], "meeting");
    advance_to(&app, now + 3600);
    run(&app).await;
    assert_eq!(
        status_of(&app, user),
        Status::Online,
        "and the meeting's end the status before"
    );
}

#[tokio::test]
async fn a_change_by_hand_during_a_schedule_rule_has_no_reason() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let (eight, day) = next_eight_utc(&app);
    let rule = json!({"time_zone": "UTC", "rules": [{"days": [day], "from": "08:00", "to": "10:00", "status": "away"}]});
    assert_eq!(schedule_put(&app, &session, &rule).await.0, 200);
    advance_to(&app, eight);
    run(&app).await;
    assert_eq!(status_answer(&app, &session).await["reason"], "schedule");
    assert_eq!(app.set_status(&session, "online").await, 200);
    assert_eq!(
        status_answer(&app, &session).await,
        json!({"status": "online"})
    );
}
