//! Outbound calls go only where they should: a portal's 302 is believed only once the OAuth
//! server confirms the new domain, answers are size-capped, and in production no call reaches
//! a private address.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use b24_status::bitrix::{Caller, Error, RestClient, http_client};
use b24_status::clock::unix_now;
use b24_status::domain::{AccessToken, MemberId, PortalDomain};
use serde_json::{Value, json};

use super::harness::{Canary, TestApp};

/// A server on a free loopback port answering every request with `router`.
async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

#[tokio::test]
async fn a_redirect_to_a_domain_the_oauth_server_does_not_confirm_is_not_followed() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let canary = Canary::start().await;
    let target = format!("http://{}/rest/im.user.status.set", canary.address);
    let impostor = serve(Router::new().route(
        "/rest/{method}",
        any(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
        }),
    ))
    .await;
    // The portal's stored address now answers with a 302 to somewhere else.
    let domain = PortalDomain::parse(&impostor.to_string()).expect("domain");
    let endpoint = url::Url::parse(&format!("http://{impostor}/rest/")).expect("url");
    app.store
        .move_portal(app.member(), &domain, &endpoint, unix_now())
        .await
        .expect("moved");

    let response = app.api_put(&session, json!({"status": "dnd"})).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        canary.hits(),
        0,
        "the unconfirmed location was never called"
    );
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.domain, domain, "nothing was stored");
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_refused() {
    let huge = serve(Router::new().route(
        "/rest/{method}",
        any(|| async {
            let padding = "x".repeat(9 * 1024 * 1024);
            axum::Json(json!({"result": padding}))
        }),
    ))
    .await;
    let client = RestClient::new(
        http_client(Duration::from_secs(10), false, b24_status::USER_AGENT).expect("client"),
        true,
        Default::default(),
    );
    let endpoint = url::Url::parse(&format!("http://{huge}/rest/")).expect("url");
    let err = client
        .call::<Value>(
            Caller {
                member_id: &MemberId::parse("0123456789abcdef0123456789abcdef").expect("member"),
                user_id: None,
            },
            &endpoint,
            "profile",
            &AccessToken::parse("token").expect("token"),
            json!({}),
        )
        .await
        .expect_err("too large");
    assert!(
        matches!(&err, Error::Unexpected { detail, .. } if detail.contains("larger than")),
        "{err:?}"
    );
}

#[tokio::test]
async fn in_production_a_name_that_resolves_to_a_private_address_is_never_called() {
    let canary = Canary::start().await;
    let client = RestClient::new(
        http_client(Duration::from_secs(5), true, b24_status::USER_AGENT).expect("client"),
        // http is allowed here only so the canary can listen without TLS; the resolver is on.
        true,
        Default::default(),
    );
    let endpoint =
        url::Url::parse(&format!("http://localhost:{}/rest/", canary.address.port())).expect("url");
    let err = client
        .call::<Value>(
            Caller {
                member_id: &MemberId::parse("0123456789abcdef0123456789abcdef").expect("member"),
                user_id: None,
            },
            &endpoint,
            "profile",
            &AccessToken::parse("token").expect("token"),
            json!({}),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
    assert_eq!(canary.hits(), 0);
}
