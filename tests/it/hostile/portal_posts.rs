//! Hostile posts to the routes a portal posts to: `/install` and `/events`.

use reqwest::Method;

use super::{Case, Ctx, FORM, JSON, case, frame, remove, set};

pub(super) fn cases(ctx: &Ctx) -> Vec<Case> {
    let Ctx {
        canary_host,
        install,
        uninstall,
        onappinstall,
        ten_mb,
        invalid_utf8,
        evil_member,
        ..
    } = ctx;
    vec![
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
        frame("install: no AUTH_ID", "/install", install, |_, f| {
            remove(f, "AUTH_ID")
        }),
        frame("install: no REFRESH_ID", "/install", install, |_, f| {
            remove(f, "REFRESH_ID")
        }),
        frame("install: no member_id", "/install", install, |_, f| {
            remove(f, "member_id")
        }),
        frame("install: no DOMAIN", "/install", install, |q, _| {
            remove(q, "DOMAIN")
        }),
        frame("install: DOMAIN twice", "/install", install, |q, _| {
            q.push(("DOMAIN".into(), "evil.example".into()))
        }),
        frame(
            "install: member_id in query and body",
            "/install",
            install,
            |q, f| {
                let member = f
                    .iter()
                    .find(|(k, _)| k == "member_id")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                q.push(("member_id".into(), member));
            },
        ),
        frame("install: member_id not hex", "/install", install, |_, f| {
            set(f, "member_id", "zzzz")
        }),
        frame("install: SQL in member_id", "/install", install, |_, f| {
            set(f, "member_id", evil_member)
        }),
        frame(
            "install: DOMAIN with scheme",
            "/install",
            install,
            |q, _| set(q, "DOMAIN", "https://evil.example"),
        ),
        frame("install: DOMAIN with path", "/install", install, |q, _| {
            set(q, "DOMAIN", "evil.example/rest/")
        }),
        frame("install: HTML in DOMAIN", "/install", install, |q, _| {
            set(q, "DOMAIN", "<script>alert(1)</script>")
        }),
        frame(
            "install: header injection in DOMAIN",
            "/install",
            install,
            |q, _| set(q, "DOMAIN", "evil.example\r\nSet-Cookie: x=1"),
        ),
        frame(
            "install: DOMAIN is the canary",
            "/install",
            install,
            |q, _| set(q, "DOMAIN", canary_host),
        ),
        frame(
            "install: SERVER_ENDPOINT is the canary, forged token",
            "/install",
            install,
            |_, f| {
                set(f, "SERVER_ENDPOINT", &format!("http://{canary_host}/rest/"));
                set(f, "AUTH_ID", "forged-token-000000000000");
            },
        ),
        frame("install: forged AUTH_ID", "/install", install, |_, f| {
            set(f, "AUTH_ID", "forged-token-111111111111")
        }),
        frame(
            "install: control characters in AUTH_ID",
            "/install",
            install,
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
            uninstall,
            |_, f| remove(f, "auth[application_token]"),
        ),
        frame(
            "events: wrong application_token",
            "/events",
            uninstall,
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
            uninstall,
            |_, f| set(f, "auth[application_token]", "' OR 1=1 --"),
        ),
        frame("events: unknown portal", "/events", uninstall, |_, f| {
            set(f, "auth[member_id]", "ffffffffffffffffffffffffffffffff")
        }),
        frame("events: member_id twice", "/events", uninstall, |_, f| {
            f.push((
                "auth[member_id]".into(),
                "ffffffffffffffffffffffffffffffff".into(),
            ))
        }),
        frame("events: brackets too deep", "/events", uninstall, |_, f| {
            f.push(("auth[a][b][c][d][e][f]".into(), "x".into()))
        }),
        frame(
            "events: unbalanced bracket",
            "/events",
            uninstall,
            |_, f| f.push(("auth[member_id".into(), "x".into())),
        ),
        frame(
            "events: ONAPPINSTALL with a forged token",
            "/events",
            onappinstall,
            |_, f| set(f, "auth[access_token]", "forged-access-token-0000"),
        ),
        frame(
            "events: ONAPPINSTALL for the canary's domain",
            "/events",
            onappinstall,
            |_, f| {
                set(f, "auth[domain]", canary_host);
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
            onappinstall,
            |_, f| remove(f, "auth[access_token]"),
        ),
        frame("events: HTML in domain", "/events", uninstall, |_, f| {
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
    ]
}
