//! The emulator against the documented facts (`docs/bitrix24.md`), checked over raw HTTP: what
//! an app sees from a portal and the OAuth servers. Here the REST methods; the OAuth server in
//! `oauth.rs`; limits, faults and the portal's life in `portal.rs`.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken expectation, and says which"
)]

mod bots;
mod harness;
mod oauth;
mod portal;
mod presence;

use bitrix24::domain::Status;
use bitrix24_emulator::AppSpec;
use serde_json::{Value, json};

use harness::{Bitrix, CLIENT_ID, client};

async fn rest(bitrix: &Bitrix, method: &str, token: &str, params: Value) -> (u16, Value) {
    let mut body = params;
    body["auth"] = json!(token);
    let response = client()
        .post(format!("{}{method}", bitrix.portal.client_endpoint))
        .json(&body)
        .send()
        .await
        .expect("portal answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// A call that must succeed; its `result`.
async fn rest_ok(bitrix: &Bitrix, method: &str, token: &str, params: Value) -> Value {
    let (status, body) = rest(bitrix, method, token, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    body["result"].clone()
}

/// A call that must fail; its HTTP status and error code.
async fn rest_err(bitrix: &Bitrix, method: &str, token: &str, params: Value) -> (u16, String) {
    let (status, body) = rest(bitrix, method, token, params).await;
    let code = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(!code.is_empty(), "{method} should have failed: {body}");
    (status, code)
}

async fn token_request(bitrix: &Bitrix, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(format!("{}oauth/token/", bitrix.emulator.oauth_url()))
        .form(form)
        .send()
        .await
        .expect("OAuth server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn auth_is_read_from_query_form_or_json_and_methods_ignore_case_and_suffix() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(1);
    let http = client();
    let base = &bitrix.portal.client_endpoint;
    let by_query = http
        .get(format!("{base}profile.json?auth={token}"))
        .send()
        .await
        .expect("query");
    assert_eq!(by_query.status(), 200);
    let by_form = http
        .post(format!("{base}PROFILE"))
        .form(&[("auth", &token)])
        .send()
        .await
        .expect("form");
    assert_eq!(by_form.status(), 200);
    let (status, body) = rest(&bitrix, "profile", &token, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["ID"], "1");
    assert_eq!(body["result"]["ADMIN"], true);
    assert_eq!(body["result"]["NAME"], "Anna");
    assert_eq!(
        rest_err(&bitrix, "profile", "", json!({})).await,
        (401, "NO_AUTH_FOUND".to_owned())
    );
}

#[tokio::test]
async fn status_is_set_exactly_and_read_back() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(bitrix.employee);
    let (status, body) = rest(&bitrix, "im.user.status.get", &token, json!({})).await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!(false)),
        "no status row yet"
    );
    for bad in ["DND", "busy", ""] {
        let (status, body) = rest(
            &bitrix,
            "im.user.status.set",
            &token,
            json!({"STATUS": bad}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("STATUS_ERROR")),
            "{bad:?}"
        );
    }
    let (status, body) = rest(
        &bitrix,
        "im.user.status.set",
        &token,
        json!({"STATUS": "dnd"}),
    )
    .await;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));
    let (_, body) = rest(&bitrix, "im.user.status.get", &token, json!({})).await;
    assert_eq!(body["result"], "dnd");
    assert_eq!(
        bitrix
            .emulator
            .user_status(bitrix.member(), bitrix.employee),
        Some(Status::Dnd)
    );
    assert_eq!(
        bitrix.emulator.user_status(bitrix.member(), 1),
        None,
        "statuses are per user"
    );
}

#[tokio::test]
async fn user_current_needs_a_user_scope_and_profile_does_not() {
    let bitrix = Bitrix::start().await;
    bitrix.emulator.register_app(AppSpec {
        client_id: "app.narrow".into(),
        client_secret: "narrow-secret".into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im".into(),
        version: 1,
    });
    bitrix.emulator.install(bitrix.member(), "app.narrow");
    let narrow = bitrix
        .emulator
        .issue_tokens(bitrix.member(), "app.narrow", 1)
        .access;
    assert_eq!(
        rest_err(&bitrix, "user.current", &narrow, json!({})).await,
        (403, "insufficient_scope".to_owned())
    );
    rest_ok(&bitrix, "profile", &narrow, json!({})).await;

    bitrix.emulator.install(bitrix.member(), CLIENT_ID);
    let wide = bitrix.access_token(1);
    let (status, body) = rest(&bitrix, "user.current", &wide, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["LAST_NAME"], "Admin");
}

#[tokio::test]
async fn placements_are_admin_only_need_their_scope_and_are_listed() {
    let bitrix = Bitrix::installed().await;
    let admin = bitrix.access_token(1);
    let employee = bitrix.access_token(bitrix.employee);
    let bind = json!({"PLACEMENT": "IM_NAVIGATION", "HANDLER": "https://app.example/app",
        "TITLE": "Status", "OPTIONS": {"iconName": "fa-circle"}, "LANG_ALL": {"ru": {"TITLE": "Статус"}}});
    assert_eq!(
        rest_err(&bitrix, "placement.bind", &employee, bind.clone()).await,
        (403, "ACCESS_DENIED".to_owned())
    );
    assert_eq!(
        rest(&bitrix, "placement.bind", &admin, bind.clone())
            .await
            .0,
        200
    );
    let (status, body) = rest(&bitrix, "placement.bind", &admin, bind).await;
    assert_eq!(status, 400, "a second identical binding is refused: {body}");
    // USER_PROFILE_MENU needs the `user` scope, which this app lacks (it has user_brief).
    let (status, body) = rest(
        &bitrix,
        "placement.bind",
        &admin,
        json!({"PLACEMENT": "USER_PROFILE_MENU", "HANDLER": "https://app.example/app"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ERROR_PLACEMENT_NOT_FOUND"))
    );
    let (status, body) = rest(
        &bitrix,
        "placement.bind",
        &admin,
        json!({"PLACEMENT": "LEFT_MENU"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ERROR_ARGUMENT"))
    );

    let (_, body) = rest(&bitrix, "placement.get", &admin, json!({})).await;
    assert_eq!(body["result"][0]["placement"], "IM_NAVIGATION");
    assert_eq!(body["result"][0]["langAll"]["ru"]["TITLE"], "Статус");
    let bound = bitrix.emulator.placements(bitrix.member(), CLIENT_ID);
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0].options["iconName"], "fa-circle");
    let (_, body) = rest(
        &bitrix,
        "placement.unbind",
        &admin,
        json!({"PLACEMENT": "IM_NAVIGATION"}),
    )
    .await;
    assert_eq!(body["result"]["count"], 1);
    assert!(
        bitrix
            .emulator
            .placements(bitrix.member(), CLIENT_ID)
            .is_empty()
    );
}

#[tokio::test]
async fn events_bind_once_and_unbind() {
    let bitrix = Bitrix::installed().await;
    let admin = bitrix.access_token(1);
    let bind = json!({"event": "ONAPPUNINSTALL", "handler": "https://app.example/events"});
    assert_eq!(
        rest(&bitrix, "event.bind", &admin, bind.clone()).await.0,
        200
    );
    assert_eq!(
        rest_err(&bitrix, "event.bind", &admin, bind).await,
        (400, "ERROR_HANDLER_ALREADY_EXIST".to_owned())
    );
    let (status, body) = rest(
        &bitrix,
        "event.bind",
        &admin,
        json!({"event": "ONNOTHING", "handler": "https://x/"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ERROR_EVENT_NOT_FOUND"))
    );
    let (_, body) = rest(&bitrix, "event.get", &admin, json!({})).await;
    assert_eq!(body["result"][0]["event"], "ONAPPUNINSTALL");
    let (_, body) = rest(
        &bitrix,
        "event.unbind",
        &admin,
        json!({"event": "ONAPPUNINSTALL", "handler": "https://app.example/events"}),
    )
    .await;
    assert_eq!(body["result"]["count"], 1);
    assert!(
        bitrix
            .emulator
            .events(bitrix.member(), CLIENT_ID)
            .is_empty()
    );
}

#[tokio::test]
async fn batch_runs_commands_reports_errors_and_refuses_nesting() {
    let bitrix = Bitrix::installed().await;
    let token = bitrix.access_token(1);
    let (status, body) = rest(
        &bitrix,
        "batch",
        &token,
        json!({"halt": 0, "cmd": {
            "set": "im.user.status.set?STATUS=away",
            "get": "im.user.status.get",
            "who": "profile",
            "bad": "im.user.status.set?STATUS=AWAY",
            "nested": "batch",
        }}),
    )
    .await;
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_eq!(result["result"]["set"], true);
    assert_eq!(result["result"]["get"], "away");
    assert_eq!(result["result"]["who"]["ID"], "1");
    assert_eq!(result["result_error"]["bad"]["error"], "STATUS_ERROR");
    assert_eq!(
        result["result_error"]["nested"]["error"],
        "ERROR_BATCH_METHOD_NOT_ALLOWED"
    );

    let too_many: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("c{i}"), json!("profile")))
        .collect();
    assert_eq!(
        rest_err(&bitrix, "batch", &token, json!({"cmd": too_many})).await,
        (400, "ERROR_BATCH_LENGTH_EXCEEDED".to_owned())
    );
}
