//! Hostile requests to the pages, the API, the OAuth routes and the rest.

use reqwest::Method;

use super::{Case, Ctx, FORM, JSON, case, frame, remove, set};

pub(super) fn cases(ctx: &Ctx) -> Vec<Case> {
    let Ctx {
        canary_host,
        session,
        expired,
        forged,
        replayed_callback,
        open,
        ten_mb,
        invalid_utf8,
        big_form,
        ..
    } = ctx;
    vec![
        // POST /app
        frame("app: unknown portal", "/app", open, |_, f| {
            set(f, "member_id", "ffffffffffffffffffffffffffffffff")
        }),
        frame("app: DOMAIN is the canary", "/app", open, |q, _| {
            set(q, "DOMAIN", canary_host)
        }),
        frame("app: forged AUTH_ID", "/app", open, |_, f| {
            set(f, "AUTH_ID", "forged-token-222222222222")
        }),
        frame(
            "app: forged AUTH_ID from the canary's domain",
            "/app",
            open,
            |q, f| {
                set(q, "DOMAIN", canary_host);
                set(f, "AUTH_ID", "forged-token-333333333333");
            },
        ),
        frame("app: no REFRESH_ID", "/app", open, |_, f| {
            remove(f, "REFRESH_ID")
        }),
        frame("app: AUTH_ID twice", "/app", open, |_, f| {
            f.push(("AUTH_ID".into(), "second".into()))
        }),
        frame("app: odd PLACEMENT", "/app", open, |_, f| {
            set(f, "PLACEMENT", "../../etc/passwd")
        }),
        frame("app: another APPLICATION_TOKEN", "/app", open, |_, f| {
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
        // POST /app/schedule
        case(
            "schedule form: no session",
            Method::POST,
            "/app/schedule",
            FORM,
            "action=remove&rule=1",
        ),
        case(
            "schedule form: forged session",
            Method::POST,
            "/app/schedule",
            FORM,
            format!("session={forged}&action=remove&rule=1"),
        ),
        case(
            "schedule form: unknown action",
            Method::POST,
            "/app/schedule",
            FORM,
            format!("session={session}&action=drop&rule=1"),
        ),
        case(
            "schedule form: rule 0",
            Method::POST,
            "/app/schedule",
            FORM,
            format!("session={session}&action=remove&rule=0"),
        ),
        case(
            "schedule form: rule not a number",
            Method::POST,
            "/app/schedule",
            FORM,
            format!("session={session}&action=remove&rule=1%27%20OR%201=1"),
        ),
        case(
            "schedule form: JSON body",
            Method::POST,
            "/app/schedule",
            JSON,
            r#"{"action":"zone"}"#,
        ),
        case(
            "schedule form: 10 MB body",
            Method::POST,
            "/app/schedule",
            FORM,
            ten_mb.clone(),
        ),
        // /api/schedule
        case(
            "schedule api: GET without a session",
            Method::GET,
            "/api/schedule",
            None,
            Vec::new(),
        ),
        case(
            "schedule api: DELETE",
            Method::DELETE,
            "/api/schedule",
            None,
            Vec::new(),
        ),
        case(
            "schedule api: PUT 10 MB",
            Method::PUT,
            "/api/schedule",
            JSON,
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
            replayed_callback,
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
    ]
}
