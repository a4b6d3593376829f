//! Focus time on the status page without script: a status for a while from the form, what runs
//! and "End now", the schedule's forms (add, refuse, remove, time zone), and the message a user
//! sees when a scheduled change could not be made while their tokens were dead.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use serde_json::json;

use super::harness::{TestApp, session_in};
use super::schedules::{advance_to, next_eight_utc, schedule_get, schedule_put};

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let answer = app
        .http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("answer");
    (answer.status().as_u16(), answer.text().await.expect("page"))
}

#[tokio::test]
async fn the_form_sets_a_status_for_a_while_shows_it_and_ends_it_now() {
    let app = TestApp::installed(&[]).await;
    // Time enters through the clock: from 08:00 UTC an hour later is the same day in Berlin
    // (the page shows a time, not a date), whenever the suite runs.
    advance_to(&app, next_eight_utc(&app).0);
    let (user, _) = super::schedules::employee_with(&app, "away").await;
    let page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    for choice in ["Until I change it", "30 minutes", "1 hour", "2 hours"] {
        assert!(page.contains(choice), "{choice} offered");
    }
    let session = session_in(&page);

    let berlin = jiff::tz::TimeZone::get("Europe/Berlin").expect("zone");
    let wall = |unix: i64| {
        let at = jiff::Timestamp::from_second(unix + 3600).expect("time");
        format!(
            "Do not disturb until {}, then Away.",
            at.to_zoned(berlin.clone()).strftime("%-I:%M %p")
        )
    };
    let before = wall(app.state.clock.now());
    let (status, page) = post(
        &app,
        "/app/status",
        &[("session", &session), ("status", "dnd"), ("for", "60")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    // What runs, on the wall clock of the user's zone: their profile's, Europe/Berlin.
    let after = wall(app.state.clock.now());
    assert!(page.contains(&before) || page.contains(&after), "{page}");
    assert!(page.contains("End now"), "{page}");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Dnd)
    );
    let shown = app
        .api_get(&session)
        .await
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(
        (shown["status"].clone(), shown["then"].clone()),
        (json!("dnd"), json!("away"))
    );

    // "End now" applies what the timer would have restored, and no restore is left behind.
    let session = session_in(&page);
    let (status, page) = post(
        &app,
        "/app/status",
        &[("session", &session), ("status", "away")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!page.contains("End now"), "{page}");
    assert_eq!(app.count("timers").await, 0);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Away)
    );

    // A duration the form never offers changes nothing.
    let before = app.snapshot().await;
    let (status, _) = post(
        &app,
        "/app/status",
        &[("session", &session), ("status", "dnd"), ("for", "at:1")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_schedule_forms_add_refuse_remove_and_change_the_zone() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let add = |days: &'static [&'static str], from: &'static str, to: &'static str| {
        let mut form = vec![
            ("session", session.clone()),
            ("action", "add".to_owned()),
            ("from", from.to_owned()),
            ("to", to.to_owned()),
            ("status", "dnd".to_owned()),
        ];
        form.extend(days.iter().map(|d| ("days", (*d).to_owned())));
        form
    };
    let send = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, "/app/schedule", &form).await
        }
    };
    let (status, page) = send(add(&["mon", "tue", "wed", "thu", "fri"], "09:00", "11:00")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Schedule saved."), "{page}");
    assert!(
        page.contains("Do not disturb · Mon–Fri · 09:00–11:00"),
        "{page}"
    );

    let before = app.snapshot().await;
    let (status, page) = send(add(&["fri"], "10:00", "12:00")).await;
    assert_eq!(status, 422);
    assert!(page.contains("Rule 2 overlaps rule 1 on Fri"), "{page}");
    let (status, page) = send(add(&[], "13:00", "14:00")).await;
    assert_eq!(status, 422);
    assert!(page.contains("Rule 2: choose one or more days"), "{page}");
    let zone = vec![
        ("session", session.clone()),
        ("action", "zone".to_owned()),
        ("time_zone", "Somewhere/Else".to_owned()),
    ];
    let (status, page) = send(zone).await;
    assert_eq!(status, 422);
    assert!(page.contains("such as Europe/Berlin"), "{page}");
    assert_eq!(app.snapshot().await, before, "nothing refused was written");

    let zone = vec![
        ("session", session.clone()),
        ("action", "zone".to_owned()),
        ("time_zone", "Asia/Almaty".to_owned()),
    ];
    assert_eq!(send(zone).await.0, 200);
    assert_eq!(
        schedule_get(&app, &session).await.1["time_zone"],
        "Asia/Almaty"
    );
    let remove = vec![
        ("session", session.clone()),
        ("action", "remove".to_owned()),
        ("rule", "1".to_owned()),
    ];
    let (status, page) = send(remove).await;
    assert_eq!(status, 200);
    assert!(page.contains("No rules yet."), "{page}");
    let forged = vec![
        ("session", "v1.forged".to_owned()),
        ("action", "remove".to_owned()),
    ];
    assert_eq!(send(forged).await.0, 401);
}

#[tokio::test]
async fn a_change_the_app_could_not_make_is_dropped_and_told_once_on_the_next_visit() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let (eight, day) = next_eight_utc(&app);
    let rules = json!({"time_zone": "UTC", "rules": [
        {"days": [day], "from": "08:00", "to": "09:00", "status": "dnd"},
    ]});
    assert_eq!(schedule_put(&app, &session, &rules).await.0, 200);
    // By 08:00 the user's refresh token has died: the OAuth server refuses it.
    advance_to(&app, eight);
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
    let clock = app.state.clock.clone();
    let done = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(done.dropped, 1, "{done:?}");
    clock.advance(Duration::from_secs(120));
    let again = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(again.applied + again.dropped, 0, "not retried: {again:?}");

    let page = app
        .open_app_as(user, "ru")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("Изменение статуса, запланированное на 08:00"),
        "{page}"
    );
    let page = app
        .open_app_as(user, "ru")
        .await
        .text()
        .await
        .expect("page");
    assert!(!page.contains("запланированное на"), "told once");
}
