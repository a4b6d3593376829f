//! The emulated portal's limits and life: the leaky bucket, injected faults, a renamed
//! portal, an uninstall and the posts a portal sends.

use std::time::Duration;

use bitrix24_emulator::{FaultKind, FaultTarget, Server};
use serde_json::json;

use super::{rest, rest_err, rest_ok, token_request};
use crate::harness::{Bitrix, CLIENT_ID, CLIENT_SECRET, client};

#[tokio::test]
async fn the_leaky_bucket_answers_503_once_the_burst_is_spent() {
    let bitrix = Bitrix::installed().await;
    bitrix.emulator.set_rate_limit(bitrix.member(), 5, 0.0);
    let token = bitrix.access_token(1);
    for _ in 0..5 {
        rest_ok(&bitrix, "profile", &token, json!({})).await;
    }
    assert_eq!(
        rest_err(&bitrix, "profile", &token, json!({})).await,
        (503, "QUERY_LIMIT_EXCEEDED".to_owned())
    );

    bitrix.emulator.set_rate_limit(bitrix.member(), 2, 50.0);
    rest_ok(&bitrix, "profile", &token, json!({})).await;
    rest_ok(&bitrix, "profile", &token, json!({})).await;
    // Lets the bucket (2 at 50/s) drain fully.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rest(&bitrix, "profile", &token, json!({})).await.0,
        200,
        "the bucket drains"
    );
}

#[tokio::test]
async fn faults_and_latency_are_injected_and_calls_recorded() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(1);
    bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::Portal(bitrix.member().clone())),
            method: Some("profile".into()),
        },
        FaultKind::Error {
            status: 500,
            code: "INTERNAL_SERVER_ERROR".into(),
        },
        1,
    );
    assert_eq!(
        rest_err(&bitrix, "profile", &token, json!({})).await,
        (500, "INTERNAL_SERVER_ERROR".to_owned())
    );
    assert_eq!(
        rest(&bitrix, "profile", &token, json!({})).await.0,
        200,
        "the fault was for one call"
    );

    bitrix.emulator.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(
        rest(&bitrix, "im.user.status.get", &token, json!({}))
            .await
            .0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let calls = bitrix.emulator.calls();
    let methods: Vec<_> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.status))
        .collect();
    assert_eq!(
        methods,
        [
            ("profile", 500),
            ("profile", 200),
            ("im.user.status.get", 200)
        ]
    );
    assert_eq!(calls[1].user_id, Some(1));
    assert_eq!(calls[1].token_tail.as_deref(), Some(&token[60..]));
    assert!(calls.iter().all(|c| !c.carried_client_secret));
}

#[tokio::test]
async fn a_renamed_portal_answers_302_from_its_old_address() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(1);
    let moved = bitrix
        .emulator
        .rename_portal(bitrix.member())
        .await
        .expect("renamed");
    let response = client()
        .post(format!("{}profile", bitrix.portal.client_endpoint))
        .json(&json!({"auth": token}))
        .send()
        .await
        .expect("old address answers");
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        format!("http://{}/rest/profile", moved.domain)
    );
    let (status, _) = {
        let response = client()
            .post(format!("{}profile", moved.client_endpoint))
            .json(&json!({"auth": token}))
            .send()
            .await
            .expect("new address answers");
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 200);
}

#[tokio::test]
async fn uninstall_kills_every_token_and_builds_the_event() {
    let bitrix = Bitrix::installed().await;
    let pair = bitrix.emulator.issue_tokens(bitrix.member(), CLIENT_ID, 1);
    let event = bitrix.emulator.uninstall(bitrix.member(), CLIENT_ID, true);
    assert_eq!(event.get("event"), Some("ONAPPUNINSTALL"));
    assert_eq!(event.get("data[CLEAN]"), Some("1"));
    assert!(
        event
            .get("auth[application_token]")
            .is_some_and(|t| t.len() == 32)
    );
    assert!(
        event.get("auth[access_token]").is_none(),
        "no usable tokens in an uninstall"
    );
    let (status, _) = rest(&bitrix, "profile", &pair.access, json!({})).await;
    assert_eq!(status, 401);
    let (status, body) = token_request(
        &bitrix,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", pair.refresh.as_str()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(!bitrix.emulator.is_installed(bitrix.member(), CLIENT_ID));
}

#[tokio::test]
async fn frame_posts_and_install_events_carry_the_documented_fields() {
    let bitrix = Bitrix::start().await;
    let install = bitrix
        .emulator
        .begin_install(bitrix.member(), CLIENT_ID, 1, "ru");
    for field in ["DOMAIN", "PROTOCOL", "LANG", "APP_SID"] {
        assert!(
            install.query.iter().any(|(k, _)| k == field),
            "{field} not in the query"
        );
    }
    for field in [
        "AUTH_ID",
        "AUTH_EXPIRES",
        "REFRESH_ID",
        "member_id",
        "status",
        "PLACEMENT",
        "SERVER_ENDPOINT",
    ] {
        assert!(
            install.form.iter().any(|(k, _)| k == field),
            "{field} not in the body"
        );
    }
    assert_eq!(install.get("PLACEMENT"), Some("DEFAULT"));
    assert_eq!(install.get("LANG"), Some("ru"));
    assert!(
        !bitrix.emulator.is_installed(bitrix.member(), CLIENT_ID),
        "not before installFinish"
    );
    bitrix.emulator.finish_install(bitrix.member(), CLIENT_ID);
    assert!(bitrix.emulator.is_installed(bitrix.member(), CLIENT_ID));

    let event = bitrix
        .emulator
        .event(bitrix.member(), CLIENT_ID, "ONAPPINSTALL", 1);
    for field in [
        "auth[access_token]",
        "auth[refresh_token]",
        "auth[member_id]",
        "auth[application_token]",
        "data[VERSION]",
        "auth[user_id]",
    ] {
        assert!(event.get(field).is_some(), "{field} missing");
    }
    assert_eq!(
        install.get("APPLICATION_TOKEN"),
        event.get("auth[application_token]")
    );
}
