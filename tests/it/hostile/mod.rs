//! The hostile-input battery: malformed, oversized, forged and malicious requests across every
//! route. Each gets a 4xx — never a 5xx, never a panic — changes nothing in the database, and
//! sends nothing to a host taken from the request (the canary).

use b24_status::emulator::FormPost;
use b24_status::i18n::Lang;
use reqwest::Method;

use super::harness::{CLIENT_ID, Canary, TestApp, session_in, uid};

mod board;
mod pages;
mod portal_posts;

struct Case {
    name: String,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    bearer: Option<String>,
}

fn case(
    name: &str,
    method: Method,
    path: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        name: name.to_owned(),
        method,
        path: path.to_owned(),
        content_type,
        body: body.into(),
        bearer: None,
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A frame-style POST to `path` built from `post`, with `edit` applied to its fields.
fn frame(
    name: &str,
    path: &str,
    post: &FormPost,
    edit: impl Fn(&mut Vec<(String, String)>, &mut Vec<(String, String)>),
) -> Case {
    let (mut query, mut form) = (post.query.clone(), post.form.clone());
    edit(&mut query, &mut form);
    case(
        name,
        Method::POST,
        &format!("{path}?{}", encode(&query)),
        FORM,
        encode(&form),
    )
}

fn set(fields: &mut [(String, String)], key: &str, value: &str) {
    for (k, v) in fields.iter_mut() {
        if k == key {
            *v = value.to_owned();
        }
    }
}

fn remove(fields: &mut Vec<(String, String)>, key: &str) {
    fields.retain(|(k, _)| k != key);
}

/// What the cases are built from.
struct Ctx {
    canary_host: String,
    session: String,
    expired: String,
    forged: String,
    other_user: String,
    replayed_callback: String,
    install: FormPost,
    open: FormPost,
    uninstall: FormPost,
    onappinstall: FormPost,
    ten_mb: Vec<u8>,
    invalid_utf8: Vec<u8>,
    big_form: String,
    evil_member: &'static str,
}

#[tokio::test]
async fn sixty_and_more_hostile_requests_get_4xx_change_nothing_and_never_reach_the_canary() {
    let app = TestApp::installed(&[]).await;
    let canary = Canary::start().await;
    let canary_host = canary.address.to_string();
    let session = session_in(&app.open_app_as(1, "en").await.text().await.expect("page"));
    let expired = app
        .state
        .sessions
        .begin(app.member(), uid(1), Lang::En, 0, 0);
    let mut forged = session.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let other_user = session.replacen(".1.", ".2.", 1);

    // A used OAuth state, for the replay case.
    let start = app
        .http
        .get(app.url(&format!("/oauth/start?domain={}", app.bitrix.portal.domain)))
        .send()
        .await
        .expect("start");
    let authorize = start.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let callback = app
        .http
        .get(&authorize)
        .send()
        .await
        .expect("authorize")
        .headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        app.http
            .get(&callback)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("callback")
            .status(),
        200
    );
    let replayed_callback = callback.replacen(&app.url(""), "", 1);

    let install = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let open = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let uninstall = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPUNINSTALL", 0);
    let onappinstall = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPINSTALL", 1);
    let ten_mb = vec![b'a'; 10 * 1024 * 1024];
    let invalid_utf8 = b"DOMAIN=%FF%FE&member_id=%C3%28".to_vec();
    let big_form = format!("AUTH_ID={}", "x".repeat(10 * 1024 * 1024));
    let evil_member = "0123456789abcdef0123456789abcdef' OR '1'='1";

    let ctx = Ctx {
        canary_host,
        session,
        expired,
        forged,
        other_user,
        replayed_callback,
        install,
        open,
        uninstall,
        onappinstall,
        ten_mb,
        invalid_utf8,
        big_form,
        evil_member,
    };
    let mut cases = portal_posts::cases(&ctx);
    cases.extend(pages::cases(&ctx));
    cases.extend(board::cases(&ctx));
    let Ctx {
        session,
        expired,
        forged,
        other_user,
        ..
    } = ctx;
    let bearer = |name: &str, token: &str, method: Method, body: &str| Case {
        bearer: Some(token.to_owned()),
        ..case(name, method, "/api/status", JSON, body)
    };
    cases.extend([
        bearer("api: GET with garbage bearer", "garbage", Method::GET, ""),
        bearer("api: GET with forged session", &forged, Method::GET, ""),
        bearer("api: GET with expired session", &expired, Method::GET, ""),
        bearer(
            "api: PUT as another user (edited token)",
            &other_user,
            Method::PUT,
            r#"{"status":"dnd"}"#,
        ),
        bearer(
            "api: PUT invalid status",
            &session,
            Method::PUT,
            r#"{"status":"DND"}"#,
        ),
        bearer(
            "api: PUT SQL as status",
            &session,
            Method::PUT,
            r#"{"status":"dnd'; DROP TABLE accounts;--"}"#,
        ),
        bearer(
            "api: PUT HTML as status",
            &session,
            Method::PUT,
            r#"{"status":"<script>alert(1)</script>"}"#,
        ),
        bearer(
            "api: PUT a number",
            &session,
            Method::PUT,
            r#"{"status":3}"#,
        ),
        bearer(
            "api: PUT malformed JSON",
            &session,
            Method::PUT,
            r#"{"status":"#,
        ),
        bearer("api: PUT an array", &session, Method::PUT, r#"["dnd"]"#),
        Case {
            content_type: Some("text/plain"),
            ..bearer(
                "api: PUT text/plain",
                &session,
                Method::PUT,
                r#"{"status":"dnd"}"#,
            )
        },
    ]);
    let schedule = |name: &str, body: &str| Case {
        path: "/api/schedule".into(),
        ..bearer(name, &session, Method::PUT, body)
    };
    cases.extend([
        schedule(
            "schedule api: overlapping rules",
            r#"{"time_zone":"UTC","rules":[{"days":["mon"],"from":"09:00","to":"11:00","status":"dnd"},{"days":["mon"],"from":"10:00","to":"12:00","status":"away"}]}"#,
        ),
        schedule(
            "schedule api: SQL as the zone",
            r#"{"time_zone":"UTC'; DROP TABLE schedules;--","rules":[]}"#,
        ),
        schedule(
            "schedule api: a path as the zone",
            r#"{"time_zone":"../../../../etc/passwd","rules":[]}"#,
        ),
        schedule(
            "schedule api: HTML as a day",
            r#"{"time_zone":"UTC","rules":[{"days":["<b>mon</b>"],"from":"09:00","to":"11:00","status":"dnd"}]}"#,
        ),
        schedule(
            "schedule api: 25:00",
            r#"{"time_zone":"UTC","rules":[{"days":["mon"],"from":"09:00","to":"25:00","status":"dnd"}]}"#,
        ),
        schedule("schedule api: rules not a list", r#"{"time_zone":"UTC","rules":{}}"#),
        schedule("schedule api: an array", r#"[]"#),
        Case {
            content_type: Some("text/plain"),
            ..schedule("schedule api: text/plain", r#"{"time_zone":"UTC","rules":[]}"#)
        },
    ]);
    cases.push(Case {
        name: "api: basic auth instead of bearer".into(),
        method: Method::GET,
        path: "/api/status".into(),
        content_type: None,
        body: Vec::new(),
        bearer: None,
    });
    assert!(cases.len() >= 60, "{} cases", cases.len());
    eprintln!("hostile battery: {} requests", cases.len());

    let before = app.snapshot().await;
    let calls_before = app.portal_calls().len();
    for case in &cases {
        let mut request = app
            .http
            .request(case.method.clone(), app.url(&case.path))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(token) = &case.bearer {
            request = request.bearer_auth(token);
        } else if case.name.contains("basic auth") {
            request = request.basic_auth("admin", Some("admin"));
        }
        let status = match request.send().await {
            Ok(response) => response.status().as_u16(),
            // An oversized body may be cut off while it is still being sent: that is a refusal too.
            Err(error) if case.body.len() > 1024 * 1024 => {
                assert!(!error.is_timeout(), "{}: {error}", case.name);
                413
            }
            Err(error) => panic!("{}: {error}", case.name),
        };
        assert!(
            (400..500).contains(&status),
            "{}: answered {status}",
            case.name
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a hostile request changed the database"
    );
    assert_eq!(
        canary.hits(),
        0,
        "a request reached a host taken from the request"
    );
    let forged_calls = app.portal_calls().len() - calls_before;
    assert!(
        forged_calls <= 4,
        "only the forged tokens reached the stored portal ({forged_calls} calls)"
    );
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("alive")
            .status(),
        200
    );
}
