//! The emulated portal's own pages, for demo mode and browser tests: a simplified Bitrix24 with a
//! top bar, a left menu with the app's entry, a user switcher, the app in an iframe (opened with
//! the frame POST of `docs/bitrix24.md`, "Installation", to the installer until `installFinish`),
//! and a panel showing every user's messenger status and the REST calls the app made. It also
//! serves the stand-in for the Bitrix24 JS library the app's pages load.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::{PortalCtx, lock};
use super::model::FormPost;
use super::world::{Server, World};

/// The portal page, the JS stand-in and the demo controls.
pub fn router() -> Router<PortalCtx> {
    Router::new()
        .route("/", get(portal))
        .route("/bx24.js", get(bx24))
        .route("/demo/state", get(state))
        .route("/demo/install-finish", post(install_finish))
        .route("/demo/refresh-auth", post(refresh_auth))
        .route("/demo/expire", post(expire))
        .route("/demo/skip-hour", post(skip_hour))
        .route("/demo/uninstall", post(uninstall))
        .route("/demo/end-period", post(end_period))
        .route("/demo/pay", post(pay))
        .merge(super::demo_presence::router())
        .merge(super::demo_chat::router())
}

async fn bx24() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("bx24.js"),
    )
        .into_response()
}

struct UserRow {
    id: u64,
    name: String,
    admin: bool,
    status: &'static str,
    selected: bool,
    department: String,
    absent: bool,
    /// Their working day and meetings ahead, as the portal's time tracking and calendar hold
    /// them.
    presence: String,
}

struct CallRow {
    method: String,
    user: String,
    token: String,
    outcome: String,
    ok: bool,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    lang: String,
    langs: Vec<(&'static str, bool)>,
    domain: String,
    client_id: String,
    user_id: u64,
    user_name: String,
    users: Vec<UserRow>,
    calls: Vec<CallRow>,
    /// The general chat's last messages: who wrote them, and what.
    chat: Vec<(String, String)>,
    installing: bool,
    action: String,
    fields: Vec<(String, String)>,
    notice: Option<&'static str>,
    /// The portal's clock, in the emulated users' zone.
    clock: String,
}

#[derive(Deserialize)]
struct PortalQuery {
    user: Option<u64>,
    lang: Option<String>,
    app: Option<String>,
}

fn users(world: &World, ctx: &PortalCtx, selected: u64) -> Vec<UserRow> {
    world
        .portals
        .get(&ctx.member_id)
        .map(|p| {
            p.users
                .iter()
                .map(|(id, u)| UserRow {
                    id: *id,
                    name: format!("{} {}", u.name, u.last_name),
                    admin: u.admin,
                    status: u.status.map_or("online (none set)", |s| s.as_str()),
                    selected: *id == selected,
                    department: u
                        .departments
                        .first()
                        .and_then(|d| p.departments.iter().find(|x| x.id == *d))
                        .map(|d| d.name.clone())
                        .unwrap_or_default(),
                    absent: u.absent_until.is_some(),
                    presence: super::demo_presence::presence(u, world.now()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The app's calls to this portal, newest first, tokens masked.
fn calls(world: &World, ctx: &PortalCtx) -> Vec<CallRow> {
    let names = |id: Option<u64>| {
        id.and_then(|id| {
            world
                .portals
                .get(&ctx.member_id)?
                .users
                .get(&id)
                .map(|u| u.name.clone())
        })
        .unwrap_or_else(|| "—".into())
    };
    world
        .calls
        .iter()
        .rev()
        .filter(|c| c.server == Server::Portal(ctx.member_id.clone()))
        .take(15)
        .map(|c| CallRow {
            method: c.method.clone(),
            user: names(c.user_id),
            token: c
                .token_tail
                .as_ref()
                .map_or_else(String::new, |t| format!("••••{t}")),
            outcome: c.error.clone().unwrap_or_else(|| c.status.to_string()),
            ok: c.error.is_none(),
        })
        .collect()
}

fn default_app(world: &World) -> Option<String> {
    let mut ids: Vec<&String> = world
        .apps
        .iter()
        .filter(|(_, a)| a.app_url.is_some())
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids.first().map(|id| (*id).clone())
}

async fn portal(State(ctx): State<PortalCtx>, Query(query): Query<PortalQuery>) -> Response {
    let mut world = lock(&ctx.shared);
    let Some(portal) = world.portals.get(&ctx.member_id).cloned() else {
        return (StatusCode::NOT_FOUND, Html("<h1>Portal not found</h1>")).into_response();
    };
    let Some(client_id) = query.app.or_else(|| default_app(&world)) else {
        return Html("<h1>No application is registered with this portal</h1>").into_response();
    };
    let Some(app) = world.apps.get(&client_id).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Application not found</h1>"),
        )
            .into_response();
    };
    let user_id = query
        .user
        .filter(|u| portal.users.contains_key(u))
        .unwrap_or(portal.browser_user);
    let user = portal.users.get(&user_id).cloned();
    let lang = query
        .lang
        .filter(|l| super::world::LANGUAGES.contains(&l.as_str()))
        .unwrap_or_else(|| "en".into());
    let finished = portal.installs.get(&client_id).is_some_and(|i| i.finished);
    let admin = user.as_ref().is_some_and(|u| u.admin);
    let (target, notice) = if finished {
        (app.app_url, None)
    } else if admin {
        world.begin_install(&ctx.member_id, &client_id);
        (app.install_url, None)
    } else {
        (
            None,
            Some(
                "The application is not fully installed yet: an administrator must open it first.",
            ),
        )
    };
    let (action, fields) = match target {
        Some(target) => {
            let post = world.frame_post(&ctx.member_id, &client_id, user_id, "DEFAULT", &lang, "");
            (format!("{target}?{}", post.query_string()), post.form)
        }
        None => (String::new(), Vec::new()),
    };
    let page = PortalPage {
        langs: super::world::LANGUAGES
            .into_iter()
            .map(|l| (l, l == lang))
            .collect(),
        lang,
        domain: portal.domain.clone(),
        client_id,
        user_id,
        user_name: user
            .map(|u| format!("{} {}", u.name, u.last_name))
            .unwrap_or_default(),
        users: users(&world, &ctx, user_id),
        calls: calls(&world, &ctx),
        chat: super::demo_chat::last_messages(&world, &ctx.member_id, user_id),
        installing: !finished && admin,
        action,
        fields,
        notice,
        clock: wall_clock(world.now()),
    };
    drop(world);
    match page.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn state(State(ctx): State<PortalCtx>) -> Json<Value> {
    let world = lock(&ctx.shared);
    let users: Vec<Value> = users(&world, &ctx, 0)
        .into_iter()
        .map(|u| json!({"id": u.id, "name": u.name, "admin": u.admin, "status": u.status, "department": u.department, "absent": u.absent}))
        .collect();
    let calls: Vec<Value> = calls(&world, &ctx)
        .into_iter()
        .map(|c| json!({"method": c.method, "user": c.user, "token": c.token, "outcome": c.outcome, "ok": c.ok}))
        .collect();
    Json(json!({"users": users, "calls": calls}))
}

#[derive(Deserialize)]
struct AppUser {
    app: String,
    user: u64,
}

/// `BX24.installFinish()`: the app counts as installed from now on (`docs/bitrix24.md`,
/// "Installation").
async fn install_finish(State(ctx): State<PortalCtx>, Json(body): Json<AppUser>) -> StatusCode {
    let mut world = lock(&ctx.shared);
    let admin = world
        .portals
        .get(&ctx.member_id)
        .and_then(|p| p.users.get(&body.user))
        .is_some_and(|u| u.admin);
    match world
        .portals
        .get_mut(&ctx.member_id)
        .and_then(|p| p.installs.get_mut(&body.app))
    {
        Some(install) if admin => {
            install.finished = true;
            StatusCode::NO_CONTENT
        }
        _ => StatusCode::FORBIDDEN,
    }
}

/// `BX24.refreshAuth()`: a fresh pair for the user in the frame.
async fn refresh_auth(State(ctx): State<PortalCtx>, Json(body): Json<AppUser>) -> Json<Value> {
    let mut world = lock(&ctx.shared);
    let issued = world.issue(&ctx.member_id, body.user, &body.app);
    let domain = world
        .portals
        .get(&ctx.member_id)
        .map(|p| p.domain.clone())
        .unwrap_or_default();
    Json(json!({
        "access_token": issued.access,
        "refresh_token": issued.refresh,
        "expires_in": super::world::ACCESS_TTL,
        "domain": domain,
        "member_id": ctx.member_id.as_str(),
    }))
}

/// The fields every demo control posts: the app, the user the page is for, the language.
#[derive(Deserialize)]
pub(super) struct Control {
    pub app: String,
    pub user: u64,
    pub lang: Option<String>,
}

pub(super) fn back(control: &Control) -> Redirect {
    let lang = control.lang.as_deref().unwrap_or("en");
    Redirect::to(&format!(
        "/?user={}&lang={lang}&app={}",
        control.user, control.app
    ))
}

/// `unix` as the emulated users see it.
fn wall_clock(unix: i64) -> String {
    local(unix, "%a %Y-%m-%d %H:%M %Z")
}

/// `unix` in the emulated users' zone, written with `format`.
pub(super) fn local(unix: i64, format: &str) -> String {
    let zone =
        jiff::tz::TimeZone::get(super::world::USER_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_second(unix)
        .map(|at| at.to_zoned(zone).strftime(format).to_string())
        .unwrap_or_default()
}

/// Moves the portal's clock — and, in the demo, the app's, which is the same — an hour ahead,
/// so a timed status ends or a schedule rule starts without waiting.
async fn skip_hour(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    lock(&ctx.shared)
        .clock
        .advance(std::time::Duration::from_secs(3600));
    back(&control)
}

/// Expires the current user's access tokens, so the app's refresh can be watched.
async fn expire(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    lock(&ctx.shared).expire_access_tokens(&ctx.member_id, control.user);
    back(&control)
}

/// Uninstalls the app and delivers `ONAPPUNINSTALL` to the handlers it bound
/// (`docs/bitrix24.md`, "Uninstall").
async fn uninstall(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    let (payload, handlers) = lock(&ctx.shared).uninstall(&ctx.member_id, &control.app, false);
    deliver(&payload, handlers).await;
    back(&control)
}

/// Ends the app's paid period and its grace, so the OAuth server refuses tokens with
/// `PAYMENT_REQUIRED` (`docs/bitrix24.md`, "Paid apps").
async fn end_period(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    let days = -(super::period::GRACE_DAYS + 1);
    lock(&ctx.shared).set_paid_days(&ctx.member_id, &control.app, days);
    back(&control)
}

/// Pays for 30 days and delivers `ONAPPPAYMENT` to the handlers bound for it.
async fn pay(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    let (payload, handlers) = lock(&ctx.shared).set_paid_days(&ctx.member_id, &control.app, 30);
    deliver(&payload, handlers).await;
    back(&control)
}

/// POSTs an event to each handler, as the portal does: once, without retries.
pub(super) async fn deliver(payload: &FormPost, handlers: Vec<String>) {
    let Ok(client) = super::http_client() else {
        return;
    };
    for handler in handlers {
        let sent = client
            .post(&handler)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(payload.body())
            .send()
            .await;
        if let Err(err) = sent {
            tracing::warn!(%err, %handler, "event not delivered");
        }
    }
}
