//! Rate limits without surprises, and nobody making the app work for free: every call to a
//! portal passes its limiter, a burst on an expired token costs one refresh and no refusal
//! from Bitrix24, pages say "busy" rather than "down", and forged POSTs run out of budget.

use std::time::Duration;

use b24_status::emulator::{FaultKind, FaultTarget, Server};
use serde_json::json;

use super::harness::{CLIENT_ID, TestApp, assert_page};
use super::trust::post_from;

fn refusals_by_the_portal(app: &TestApp) -> usize {
    app.portal_calls()
        .iter()
        .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
        .count()
}

/// `count` status changes sent at once with `session`; their HTTP statuses.
async fn puts_at_once(app: &TestApp, session: &str, count: usize) -> Vec<u16> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..count {
        let (http, url, session) = (app.http.clone(), app.url("/api/status"), session.to_owned());
        calls.spawn(async move {
            let status = ["online", "dnd", "away", "break"][i % 4];
            http.put(url)
                .bearer_auth(&session)
                .json(&json!({"status": status}))
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = calls.join_next().await {
        statuses.push(status.expect("task"));
    }
    statuses
}

#[tokio::test]
async fn forty_calls_on_a_just_expired_token_over_a_half_full_bucket_all_succeed() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    for status in ["dnd", "away", "break", "online"].repeat(3) {
        assert_eq!(
            app.api_put(&session, json!({"status": status}))
                .await
                .status(),
            200
        );
    }
    // An hour later, on both sides: the token has just expired.
    app.bitrix.emulator.advance_clock(Duration::from_secs(3600));
    app.state.clock.advance(Duration::from_secs(3600));
    let refreshes = app.bitrix.emulator.refresh_count();
    let calls_before = app.portal_calls().len();

    for status in puts_at_once(&app, &session, 40).await {
        assert_eq!(status, 200);
    }
    assert_eq!(
        app.bitrix.emulator.refresh_count(),
        refreshes + 1,
        "one refresh"
    );
    let burst_calls: Vec<_> = app.portal_calls().into_iter().skip(calls_before).collect();
    assert_eq!(
        burst_calls.len(),
        40,
        "no call went out with the dead token"
    );
    assert!(burst_calls.iter().all(|c| c.status == 200));
    assert_eq!(refusals_by_the_portal(&app), 0);
    assert_eq!(
        app.open_app_as(user, "en").await.status(),
        200,
        "pages still render"
    );
}

#[tokio::test]
async fn install_verification_counts_against_the_portals_limit() {
    let tight = ["--rate-limit-burst=2", "--rate-limit-per-second=2"];
    let app = TestApp::spawn_with(&tight).await;
    app.bitrix.emulator.set_rate_limit(app.member(), 2, 2.0);
    assert_eq!(app.install().await.status(), 200);
    assert_eq!(app.open_app_as(1, "en").await.status(), 200);
    assert_eq!(
        app.open_app_as(app.bitrix.employee, "en").await.status(),
        200
    );
    assert_eq!(refusals_by_the_portal(&app), 0, "the app paced itself");
}

#[tokio::test]
async fn a_bucket_filled_by_another_app_is_waited_out_within_the_budget() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    // Another app on the same portal and address fills the bucket our limiter knows nothing of.
    let other = app.bitrix.access_token(app.bitrix.employee);
    for _ in 0..50 {
        let _ = app
            .http
            .post(format!(
                "{}im.user.status.get",
                app.bitrix.portal.client_endpoint
            ))
            .json(&json!({"auth": other}))
            .send()
            .await;
    }
    for status in puts_at_once(&app, &session, 3).await {
        assert_eq!(status, 200, "waited, not refused");
    }
    assert!(
        refusals_by_the_portal(&app) > 0,
        "the portal did refuse some"
    );
}

#[tokio::test]
async fn a_rate_limited_page_says_busy_with_retry_after_in_the_users_language() {
    let app = TestApp::installed(&["--rate-limit-max-wait=1"]).await;
    let session = app.session_of(1).await;
    app.bitrix.emulator.set_rate_limit(app.member(), 1, 0.05);
    let _ = app.api_get(&session).await;
    let _ = app.api_get(&session).await;
    let response = app
        .http
        .post(app.url("/app/status"))
        .form(&[("session", session.as_str()), ("status", "dnd")])
        .send()
        .await
        .expect("answer");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    let page = assert_page(response, 429, "Your portal is busy").await;
    assert!(page.contains(&format!("Wait {retry_after} s")), "{page}");
}

#[tokio::test]
async fn a_missing_scope_is_an_administrators_page_not_an_outage() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::Portal(app.member().clone())),
            method: Some("batch".into()),
        },
        FaultKind::Error {
            status: 403,
            code: "insufficient_scope".into(),
        },
        1,
    );
    let response = app
        .http
        .post(app.url("/app/status"))
        .form(&[("session", session.as_str()), ("status", "dnd")])
        .send()
        .await
        .expect("answer");
    let page = assert_page(response, 403, "The app needs a permission").await;
    assert!(!page.contains("not answering"), "{page}");
}

#[tokio::test]
async fn a_flood_of_forged_install_posts_runs_out_of_budget_before_the_oauth_server_does() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.install(app.member(), CLIENT_ID);
    let post = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let mut statuses = Vec::new();
    for i in 0..30 {
        let forged = post.with("AUTH_ID", &format!("forged-token-{i:04}-forged-token"));
        let response = app.post_form("/install", &forged).await;
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    assert_eq!(
        app.bitrix.emulator.arrivals("app.info"),
        20,
        "the rest cost Bitrix24 nothing"
    );
    assert_eq!(app.count("portals").await, 0);
}

#[tokio::test]
async fn sign_ins_under_way_are_capped_per_portal_and_per_address_and_expired_ones_swept() {
    let app = TestApp::installed(&["--client-ip-header=x-forwarded-for"]).await;
    let start = app.url(&format!("/oauth/start?domain={}", app.bitrix.portal.domain));
    // Each a network of its own (an IPv4 /24 is one to the budgets).
    let from = |i: usize| format!("198.51.100.7, 192.0.{}.1", i % 250 + 1);
    let start_from = |address: String| {
        let (http, start) = (app.http.clone(), start.clone());
        async move {
            http.get(start)
                .header("x-forwarded-for", address)
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    // One address gets its budget of starts, then waits.
    for _ in 0..20 {
        assert_eq!(start_from(from(0)).await, 302);
    }
    assert_eq!(
        start_from(from(0)).await,
        429,
        "one address cannot fill the quota"
    );
    // Many addresses together meet the portal's cap.
    for i in 1..=180 {
        assert_eq!(start_from(from(i)).await, 302);
    }
    assert_eq!(app.count("oauth_states").await, 200);
    assert_eq!(start_from(from(181)).await, 429, "the portal's cap");
    // Eleven minutes later they have all expired and a sweep removes them.
    let later = app.state.clock.now() + 660;
    let swept = app.store.sweep_oauth_states(later).await;
    assert_eq!(swept.expect("swept"), 200);
    assert_eq!(app.count("oauth_states").await, 0);
}

#[tokio::test]
async fn forged_frame_posts_cannot_turn_a_portals_real_events_away() {
    let app = TestApp::installed(&["--client-ip-header=x-forwarded-for"]).await;
    let frame = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let mut statuses = Vec::new();
    for i in 0..25 {
        let forged = frame.with("AUTH_ID", &format!("forged-token-{i:04}-forged-token"));
        statuses.push(post_from(&app, "/app", &forged, "203.0.113.5").await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );

    // Bitrix24's own update event, from its own address, still gets through.
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 2, 1);
    assert_eq!(
        post_from(&app, "/events", &update, "198.51.100.9").await,
        200
    );
    assert_eq!(app.bitrix.emulator.events(app.member(), CLIENT_ID).len(), 6);
}
