//! Faults injected at the emulator: a slow Bitrix24, broken connections, a renamed portal, and
//! the app killed with `kill -9` under load.

use std::time::{Duration, Instant};

use b24_status::domain::Status;
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use serde_json::{Value, json};

use super::db::{Raw, TestDb};
use super::harness::{Bitrix, CLIENT_ID, TestApp, session_in};
use super::process::{AppProcess, free_port};

fn on_set(app: &TestApp) -> FaultTarget {
    FaultTarget {
        server: Some(Server::Portal(app.member().clone())),
        method: Some("im.user.status.set".into()),
    }
}

#[tokio::test]
async fn bitrix24_slower_than_our_timeout_is_a_502_in_bounded_time() {
    let app = TestApp::installed(&["--bitrix-timeout=1"]).await;
    let session = app.session_of(1).await;
    app.bitrix
        .emulator
        .inject(on_set(&app), FaultKind::Delay(Duration::from_secs(4)), 2);
    let started = Instant::now();
    let response = app.api_put(&session, json!({"status": "dnd"})).await;
    assert_eq!(response.status(), 502);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "bitrix_unavailable");
}

#[tokio::test]
async fn a_connection_broken_mid_answer_is_retried_once_for_a_safe_call() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    app.bitrix
        .emulator
        .inject(on_set(&app), FaultKind::Reset, 1);
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Away)
    );

    app.bitrix
        .emulator
        .inject(on_set(&app), FaultKind::Reset, 2);
    let response = app.api_put(&session, json!({"status": "dnd"})).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        app.api_put(&session, json!({"status": "dnd"}))
            .await
            .status(),
        200,
        "and recovers"
    );
}

#[tokio::test]
async fn a_renamed_portal_is_followed_and_its_new_address_stored() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let moved = app
        .bitrix
        .emulator
        .rename_portal(app.member())
        .await
        .expect("renamed");
    let response = app.api_put(&session, json!({"status": "break"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Break)
    );
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.domain.as_str(), moved.domain);
    assert_eq!(portal.record.client_endpoint, moved.client_endpoint);

    // The next frame POST comes from the new domain and is accepted.
    let employee = app.bitrix.employee;
    assert_eq!(app.open_app_as(employee, "en").await.status(), 200);
}

#[tokio::test]
async fn a_frame_post_from_a_renamed_portal_is_checked_with_the_oauth_server_and_accepted() {
    let app = TestApp::installed(&[]).await;
    let moved = app
        .bitrix
        .emulator
        .rename_portal(app.member())
        .await
        .expect("renamed");
    let response = app.open_app_as(1, "en").await;
    assert_eq!(response.status(), 200);
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.domain.as_str(), moved.domain);
}

#[tokio::test]
async fn kill_dash_nine_under_load_leaves_a_sound_database_and_working_tokens() {
    let bitrix = Bitrix::start().await;
    bitrix
        .emulator
        .set_rate_limit(bitrix.member(), 100_000, 100_000.0);
    let db = TestDb::new().await;
    let port = free_port();
    let fast = [
        ("RATE_LIMIT_BURST", "100000"),
        ("RATE_LIMIT_PER_SECOND", "100000"),
        // Keeps the refresh lease, which is derived from it, short enough for a test.
        ("BITRIX_TIMEOUT", "2"),
    ];
    let mut app = AppProcess::start(&bitrix, &db, port, "first", &fast).await;
    let http = super::harness::client();

    // Install and open the app as three users.
    let install = bitrix
        .emulator
        .begin_install(bitrix.member(), CLIENT_ID, 1, "en");
    let response = http
        .post(format!("{}/install?{}", app.url, install.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(install.body())
        .send()
        .await
        .expect("install");
    assert_eq!(response.status(), 200);
    bitrix.emulator.finish_install(bitrix.member(), CLIENT_ID);
    let employees: Vec<u64> = (0..2)
        .map(|i| {
            bitrix.emulator.add_user(
                bitrix.member(),
                b24_status::emulator::UserSpec::new(&format!("E{i}"), "Load", false),
            )
        })
        .collect();
    let mut sessions = Vec::new();
    for user in std::iter::once(1).chain(employees.iter().copied()) {
        let post =
            bitrix
                .emulator
                .frame_post(bitrix.member(), CLIENT_ID, user, "DEFAULT", "en", "");
        let page = http
            .post(format!("{}/app?{}", app.url, post.query_string()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(post.body())
            .send()
            .await
            .expect("open")
            .text()
            .await
            .expect("page");
        sessions.push((user, session_in(&page)));
    }

    // Load: status changes from every user, with tokens expiring so refreshes are in flight.
    let mut load = tokio::task::JoinSet::new();
    for (user, session) in sessions.clone() {
        let (http, url) = (http.clone(), app.url.clone());
        load.spawn(async move {
            for i in 0..1000 {
                let status = ["online", "dnd", "away", "break"][(i + user as usize) % 4];
                let _ = http
                    .put(format!("{url}/api/status"))
                    .bearer_auth(&session)
                    .json(&json!({"status": status}))
                    .send()
                    .await;
            }
        });
    }
    for _round in 0..5 {
        // Lets some calls and refreshes happen between expiries.
        tokio::time::sleep(Duration::from_millis(60)).await;
        for (user, _) in &sessions {
            bitrix.emulator.expire_access_tokens(bitrix.member(), *user);
        }
    }
    // Refreshes that Bitrix24 already answered are stored within milliseconds; a pair rotated
    // at the OAuth server whose answer never reaches the app is lost to any app, so the kill
    // comes once those have settled — with the load still running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Hold the admin's next refresh on its way to the OAuth server and kill the app while it
    // waits, so a refresh is provably in flight at the moment of death.
    let token_calls = || {
        bitrix
            .emulator
            .calls()
            .iter()
            .filter(|c| c.method == "oauth/token")
            .count()
    };
    bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::Delay(Duration::from_secs(120)),
        1,
    );
    bitrix.emulator.expire_access_tokens(bitrix.member(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while bitrix.emulator.arrivals("oauth/token") <= token_calls() {
        assert!(Instant::now() < deadline, "no refresh started");
        // Polls until a refresh request has reached the OAuth server unanswered.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.kill();
    assert!(
        bitrix.emulator.arrivals("oauth/token") > token_calls(),
        "a refresh was in flight when the process died"
    );
    load.abort_all();
    while load.join_next().await.is_some() {}

    // The database is sound...
    let raw = db.raw().await;
    if let Raw::Sqlite(pool) = &raw {
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(pool)
            .await
            .expect("check");
        assert_eq!(check, "ok");
    }
    let needs_reauth = raw
        .scalar("SELECT COUNT(*) FROM accounts WHERE state != 'active'")
        .await;
    assert_eq!(needs_reauth, 0, "no account was marked dead by the crash");
    raw.close().await;

    // ...and after a restart every account's token still refreshes. The account whose refresh
    // was in flight stays leased to the dead process until its lease runs out (derived from
    // BITRIX_TIMEOUT): until then its calls answer "busy", never "sign in again".
    let app = AppProcess::start(&bitrix, &db, port, "second", &fast).await;
    let refreshes = bitrix.emulator.refresh_count();
    for (user, session) in &sessions {
        bitrix.emulator.expire_access_tokens(bitrix.member(), *user);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let response = http
                .put(format!("{}/api/status", app.url))
                .bearer_auth(session)
                .json(&json!({"status": "dnd"}))
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .expect("answer");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "user {user}: {body}");
            assert!(body.contains("\"busy\""), "user {user}: {body}");
            assert!(
                Instant::now() < deadline,
                "the dead process's lease never ran out"
            );
            // Waits for the dead process's lease to run out.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(
            bitrix.emulator.user_status(bitrix.member(), *user),
            Some(Status::Dnd)
        );
    }
    assert_eq!(bitrix.emulator.refresh_count(), refreshes + sessions.len());
}
