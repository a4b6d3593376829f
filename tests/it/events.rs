//! `POST /events`: the uninstall is verified by the application token alone; install and
//! update events by the OAuth server.

use b24_status::store::PortalState;

use super::harness::{CLIENT_ID, TestApp, uid};

#[tokio::test]
async fn uninstall_with_the_wrong_token_is_refused_and_the_right_one_forgets_tokens() {
    let app = TestApp::installed(&[]).await;
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    let before = app.snapshot().await;

    let wrong = uninstall.with(
        "auth[application_token]",
        "0123456789abcdef0123456789abcdef",
    );
    let response = app.post_form("/events", &wrong).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "wrong_application_token");
    assert_eq!(app.snapshot().await, before, "tokens kept");

    let response = app.post_form("/events", &uninstall).await;
    assert_eq!(response.status(), 200);
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.state, PortalState::Deleted);
    let admin = app.account(uid(1)).await.expect("kept");
    assert!(admin.tokens.is_none(), "tokens gone");
    assert_eq!(
        app.post_form("/events", &uninstall).await.status(),
        200,
        "idempotent"
    );

    // Installing again afterwards works.
    assert_eq!(app.install().await.status(), 200);
    let portal = app.portal().await.expect("stored");
    assert_eq!(portal.record.state, PortalState::Active);
    assert!(app.account(uid(1)).await.expect("stored").tokens.is_some());
}

#[tokio::test]
async fn a_clean_uninstall_deletes_every_row_of_the_portal() {
    let app = TestApp::installed(&[]).await;
    let uninstall = app.bitrix.emulator.uninstall(app.member(), CLIENT_ID, true);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    assert_eq!(app.count("portals").await, 0);
    assert_eq!(app.count("accounts").await, 0);
    assert_eq!(
        app.post_form("/events", &uninstall).await.status(),
        404,
        "nothing left to uninstall"
    );
}

#[tokio::test]
async fn uninstall_of_an_unknown_portal_is_404() {
    let app = TestApp::spawn().await;
    // Installed at the portal, but the app never stored it.
    app.bitrix.emulator.install(app.member(), CLIENT_ID);
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 404);
    assert_eq!(app.count("portals").await, 0);
}

#[tokio::test]
async fn onappinstall_is_verified_and_stores_the_application_token() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.install(app.member(), CLIENT_ID);
    let event = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPINSTALL", 1);
    let forged = event.with(
        "auth[access_token]",
        "forged-token-forged-token-forged-token",
    );
    assert_eq!(app.post_form("/events", &forged).await.status(), 403);
    assert_eq!(app.count("portals").await, 0);

    assert_eq!(app.post_form("/events", &event).await.status(), 200);
    let portal = app.portal().await.expect("stored");
    let token = event.get("auth[application_token]").expect("token");
    assert!(
        portal
            .record
            .application_token
            .expect("stored")
            .matches(token)
    );
    assert!(app.account(uid(1)).await.is_some());
}

#[tokio::test]
async fn an_employee_token_cannot_rekey_a_portal() {
    let app = TestApp::installed(&[]).await;
    let event =
        app.bitrix
            .emulator
            .event(app.member(), CLIENT_ID, "ONAPPUPDATE", app.bitrix.employee);
    let rekey = event.with(
        "auth[application_token]",
        "ffffffffffffffffffffffffffffffff",
    );
    let before = app.snapshot().await;
    assert_eq!(app.post_form("/events", &rekey).await.status(), 403);
    assert_eq!(app.snapshot().await, before);
    // With the stored token, an update from anyone on the portal records the new version.
    assert_eq!(app.post_form("/events", &event).await.status(), 200);
}

#[tokio::test]
async fn malformed_events_are_refused_with_json_errors() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "application/json",
            br#"{"event":"ONAPPUNINSTALL"}"#.to_vec(),
            415,
        ),
        (
            "application/x-www-form-urlencoded",
            b"event=ONAPPUNINSTALL".to_vec(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            b"event=ONAPPUNINSTALL&auth[member_id]=x&auth[domain]=a.b&auth[application_token]=t"
                .to_vec(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            b"event=%FF%FE&auth[member_id]=1".to_vec(),
            400,
        ),
    ];
    for (content_type, body, status) in cases {
        let response = app
            .http
            .post(app.url("/events"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("answer");
        assert_eq!(
            response.status(),
            status,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let json: serde_json::Value = response.json().await.expect("JSON error");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
