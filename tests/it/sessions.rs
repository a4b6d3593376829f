//! Sessions die with what they stood for: a page's session is renewed only while the account
//! it was issued for is the same (no new pair, pause, suspension, `reauth`, uninstall), and
//! never past its lifetime.

use serde_json::Value;

use super::harness::{CLIENT_ID, TestApp, uid};
use super::team::view;
use super::trust::reauth;

/// `POST /api/session` with `session`: the status, and the renewed session if any.
async fn renew(app: &TestApp, session: &str) -> (u16, Option<String>) {
    renew_at(app, &app.address.to_string(), session).await
}

/// The same at the instance listening on `address`.
async fn renew_at(app: &TestApp, address: &str, session: &str) -> (u16, Option<String>) {
    let response = app
        .http
        .post(format!("http://{address}/api/session"))
        .bearer_auth(session)
        .send()
        .await
        .expect("app answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    (status, body["session"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_pause_ends_every_session_of_the_portal_even_after_resume() {
    let app = TestApp::installed(&[]).await;
    let (second, _) = app.second_instance(&[]).await;
    let second = second.to_string();
    let session = app.session_of(app.bitrix.employee).await;
    assert_eq!(renew_at(&app, &second, &session).await.0, 200);
    let (status, renewed) = renew(&app, &session).await;
    assert_eq!(status, 200);
    let renewed = renewed.expect("a renewed session");
    let store = &app.store;
    store
        .set_paused(app.member(), true, 0)
        .await
        .expect("pause");
    store
        .set_paused(app.member(), false, 0)
        .await
        .expect("resume");
    assert_eq!(renew(&app, &session).await.0, 401);
    assert_eq!(renew(&app, &renewed).await.0, 401);
    assert_eq!(
        renew_at(&app, &second, &renewed).await.0,
        401,
        "every instance"
    );
    let form = view(&app, &renewed, &[("view", "team")]).await;
    assert_eq!(form.status(), 401, "a page's forms end with its session");
    let fresh = app.session_of(app.bitrix.employee).await;
    assert_eq!(renew(&app, &fresh).await.0, 200, "a new open begins anew");
}

#[tokio::test]
async fn uninstall_and_reinstall_end_the_sessions_from_before() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let session = app.session_of(employee).await;
    let event = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &event).await.status(), 200);
    assert_eq!(app.install().await.status(), 200);
    let fresh = app.session_of(employee).await;
    assert_eq!(renew(&app, &session).await.0, 401);
    assert_eq!(renew(&app, &fresh).await.0, 200);
}

#[tokio::test]
async fn reauth_and_a_new_pair_end_the_sessions_from_before() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let session = app.session_of(employee).await;
    reauth(&app, employee).await;
    assert_eq!(renew(&app, &session).await.0, 401, "no pair, no renewal");
    // Opening again stores a new pair: the old session stays dead.
    let fresh = app.session_of(employee).await;
    assert_eq!(renew(&app, &session).await.0, 401);
    assert_eq!(renew(&app, &fresh).await.0, 200);
}

#[tokio::test]
async fn a_session_begun_long_ago_is_not_renewed() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let current = app.session_of(employee).await;
    let now = b24_status::clock::unix_now();
    let epoch = app
        .store
        .session_epoch(app.member(), uid(employee))
        .await
        .expect("store")
        .expect("an epoch");
    let session = app
        .state
        .sessions
        .verify(&current, now)
        .expect("valid session");
    assert_eq!(
        session.epoch, epoch,
        "the page's session names the account's epoch"
    );
    // The same account and epoch, begun a working day and a half ago and renewed since.
    let old = b24_status::http::session::Session {
        started_at: now - 18 * 3600,
        expires_at: now + 600,
        ..session
    };
    assert_eq!(app.state.sessions.follow(&old, now), None);
    let token = app.state.sessions.sign(&old);
    assert_eq!(
        app.api_get(&token).await.status(),
        200,
        "still valid until it expires"
    );
    assert_eq!(renew(&app, &token).await.0, 401, "but never renewed");
}
