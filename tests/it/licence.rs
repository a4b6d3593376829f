//! A paid app's life: the period ends at the emulated Bitrix24 (the OAuth server answers
//! `PAYMENT_REQUIRED`), pages and the API say so, the portal's timers wait without being lost
//! while the background asks now and then whether payment returned, a payment (its
//! `ONAPPPAYMENT`) brings everything back, and `b24-status portals` tells the state throughout.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::emulator::FormPost;
use b24_status::portals::scheduler::Report;
use b24_status::tokens::keepalive::KeepaliveSettings;
use serde_json::{Value, json};

use super::harness::{CLIENT_ID, TestApp, assert_page};
use super::operate::operator;

/// An `ONAPPPAYMENT` as anyone could send it: the documented shape (no tokens, no
/// `application_token` unless `token` is given), with whatever `data` the sender likes.
fn payment_claim(app: &TestApp, token: Option<&str>) -> FormPost {
    let domain = &app.bitrix.portal.domain;
    let mut form: Vec<(String, String)> = [
        ("event", "ONAPPPAYMENT"),
        ("data[STATUS]", "P"),
        ("data[PAYMENT_EXPIRED]", "N"),
        ("data[DAYS]", "999"),
        ("auth[domain]", domain.as_str()),
        ("auth[member_id]", app.member().as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(token) = token {
        form.push(("auth[application_token]".into(), token.to_owned()));
    }
    FormPost {
        query: Vec::new(),
        form,
    }
}

/// `at` is within a few seconds of `expected`: the app's clock runs on while the test reads.
fn assert_near(at: &Value, expected: i64, row: &Value) {
    let at = at.as_i64().expect("a time");
    assert!((expected - 5..=expected).contains(&at), "{expected}: {row}");
}

async fn portal_row(app: &TestApp) -> Value {
    let listed = operator(app, &["portals", "--json"], &[]).await;
    assert_eq!(listed.code, Some(0), "{}", listed.err);
    listed.json()[0].clone()
}

/// Ends the period and its grace at the emulated Bitrix24, and expires the users' access
/// tokens so the app's next call needs a refresh.
fn end_period(app: &TestApp, users: &[u64]) {
    let emulator = &app.bitrix.emulator;
    assert!(
        emulator
            .set_paid_days(app.member(), CLIENT_ID, -15)
            .form
            .is_empty(),
        "an end sends no event"
    );
    for user in users {
        emulator.expire_access_tokens(app.member(), *user);
    }
}

#[tokio::test]
async fn an_ended_period_pauses_the_portal_keeps_its_timers_and_a_payment_resumes_it() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let row = portal_row(&app).await;
    assert_eq!(row["licence"], "P", "app.info was read at install: {row}");
    assert_eq!(row["payment_expired"], false, "{row}");
    assert_eq!(row["payment_required_at"], Value::Null, "{row}");

    let clock = app.state.clock.clone();
    let until = jiff::Timestamp::from_second(clock.now() + 3600)
        .expect("time")
        .to_string();
    let set = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(set.status(), 200);

    end_period(&app, &[1, user]);
    let refused = app.api_put(&session, json!({"status": "away"})).await;
    assert_eq!(refused.status(), 402);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "payment_required", "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("Bitrix24 Market"), "{message}");
    assert_page(
        app.open_app_as(user, "de").await,
        402,
        "Der bezahlte Zeitraum",
    )
    .await;
    let row = portal_row(&app).await;
    assert!(row["payment_required_at"].is_i64(), "{row}");
    let table = operator(&app, &["portals"], &[]).await;
    assert!(table.out.contains("P, payment required"), "{}", table.out);

    // The timer's end passes while the portal waits: nothing is tried, nothing is dropped.
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(
        app.state.portals.jobs().apply_due("t", clock.now()).await,
        Report::default()
    );
    assert_eq!(app.count("timers").await, 1, "the timer is kept");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Dnd)
    );
    let refreshes = app.bitrix.emulator.refresh_count();
    let pass = app
        .state
        .portals
        .jobs()
        .background_pass(&KeepaliveSettings::default())
        .await;
    assert_eq!(pass.periods.still_ended, 1, "{pass:?}");
    assert_eq!(pass.keepalive.refreshed, 0, "{pass:?}");
    assert_eq!(app.bitrix.emulator.refresh_count(), refreshes);

    // Claims of a payment prompt a look, never a resumption: the period is still over.
    let forged = app
        .post_form(
            "/events",
            &payment_claim(&app, Some("0123456789abcdef0123456789abcdef")),
        )
        .await;
    assert_eq!(forged.status(), 403);
    clock.advance(Duration::from_secs(61));
    let claimed = app.post_form("/events", &payment_claim(&app, None)).await;
    assert_eq!(claimed.status(), 200);
    assert_eq!(app.set_status(&session, "away").await, 402);

    // A real payment: its event brings the portal back within the minute it allows.
    let paid = app
        .bitrix
        .emulator
        .set_paid_days(app.member(), CLIENT_ID, 30);
    clock.advance(Duration::from_secs(61));
    let noted = app.post_form("/events", &paid).await;
    assert_eq!(noted.status(), 200);
    let row = portal_row(&app).await;
    assert_eq!(row["payment_required_at"], Value::Null, "{row}");
    // DAYS as app.info said it, counted from the app's clock (the operator reads the wall's).
    assert_near(&row["paid_until"], clock.now() + 30 * 86_400, &row);
    let done = app.state.portals.jobs().apply_due("t", clock.now()).await;
    assert_eq!(done.applied, 1, "the kept timer ends now: {done:?}");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), user),
        Some(Status::Online)
    );
    assert_eq!(app.set_status(&session, "away").await, 200);
}

#[tokio::test]
async fn without_its_event_a_payment_is_found_by_the_background_and_an_open() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    end_period(&app, &[1, user]);
    assert_eq!(app.set_status(&session, "away").await, 402);
    // Paid, but the event is lost: opening the app asks again (at most once a minute).
    let _lost = app
        .bitrix
        .emulator
        .set_paid_days(app.member(), CLIENT_ID, 30);
    let clock = app.state.clock.clone();
    clock.advance(Duration::from_secs(61));
    assert_eq!(app.open_app_as(user, "en").await.status(), 200);
    assert_eq!(app.set_status(&session, "away").await, 200);

    // Ended again; the background asks every 15 minutes, and no sooner.
    end_period(&app, &[1, user]);
    assert_eq!(app.set_status(&session, "dnd").await, 402);
    let _lost = app
        .bitrix
        .emulator
        .set_paid_days(app.member(), CLIENT_ID, 30);
    let settings = KeepaliveSettings::default();
    let early = app.state.portals.jobs().background_pass(&settings).await;
    assert_eq!(early.periods.resumed, 0, "{early:?}");
    clock.advance(Duration::from_secs(15 * 60));
    let due = app.state.portals.jobs().background_pass(&settings).await;
    assert_eq!(due.periods.resumed, 1, "{due:?}");
    assert_eq!(app.set_status(&session, "dnd").await, 200);
}

#[tokio::test]
async fn administrators_are_told_to_renew_during_the_grace_period() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let _ended = app
        .bitrix
        .emulator
        .set_paid_days(app.member(), CLIENT_ID, -3);
    // A claim of a payment prompts a read of app.info, whose word is recorded, not the claim's.
    let clock = app.state.clock.clone();
    clock.advance(Duration::from_secs(61));
    let claimed = app.post_form("/events", &payment_claim(&app, None)).await;
    assert_eq!(claimed.status(), 200);
    let row = portal_row(&app).await;
    assert_eq!(row["payment_expired"], true, "{row}");
    assert_near(&row["paid_until"], clock.now() - 3 * 86_400, &row);
    let table = operator(&app, &["portals"], &[]).await;
    assert!(table.out.contains("days ago (grace)"), "{}", table.out);

    // Everything still works; only administrators see the note.
    assert_eq!(app.set_status(&session, "away").await, 200);
    let grace = "short grace period";
    let admin_page = assert_page(app.open_app_as(1, "en").await, 200, grace).await;
    assert!(admin_page.contains("Bitrix24 Market"));
    let employee_page = app
        .open_app_as(user, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(!employee_page.contains(grace));
}
