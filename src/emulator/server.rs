//! The emulator's HTTP side: the OAuth server's routes and each portal's routes, answering in
//! the shapes and with the status codes `docs/bitrix24.md` describes.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};

use super::world::{
    AccessRec, CODE_TTL, Call, CodeRec, EventBinding, FaultKind, PlacementBinding, Region, Server,
    World,
};
use crate::bitrix::form;
use crate::domain::{MemberId, Status};

/// The world, shared by every listener.
pub type Shared = Arc<Mutex<World>>;

/// Locks the world; a panic in another handler must not wedge the emulator for good.
pub fn lock(shared: &Shared) -> MutexGuard<'_, World> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A REST failure: HTTP status, code, description.
type Failure = (u16, &'static str, String);

fn fail(status: u16, code: &'static str, description: impl Into<String>) -> Failure {
    (status, code, description.into())
}

fn error_response(status: u16, code: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

/// Query string and body (JSON or form) merged into one object, body winning.
fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut merged = Map::new();
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Ok(Value::Object(map)) =
        form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        merged.extend(map);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice(body) {
            merged.extend(map);
        }
    } else if !body.is_empty() {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        if let Ok(Value::Object(map)) =
            form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            merged.extend(map);
        }
    }
    Value::Object(merged)
}

/// A parameter by name, case-insensitively, as PHP's REST layer reads them.
fn param<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn param_str(params: &Value, name: &str) -> Option<String> {
    match param(params, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "Y".into() } else { "N".into() }),
        _ => None,
    }
}

fn tail(token: &str) -> String {
    token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// What an injected fault leaves to the handler.
enum Disturbed {
    /// Handle the request normally.
    Go,
    /// Handle it, then hold the answer back this long.
    AnswerLate(std::time::Duration),
    /// Send this instead.
    Instead(Response),
}

/// Counts the request's arrival, then applies injected latency and faults.
async fn disturb(
    shared: &Shared,
    server: &Server,
    method: &str,
    token_endpoint: bool,
) -> Disturbed {
    let (latency, fault) = {
        let mut world = lock(shared);
        *world.arrivals.entry(method.to_owned()).or_default() += 1;
        (world.latency, world.take_fault(server, method))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = fault else {
        return Disturbed::Go;
    };
    Disturbed::Instead(match fault {
        FaultKind::Delay(delay) => {
            tokio::time::sleep(delay).await;
            return Disturbed::Go;
        }
        FaultKind::SlowAnswer(delay) => return Disturbed::AnswerLate(delay),
        FaultKind::Error { status, code } => error_response(status, &code, "injected fault"),
        FaultKind::ErrorWith200 { code } if token_endpoint => {
            error_response(200, &code, "injected fault")
        }
        FaultKind::ErrorWith200 { code } => error_response(400, &code, "injected fault"),
        FaultKind::Reset => {
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            });
            (StatusCode::OK, axum::body::Body::from_stream(broken)).into_response()
        }
    })
}

/// Sends `response` after the delay a fault asked for.
async fn late(response: Response, delay: Option<std::time::Duration>) -> Response {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn record(shared: &Shared, call: Call) {
    lock(shared).calls.push(call);
}

// ---------------------------------------------------------------------------------------------
// OAuth server (`docs/bitrix24.md`, "OAuth")

/// One regional OAuth server.
#[derive(Clone)]
pub struct OAuthCtx {
    pub shared: Shared,
    pub region: Region,
}

/// Routes of a regional OAuth server.
pub fn oauth_router(ctx: OAuthCtx) -> Router {
    Router::new()
        .route("/oauth/token/", any(token))
        .route("/oauth/token", any(token))
        .route("/rest/app.info", any(oauth_app_info))
        .route("/rest/app.info.json", any(oauth_app_info))
        .route("/rest/app.info/", any(oauth_app_info))
        .with_state(ctx)
}

async fn token(
    State(OAuthCtx { shared, region }): State<OAuthCtx>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &headers, &body);
    let server = Server::OAuth(region);
    let late_by = match disturb(&shared, &server, "oauth/token", true).await {
        Disturbed::Go => None,
        Disturbed::AnswerLate(delay) => Some(delay),
        Disturbed::Instead(response) => {
            record(
                &shared,
                Call {
                    server,
                    method: "oauth/token".into(),
                    user_id: None,
                    token_tail: None,
                    status: response.status().as_u16(),
                    error: Some("injected".into()),
                    carried_client_secret: false,
                },
            );
            return response;
        }
    };
    let (status, body) = {
        let mut world = lock(&shared);
        let outcome = grant(&mut world, &params, region);
        let (status, body, user_id) = match outcome {
            Ok((answer, user_id)) => (200, answer, Some(user_id)),
            Err((status, code, description)) => (
                status,
                json!({"error": code, "error_description": description}),
                None,
            ),
        };
        world.calls.push(Call {
            server,
            method: "oauth/token".into(),
            user_id,
            token_tail: body.get("access_token").and_then(Value::as_str).map(tail),
            status,
            error: body.get("error").and_then(Value::as_str).map(str::to_owned),
            carried_client_secret: false,
        });
        (status, body)
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    late((status, axum::Json(body)).into_response(), late_by).await
}

/// The token endpoint's rules (`docs/bitrix24.md`, "OAuth"): a code or refresh token is
/// known only to the regional server that issued it.
fn grant(world: &mut World, params: &Value, region: Region) -> Result<(Value, u64), Failure> {
    let grant_type = param_str(params, "grant_type")
        .ok_or_else(|| fail(400, "invalid_request", "No \"grant_type\" parameter found"))?;
    let client_id = param_str(params, "client_id").unwrap_or_default();
    let secret = param_str(params, "client_secret").unwrap_or_default();
    match world.apps.get(&client_id) {
        Some(app) if app.secret == secret => {}
        _ => return Err(fail(401, "invalid_client", "Invalid client credentials")),
    }
    let now = world.now();
    let (member_id, user_id) = match grant_type.as_str() {
        "authorization_code" => {
            let code = param_str(params, "code")
                .ok_or_else(|| fail(400, "invalid_request", "No \"code\" parameter found"))?;
            let issued_here = world
                .codes
                .get(&code)
                .is_some_and(|rec| world.region_of(&rec.member_id) == region);
            let rec: &mut CodeRec = world
                .codes
                .get_mut(&code)
                .filter(|_| issued_here)
                .ok_or_else(|| fail(400, "invalid_grant", "Invalid authorization code"))?;
            if rec.client_id != client_id {
                // Bitrix24 reports this one with HTTP 200 (`docs/bitrix24.md`, "OAuth").
                return Err(fail(200, "wrong_client", "Wrong client"));
            }
            if rec.used || rec.expires_at < now {
                return Err(fail(400, "invalid_grant", "Authorization code has expired"));
            }
            rec.used = true;
            (rec.member_id.clone(), rec.user_id)
        }
        "refresh_token" => {
            let refresh = param_str(params, "refresh_token").ok_or_else(|| {
                fail(
                    400,
                    "invalid_request",
                    "No \"refresh_token\" parameter found",
                )
            })?;
            let issued_here = world
                .refresh
                .get(&refresh)
                .is_some_and(|rec| world.region_of(&rec.member_id) == region);
            let rec = world
                .refresh
                .get_mut(&refresh)
                .filter(|_| issued_here)
                .ok_or_else(|| fail(400, "invalid_grant", "Invalid refresh token"))?;
            if rec.client_id != client_id {
                return Err(fail(200, "wrong_client", "Wrong client"));
            }
            if rec.used {
                return Err(fail(
                    400,
                    "invalid_grant",
                    "The refresh token has been used",
                ));
            }
            rec.used = true;
            let (member_id, user_id, old_access) =
                (rec.member_id.clone(), rec.user_id, rec.access.clone());
            // Rotation kills the access token issued with the old refresh token
            // (`docs/bitrix24.md`, "Rotation").
            if let Some(access) = world.access.get_mut(&old_access) {
                access.revoked = true;
            }
            world.refreshes += 1;
            (member_id, user_id)
        }
        _ => return Err(fail(400, "invalid_request", "Unsupported grant_type")),
    };
    let issued = world.issue(&member_id, user_id, &client_id);
    Ok((
        world.token_answer(&member_id, user_id, &issued, &client_id),
        user_id,
    ))
}

/// Checks an access token: `Ok` with its record, or the REST error a portal would answer.
fn check_access(world: &World, token: Option<&str>) -> Result<AccessRec, Failure> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(401, "NO_AUTH_FOUND", "Wrong authorization data"))?;
    let rec = world
        .access
        .get(token)
        .ok_or_else(|| fail(401, "NO_AUTH_FOUND", "Wrong authorization data"))?;
    if rec.revoked {
        return Err(fail(
            401,
            "invalid_token",
            "Unable to get application by token",
        ));
    }
    if rec.expires_at <= world.now() {
        return Err(fail(
            401,
            "expired_token",
            "The access token provided has expired.",
        ));
    }
    Ok(rec.clone())
}

async fn oauth_app_info(
    State(OAuthCtx { shared, region }): State<OAuthCtx>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &headers, &body);
    let server = Server::OAuth(region);
    let late_by = match disturb(&shared, &server, "app.info", false).await {
        Disturbed::Go => None,
        Disturbed::AnswerLate(delay) => Some(delay),
        Disturbed::Instead(response) => {
            return response;
        }
    };
    let token = param_str(&params, "auth");
    let response = {
        let mut world = lock(&shared);
        let outcome = check_access(&world, token.as_deref()).and_then(|rec| {
            if world.region_of(&rec.member_id) != region {
                return Err(fail(
                    401,
                    "invalid_token",
                    "Unable to get application by token",
                ));
            }
            let portal = world
                .portals
                .get(&rec.member_id)
                .ok_or_else(|| fail(401, "invalid_token", "Unable to get application by token"))?;
            let install = portal
                .installs
                .get(&rec.client_id)
                .ok_or_else(|| fail(401, "NOT_INSTALLED", "Application not installed"))?;
            Ok((
                rec.user_id,
                json!({
                    "client_id": rec.client_id,
                    "scope": install.scope.split(',').collect::<Vec<_>>(),
                    "expires": rec.expires_at,
                    "user_id": rec.user_id,
                    "install": {
                        "installed": install.finished,
                        "version": install.version,
                        "status": portal.licence,
                        "scope": install.scope,
                        "domain": portal.domain,
                        "uri": format!("http://{}", portal.domain),
                        "client_endpoint": format!("http://{}/rest/", portal.domain),
                        "member_id": portal.member_id.as_str(),
                        "member_type": "PORTAL",
                    }
                }),
            ))
        });
        let (response, user_id, error) = match outcome {
            Ok((user_id, result)) => (
                axum::Json(json!({"result": result})).into_response(),
                Some(user_id),
                None,
            ),
            Err((status, code, description)) => (
                error_response(status, code, &description),
                None,
                Some(code.to_owned()),
            ),
        };
        world.calls.push(Call {
            server,
            method: "app.info".into(),
            user_id,
            token_tail: token.as_deref().map(tail),
            status: response.status().as_u16(),
            error,
            carried_client_secret: false,
        });
        response
    };
    late(response, late_by).await
}

// ---------------------------------------------------------------------------------------------
// Portals (`docs/bitrix24.md`, "Calling REST methods", "Events")

/// What one portal listener knows about itself.
#[derive(Clone)]
pub struct PortalCtx {
    pub shared: Shared,
    pub member_id: MemberId,
    /// The `host:port` this listener serves; if the portal was renamed since, it redirects.
    pub listen_domain: String,
}

/// Routes of one portal.
pub fn portal_router(ctx: PortalCtx) -> Router {
    Router::new()
        .route("/oauth/authorize/", get(authorize))
        .route("/oauth/authorize", get(authorize))
        .route("/rest/{method}", any(rest))
        .merge(super::portal_ui::router())
        .with_state(ctx)
}

fn moved(world: &World, ctx: &PortalCtx, uri: &Uri) -> Option<Response> {
    let portal = world.portals.get(&ctx.member_id)?;
    if portal.domain == ctx.listen_domain {
        return None;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Some(
        (
            StatusCode::FOUND,
            [(header::LOCATION, format!("http://{}{path}", portal.domain))],
        )
            .into_response(),
    )
}

async fn authorize(State(ctx): State<PortalCtx>, uri: Uri, headers: HeaderMap) -> Response {
    let params = params(&uri, &headers, &[]);
    let mut world = lock(&ctx.shared);
    if let Some(redirect) = moved(&world, &ctx, &uri) {
        return redirect;
    }
    let client_id = param_str(&params, "client_id").unwrap_or_default();
    let state = param_str(&params, "state").unwrap_or_default();
    let Some(app) = world.apps.get(&client_id).cloned() else {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Application not found</h1>"),
        )
            .into_response();
    };
    let Some(portal) = world.portals.get(&ctx.member_id).cloned() else {
        return (StatusCode::NOT_FOUND, Html("<h1>Portal not found</h1>")).into_response();
    };
    // The app must already be installed; Bitrix24 shows its own error page, no redirect.
    let Some(install) = portal.installs.get(&client_id).filter(|i| i.finished) else {
        return (
            StatusCode::FORBIDDEN,
            Html("<h1>The application is not installed on this portal</h1>"),
        )
            .into_response();
    };
    let code = super::world::token();
    let now = world.now();
    world.codes.insert(
        code.clone(),
        CodeRec {
            member_id: ctx.member_id.clone(),
            user_id: portal.browser_user,
            client_id: client_id.clone(),
            expires_at: now + CODE_TTL,
            used: false,
        },
    );
    let carried_client_secret = world.mentions_a_secret(uri.query().unwrap_or_default());
    world.calls.push(Call {
        server: Server::Portal(ctx.member_id.clone()),
        method: "oauth/authorize".into(),
        user_id: Some(portal.browser_user),
        token_tail: None,
        status: 302,
        error: None,
        carried_client_secret,
    });
    let Some(redirect_uri) = app.redirect_uri else {
        // Mass-market apps without a redirect URI: the portal shows the code (`docs/bitrix24.md`,
        // "OAuth").
        return Html(format!("<p>Authorisation code: <code>{code}</code></p>")).into_response();
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("domain", &portal.domain)
        .append_pair("member_id", portal.member_id.as_str())
        .append_pair("scope", &install.scope)
        .append_pair(
            "server_domain",
            world.oauth_host_of(world.region_of(&ctx.member_id)),
        )
        .finish();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            format!("{redirect_uri}{separator}{query}"),
        )],
    )
        .into_response()
}

async fn rest(
    State(ctx): State<PortalCtx>,
    axum::extract::Path(method): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method
        .strip_suffix(".json")
        .unwrap_or(&method)
        .to_ascii_lowercase();
    let server = Server::Portal(ctx.member_id.clone());
    {
        let world = lock(&ctx.shared);
        if let Some(redirect) = moved(&world, &ctx, &uri) {
            return redirect;
        }
    }
    let params = params(&uri, &headers, &body);
    let carried_secret = {
        let world = lock(&ctx.shared);
        world.mentions_a_secret(uri.query().unwrap_or_default())
            || world.mentions_a_secret(&String::from_utf8_lossy(&body))
    };
    let token = param_str(&params, "auth");
    let late_by = match disturb(&ctx.shared, &server, &method, false).await {
        Disturbed::Go => None,
        Disturbed::AnswerLate(delay) => Some(delay),
        Disturbed::Instead(response) => {
            record(
                &ctx.shared,
                Call {
                    server,
                    method,
                    user_id: None,
                    token_tail: token.as_deref().map(tail),
                    status: response.status().as_u16(),
                    error: Some("injected".into()),
                    carried_client_secret: carried_secret,
                },
            );
            return response;
        }
    };
    let response = {
        let mut world = lock(&ctx.shared);
        let admitted = world
            .portals
            .get_mut(&ctx.member_id)
            .is_some_and(|p| p.bucket.admit());
        let outcome = if admitted {
            check_access(&world, token.as_deref()).and_then(|rec| {
                if rec.member_id != ctx.member_id {
                    return Err(fail(401, "NO_AUTH_FOUND", "Wrong authorization data"));
                }
                call_method(&mut world, &rec, &method, &params, true)
                    .map(|result| (rec.user_id, result))
            })
        } else {
            Err(fail(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"))
        };
        let (response, user_id, error) = match outcome {
            Ok((user_id, result)) => {
                let mut envelope = json!({"result": result, "time": {"start": 0.0, "finish": 0.0, "duration": 0.0}});
                if let Some(total) = result_total(&envelope["result"]) {
                    envelope["total"] = json!(total);
                }
                (axum::Json(envelope).into_response(), Some(user_id), None)
            }
            Err((status, code, description)) => (
                error_response(status, code, &description),
                None,
                Some(code.to_owned()),
            ),
        };
        world.calls.push(Call {
            server,
            method,
            user_id,
            token_tail: token.as_deref().map(tail),
            status: response.status().as_u16(),
            error,
            carried_client_secret: carried_secret,
        });
        response
    };
    late(response, late_by).await
}

fn result_total(result: &Value) -> Option<usize> {
    result.as_array().map(Vec::len)
}

/// Known placement codes and the extra scope each needs beyond `placement` (`docs/bitrix24.md`,
/// "Placements").
const PLACEMENTS: &[(&str, Option<&str>)] = &[
    ("LEFT_MENU", None),
    ("IM_NAVIGATION", None),
    ("IM_TEXTAREA", None),
    ("IM_SIDEBAR", None),
    ("IM_CONTEXT_MENU", None),
    ("USER_PROFILE_MENU", Some("user")),
    ("USER_PROFILE_TOOLBAR", Some("user")),
    ("PAGE_BACKGROUND_WORKER", None),
];

/// Events an app may bind here (`docs/bitrix24.md`, "Events").
const EVENTS: &[&str] = &[
    "ONAPPINSTALL",
    "ONAPPUPDATE",
    "ONAPPUNINSTALL",
    "ONAPPPAYMENT",
];

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split([',', ' ']).any(|s| s.trim() == wanted)
}

fn call_method(
    world: &mut World,
    rec: &AccessRec,
    method: &str,
    params: &Value,
    top_level: bool,
) -> Result<Value, Failure> {
    let portal = world
        .portals
        .get_mut(&rec.member_id)
        .ok_or_else(|| fail(401, "invalid_token", "Unable to get application by token"))?;
    let install = portal
        .installs
        .get_mut(&rec.client_id)
        .ok_or_else(|| fail(401, "NOT_INSTALLED", "Application not installed"))?;
    let user = portal
        .users
        .get_mut(&rec.user_id)
        .ok_or_else(|| fail(401, "authorization_error", "User is not active"))?;
    let need = |scope: &str| {
        if has_scope(&install.scope, scope) {
            Ok(())
        } else {
            Err(fail(
                403,
                "insufficient_scope",
                "The request requires higher privileges than provided by the access token",
            ))
        }
    };
    let require = |name: &'static str| {
        param_str(params, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                fail(
                    400,
                    "ERROR_ARGUMENT",
                    format!("Argument '{name}' is null or empty"),
                )
            })
    };
    match method {
        "im.user.status.set" => {
            need("im")?;
            let status = param_str(params, "STATUS").unwrap_or_default();
            let status = Status::parse(&status).map_err(|_| fail(400, "STATUS_ERROR", "Status is not available"))?;
            user.status = Some(status);
            Ok(json!(true))
        }
        "im.user.status.get" => {
            need("im")?;
            Ok(user.status.map_or(json!(false), |s| json!(s.as_str())))
        }
        "profile" => Ok(json!({
            "ID": rec.user_id.to_string(),
            "ADMIN": user.admin,
            "NAME": user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": "",
            "TIME_ZONE": "",
        })),
        "user.current" => {
            if !["user", "user_brief", "user_basic"].iter().any(|s| has_scope(&install.scope, s)) {
                return Err(fail(403, "insufficient_scope", "The request requires higher privileges than provided by the access token"));
            }
            Ok(json!({
                "ID": rec.user_id.to_string(),
                "ACTIVE": true,
                "NAME": user.name,
                "LAST_NAME": user.last_name,
                "EMAIL": format!("user{}@example.com", rec.user_id),
                "UF_DEPARTMENT": [1],
            }))
        }
        "user.admin" => Ok(json!(user.admin)),
        "app.info" => Ok(json!({
            "ID": 1,
            "CODE": rec.client_id,
            "VERSION": install.version,
            "STATUS": portal.licence,
            "INSTALLED": install.finished,
            "PAYMENT_EXPIRED": "N",
            "DAYS": null,
            "LANGUAGE_ID": "en",
            "LICENSE": "en_project",
            "LICENSE_TYPE": "project",
            "LICENSE_FAMILY": "project",
        })),
        "placement.bind" => {
            need("placement")?;
            if !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied! Admin permissions required"));
            }
            let placement = require("PLACEMENT")?.to_ascii_uppercase();
            let handler = require("HANDLER")?;
            let Some((_, extra)) = PLACEMENTS.iter().find(|(code, _)| *code == placement) else {
                return Err(fail(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found"));
            };
            if extra.is_some_and(|scope| !has_scope(&install.scope, scope)) {
                return Err(fail(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found"));
            }
            let handler_url = url::Url::parse(&handler).map_err(|_| fail(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"))?;
            if !matches!(handler_url.scheme(), "http" | "https") {
                return Err(fail(400, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported event handler protocol"));
            }
            if install.placements.iter().any(|b| b.placement == placement && b.handler == handler) {
                // UNCONFIRMED code: the docs name no duplicate error for placements.
                return Err(fail(400, "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED", "Handler already binded"));
            }
            install.placements.push(PlacementBinding {
                placement,
                handler,
                title: param_str(params, "TITLE").unwrap_or_default(),
                options: param(params, "OPTIONS").cloned().unwrap_or(Value::Null),
                lang_all: param(params, "LANG_ALL").cloned().unwrap_or(Value::Null),
            });
            Ok(json!(true))
        }
        "placement.unbind" => {
            need("placement")?;
            if !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied! Admin permissions required"));
            }
            let placement = require("PLACEMENT")?.to_ascii_uppercase();
            let handler = param_str(params, "HANDLER");
            let before = install.placements.len();
            install
                .placements
                .retain(|b| b.placement != placement || handler.as_ref().is_some_and(|h| *h != b.handler));
            Ok(json!({"count": before - install.placements.len()}))
        }
        "placement.get" => {
            need("placement")?;
            Ok(Value::Array(
                install
                    .placements
                    .iter()
                    .map(|b| json!({"placement": b.placement, "userId": 0, "handler": b.handler,
                        "options": b.options, "title": b.title, "description": "", "langAll": b.lang_all}))
                    .collect(),
            ))
        }
        "event.bind" => {
            let event = require("event")?.to_ascii_uppercase();
            let handler = require("handler")?;
            let offline = param_str(params, "event_type").is_some_and(|t| t.eq_ignore_ascii_case("offline"));
            if !EVENTS.contains(&event.as_str()) {
                return Err(fail(400, "ERROR_EVENT_NOT_FOUND", "Event not found"));
            }
            if offline && !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied!"));
            }
            if install.events.iter().any(|b| b.event == event && b.handler == handler) {
                return Err(fail(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already binded"));
            }
            install.events.push(EventBinding { event, handler, offline });
            Ok(json!(true))
        }
        "event.unbind" => {
            let event = require("event")?.to_ascii_uppercase();
            let handler = param_str(params, "handler");
            let before = install.events.len();
            install
                .events
                .retain(|b| b.event != event || handler.as_ref().is_some_and(|h| *h != b.handler));
            Ok(json!({"count": before - install.events.len()}))
        }
        "event.get" => Ok(Value::Array(
            install
                .events
                .iter()
                .map(|b| json!({"event": b.event, "handler": b.handler, "auth_type": "0", "offline": u8::from(b.offline)}))
                .collect(),
        )),
        "batch" if top_level => batch(world, rec, params),
        "batch" => Err(fail(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Batch calls are not allowed inside batch")),
        _ => Err(fail(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")),
    }
}

/// `batch` (`docs/bitrix24.md`, "Calling REST methods"): up to 50 commands `key → "method?query"`,
/// answered together.
fn batch(world: &mut World, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let commands = param(params, "cmd")
        .and_then(Value::as_object)
        .ok_or_else(|| fail(400, "ERROR_ARGUMENT", "Argument 'cmd' is null or empty"))?
        .clone();
    if commands.len() > 50 {
        return Err(fail(
            400,
            "ERROR_BATCH_LENGTH_EXCEEDED",
            "Max batch length exceeded",
        ));
    }
    let halt = param_str(params, "halt").is_some_and(|h| h == "1" || h == "true");
    let mut results = Map::new();
    let mut errors = Map::new();
    for (key, command) in commands {
        let command = command.as_str().unwrap_or_default();
        let (method, query) = command.split_once('?').unwrap_or((command, ""));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let sub_params = form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|_| json!({}));
        match call_method(world, rec, &method.to_ascii_lowercase(), &sub_params, false) {
            Ok(result) => {
                results.insert(key, result);
            }
            Err((_, code, description)) => {
                errors.insert(
                    key,
                    json!({"error": code, "error_description": description}),
                );
                if halt {
                    break;
                }
            }
        }
    }
    // PHP encodes empty maps as `[]`; so does the emulator.
    let as_php = |map: Map<String, Value>| {
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    };
    Ok(json!({
        "result": as_php(results),
        "result_error": as_php(errors),
        "result_total": [],
        "result_next": [],
        "result_time": {},
    }))
}
