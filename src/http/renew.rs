//! `POST /api/session` (Bearer session): a page left open — in the messenger's sidebar all day —
//! trades its still-valid session for a fresh one before it expires, so it keeps working; a
//! closed page renews nothing, and its session expires as before. An expired, forged or
//! uninstalled portal's session gets nothing.

use axum::extract::State;
use axum::http::header;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::api::record;
use super::error::NoStoreJson;
use super::extract::Authed;
use super::session::SESSION_TTL_SECS;
use super::state::AppState;
use crate::clock::unix_now;

/// `POST /api/session`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", post(renew))
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn renew(State(state): State<AppState>, Authed(session): Authed) -> NoStoreJson {
    record(&session);
    state
        .portals
        .portal_domain(&session.member_id)
        .await
        .map_err(|refusal| super::team_api::board_refused(refusal, session.lang))?;
    let token = state.sessions.issue(
        &session.member_id,
        session.user_id,
        session.lang,
        unix_now(),
    );
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"session": token, "expires_in": SESSION_TTL_SECS})),
    ))
}
