//! One portal's listener (`docs/bitrix24.md`, "Calling REST methods", "Renamed portals"):
//! `/oauth/authorize/`, `/rest/{method}` and the demo portal's pages.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;

use super::context::{PortalCtx, lock};
use super::methods::call_method;
use super::wire::Answered;
use super::wire::{
    Injected, check_access, disturb, error_response, fail, late, param_str, params, tail,
    time_block,
};
use super::world::{CODE_TTL, Call, CodeRec, Server, World};

/// Routes of one portal.
pub fn portal_router(ctx: PortalCtx) -> Router {
    Router::new()
        .route("/oauth/authorize/", get(authorize))
        .route("/oauth/authorize", get(authorize))
        .route("/rest/{method}", any(rest))
        .merge(super::portal_ui::router())
        .with_state(ctx)
}

pub(super) fn moved(world: &World, ctx: &PortalCtx, uri: &Uri) -> Option<Response> {
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

pub(super) async fn authorize(
    State(ctx): State<PortalCtx>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
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

/// A REST request the portal is answering, counted in its `in_flight` until dropped.
struct Answering(PortalCtx);

impl Answering {
    fn start(ctx: &PortalCtx) -> Self {
        if let Some(portal) = lock(&ctx.shared).portals.get_mut(&ctx.member_id) {
            let (now, most) = &mut portal.in_flight;
            *now += 1;
            *most = (*most).max(*now);
        }
        Self(ctx.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        if let Some(portal) = lock(&self.0.shared).portals.get_mut(&self.0.member_id) {
            portal.in_flight.0 = portal.in_flight.0.saturating_sub(1);
        }
    }
}

pub(super) async fn rest(
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
    let _answering = Answering::start(&ctx);
    let params = params(&uri, &headers, &body);
    let carried_secret = {
        let world = lock(&ctx.shared);
        world.mentions_a_secret(uri.query().unwrap_or_default())
            || world.mentions_a_secret(&String::from_utf8_lossy(&body))
    };
    let token = param_str(&params, "auth");
    let injected = Injected::Log {
        token_tail: token.as_deref().map(tail),
        carried_client_secret: carried_secret,
    };
    let late_by = match disturb(&ctx.shared, &server, &method, false, injected).await {
        Ok(late_by) => late_by,
        Err(response) => return response,
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
                // `batch` is answered only here, at the top level; nested, it is refused.
                let answered = if method == "batch" {
                    super::batch::batch(&mut world, &rec, &params).map(Answered::from)
                } else {
                    call_method(&mut world, &rec, &method, &params)
                };
                answered.map(|result| (rec.user_id, result))
            })
        } else {
            Err(fail(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"))
        };
        let (response, user_id, error) = match outcome {
            Ok((user_id, result)) => {
                let time = time_block(world.clock.now_ms());
                let mut envelope = json!({"result": result.result, "time": time});
                if let Some(total) = result.total {
                    envelope["total"] = json!(total);
                }
                if let Some(next) = result.next {
                    envelope["next"] = json!(next);
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
