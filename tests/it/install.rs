//! `POST /install`: verified, stored in one go, handlers bound, and refusals that change
//! nothing.

use b24_status::emulator::{AppSpec, FormPost, Region, Server};
use b24_status::store::PortalState;

use super::harness::{CLIENT_ID, Canary, TestApp, assert_page, uid};

#[tokio::test]
async fn a_genuine_install_stores_the_portal_and_admin_and_binds_handlers() {
    let app = TestApp::spawn().await;
    let response = app.install().await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains(&format!(
            "frame-ancestors http://{}",
            app.bitrix.portal.domain
        )),
        "{csp}"
    );
    assert!(response.headers().get("x-frame-options").is_none());
    let page = response.text().await.expect("page");
    assert!(page.contains("Status is installed"), "{page}");
    assert!(page.contains(r#"<script src="https://api.bitrix24.com/api/v1/" defer></script>"#));
    let install_js = page
        .split('"')
        .find(|s| s.starts_with("/static/install."))
        .expect("install script linked")
        .to_owned();
    let script = app
        .http
        .get(app.url(&install_js))
        .send()
        .await
        .expect("script");
    assert_eq!(
        script.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        script
            .text()
            .await
            .expect("js")
            .contains("BX24.installFinish()")
    );

    let portal = app.portal().await.expect("stored");
    assert_eq!(portal.record.state, PortalState::Active);
    assert_eq!(
        portal.record.client_endpoint,
        app.bitrix.portal.client_endpoint
    );
    assert!(portal.record.application_token.is_some());
    let admin = app.account(uid(1)).await.expect("stored");
    assert!(admin.is_admin && admin.is_installer);

    let placements = app.bitrix.emulator.placements(app.member(), CLIENT_ID);
    assert_eq!(placements.len(), 1, "by default only IM_NAVIGATION");
    assert_eq!(placements[0].placement, "IM_NAVIGATION");
    assert_eq!(placements[0].handler, app.url("/app"));
    assert_eq!(placements[0].options["iconName"], "fa-circle");
    assert_eq!(placements[0].lang_all["ru"]["TITLE"], "Статус");
    let mut events: Vec<_> = app
        .bitrix
        .emulator
        .events(app.member(), CLIENT_ID)
        .into_iter()
        .map(|e| (e.event, e.handler))
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("ONAPPPAYMENT".to_owned(), app.url("/events")),
            ("ONAPPUNINSTALL".to_owned(), app.url("/events")),
            ("ONAPPUPDATE".to_owned(), app.url("/events")),
            ("ONCALENDARENTRYADD".to_owned(), app.url("/events")),
            ("ONCALENDARENTRYDELETE".to_owned(), app.url("/events")),
            ("ONCALENDARENTRYUPDATE".to_owned(), app.url("/events"))
        ]
    );
    assert!(app.bitrix.emulator.is_installed(app.member(), CLIENT_ID));
}

#[tokio::test]
async fn a_placement_refused_for_a_missing_scope_is_named_for_the_administrator() {
    let app = TestApp::spawn_with(&["--placements=IM_NAVIGATION,USER_PROFILE_MENU"]).await;
    // An optional placement the portal refuses does not fail the install.
    let page = assert_page(
        app.install().await,
        200,
        "The menu entry USER_PROFILE_MENU could not be added (ERROR_PLACEMENT_NOT_FOUND).",
    )
    .await;
    assert!(page.contains("“user” permission"), "{page}");
    let placements = app.bitrix.emulator.placements(app.member(), CLIENT_ID);
    assert_eq!(placements.len(), 1);
    assert_eq!(placements[0].placement, "IM_NAVIGATION");
}

#[tokio::test]
async fn reinstalling_over_an_existing_record_is_idempotent() {
    let app = TestApp::installed(&[]).await;
    assert_eq!(
        app.install().await.status(),
        200,
        "existing bindings are not an error"
    );
    assert_eq!(app.count("portals").await, 1);
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(
        app.bitrix
            .emulator
            .placements(app.member(), CLIENT_ID)
            .len(),
        1
    );
    assert_eq!(app.bitrix.emulator.events(app.member(), CLIENT_ID).len(), 6);
}

#[tokio::test]
async fn a_forged_token_is_refused_with_403_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.snapshot().await;
    let genuine = app
        .bitrix
        .emulator
        .begin_install(app.member(), CLIENT_ID, 1, "ru");
    let forged = genuine.with("AUTH_ID", "forged0000000000000000000000000000");
    let response = app.post_form("/install", &forged).await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.expect("page");
    assert!(
        page.contains("Битрикс24 не подтвердил запрос"),
        "in the user's language: {page}"
    );
    assert_eq!(app.snapshot().await, before);
    assert!(
        app.portal_calls().is_empty(),
        "nothing was sent to the portal"
    );
}

#[tokio::test]
async fn a_token_of_another_app_is_refused() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.register_app(AppSpec {
        client_id: "app.someone.else".into(),
        client_secret: "their-secret".into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im,placement".into(),
        version: 1,
    });
    let before = app.snapshot().await;
    let foreign = app
        .bitrix
        .emulator
        .begin_install(app.member(), "app.someone.else", 1, "en");
    assert_eq!(app.post_form("/install", &foreign).await.status(), 403);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_domain_or_member_id_that_does_not_match_the_token_is_refused_and_never_called() {
    let app = TestApp::spawn().await;
    let canary = Canary::start().await;
    let before = app.snapshot().await;
    let genuine = app
        .bitrix
        .emulator
        .begin_install(app.member(), CLIENT_ID, 1, "en");
    let elsewhere = genuine.with("DOMAIN", &canary.address.to_string());
    assert_eq!(app.post_form("/install", &elsewhere).await.status(), 403);
    let spoofed_endpoint = genuine.with(
        "SERVER_ENDPOINT",
        &format!("http://{}/rest/", canary.address),
    );
    let other_member = spoofed_endpoint.with("member_id", "00000000000000000000000000000000");
    assert_eq!(app.post_form("/install", &other_member).await.status(), 403);
    assert_eq!(app.snapshot().await, before);
    assert_eq!(
        canary.hits(),
        0,
        "no request went to a host taken from the request"
    );
}

#[tokio::test]
async fn only_an_administrator_can_install() {
    let app = TestApp::spawn().await;
    let before = app.snapshot().await;
    let post =
        app.bitrix
            .emulator
            .begin_install(app.member(), CLIENT_ID, app.bitrix.employee, "de");
    let response = app.post_form("/install", &post).await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Nur ein Portal-Administrator")
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn malformed_install_posts_get_readable_4xx_pages() {
    let app = TestApp::spawn().await;
    let genuine = app
        .bitrix
        .emulator
        .begin_install(app.member(), CLIENT_ID, 1, "en");
    let without_auth = FormPost {
        query: genuine.query.clone(),
        form: genuine
            .form
            .iter()
            .filter(|(k, _)| k != "AUTH_ID")
            .cloned()
            .collect(),
    };
    let response = app.post_form("/install", &without_auth).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("could not be read")
    );
    let as_json = app
        .http
        .post(format!(
            "{}?{}",
            app.url("/install"),
            genuine.query_string()
        ))
        .json(&serde_json::json!({"AUTH_ID": "x"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(as_json.status(), 415);
    let huge = app
        .http
        .post(app.url("/install"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .expect("answer");
    assert_eq!(huge.status(), 413);
    assert_eq!(app.count("portals").await, 0);
    assert!(
        app.bitrix
            .emulator
            .calls()
            .iter()
            .all(|c| matches!(c.server, Server::OAuth(_)))
    );
}

#[tokio::test]
async fn a_portal_that_is_down_during_install_gets_a_try_again_page() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.inject(
        b24_status::emulator::FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: None,
        },
        b24_status::emulator::FaultKind::Error {
            status: 503,
            code: "SERVICE_UNAVAILABLE".into(),
        },
        1,
    );
    let response = app.install().await;
    assert_eq!(response.status(), 502);
    assert!(response.text().await.expect("page").contains("try again"));
    assert_eq!(app.count("portals").await, 0);
}
