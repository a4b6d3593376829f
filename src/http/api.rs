//! The JSON API the status page's script uses, authorised by the page's session token
//! (`Authorization: Bearer …`): `GET /api/status` reads the status from Bitrix24 (never a
//! cache), with the running timer if any; `PUT /api/status` with `{"status":"dnd"}` applies it
//! with the user's own token, and with `"until"` (RFC 3339) only until then.

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
use crate::i18n::Lang;
use crate::portals::Timer;
use crate::tokens::CallError;
use bitrix24::domain::Status;

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

/// `{"status": …}`, with `until` (RFC 3339, UTC) and `then` while a timer runs.
fn answer(status: Status, timer: Option<&Timer>) -> Answer {
    let mut body = json!({"status": status.as_str()});
    if let Some(timer) = timer
        && let Ok(until) = jiff::Timestamp::from_second(timer.until)
    {
        body["until"] = json!(until.to_string());
        body["then"] = json!(timer.then.as_str());
    }
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    ))
}

async fn read(State(state): State<AppState>, Authed(session): Authed) -> Answer {
    record(&session);
    let (member_id, user_id) = (&session.member_id, session.user_id);
    let status = state
        .portals
        .read_status(member_id, user_id)
        .await
        .map_err(|error| failed(error, session.lang))?;
    let timer = state
        .portals
        .timer(member_id, user_id)
        .await
        .map_err(|error| failed(error, session.lang))?;
    answer(status, timer.as_ref())
}

async fn write(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    record(&session);
    let lang = session.lang;
    let change = json_object(&headers, &body, lang)?;
    let status = change
        .get("status")
        .ok_or_else(|| ApiError::bad_request(lang))?;
    let chosen = status
        .as_str()
        .and_then(|s| Status::parse(s).ok())
        .ok_or_else(|| ApiError::invalid_status(lang))?;
    let (member_id, user_id) = (&session.member_id, session.user_id);
    let Some(until) = change.get("until") else {
        state
            .portals
            .set_status(member_id, user_id, chosen)
            .await
            .map_err(|error| failed(error, lang))?;
        return answer(chosen, None);
    };
    // RFC 3339 with an offset (a bare local time names no moment), within the next week.
    let until = until
        .as_str()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .map(jiff::Timestamp::as_second)
        .filter(|until| state.portals.timer_end_is_valid(*until))
        .ok_or_else(|| ApiError::invalid_until(lang))?;
    let timer = state
        .portals
        .set_status_until(member_id, user_id, chosen, until)
        .await
        .map_err(|error| failed(error, lang))?;
    answer(chosen, Some(&timer))
}

/// The body as a JSON object, declared as JSON; nothing looser (serde would also read
/// `["dnd"]` into a struct).
pub(super) fn json_object(
    headers: &HeaderMap,
    body: &Bytes,
    lang: Lang,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type(lang));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::bad_request(lang)),
    }
}

/// Names the session's portal and user on the request's span (the status routes' hot path has
/// no span of its own: each costs an allocation and work at every poll).
pub(super) fn record(session: &Session) {
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&session.member_id));
    span.record("user_id", tracing::field::display(session.user_id));
}

pub(super) fn failed(error: CallError, lang: Lang) -> ApiError {
    tracing::warn!(%error, "status call failed");
    ApiError::from_call(&error, lang)
}
