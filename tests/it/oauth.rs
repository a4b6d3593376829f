//! The authorization-code flow for a user outside the portal, through the emulator's
//! `/oauth/authorize/`, and every way it can fail without storing anything.

use std::time::Duration;

use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};

use super::harness::TestApp;
use super::harness::uid;

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.http.get(url).send().await.expect("answer")
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// A sign-in's callback, and the cookie of the browser that started it.
struct Callback {
    url: String,
    cookie: String,
}

impl std::ops::Deref for Callback {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

/// The browser that started the sign-in follows the callback.
async fn follow(app: &TestApp, callback: &Callback) -> reqwest::Response {
    app.http
        .get(&callback.url)
        .header("cookie", &callback.cookie)
        .send()
        .await
        .expect("answer")
}

/// Starts a sign-in and follows it to the portal; returns the callback URL the portal sends
/// the browser to, with the browser's cookie.
async fn sign_in_until_callback(app: &TestApp) -> Callback {
    let start = get(
        app,
        &app.url(&format!("/oauth/start?domain={}", app.bitrix.portal.domain)),
    )
    .await;
    assert_eq!(start.status(), 302);
    let set_cookie = start.headers()["set-cookie"].to_str().expect("ascii");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    let authorize = location(&start);
    assert!(
        authorize.starts_with(&format!(
            "http://{}/oauth/authorize/?client_id=",
            app.bitrix.portal.domain
        )),
        "{authorize}"
    );
    let portal = get(app, &authorize).await;
    assert_eq!(portal.status(), 302);
    Callback {
        url: location(&portal),
        cookie,
    }
}

#[tokio::test]
async fn the_full_browser_flow_signs_the_user_in() {
    let app = TestApp::installed(&[]).await;
    app.bitrix
        .emulator
        .set_browser_user(app.member(), app.bitrix.employee);
    let callback = sign_in_until_callback(&app).await;
    assert!(
        callback.starts_with(&app.url("/oauth/callback?")),
        "{}",
        callback.url
    );
    let page = follow(&app, &callback).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("Boris Ivanov"));
    let account = app.account(uid(app.bitrix.employee)).await.expect("stored");
    assert!(!account.is_admin && account.tokens.is_some());
    // A replayed state (the same callback again) is refused.
    let replay = follow(&app, &callback).await;
    assert_eq!(replay.status(), 400);
    let text = replay.text().await.expect("page");
    assert!(text.contains("already used or has expired"), "{text}");
    assert!(
        text.contains("/oauth/start?domain="),
        "offers to start again"
    );
}

#[tokio::test]
async fn a_forged_state_is_refused_before_the_code_is_spent() {
    let app = TestApp::installed(&[]).await;
    let callback = sign_in_until_callback(&app).await;
    let before = app.snapshot().await;
    let forged = reqwest::Url::parse(&callback).expect("url");
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "state" {
                "f".repeat(64)
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    let forged_url = format!(
        "{}?{}",
        app.url("/oauth/callback"),
        serde_urlencoded::to_string(&pairs).expect("query")
    );
    let forged = Callback {
        url: forged_url,
        cookie: callback.cookie.clone(),
    };
    assert_eq!(follow(&app, &forged).await.status(), 400);
    assert_eq!(app.snapshot().await, before);
    assert!(no_code_exchanged(&app), "the code was not exchanged");
    assert_eq!(
        get(&app, &app.url("/oauth/callback")).await.status(),
        400,
        "no parameters at all"
    );
}

#[tokio::test]
async fn an_expired_code_is_a_clear_refusal_and_stores_nothing() {
    let app = TestApp::installed(&[]).await;
    let callback = sign_in_until_callback(&app).await;
    app.bitrix.emulator.advance_clock(Duration::from_secs(31));
    let before = app.count("accounts").await;
    let response = follow(&app, &callback).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Bitrix24 refused the sign-in")
    );
    assert_eq!(app.count("accounts").await, before);
}

#[tokio::test]
async fn an_error_sent_with_http_200_by_the_oauth_server_is_a_refusal() {
    let app = TestApp::installed(&[]).await;
    app.bitrix
        .emulator
        .set_browser_user(app.member(), app.bitrix.employee);
    let callback = sign_in_until_callback(&app).await;
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::ErrorWith200 {
            code: "wrong_client".into(),
        },
        1,
    );
    assert_eq!(follow(&app, &callback).await.status(), 400);
    assert!(app.account(uid(app.bitrix.employee)).await.is_none());
}

#[tokio::test]
async fn a_portal_that_has_not_installed_the_app_gets_told_what_to_do() {
    let app = TestApp::spawn().await;
    let response = get(
        &app,
        &app.url(&format!("/oauth/start?domain={}", app.bitrix.portal.domain)),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Ask your portal administrator")
    );
    for bad in ["", "https://x.bitrix24.com", "x.bitrix24.com/evil", "a..b"] {
        let response = get(
            &app,
            &app.url(&format!("/oauth/start?domain={}", urlencode(bad))),
        )
        .await;
        assert_eq!(response.status(), 400, "{bad:?}");
    }
    assert_eq!(app.count("oauth_states").await, 0);
}

#[tokio::test]
async fn the_oauth_server_down_during_the_exchange_says_try_again() {
    let app = TestApp::installed(&[]).await;
    let callback = sign_in_until_callback(&app).await;
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::Error {
            status: 503,
            code: "SERVICE_UNAVAILABLE".into(),
        },
        1,
    );
    let response = follow(&app, &callback).await;
    assert_eq!(response.status(), 502);
    assert!(response.text().await.expect("page").contains("try again"));
}

#[tokio::test]
async fn a_callback_link_someone_else_started_signs_nobody_in() {
    let app = TestApp::installed(&[]).await;
    // The attacker signs in as themselves and hands the callback link to a colleague.
    let attackers = sign_in_until_callback(&app).await;
    let before = app.snapshot().await;
    assert_eq!(get(&app, &attackers.url).await.status(), 400, "no cookie");
    let victims = Callback {
        url: attackers.url.clone(),
        cookie: format!("b24_sign_in={}", "0".repeat(64)),
    };
    let response = follow(&app, &victims).await;
    assert_eq!(response.status(), 400, "another browser's cookie");
    assert!(!response.text().await.expect("page").contains("b24-session"));
    assert_eq!(app.snapshot().await, before);
    assert!(no_code_exchanged(&app), "the code was not exchanged");
}

/// Whether the OAuth server saw no code exchange (nor refresh) at all.
fn no_code_exchanged(app: &TestApp) -> bool {
    app.bitrix
        .emulator
        .calls()
        .iter()
        .all(|c| c.method != "oauth/token")
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
