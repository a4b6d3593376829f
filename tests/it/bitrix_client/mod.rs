//! Our REST and OAuth clients against the emulator: envelopes, typed errors, redirects not
//! followed, timeouts, and the `oauth2` crate adapted to Bitrix24.

mod oauth;

use std::time::Duration;

use b24_status::bitrix::{Caller, Error, ErrorCode, OAuthClient, RestClient, http_client};
use b24_status::domain::{AccessToken, ClientSecret};
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use serde_json::{Value, json};
use url::Url;

use super::harness::{Bitrix, CLIENT_ID};

fn rest_client(timeout: Duration) -> RestClient {
    RestClient::new(
        http_client(timeout, false, b24_status::USER_AGENT).expect("client"),
        true,
        Default::default(),
    )
}

fn oauth_client(bitrix: &Bitrix, secret: &str) -> OAuthClient {
    OAuthClient::new(
        http_client(Duration::from_secs(5), false, b24_status::USER_AGENT).expect("client"),
        &[
            bitrix.emulator.oauth_url_of(Region::West),
            bitrix.emulator.oauth_url_of(Region::East),
        ],
        CLIENT_ID,
        &ClientSecret::parse(secret).expect("secret"),
        Default::default(),
    )
    .expect("OAuth client")
}

/// Calls made on the test portal's behalf, with no stored account.
fn caller(bitrix: &Bitrix) -> Caller<'_> {
    Caller {
        member_id: bitrix.member(),
        user_id: None,
    }
}

/// The REST endpoint of a region's OAuth server, as a portal's `SERVER_ENDPOINT` names it.
fn server(bitrix: &Bitrix, region: Region) -> Url {
    bitrix
        .emulator
        .oauth_url_of(region)
        .join("/rest/")
        .expect("url")
}

fn token(raw: &str) -> AccessToken {
    AccessToken::parse(raw).expect("token")
}

#[tokio::test]
async fn rest_calls_parse_results_and_typed_errors() {
    let bitrix = Bitrix::installed().await;
    let access = token(&bitrix.access_token(1));
    let client = rest_client(Duration::from_secs(5));
    let endpoint = &bitrix.portal.client_endpoint;

    let ok = client
        .call::<bool>(
            caller(&bitrix),
            endpoint,
            "im.user.status.set",
            &access,
            json!({"STATUS": "break"}),
        )
        .await
        .expect("set");
    assert!(ok.result);
    let status = client
        .call::<Value>(
            caller(&bitrix),
            endpoint,
            "im.user.status.get",
            &access,
            Value::Null,
        )
        .await
        .expect("get");
    assert_eq!(status.result, "break");

    let err = client
        .call::<bool>(
            caller(&bitrix),
            endpoint,
            "im.user.status.set",
            &access,
            json!({"STATUS": "BREAK"}),
        )
        .await
        .expect_err("refused");
    match err {
        Error::Api { status, code, .. } => {
            assert_eq!(status, 400);
            assert_eq!(code, ErrorCode::StatusError);
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = client
        .call::<Value>(
            caller(&bitrix),
            endpoint,
            "no.such.method",
            &access,
            Value::Null,
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(&ErrorCode::MethodNotFound));

    bitrix.emulator.expire_access_tokens(bitrix.member(), 1);
    let err = client
        .call::<Value>(caller(&bitrix), endpoint, "profile", &access, Value::Null)
        .await
        .expect_err("expired");
    assert_eq!(err.code(), Some(&ErrorCode::ExpiredToken));
    assert!(err.code().is_some_and(ErrorCode::is_auth_failure));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_transient_errors() {
    let bitrix = Bitrix::installed().await;
    let access = token(&bitrix.access_token(1));
    let client = rest_client(Duration::from_secs(5));
    bitrix.emulator.set_rate_limit(bitrix.member(), 1, 0.0);
    client
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect("first call fits the bucket");
    let err = client
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect_err("limited");
    assert_eq!(err.code(), Some(&ErrorCode::QueryLimitExceeded));
    assert!(err.is_transient());

    bitrix.emulator.set_rate_limit(bitrix.member(), 50, 2.0);
    bitrix.emulator.inject(
        FaultTarget::default(),
        FaultKind::Error {
            status: 502,
            code: "BAD_GATEWAY".into(),
        },
        1,
    );
    let err = client
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect_err("502");
    assert_eq!(
        err.code(),
        Some(&ErrorCode::Other("BAD_GATEWAY".into())),
        "unknown codes are kept"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_slow_portal_times_out_and_a_closed_port_is_unreachable() {
    let bitrix = Bitrix::installed().await;
    let access = token(&bitrix.access_token(1));
    bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::Portal(bitrix.member().clone())),
            method: None,
        },
        FaultKind::Delay(Duration::from_secs(3)),
        1,
    );
    let err = rest_client(Duration::from_millis(300))
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect_err("times out");
    assert!(matches!(err, Error::Timeout), "{err:?}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let endpoint = url::Url::parse(&format!("http://{closed}/rest/")).expect("url");
    let err = rest_client(Duration::from_secs(2))
        .call::<Value>(caller(&bitrix), &endpoint, "profile", &access, Value::Null)
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
    assert!(!err.to_string().contains(access.expose()));
}

#[tokio::test]
async fn a_renamed_portal_is_reported_with_its_new_location_not_followed() {
    let bitrix = Bitrix::installed().await;
    let access = token(&bitrix.access_token(1));
    let moved = bitrix
        .emulator
        .rename_portal(bitrix.member())
        .await
        .expect("renamed");
    let err = rest_client(Duration::from_secs(5))
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect_err("moved");
    match err {
        Error::Moved { location } => assert!(location.contains(&moved.domain), "{location}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn https_is_required_unless_allowed() {
    let bitrix = Bitrix::installed().await;
    let access = token(&bitrix.access_token(1));
    let strict = RestClient::new(
        http_client(Duration::from_secs(2), false, b24_status::USER_AGENT).expect("client"),
        false,
        Default::default(),
    );
    let err = strict
        .call::<Value>(
            caller(&bitrix),
            &bitrix.portal.client_endpoint,
            "profile",
            &access,
            Value::Null,
        )
        .await
        .expect_err("http refused");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    assert!(bitrix.emulator.calls().is_empty(), "nothing was sent");
}
