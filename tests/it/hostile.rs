//! The hostile-input battery: malformed, oversized, forged and malicious requests across every
//! route. Each gets a 4xx — never a 5xx, never a panic — changes nothing in the database, and
//! sends nothing to a host taken from the request (the canary).

use b24_status::emulator::FormPost;
use b24_status::i18n::Lang;
use reqwest::Method;

use super::harness::{CLIENT_ID, Canary, TestApp, session_in, uid};

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

#[tokio::test]
async fn sixty_and_more_hostile_requests_get_4xx_change_nothing_and_never_reach_the_canary() {
    let app = TestApp::installed(&[]).await;
    let canary = Canary::start().await;
    let canary_host = canary.address.to_string();
    let session = session_in(&app.open_app_as(1, "en").await.text().await.expect("page"));
    let expired = app.state.sessions.issue(app.member(), uid(1), Lang::En, 0);
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

    let mut cases = vec![
        // POST /install
        case(
            "install: nothing at all",
            Method::POST,
            "/install",
            None,
            Vec::new(),
        ),
        case(
            "install: empty form",
            Method::POST,
            "/install",
            FORM,
            Vec::new(),
        ),
        frame("install: no AUTH_ID", "/install", &install, |_, f| {
            remove(f, "AUTH_ID")
        }),
        frame("install: no REFRESH_ID", "/install", &install, |_, f| {
            remove(f, "REFRESH_ID")
        }),
        frame("install: no member_id", "/install", &install, |_, f| {
            remove(f, "member_id")
        }),
        frame("install: no DOMAIN", "/install", &install, |q, _| {
            remove(q, "DOMAIN")
        }),
        frame("install: DOMAIN twice", "/install", &install, |q, _| {
            q.push(("DOMAIN".into(), "evil.example".into()))
        }),
        frame(
            "install: member_id in query and body",
            "/install",
            &install,
            |q, f| {
                let member = f
                    .iter()
                    .find(|(k, _)| k == "member_id")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                q.push(("member_id".into(), member));
            },
        ),
        frame(
            "install: member_id not hex",
            "/install",
            &install,
            |_, f| set(f, "member_id", "zzzz"),
        ),
        frame("install: SQL in member_id", "/install", &install, |_, f| {
            set(f, "member_id", evil_member)
        }),
        frame(
            "install: DOMAIN with scheme",
            "/install",
            &install,
            |q, _| set(q, "DOMAIN", "https://evil.example"),
        ),
        frame("install: DOMAIN with path", "/install", &install, |q, _| {
            set(q, "DOMAIN", "evil.example/rest/")
        }),
        frame("install: HTML in DOMAIN", "/install", &install, |q, _| {
            set(q, "DOMAIN", "<script>alert(1)</script>")
        }),
        frame(
            "install: header injection in DOMAIN",
            "/install",
            &install,
            |q, _| set(q, "DOMAIN", "evil.example\r\nSet-Cookie: x=1"),
        ),
        frame(
            "install: DOMAIN is the canary",
            "/install",
            &install,
            |q, _| set(q, "DOMAIN", &canary_host),
        ),
        frame(
            "install: SERVER_ENDPOINT is the canary, forged token",
            "/install",
            &install,
            |_, f| {
                set(f, "SERVER_ENDPOINT", &format!("http://{canary_host}/rest/"));
                set(f, "AUTH_ID", "forged-token-000000000000");
            },
        ),
        frame("install: forged AUTH_ID", "/install", &install, |_, f| {
            set(f, "AUTH_ID", "forged-token-111111111111")
        }),
        frame(
            "install: control characters in AUTH_ID",
            "/install",
            &install,
            |_, f| set(f, "AUTH_ID", "abc\u{0}def"),
        ),
        case(
            "install: JSON body",
            Method::POST,
            "/install",
            JSON,
            r#"{"AUTH_ID":"x"}"#,
        ),
        case(
            "install: multipart body",
            Method::POST,
            "/install",
            Some("multipart/form-data; boundary=x"),
            "--x--",
        ),
        case(
            "install: 10 MB body",
            Method::POST,
            "/install",
            FORM,
            ten_mb.clone(),
        ),
        case(
            "install: invalid UTF-8",
            Method::POST,
            "/install",
            FORM,
            invalid_utf8.clone(),
        ),
        case("install: GET", Method::GET, "/install", None, Vec::new()),
        // POST /events
        case(
            "events: JSON body",
            Method::POST,
            "/events",
            JSON,
            r#"{"event":"ONAPPUNINSTALL"}"#,
        ),
        case(
            "events: empty form",
            Method::POST,
            "/events",
            FORM,
            Vec::new(),
        ),
        case(
            "events: text/plain",
            Method::POST,
            "/events",
            Some("text/plain"),
            "event=ONAPPUNINSTALL",
        ),
        frame(
            "events: no application_token",
            "/events",
            &uninstall,
            |_, f| remove(f, "auth[application_token]"),
        ),
        frame(
            "events: wrong application_token",
            "/events",
            &uninstall,
            |_, f| {
                set(
                    f,
                    "auth[application_token]",
                    "0123456789abcdef0123456789abcdef",
                )
            },
        ),
        frame(
            "events: SQL in application_token",
            "/events",
            &uninstall,
            |_, f| set(f, "auth[application_token]", "' OR 1=1 --"),
        ),
        frame("events: unknown portal", "/events", &uninstall, |_, f| {
            set(f, "auth[member_id]", "ffffffffffffffffffffffffffffffff")
        }),
        frame("events: member_id twice", "/events", &uninstall, |_, f| {
            f.push((
                "auth[member_id]".into(),
                "ffffffffffffffffffffffffffffffff".into(),
            ))
        }),
        frame(
            "events: brackets too deep",
            "/events",
            &uninstall,
            |_, f| f.push(("auth[a][b][c][d][e][f]".into(), "x".into())),
        ),
        frame(
            "events: unbalanced bracket",
            "/events",
            &uninstall,
            |_, f| f.push(("auth[member_id".into(), "x".into())),
        ),
        frame(
            "events: ONAPPINSTALL with a forged token",
            "/events",
            &onappinstall,
            |_, f| set(f, "auth[access_token]", "forged-access-token-0000"),
        ),
        frame(
            "events: ONAPPINSTALL for the canary's domain",
            "/events",
            &onappinstall,
            |_, f| {
                set(f, "auth[domain]", &canary_host);
                set(
                    f,
                    "auth[client_endpoint]",
                    &format!("http://{canary_host}/rest/"),
                );
            },
        ),
        frame(
            "events: ONAPPINSTALL without a token",
            "/events",
            &onappinstall,
            |_, f| remove(f, "auth[access_token]"),
        ),
        frame("events: HTML in domain", "/events", &uninstall, |_, f| {
            set(f, "auth[domain]", "<b>x</b>")
        }),
        case(
            "events: 10 MB body",
            Method::POST,
            "/events",
            FORM,
            ten_mb.clone(),
        ),
        case(
            "events: invalid UTF-8",
            Method::POST,
            "/events",
            FORM,
            b"event=%FF&auth[member_id]=%FE".to_vec(),
        ),
        case("events: GET", Method::GET, "/events", None, Vec::new()),
        // POST /app
        frame("app: unknown portal", "/app", &open, |_, f| {
            set(f, "member_id", "ffffffffffffffffffffffffffffffff")
        }),
        frame("app: DOMAIN is the canary", "/app", &open, |q, _| {
            set(q, "DOMAIN", &canary_host)
        }),
        frame("app: forged AUTH_ID", "/app", &open, |_, f| {
            set(f, "AUTH_ID", "forged-token-222222222222")
        }),
        frame(
            "app: forged AUTH_ID from the canary's domain",
            "/app",
            &open,
            |q, f| {
                set(q, "DOMAIN", &canary_host);
                set(f, "AUTH_ID", "forged-token-333333333333");
            },
        ),
        frame("app: no REFRESH_ID", "/app", &open, |_, f| {
            remove(f, "REFRESH_ID")
        }),
        frame("app: AUTH_ID twice", "/app", &open, |_, f| {
            f.push(("AUTH_ID".into(), "second".into()))
        }),
        frame("app: odd PLACEMENT", "/app", &open, |_, f| {
            set(f, "PLACEMENT", "../../etc/passwd")
        }),
        frame("app: another APPLICATION_TOKEN", "/app", &open, |_, f| {
            set(f, "APPLICATION_TOKEN", "ffffffffffffffffffffffffffffffff")
        }),
        case(
            "app: JSON body",
            Method::POST,
            "/app",
            JSON,
            r#"{"AUTH_ID":"x"}"#,
        ),
        case(
            "app: 10 MB body",
            Method::POST,
            "/app",
            FORM,
            big_form.clone().into_bytes(),
        ),
        case(
            "app: invalid UTF-8",
            Method::POST,
            "/app",
            FORM,
            invalid_utf8.clone(),
        ),
        case("app: GET", Method::GET, "/app", None, Vec::new()),
        // POST /app/status
        case(
            "form: no session",
            Method::POST,
            "/app/status",
            FORM,
            "status=dnd",
        ),
        case(
            "form: forged session",
            Method::POST,
            "/app/status",
            FORM,
            format!("session={forged}&status=dnd"),
        ),
        case(
            "form: expired session",
            Method::POST,
            "/app/status",
            FORM,
            format!("session={expired}&status=dnd"),
        ),
        case(
            "form: bad status",
            Method::POST,
            "/app/status",
            FORM,
            format!("session={session}&status=DND"),
        ),
        case(
            "form: JSON body",
            Method::POST,
            "/app/status",
            JSON,
            r#"{"status":"dnd"}"#,
        ),
        case(
            "form: 10 MB body",
            Method::POST,
            "/app/status",
            FORM,
            ten_mb.clone(),
        ),
        // /api/status
        case(
            "api: GET without a session",
            Method::GET,
            "/api/status",
            None,
            Vec::new(),
        ),
        case(
            "api: DELETE",
            Method::DELETE,
            "/api/status",
            None,
            Vec::new(),
        ),
        case(
            "api: POST",
            Method::POST,
            "/api/status",
            JSON,
            r#"{"status":"dnd"}"#,
        ),
        case(
            "api: PUT 10 MB",
            Method::PUT,
            "/api/status",
            JSON,
            ten_mb.clone(),
        ),
        // /oauth
        case(
            "oauth: start without domain",
            Method::GET,
            "/oauth/start",
            None,
            Vec::new(),
        ),
        case(
            "oauth: start with a scheme",
            Method::GET,
            "/oauth/start?domain=https%3A%2F%2Fevil.example",
            None,
            Vec::new(),
        ),
        case(
            "oauth: start with CRLF",
            Method::GET,
            "/oauth/start?domain=evil.example%0D%0ALocation%3A%20x",
            None,
            Vec::new(),
        ),
        case(
            "oauth: start for the canary",
            Method::GET,
            &format!("/oauth/start?domain={canary_host}"),
            None,
            Vec::new(),
        ),
        case(
            "oauth: start with HTML",
            Method::GET,
            "/oauth/start?domain=%3Cscript%3E",
            None,
            Vec::new(),
        ),
        case(
            "oauth: callback without parameters",
            Method::GET,
            "/oauth/callback",
            None,
            Vec::new(),
        ),
        case(
            "oauth: callback with a forged state",
            Method::GET,
            &format!("/oauth/callback?code=abc&state={}", "f".repeat(64)),
            None,
            Vec::new(),
        ),
        case(
            "oauth: callback with a replayed state",
            Method::GET,
            &replayed_callback,
            None,
            Vec::new(),
        ),
        case(
            "oauth: callback with a huge state",
            Method::GET,
            &format!("/oauth/callback?code=a&state={}", "s".repeat(4000)),
            None,
            Vec::new(),
        ),
        // /static and the rest
        case(
            "static: traversal",
            Method::GET,
            "/static/..%2F..%2FCargo.toml",
            None,
            Vec::new(),
        ),
        case(
            "static: encoded dots",
            Method::GET,
            "/static/%2e%2e/src/main.rs",
            None,
            Vec::new(),
        ),
        case(
            "static: unhashed name",
            Method::GET,
            "/static/app.css",
            None,
            Vec::new(),
        ),
        case(
            "static: POST",
            Method::POST,
            "/static/app.css",
            None,
            Vec::new(),
        ),
        case(
            "unknown route",
            Method::GET,
            "/wp-admin/install.php",
            None,
            Vec::new(),
        ),
        case("health: POST", Method::POST, "/healthz", None, Vec::new()),
    ];
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
