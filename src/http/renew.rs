//! `POST /api/session` (Bearer session): a page left open — in the messenger's sidebar all day —
//! trades its still-valid session for a fresh one before it expires, so it keeps working; a
//! closed page renews nothing, and its session expires as before. An expired or forged session
//! gets nothing, and neither does one whose account moved to another epoch (a new pair, a
//! pause, a suspension; `docs/security.md`, "Sessions"), whose pair is gone (uninstall,
//! `reauth`), or whose lifetime from the frame POST that began it is spent.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;

use super::api::record;
use super::code::Code;
use super::error::ApiError;
use super::error::{NoStoreJson, no_store};
use super::extract::Authed;
use super::state::AppState;
use bitrix24::clock::unix_now;

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
        .map_err(|refusal| ApiError::failed(refusal, session.lang))?;
    let stands = state
        .portals
        .session_stands(&session.member_id, session.user_id, session.epoch)
        .await
        .map_err(|refusal| ApiError::failed(refusal, session.lang))?;
    let now = unix_now();
    let renewed = stands
        .then(|| state.sessions.follow(&session, now))
        .flatten();
    let Some(token) = renewed else {
        tracing::info!("a session that ended was not renewed");
        return Err(ApiError::new(Code::InvalidSession, session.lang));
    };
    let expires_in = state
        .sessions
        .verify(&token, now)
        .map_or(0, |renewed| renewed.expires_at - now);
    no_store(json!({"session": token, "expires_in": expires_in}))
}
