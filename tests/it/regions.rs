//! Bitrix24's two regional OAuth servers: each portal's tokens are verified, refreshed and
//! checked at the server that issued them, and a server off the allowlist is never called.

use b24_status::emulator::{Region, Server, UserSpec};
use b24_status::store::PortalState;
use serde_json::json;

use super::harness::{CLIENT_ID, Canary, TestApp, session_in, uid};

#[tokio::test]
async fn an_east_portal_lives_through_its_own_oauth_server_beside_a_west_one() {
    let app = TestApp::installed(&[]).await;
    let emulator = &app.bitrix.emulator;
    let east = emulator
        .add_portal_at(
            Region::East,
            UserSpec::new("Mei", "Lin", true),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("east portal");
    let install = emulator.begin_install(&east.member_id, CLIENT_ID, 1, "en");
    assert_eq!(app.post_form("/install", &install).await.status(), 200);
    emulator.finish_install(&east.member_id, CLIENT_ID);
    let stored = app
        .store
        .portal(&east.member_id)
        .await
        .expect("store")
        .expect("east portal stored");
    assert_eq!(
        stored.record.server_endpoint.as_str(),
        format!("{}rest/", emulator.oauth_url_of(Region::East))
    );

    let frame = emulator.frame_post(&east.member_id, CLIENT_ID, 1, "DEFAULT", "en", "");
    let east_session = session_in(
        &app.post_form("/app", &frame)
            .await
            .text()
            .await
            .expect("page"),
    );
    let west_session = app.session_of(1).await;
    emulator.expire_access_tokens(&east.member_id, 1);
    emulator.expire_access_tokens(app.member(), 1);
    for session in [&east_session, &west_session] {
        let response = app.api_put(session, json!({"status": "dnd"})).await;
        assert_eq!(response.status(), 200);
    }
    let refreshed_at = |region| {
        emulator
            .calls()
            .iter()
            .filter(|c| c.server == Server::OAuth(region) && c.method == "oauth/token")
            .map(|c| c.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(refreshed_at(Region::East), [200]);
    assert_eq!(refreshed_at(Region::West), [200]);

    let at = |region| {
        emulator
            .calls()
            .iter()
            .filter(|c| c.server == Server::OAuth(region))
            .count()
    };
    let (east_before, west_before) = (at(Region::East), at(Region::West));
    let uninstall = emulator.uninstall(&east.member_id, CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    let gone = app.store.portal(&east.member_id).await.expect("store");
    assert_eq!(gone.expect("kept").record.state, PortalState::Deleted);
    assert!(
        at(Region::East) > east_before,
        "confirmed at the east server"
    );
    assert_eq!(
        at(Region::West),
        west_before,
        "the west server was not asked"
    );
    assert_eq!(
        app.portal().await.expect("west").record.state,
        PortalState::Active
    );
    assert!(
        app.account(uid(1))
            .await
            .expect("west admin")
            .tokens
            .is_some()
    );
}

#[tokio::test]
async fn a_server_endpoint_off_the_allowlist_is_refused_before_any_call() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.install(app.member(), CLIENT_ID);
    let canary = Canary::start().await;
    let elsewhere = format!("http://{}/rest/", canary.address);
    let calls = app.bitrix.emulator.calls().len();

    let install = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "")
        .with("SERVER_ENDPOINT", &elsewhere);
    assert_eq!(app.post_form("/install", &install).await.status(), 403);
    let event = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPINSTALL", 1)
        .with("auth[server_endpoint]", &elsewhere);
    let response = app.post_form("/events", &event).await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "unknown_oauth_server");

    assert_eq!(canary.hits(), 0, "nothing was sent to it");
    assert_eq!(
        app.bitrix.emulator.calls().len(),
        calls,
        "nothing was sent anywhere"
    );
    assert_eq!(app.count("portals").await, 0);
}
