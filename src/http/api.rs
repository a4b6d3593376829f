//! The JSON API the status page's script uses, authorised by the page's session token
//! (`Authorization: Bearer …`): `GET /api/status` reads the status from Bitrix24 (never a
//! cache), `PUT /api/status` with `{"status":"dnd"}` applies it with the user's own token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::Authed;
use super::session::Session;
use super::state::AppState;
use crate::domain::Status;
use crate::i18n::Lang;
use crate::tokens::CallError;

/// `GET /api/status` and `PUT /api/status`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/status", get(read).put(write))
}

type Answer = Result<
    (
        StatusCode,
        [(header::HeaderName, &'static str); 1],
        Json<Value>,
    ),
    ApiError,
>;

fn answer(status: Status) -> Answer {
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"status": status.as_str()})),
    ))
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn read(State(state): State<AppState>, Authed(session): Authed) -> Answer {
    record(&session);
    let status = state
        .portals
        .read_status(&session.member_id, session.user_id)
        .await
        .map_err(|error| failed(error, session.lang))?;
    answer(status)
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn write(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    record(&session);
    let lang = session.lang;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type(lang));
    }
    // An object with a `status` key, nothing looser: serde would also read `["dnd"]` into a
    // struct.
    let change: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request(lang))?;
    let status = change
        .as_object()
        .and_then(|object| object.get("status"))
        .ok_or_else(|| ApiError::bad_request(lang))?;
    let chosen = status
        .as_str()
        .and_then(|s| Status::parse(s).ok())
        .ok_or_else(|| ApiError::invalid_status(lang))?;
    state
        .portals
        .set_status(&session.member_id, session.user_id, chosen)
        .await
        .map_err(|error| failed(error, lang))?;
    answer(chosen)
}

fn record(session: &Session) {
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&session.member_id));
    span.record("user_id", tracing::field::display(session.user_id));
}

fn failed(error: CallError, lang: Lang) -> ApiError {
    tracing::warn!(%error, "status call failed");
    ApiError::from_call(&error, lang)
}
