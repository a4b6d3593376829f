//! A refresh survives its caller: Bitrix24 rotates the pair before its answer arrives, so the
//! refresh and the commit of the new pair run detached from the request that needed them.

use std::time::Duration;

use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use serde_json::json;

use super::db::TestDb;
use super::harness::{CLIENT_ID, TestApp, session_in, uid};
use super::process::{AppProcess, free_port};

fn slow_token_answers(delay: Duration) -> (FaultTarget, FaultKind) {
    (
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::SlowAnswer(delay),
    )
}

#[tokio::test]
async fn a_client_that_gives_up_during_a_refresh_loses_nothing() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let before = app.account(uid(user)).await.expect("account");
    app.bitrix.emulator.expire_access_tokens(app.member(), user);
    // The OAuth server rotates at once and answers after 1.5 s; the client waits 0.5 s.
    let (target, slow) = slow_token_answers(Duration::from_millis(1500));
    app.bitrix.emulator.inject(target, slow, 1);
    let impatient = app
        .http
        .put(app.url("/api/status"))
        .bearer_auth(&session)
        .json(&json!({"status": "dnd"}))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(impatient.is_err(), "the client gave up");
    assert!(
        app.state.tokens.drain(Duration::from_secs(10)).await,
        "the detached refresh finished"
    );

    let after = app.account(uid(user)).await.expect("account");
    assert_eq!(
        after.generation,
        before.generation + 1,
        "the rotated pair was stored"
    );
    let refreshes = app.bitrix.emulator.refresh_count();
    assert_eq!(refreshes, 1);
    let response = app.api_put(&session, json!({"status": "away"})).await;
    assert_eq!(response.status(), 200, "no re-authorisation needed");
    assert_eq!(app.bitrix.emulator.refresh_count(), refreshes);
}

#[tokio::test]
async fn a_shutdown_waits_for_a_refresh_under_way_and_keeps_its_pair() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let db = TestDb::new().await;
    let port = free_port();
    let mut process = AppProcess::start(&app.bitrix, &db, port, "first", &[]).await;
    let install = app
        .bitrix
        .emulator
        .begin_install(app.member(), CLIENT_ID, 1, "en");
    let post = |url: String, body: String| {
        app.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let installed = post(
        format!("{}/install?{}", process.url, install.query_string()),
        install.body(),
    )
    .await
    .expect("install");
    assert_eq!(installed.status(), 200);
    let frame = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, user, "DEFAULT", "en", "");
    let page = post(
        format!("{}/app?{}", process.url, frame.query_string()),
        frame.body(),
    )
    .await
    .expect("open");
    let session = session_in(&page.text().await.expect("page"));

    app.bitrix.emulator.expire_access_tokens(app.member(), user);
    let (target, slow) = slow_token_answers(Duration::from_secs(2));
    app.bitrix.emulator.inject(target, slow, 1);
    let refreshes = app.bitrix.emulator.refresh_count();
    let put = app
        .http
        .put(format!("{}/api/status", process.url))
        .bearer_auth(&session)
        .json(&json!({"status": "dnd"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(put.is_err(), "the client gave up");
    assert_eq!(
        app.bitrix.emulator.refresh_count(),
        refreshes + 1,
        "the OAuth server has rotated the pair; its answer is still on the way"
    );
    process.stop_async().await;
    assert!(
        process.log().contains("tokens refreshed"),
        "the process stored the pair before it stopped:\n{}",
        process.log()
    );

    let restarted = AppProcess::start(&app.bitrix, &db, port, "second", &[]).await;
    let response = app
        .http
        .put(format!("{}/api/status", restarted.url))
        .bearer_auth(&session)
        .json(&json!({"status": "away"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(app.bitrix.emulator.refresh_count(), refreshes + 1);
}

#[tokio::test]
async fn a_rotated_pair_is_stored_even_when_the_database_is_busy_longer_than_its_timeout() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let before = app.account(uid(user)).await.expect("account");
    app.bitrix.emulator.expire_access_tokens(app.member(), user);
    let (target, slow) = slow_token_answers(Duration::from_millis(500));
    app.bitrix.emulator.inject(target, slow, 1);
    let put = {
        let (http, url, session) = (app.http.clone(), app.url("/api/status"), session.clone());
        tokio::spawn(async move {
            http.put(url)
                .bearer_auth(&session)
                .json(&json!({"status": "dnd"}))
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        })
    };
    while app.bitrix.emulator.arrivals("oauth/token") == 0 {
        // Polls until the refresh has reached the OAuth server (which rotates at once).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Holds the accounts past the store's 10 s busy timeout, so the first commit fails.
    let raw = app.db.raw().await;
    raw.lock_accounts_for(Duration::from_secs(11)).await;
    raw.close().await;

    assert_eq!(put.await.expect("task"), 200);
    let after = app.account(uid(user)).await.expect("account");
    assert_eq!(after.generation, before.generation + 1);
    assert_eq!(app.bitrix.emulator.refresh_count(), 1);
}
