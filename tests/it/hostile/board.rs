//! Hostile requests to the team board (`/api/team`, `/app/view`) and session renewal.

use reqwest::Method;

use super::{Case, Ctx, FORM, JSON, case};

pub(super) fn cases(ctx: &Ctx) -> Vec<Case> {
    let Ctx {
        session,
        expired,
        forged,
        ..
    } = ctx;
    let board = |name: &str, path: &str, token: &str, method: Method| Case {
        bearer: Some(token.to_owned()),
        ..case(name, method, path, JSON, "")
    };
    let long_search = format!("/api/team?q={}", "a".repeat(5000));
    let view = |name: &str, body: String| case(name, Method::POST, "/app/view", FORM, body);
    vec![
        board(
            "team api: SQL as the department",
            "/api/team?department=1%27%20OR%201%3D1",
            session,
            Method::GET,
        ),
        board("team api: page 0", "/api/team?page=0", session, Method::GET),
        board(
            "team api: a negative page",
            "/api/team?page=-3",
            session,
            Method::GET,
        ),
        board(
            "team api: a page past any number",
            "/api/team?page=99999999999999999999999",
            session,
            Method::GET,
        ),
        board(
            "team api: a search of 5,000 characters",
            &long_search,
            session,
            Method::GET,
        ),
        board(
            "team api: a NUL in the search",
            "/api/team?q=a%00b",
            session,
            Method::GET,
        ),
        board("team api: forged session", "/api/team", forged, Method::GET),
        board(
            "team api: expired session",
            "/api/team",
            expired,
            Method::GET,
        ),
        board(
            "session renewal: expired session",
            "/api/session",
            expired,
            Method::POST,
        ),
        board(
            "session renewal: forged session",
            "/api/session",
            forged,
            Method::POST,
        ),
        view(
            "view: an unknown view",
            format!("session={session}&view=../../etc/passwd"),
        ),
        view(
            "view: page 0",
            format!("session={session}&view=team&page=0"),
        ),
        view(
            "view: SQL as the department",
            format!("session={session}&view=team&department=1%27%3B--"),
        ),
        view(
            "view: forged session",
            format!("session={forged}&view=team"),
        ),
        view("view: no session", "view=team".to_owned()),
    ]
}
