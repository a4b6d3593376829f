//! The emulated OAuth servers: expiry, rotation, the token endpoint, authorisation codes and
//! `app.info`.

use std::time::Duration;

use bitrix24_emulator::AppSpec;
use serde_json::{Value, json};

use super::{rest, rest_err, rest_ok, token_request};
use crate::harness::{Bitrix, CLIENT_ID, CLIENT_SECRET, client};

#[tokio::test]
async fn access_tokens_expire_after_an_hour_with_401_expired_token() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(1);
    rest_ok(&bitrix, "profile", &token, json!({})).await;
    bitrix.emulator.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        rest_err(&bitrix, "profile", &token, json!({})).await,
        (401, "expired_token".to_owned())
    );

    let other = bitrix.access_token(bitrix.employee);
    bitrix
        .emulator
        .expire_access_tokens(bitrix.member(), bitrix.employee);
    assert_eq!(
        rest(&bitrix, "profile", &other, json!({})).await.1["error"],
        "expired_token"
    );
}

#[tokio::test]
async fn refresh_rotates_and_kills_the_old_pair() {
    let bitrix = Bitrix::installed().await;
    let first = bitrix
        .emulator
        .issue_tokens(bitrix.member(), CLIENT_ID, bitrix.employee);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("refresh_token", first.refresh.as_str()),
    ];
    let (status, answer) = token_request(&bitrix, &form).await;
    assert_eq!(status, 200, "{answer}");
    for field in [
        "access_token",
        "refresh_token",
        "member_id",
        "client_endpoint",
        "server_endpoint",
        "scope",
        "status",
    ] {
        assert!(answer.get(field).is_some(), "{field} missing from {answer}");
    }
    assert!(
        answer.get("token_type").is_none(),
        "Bitrix24 sends no token_type"
    );
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["user_id"], bitrix.employee);
    assert_eq!(answer["member_id"], bitrix.member().as_str());
    assert_eq!(bitrix.emulator.refresh_count(), 1);

    let (status, body) = token_request(&bitrix, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "refresh tokens are single use"
    );
    let (status, body) = rest(&bitrix, "profile", &first.access, json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "the old access token died too"
    );
    let new_access = answer["access_token"].as_str().expect("access");
    rest_ok(&bitrix, "profile", new_access, json!({})).await;
    assert_eq!(
        bitrix.emulator.refresh_count(),
        1,
        "a refused refresh is not counted"
    );
}

#[tokio::test]
async fn the_token_endpoint_also_answers_get_and_checks_the_client() {
    let bitrix = Bitrix::installed().await;
    let pair = bitrix.emulator.issue_tokens(bitrix.member(), CLIENT_ID, 1);
    let wrong_secret = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", "nope"),
        ("refresh_token", pair.refresh.as_str()),
    ];
    let (status, body) = token_request(&bitrix, &wrong_secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // A token issued to another app: refused with HTTP 200, as Bitrix24 does (`wrong_client`).
    bitrix.emulator.register_app(AppSpec {
        client_id: "app.other".into(),
        client_secret: "other-secret".into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im".into(),
        version: 1,
    });
    let foreign = [
        ("grant_type", "refresh_token"),
        ("client_id", "app.other"),
        ("client_secret", "other-secret"),
        ("refresh_token", pair.refresh.as_str()),
    ];
    let (status, body) = token_request(&bitrix, &foreign).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (200, Some("wrong_client"))
    );

    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", pair.refresh.as_str()),
        ])
        .finish();
    let by_get = client()
        .get(format!(
            "{}oauth/token/?{query}",
            bitrix.emulator.oauth_url()
        ))
        .send()
        .await
        .expect("GET works");
    assert_eq!(by_get.status(), 200);
}

#[tokio::test]
async fn authorize_redirects_with_a_code_that_lives_30_seconds_once() {
    let bitrix = Bitrix::installed().await;
    bitrix
        .emulator
        .set_browser_user(bitrix.member(), bitrix.employee);
    let response = client()
        .get(format!(
            "http://{}/oauth/authorize/?client_id={CLIENT_ID}&state=xyz",
            bitrix.portal.domain
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302);
    let location =
        url::Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("url");
    assert_eq!(location.path(), "/oauth/callback");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["domain"], bitrix.portal.domain);
    assert_eq!(query["member_id"], bitrix.member().as_str());
    assert_eq!(query["scope"], crate::harness::SCOPE);
    assert!(query.contains_key("server_domain"));
    let code = query["code"].clone();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", code.as_str()),
    ];
    let (status, answer) = token_request(&bitrix, &exchange).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["user_id"], bitrix.employee,
        "the code belongs to the browser's user"
    );
    let (status, body) = token_request(&bitrix, &exchange).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes are single use"
    );

    let late = client()
        .get(format!(
            "http://{}/oauth/authorize/?client_id={CLIENT_ID}&state=s",
            bitrix.portal.domain
        ))
        .send()
        .await
        .expect("authorize");
    let late = url::Url::parse(late.headers()["location"].to_str().expect("ascii")).expect("url");
    let late_code = late
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    bitrix.emulator.advance_clock(Duration::from_secs(31));
    let (status, body) = token_request(
        &bitrix,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", late_code.as_str()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes expire after 30 s"
    );
}

#[tokio::test]
async fn authorize_for_an_app_not_installed_shows_an_error_and_does_not_redirect() {
    let bitrix = Bitrix::start().await;
    let response = client()
        .get(format!(
            "http://{}/oauth/authorize/?client_id={CLIENT_ID}&state=s",
            bitrix.portal.domain
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn app_info_on_the_oauth_server_describes_the_installation() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(bitrix.employee);
    let body: Value = client()
        .get(format!(
            "{}rest/app.info?auth={token}",
            bitrix.emulator.oauth_url()
        ))
        .send()
        .await
        .expect("app.info")
        .json()
        .await
        .expect("JSON");
    let result = &body["result"];
    assert_eq!(result["client_id"], CLIENT_ID);
    assert_eq!(result["user_id"], bitrix.employee);
    assert_eq!(result["install"]["member_id"], bitrix.member().as_str());
    assert_eq!(result["install"]["domain"], bitrix.portal.domain);
    assert_eq!(result["install"]["installed"], true);
    assert_eq!(
        result["install"]["client_endpoint"],
        bitrix.portal.client_endpoint.as_str()
    );

    let forged: Value = client()
        .get(format!(
            "{}rest/app.info?auth=forged",
            bitrix.emulator.oauth_url()
        ))
        .send()
        .await
        .expect("app.info")
        .json()
        .await
        .expect("JSON");
    assert!(forged.get("error").is_some());
}
