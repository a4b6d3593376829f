//! `POST /app` and `POST /app/status`: the page each user sees inside the portal.

use b24_status::domain::Status;
use b24_status::emulator::UserSpec;

use super::harness::{CLIENT_ID, Canary, TestApp, session_in, uid};

#[tokio::test]
async fn a_genuine_frame_post_shows_the_users_status_in_their_language() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    app.bitrix
        .emulator
        .issue_tokens(app.member(), CLIENT_ID, employee);
    let response = app.open_app_as(employee, "ru").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(
        csp.contains(&format!(
            "frame-ancestors http://{}",
            app.bitrix.portal.domain
        )),
        "{csp}"
    );
    assert!(
        csp.contains("script-src 'self' https://api.bitrix24.com"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert!(headers.get("x-frame-options").is_none());
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let page = response.text().await.expect("page");
    assert!(page.contains(r#"<html lang="ru">"#));
    assert!(page.contains("Ваш статус в мессенджере"));
    assert!(page.contains("Boris Ivanov"));
    assert!(!session_in(&page).is_empty());
    // No status set yet: online is marked current.
    assert!(
        page.contains(r#"value="online" class="b24s-status b24s-status--online is-current""#),
        "{page}"
    );
    assert_eq!(page.matches(r#"aria-checked="true""#).count(), 1);

    let account = app.account(uid(employee)).await.expect("stored");
    assert!(!account.is_admin && account.tokens.is_some());
    let methods: Vec<_> = app
        .portal_calls()
        .into_iter()
        .filter(|c| c.user_id == Some(employee))
        .map(|c| c.method)
        .collect();
    assert_eq!(methods, ["batch"], "one round trip to the portal");
}

#[tokio::test]
async fn the_current_status_is_read_from_bitrix24() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    assert_eq!(
        app.api_put(&session, serde_json::json!({"status": "away"}))
            .await
            .status(),
        200
    );
    let page = app.open_app_as(1, "de").await.text().await.expect("page");
    assert!(page.contains(r#"value="away" class="b24s-status b24s-status--away is-current""#));
    assert!(page.contains("Ihr Messenger-Status"));
    assert!(
        page.contains("Der neue Bitrix24-Messenger zeigt nur"),
        "explains what the messenger shows"
    );
}

#[tokio::test]
async fn frame_posts_that_do_not_check_out_are_refused_readably_and_store_nothing() {
    let app = TestApp::installed(&[]).await;
    let canary = Canary::start().await;
    let genuine = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let before = app.snapshot().await;
    let calls_before = app.portal_calls().len();

    let unknown = genuine.with("member_id", "00000000000000000000000000000000");
    let response = app.post_form("/app", &unknown).await;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Ask your portal administrator to install")
    );

    let elsewhere = genuine.with("DOMAIN", &canary.address.to_string());
    assert_eq!(app.post_form("/app", &elsewhere).await.status(), 403);

    let forged = genuine.with("AUTH_ID", "forged-forged-forged-forged");
    let response = app.post_form("/app", &forged).await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Open the app again")
    );

    let rekeyed = genuine.with("APPLICATION_TOKEN", "ffffffffffffffffffffffffffffffff");
    assert_eq!(app.post_form("/app", &rekeyed).await.status(), 403);

    assert_eq!(app.snapshot().await, before);
    assert_eq!(canary.hits(), 0);
    assert_eq!(
        app.portal_calls().len(),
        calls_before,
        "nothing reached the portal: the OAuth server refused the forged token first"
    );
}

#[tokio::test]
async fn a_portal_that_uninstalled_the_app_tells_users_what_to_do() {
    let app = TestApp::installed(&[]).await;
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    app.bitrix.emulator.install(app.member(), CLIENT_ID);
    let response = app.open_app_as(1, "ru").await;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Попросите администратора портала")
    );
}

#[tokio::test]
async fn markup_from_the_request_and_from_bitrix24_is_inert() {
    let app = TestApp::installed(&[]).await;
    let evil = app.bitrix.emulator.add_user(
        app.member(),
        UserSpec::new(
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(2)>",
            false,
        ),
    );
    let post = app.bitrix.emulator.frame_post(
        app.member(),
        CLIENT_ID,
        evil,
        "IM_NAVIGATION",
        "<script>alert(3)</script>",
        r#"{"URI":"<script>alert(4)</script>"}"#,
    );
    let response = app.post_form("/app", &post).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.contains("&lt;script&gt;alert(1)"),
        "{page}"
    );
    assert!(
        page.contains(r#"<html lang="en">"#),
        "an odd LANG falls back to English"
    );
}

#[tokio::test]
async fn the_form_sets_the_status_without_any_script() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    let response = app
        .http
        .post(app.url("/app/status"))
        .form(&[("session", session.as_str()), ("status", "dnd")])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    assert!(page.contains("Status set: Do not disturb"), "{page}");
    assert!(page.contains(r#"value="dnd" class="b24s-status b24s-status--dnd is-current""#));
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Dnd)
    );

    let forged = app
        .http
        .post(app.url("/app/status"))
        .form(&[("session", "v1.forged"), ("status", "away")])
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status(), 401);
    let bad = app
        .http
        .post(app.url("/app/status"))
        .form(&[("session", session.as_str()), ("status", "DND")])
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), 1),
        Some(Status::Dnd)
    );
}

#[tokio::test]
async fn static_files_are_hashed_cached_and_not_traversable() {
    let app = TestApp::installed(&[]).await;
    let page = app.open_app_as(1, "en").await.text().await.expect("page");
    let css = page
        .split('"')
        .find(|s| s.starts_with("/static/app.") && s.ends_with(".css"))
        .expect("css");
    let response = app.http.get(app.url(css)).send().await.expect("css");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    for bad in [
        "/static/app.css",
        "/static/..%2F..%2FCargo.toml",
        "/static/%2e%2e/src/main.rs",
        "/static/",
    ] {
        let response = app.http.get(app.url(bad)).send().await.expect("answer");
        assert_eq!(response.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn bitrix24s_own_language_codes_get_their_language() {
    use b24_status::i18n::Lang;
    let app = TestApp::installed(&[]).await;
    for (code, html, lang) in [
        ("ua", "uk", Lang::Uk),
        ("la", "es", Lang::Es),
        ("br", "pt-BR", Lang::PtBr),
        ("kz", "ru", Lang::Ru),
        ("tr", "tr", Lang::Tr),
        ("ja", "en", Lang::En),
    ] {
        let page = app.open_app_as(1, code).await.text().await.expect("page");
        assert!(page.contains(&format!(r#"<html lang="{html}""#)), "{code}");
        assert!(page.contains(lang.text().page_title), "{code}");
    }
}

#[tokio::test]
async fn a_page_open_with_an_unchanged_pair_still_records_changed_administrator_rights() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let emulator = &app.bitrix.emulator;
    emulator.issue_tokens(app.member(), CLIENT_ID, employee);
    // The portal hands the same pair on every open until it rotates it.
    let post = emulator.frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
    assert_eq!(app.post_form("/app", &post).await.status(), 200);
    let before = app.account(uid(employee)).await.expect("stored");
    assert!(!before.is_admin);

    emulator.set_admin(app.member(), employee, true);
    assert_eq!(app.post_form("/app", &post).await.status(), 200);
    let after = app.account(uid(employee)).await.expect("stored");
    assert!(after.is_admin, "the stored flag follows the portal's");
}
