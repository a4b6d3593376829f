//! The emulator's own behaviour, checked over raw HTTP: what an app sees from a portal and the
//! OAuth server.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::emulator::{AppSpec, FaultKind, FaultTarget, Server};
use serde_json::{Value, json};

use super::harness::{Bitrix, CLIENT_ID, CLIENT_SECRET, client};

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
    assert_eq!(query["scope"], super::harness::SCOPE);
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
