//! Our OAuth client against the emulated OAuth servers: refresh, errors sent with HTTP 200,
//! code exchange, `app.info`, and the regional servers.

use b24_status::bitrix::{Error, ErrorCode, OAuthErrorCode};
use std::time::Duration;

use b24_status::domain::RefreshToken;
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server, UserSpec};
use url::Url;

use super::super::harness::{Bitrix, CLIENT_ID, CLIENT_SECRET, uid};
use super::{caller, oauth_client, server, token};

#[tokio::test]
async fn oauth_refresh_through_the_oauth2_crate_rotates_the_pair() {
    let bitrix = Bitrix::installed().await;
    let pair = bitrix
        .emulator
        .issue_tokens(bitrix.member(), CLIENT_ID, bitrix.employee);
    let oauth = oauth_client(&bitrix, CLIENT_SECRET);
    let refresh = RefreshToken::parse(&pair.refresh).expect("refresh");
    let grant = oauth
        .refresh(caller(&bitrix), &server(&bitrix, Region::West), &refresh)
        .await
        .expect("refreshed");
    assert_eq!(&grant.member_id, bitrix.member());
    assert_eq!(grant.user_id, Some(uid(bitrix.employee)));
    assert_eq!(
        grant.client_endpoint.as_ref(),
        Some(&bitrix.portal.client_endpoint)
    );
    assert_eq!(grant.scope, super::super::harness::SCOPE);
    assert_ne!(grant.refresh.expose(), pair.refresh);
    assert_eq!(bitrix.emulator.refresh_count(), 1);

    let err = oauth
        .refresh(caller(&bitrix), &server(&bitrix, Region::West), &refresh)
        .await
        .expect_err("single use");
    match err {
        Error::OAuth { code, .. } => assert!(code.is_dead_grant(), "{code:?}"),
        other => panic!("unexpected {other:?}"),
    }
    let err = oauth_client(&bitrix, "wrong-secret")
        .refresh(
            caller(&bitrix),
            &server(&bitrix, Region::West),
            &grant.refresh,
        )
        .await
        .expect_err("bad secret");
    assert!(
        matches!(
            err,
            Error::OAuth {
                code: OAuthErrorCode::InvalidClient,
                ..
            }
        ),
        "{err:?}"
    );
    // The secret went to the OAuth server only.
    assert!(
        bitrix
            .emulator
            .calls()
            .iter()
            .all(|c| matches!(c.server, Server::OAuth(_)) || !c.carried_client_secret)
    );
}

#[tokio::test]
async fn an_oauth_error_sent_with_http_200_is_an_error() {
    let bitrix = Bitrix::installed().await;
    let pair = bitrix.emulator.issue_tokens(bitrix.member(), CLIENT_ID, 1);
    bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: None,
        },
        FaultKind::ErrorWith200 {
            code: "PAYMENT_REQUIRED".into(),
        },
        1,
    );
    let err = oauth_client(&bitrix, CLIENT_SECRET)
        .refresh(
            caller(&bitrix),
            &server(&bitrix, Region::West),
            &RefreshToken::parse(&pair.refresh).expect("refresh"),
        )
        .await
        .expect_err("payment required");
    assert!(
        matches!(
            err,
            Error::OAuth {
                code: OAuthErrorCode::PaymentRequired,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn code_exchange_and_app_info_through_our_client() {
    let bitrix = Bitrix::installed().await;
    let location =
        b24_status::bitrix::http_client(Duration::from_secs(5), false, b24_status::USER_AGENT)
            .expect("client")
            .get(format!(
                "http://{}/oauth/authorize/?client_id={CLIENT_ID}&state=s",
                bitrix.portal.domain
            ))
            .send()
            .await
            .expect("authorize")
            .headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
    let code = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let oauth = oauth_client(&bitrix, CLIENT_SECRET);
    let grant = oauth
        .exchange_code(caller(&bitrix), &server(&bitrix, Region::West), &code)
        .await
        .expect("exchanged");
    assert_eq!(&grant.member_id, bitrix.member());

    let info = oauth
        .app_info(
            caller(&bitrix),
            &server(&bitrix, Region::West),
            &grant.access,
        )
        .await
        .expect("app.info");
    assert_eq!(info.client_id, CLIENT_ID);
    assert_eq!(info.install.member_id, bitrix.member().as_str());
    assert_eq!(info.install.domain, bitrix.portal.domain);
    assert!(info.install.installed);

    let err = oauth
        .app_info(
            caller(&bitrix),
            &server(&bitrix, Region::West),
            &token("forged-token"),
        )
        .await
        .expect_err("forged");
    assert!(
        err.code().is_some_and(ErrorCode::is_auth_failure),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_regional_oauth_server_knows_only_its_own_portals_tokens() {
    let bitrix = Bitrix::installed().await;
    let east = bitrix
        .emulator
        .add_portal_at(
            Region::East,
            UserSpec::new("Mei", "Lin", true),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("east portal");
    bitrix.emulator.install(&east.member_id, CLIENT_ID);
    let pair = bitrix.emulator.issue_tokens(&east.member_id, CLIENT_ID, 1);
    let oauth = oauth_client(&bitrix, CLIENT_SECRET);
    let refresh = RefreshToken::parse(&pair.refresh).expect("refresh");

    let info = oauth
        .app_info(
            caller(&bitrix),
            &server(&bitrix, Region::West),
            &token(&pair.access),
        )
        .await
        .expect_err("the west server does not know an east token");
    assert!(
        info.code().is_some_and(ErrorCode::is_auth_failure),
        "{info:?}"
    );
    let err = oauth
        .refresh(caller(&bitrix), &server(&bitrix, Region::West), &refresh)
        .await
        .expect_err("the west server does not know an east token");
    assert!(
        matches!(err, Error::OAuth { ref code, .. } if code.is_dead_grant()),
        "{err:?}"
    );

    let info = oauth
        .app_info(
            caller(&bitrix),
            &server(&bitrix, Region::East),
            &token(&pair.access),
        )
        .await
        .expect("the east server knows it");
    assert_eq!(info.install.member_id, east.member_id.as_str());
    let grant = oauth
        .refresh(caller(&bitrix), &server(&bitrix, Region::East), &refresh)
        .await
        .expect("refreshed where it was issued");
    assert_eq!(grant.member_id, east.member_id);
    assert!(
        bitrix
            .emulator
            .calls()
            .iter()
            .any(|c| c.server == Server::OAuth(Region::East)
                && c.method == "oauth/token"
                && c.status == 200)
    );
}

#[tokio::test]
async fn an_oauth_server_off_the_list_is_never_called() {
    let bitrix = Bitrix::installed().await;
    let canary = super::super::harness::Canary::start().await;
    let off_list = Url::parse(&format!("http://{}/rest/", canary.address)).expect("url");
    let oauth = oauth_client(&bitrix, CLIENT_SECRET);
    assert!(oauth.server_endpoint(Some(&off_list)).is_none());
    let err = oauth
        .refresh(
            caller(&bitrix),
            &off_list,
            &RefreshToken::parse("some-refresh").expect("refresh"),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    let err = oauth
        .app_info(caller(&bitrix), &off_list, &token("some-access"))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    assert_eq!(
        canary.hits(),
        0,
        "client_secret must never travel off the list"
    );
}
