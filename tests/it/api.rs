//! The JSON API: read and set with a session token, every error a JSON sentence.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::emulator::{FaultKind, FaultTarget, Server};
use serde_json::{Value, json};

use super::harness::TestApp;
use super::harness::uid;

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error");
    (
        status,
        body["error"].as_str().expect("code").to_owned(),
        body["message"].as_str().expect("message").to_owned(),
    )
}

#[tokio::test]
async fn set_and_get_go_to_bitrix24_with_the_users_own_token() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let response = app.api_put(&session, json!({"status": "dnd"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"status": "dnd"})
    );
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Dnd)
    );

    // Read from Bitrix24, not from a cache: a change made elsewhere shows.
    let token = app
        .bitrix
        .emulator
        .issue_tokens(app.member(), super::harness::CLIENT_ID, 1)
        .access;
    super::harness::client()
        .post(format!(
            "{}im.user.status.set",
            app.bitrix.portal.client_endpoint
        ))
        .json(&json!({"auth": token, "STATUS": "break"}))
        .send()
        .await
        .expect("direct");
    let response = app.api_get(&session).await;
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"status": "break"})
    );
}

#[tokio::test]
async fn two_users_of_one_portal_never_mix() {
    let app = TestApp::installed(&[]).await;
    let admin = app.session_of(1).await;
    let employee = app.session_of(app.bitrix.employee).await;
    assert_eq!(
        app.api_put(&admin, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.api_put(&employee, json!({"status": "break"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Away)
    );
    assert_eq!(
        app.bitrix
            .emulator
            .user_status(app.member(), app.bitrix.employee),
        Some(Status::Break)
    );
    assert_eq!(
        app.api_get(&admin)
            .await
            .json::<Value>()
            .await
            .expect("json")["status"],
        "away"
    );
    assert_eq!(
        app.api_get(&employee)
            .await
            .json::<Value>()
            .await
            .expect("json")["status"],
        "break"
    );
    let by_user: Vec<_> = app
        .portal_calls()
        .into_iter()
        .filter(|c| c.method == "im.user.status.set")
        .map(|c| c.user_id)
        .collect();
    assert_eq!(by_user, [Some(1), Some(app.bitrix.employee)]);
}

#[tokio::test]
async fn anything_but_the_four_statuses_is_422_without_calling_bitrix24() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let calls = app.portal_calls().len();
    for bad in [
        json!({"status": "DND"}),
        json!({"status": "busy"}),
        json!({"status": 1}),
        json!({"status": null}),
    ] {
        let (status, code, message) = error_of(app.api_put(&session, bad.clone()).await).await;
        assert_eq!((status, code.as_str()), (422, "invalid_status"), "{bad}");
        assert!(message.contains("online"), "{message}");
    }
    let (status, code, _) = error_of(app.api_put(&session, json!({"state": "dnd"})).await).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    let as_form = app
        .http
        .put(app.url("/api/status"))
        .bearer_auth(&session)
        .form(&[("status", "dnd")])
        .send()
        .await
        .expect("answer");
    assert_eq!(error_of(as_form).await.0, 415);
    assert_eq!(app.portal_calls().len(), calls);
}

#[tokio::test]
async fn missing_forged_or_expired_sessions_are_401() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let no_auth = app
        .http
        .get(app.url("/api/status"))
        .send()
        .await
        .expect("answer");
    assert_eq!(error_of(no_auth).await.1, "invalid_session");
    let mut forged = session.clone();
    forged.replace_range(forged.len() - 3.., "AAA");
    assert_eq!(error_of(app.api_get(&forged).await).await.0, 401);
    let other_user = session.replacen(".1.", &format!(".{}.", app.bitrix.employee), 1);
    assert_eq!(
        error_of(app.api_put(&other_user, json!({"status": "dnd"})).await)
            .await
            .0,
        401
    );
    let expired = app
        .state
        .sessions
        .begin(app.member(), uid(1), b24_status::i18n::Lang::En, 0, 0);
    assert_eq!(error_of(app.api_get(&expired).await).await.0, 401);
    assert_eq!(app.bitrix.emulator.user_status(app.member(), 1), None);
}

#[tokio::test]
async fn an_expired_user_token_is_refreshed_transparently() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    assert_eq!(app.bitrix.emulator.refresh_count(), 1);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Away)
    );
}

#[tokio::test]
async fn a_user_whose_refresh_failed_is_asked_to_reopen_the_app_in_their_language() {
    let app = TestApp::installed(&[]).await;
    let page = app.open_app_as(1, "ru").await.text().await.expect("page");
    let session = super::harness::session_in(&page);
    // The app is reinstalled elsewhere: every token dies at Bitrix24.
    app.bitrix
        .emulator
        .uninstall(app.member(), super::harness::CLIENT_ID, false);
    app.bitrix
        .emulator
        .install(app.member(), super::harness::CLIENT_ID);
    let (status, code, message) =
        error_of(app.api_put(&session, json!({"status": "dnd"})).await).await;
    assert_eq!((status, code.as_str()), (401, "reauth_required"));
    assert!(message.contains("Закройте приложение"), "{message}");
}

#[tokio::test]
async fn a_rate_limit_that_persists_is_429_with_retry_after() {
    let app = TestApp::installed(&["--rate-limit-max-wait=1"]).await;
    let session = app.session_of(1).await;
    app.bitrix.emulator.set_rate_limit(app.member(), 1, 0.05);
    // Lets calls still in flight from opening the page finish before the bucket shrinks.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = app.api_get(&session).await;
    let response = app.api_put(&session, json!({"status": "dnd"})).await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
}

#[tokio::test]
async fn bitrix24_down_is_502_and_its_refusals_get_clear_messages() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let portal = Some(Server::Portal(app.member().clone()));
    let cases = [
        (500, "INTERNAL_SERVER_ERROR", 502, "bitrix_unavailable"),
        (403, "insufficient_scope", 403, "insufficient_scope"),
        (403, "ACCESS_DENIED", 403, "access_denied"),
        (401, "METHOD_CONFIRM_WAITING", 403, "confirmation_required"),
        (403, "user_access_error", 403, "access_denied"),
        (400, "STATUS_ERROR", 422, "invalid_status"),
        (410, "PORTAL_DELETED", 404, "not_installed"),
        (400, "SOMETHING_NEW", 502, "bitrix_refused"),
    ];
    for (upstream, upstream_code, status, code) in cases {
        app.bitrix.emulator.clear_faults();
        app.bitrix.emulator.inject(
            FaultTarget {
                server: portal.clone(),
                method: Some("im.user.status.set".into()),
            },
            FaultKind::Error {
                status: upstream,
                code: upstream_code.into(),
            },
            2,
        );
        let (got_status, got_code, message) =
            error_of(app.api_put(&session, json!({"status": "dnd"})).await).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{upstream_code}"
        );
        assert!(!message.contains(upstream_code), "no raw dump: {message}");
    }
}
