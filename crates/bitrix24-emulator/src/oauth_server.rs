//! The regional OAuth servers (`docs/bitrix24.md`, "OAuth"): `/oauth/token/` and
//! `/rest/app.info`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::context::{OAuthCtx, lock};
use super::wire::{
    Failure, Injected, check_access, disturb, error_response, fail, iso_date, late, param_str,
    params, tail, time_block,
};
use super::world::{Call, CodeRec, Region, Server, World};
use bitrix24::domain::MemberId;

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

pub(super) async fn token(
    State(OAuthCtx { shared, region }): State<OAuthCtx>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &headers, &body);
    let server = Server::OAuth(region);
    let late_by = match disturb(
        &shared,
        &server,
        "oauth/token",
        true,
        Injected::Log {
            token_tail: None,
            carried_client_secret: false,
        },
    )
    .await
    {
        Ok(late_by) => late_by,
        Err(response) => return response,
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
pub(super) fn grant(
    world: &mut World,
    params: &Value,
    region: Region,
) -> Result<(Value, u64), Failure> {
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
            let rec: &CodeRec = world
                .codes
                .get(&code)
                .filter(|rec| world.region_of(&rec.member_id) == region)
                .ok_or_else(|| fail(400, "invalid_grant", "Invalid authorization code"))?;
            if rec.client_id != client_id {
                // Bitrix24 reports this one with HTTP 200 (`docs/bitrix24.md`, "OAuth").
                return Err(fail(200, "wrong_client", "Wrong client"));
            }
            if rec.used || rec.expires_at < now {
                return Err(fail(400, "invalid_grant", "Authorization code has expired"));
            }
            let (member_id, user_id) = (rec.member_id.clone(), rec.user_id);
            refuse_unpaid(world, &member_id, &client_id)?;
            if let Some(rec) = world.codes.get_mut(&code) {
                rec.used = true;
            }
            (member_id, user_id)
        }
        "refresh_token" => {
            let refresh = param_str(params, "refresh_token").ok_or_else(|| {
                fail(
                    400,
                    "invalid_request",
                    "No \"refresh_token\" parameter found",
                )
            })?;
            let rec = world
                .refresh
                .get(&refresh)
                .filter(|rec| world.region_of(&rec.member_id) == region)
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
            let (member_id, user_id, old_access) =
                (rec.member_id.clone(), rec.user_id, rec.access.clone());
            // Nothing is issued and the refresh token stays valid for when it is paid for.
            refuse_unpaid(world, &member_id, &client_id)?;
            if let Some(rec) = world.refresh.get_mut(&refresh) {
                rec.used = true;
            }
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

/// Refuses a grant once a trial or paid period and its grace ran out (`docs/bitrix24.md`,
/// "Paid apps"). The HTTP status is not documented (UNCONFIRMED): the client reads the `error`
/// field whatever it is.
fn refuse_unpaid(world: &World, member_id: &MemberId, client_id: &str) -> Result<(), Failure> {
    if world.payment_required(member_id, client_id) {
        return Err(fail(
            400,
            "PAYMENT_REQUIRED",
            "The application's trial or paid period has ended",
        ));
    }
    Ok(())
}

pub(super) async fn oauth_app_info(
    State(OAuthCtx { shared, region }): State<OAuthCtx>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &headers, &body);
    let server = Server::OAuth(region);
    let late_by = match disturb(&shared, &server, "app.info", false, Injected::Unlogged).await {
        Ok(late_by) => late_by,
        Err(response) => return response,
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
                    // Shapes as the SDKs read them: scopes comma-separated, expiry a date.
                    "scope": install.scope,
                    "expires": iso_date(rec.expires_at),
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
                axum::Json(json!({"result": result, "time": time_block(world.clock.now_ms())}))
                    .into_response(),
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
