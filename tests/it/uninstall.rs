//! Uninstalls are confirmed with the OAuth server, never believed from the event alone: a
//! forged one changes nothing, a genuine one stops every instance, one that cannot be
//! confirmed suspends the portal, and one that never arrived is found by reconciliation.

use std::time::Duration;

use b24_status::emulator::{FaultKind, FaultTarget, FormPost, Region, Server};
use b24_status::store::PortalState;
use b24_status::tokens::keepalive::KeepaliveSettings;
use serde_json::json;

use super::harness::{CLIENT_ID, TestApp, assert_page, session_in, uid};
use super::process::{AppProcess, free_port};

/// The `ONAPPUNINSTALL` an employee can build from what their own browser received: the frame
/// POST's `APPLICATION_TOKEN`, `member_id` and `DOMAIN`.
fn forged_uninstall(frame: &FormPost, clean: bool) -> FormPost {
    let field = |name: &str| frame.get(name).expect("frame field").to_owned();
    FormPost {
        query: Vec::new(),
        form: vec![
            ("event".into(), "ONAPPUNINSTALL".into()),
            ("data[CLEAN]".into(), if clean { "1" } else { "0" }.into()),
            ("auth[domain]".into(), field("DOMAIN")),
            ("auth[member_id]".into(), field("member_id")),
            ("auth[application_token]".into(), field("APPLICATION_TOKEN")),
        ],
    }
}

#[tokio::test]
async fn an_employee_forging_an_uninstall_from_their_frame_post_changes_nothing() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let frame =
        app.bitrix
            .emulator
            .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
    let page = app.post_form("/app", &frame).await;
    let session = session_in(&page.text().await.expect("page"));
    // Every access token has expired: the check must refresh the pair it asks with, and keep
    // what it got.
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    app.bitrix
        .emulator
        .expire_access_tokens(app.member(), employee);
    let generations = async || {
        let admin = app.account(uid(1)).await.expect("admin kept");
        let user = app.account(uid(employee)).await.expect("employee kept");
        assert!(admin.tokens.is_some() && user.tokens.is_some());
        admin.generation + user.generation
    };
    let before = generations().await;
    let refreshes = app.bitrix.emulator.refresh_count();

    let response = app
        .post_form("/events", &forged_uninstall(&frame, true))
        .await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "still_installed");

    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.state, PortalState::Active);
    assert!(portal.removing_since.is_none());
    assert_eq!(app.count("accounts").await, 2, "no row deleted");
    assert_eq!(
        app.bitrix.emulator.refresh_count(),
        refreshes + 1,
        "one check"
    );
    assert_eq!(
        generations().await,
        before + 1,
        "the pair the check refreshed was stored"
    );
    assert_eq!(
        app.set_status(&session, "dnd").await,
        200,
        "the portal keeps working"
    );
    let admin_session = app.session_of(1).await;
    assert_eq!(app.set_status(&admin_session, "away").await, 200);
}

#[tokio::test]
async fn a_genuine_uninstall_stops_this_process_at_once_and_another_within_a_second() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    let other = AppProcess::start(&app.bitrix, &app.db, free_port(), "other", &[]).await;
    let put_other = |status: &'static str| {
        let (http, url, session) = (app.http.clone(), other.url.clone(), session.clone());
        async move {
            http.put(format!("{url}/api/status"))
                .bearer_auth(&session)
                .json(&json!({"status": status}))
                .send()
                .await
                .expect("the other instance answers")
                .status()
                .as_u16()
        }
    };
    // Both instances hold the employee's pair in memory.
    assert_eq!(app.set_status(&session, "dnd").await, 200);
    assert_eq!(put_other("away").await, 200);

    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    let calls_after_uninstall = app.portal_calls().len();
    assert_eq!(
        app.set_status(&session, "online").await,
        404,
        "this process stops at once"
    );
    // The other instance checks its cached pairs against the database at least once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(put_other("online").await, 404);
    assert_eq!(put_other("break").await, 404);
    assert_eq!(
        app.portal_calls().len(),
        calls_after_uninstall,
        "no request with the portal's tokens left either instance"
    );
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.state, PortalState::Deleted);
}

#[tokio::test]
async fn an_uninstall_the_oauth_server_cannot_confirm_suspends_the_portal_until_it_can() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    let uninstall = app.bitrix.emulator.uninstall(app.member(), CLIENT_ID, true);
    let oauth_down = FaultTarget {
        server: Some(Server::OAuth(Region::West)),
        method: None,
    };
    let unavailable = FaultKind::Error {
        status: 503,
        code: "INTERNAL_SERVER_ERROR".into(),
    };
    app.bitrix.emulator.inject(oauth_down, unavailable, 100);

    let response = app.post_form("/events", &uninstall).await;
    assert_eq!(response.status(), 202);
    assert!(app.portal().await.expect("kept").removing_since.is_some());
    assert_eq!(app.count("accounts").await, 2, "nothing deleted yet");
    let calls = app.portal_calls().len();
    let answer = app.api_put(&session, json!({"status": "dnd"})).await;
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(body["error"], "being_removed");
    assert_page(app.open_app_as(1, "de").await, 503, "wird gerade").await;
    assert_eq!(
        app.portal_calls().len(),
        calls,
        "no call with a suspended portal's tokens"
    );

    app.bitrix.emulator.clear_faults();
    let removed = app
        .state
        .portals
        .jobs()
        .reconcile()
        .await
        .expect("reconciled");
    assert_eq!(removed, 1);
    assert_eq!(
        app.count("portals").await,
        0,
        "data[CLEAN]=1 was remembered"
    );
}

#[tokio::test]
async fn a_suspension_is_lifted_when_the_app_turns_out_to_be_installed() {
    let app = TestApp::installed(&[]).await;
    let frame = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let session = session_in(
        &app.post_form("/app", &frame)
            .await
            .text()
            .await
            .expect("page"),
    );
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: None,
        },
        FaultKind::Error {
            status: 503,
            code: "INTERNAL_SERVER_ERROR".into(),
        },
        100,
    );
    let response = app
        .post_form("/events", &forged_uninstall(&frame, false))
        .await;
    assert_eq!(response.status(), 202);
    app.bitrix.emulator.clear_faults();
    assert_eq!(
        app.state.portals.jobs().reconcile().await.expect("checked"),
        0
    );
    let portal = app.portal().await.expect("kept");
    assert!(portal.removing_since.is_none());
    assert_eq!(portal.record.state, PortalState::Active);
    assert_eq!(app.set_status(&session, "dnd").await, 200);
}

#[tokio::test]
async fn a_lost_uninstall_event_is_noticed_by_the_next_background_pass() {
    let app = TestApp::installed(&[]).await;
    app.session_of(app.bitrix.employee).await;
    // Bitrix24 revokes the tokens; the event never reaches us.
    let _lost = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    let settings = KeepaliveSettings {
        max_age: Duration::ZERO,
        min_per_second: 1000.0,
        ..KeepaliveSettings::default()
    };
    app.state.clock.advance(Duration::from_secs(60));
    let pass = app.state.portals.jobs().background_pass(&settings).await;
    assert_eq!(pass.keepalive.failed, 2, "both pairs are refused");
    assert_eq!(pass.removed, 1);
    let portal = app.portal().await.expect("kept");
    assert_eq!(portal.record.state, PortalState::Deleted);
    assert!(app.account(uid(1)).await.expect("row").tokens.is_none());
}

#[tokio::test]
async fn a_portal_with_one_dead_pair_but_a_working_one_is_kept() {
    let app = TestApp::installed(&[]).await;
    app.session_of(app.bitrix.employee).await;
    let employee = uid(app.bitrix.employee);
    let account = app.account(employee).await.expect("employee");
    app.store
        .mark_needs_reauth(app.member(), employee, account.generation, 0)
        .await
        .expect("marked");
    assert_eq!(
        app.state.portals.jobs().reconcile().await.expect("checked"),
        0
    );
    assert_eq!(
        app.portal().await.expect("kept").record.state,
        PortalState::Active
    );
}

#[tokio::test]
async fn an_update_binds_the_handlers_bitrix24_removed_again() {
    let app = TestApp::installed(&[]).await;
    let event = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 2, 1);
    assert!(
        app.bitrix
            .emulator
            .events(app.member(), CLIENT_ID)
            .is_empty(),
        "the update removed our handlers"
    );
    assert_eq!(app.post_form("/events", &event).await.status(), 200);
    let events: Vec<String> = app
        .bitrix
        .emulator
        .events(app.member(), CLIENT_ID)
        .into_iter()
        .map(|b| b.event)
        .collect();
    assert_eq!(
        events,
        [
            "ONAPPUNINSTALL",
            "ONAPPUPDATE",
            "ONAPPPAYMENT",
            "ONCALENDARENTRYADD",
            "ONCALENDARENTRYUPDATE",
            "ONCALENDARENTRYDELETE"
        ]
    );
    assert_eq!(
        app.portal().await.expect("kept").record.app_version,
        Some(2)
    );
    // Delivered twice, it binds nothing twice.
    let again = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPUPDATE", 1);
    assert_eq!(app.post_form("/events", &again).await.status(), 200);
    assert_eq!(app.bitrix.emulator.events(app.member(), CLIENT_ID).len(), 6);
}

#[tokio::test]
async fn an_uninstall_the_oauth_server_leaves_hanging_is_suspended_not_lost() {
    let app = TestApp::installed(&[]).await;
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: None,
        },
        FaultKind::Delay(Duration::from_secs(60)),
        10,
    );
    // Before the app's own 30 s request timeout could drop the event, it is suspended.
    let response = app
        .http
        .post(app.url("/events"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(uninstall.body())
        .timeout(Duration::from_secs(40))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 202);
    assert!(app.portal().await.expect("kept").removing_since.is_some());
    // A second, forged copy adds no work and changes nothing.
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 202);
}
