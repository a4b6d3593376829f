//! The JSON API the status page's script uses, authorised by the page's session token
//! (`Authorization: Bearer …`): `GET /api/status` reads the status from Bitrix24 (never a
//! cache), with why it is what it is (`reason`: a meeting, the working day, a timer, a schedule
//! rule) and until when; `PUT /api/status` with `{"status":"dnd"}` applies it with the user's
//! own token, and with `"until"` (RFC 3339) only until then.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::get;
use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::code::Code;
use super::error::{ApiError, NoStoreJson, no_store};
use super::extract::Authed;
use super::session::Session;
use super::state::AppState;
use crate::i18n::Lang;
use crate::portals::automation::Why;
use bitrix24::domain::Status;

/// `GET /api/status` and `PUT /api/status`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/status", get(read).put(write))
}

type Answer = NoStoreJson<StatusAnswer>;

/// A field as sent, judged on its own so that each gets its own error: present with a value
/// of its type, or present with anything else (`null` included).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Field<T> {
    Valid(T),
    Invalid(IgnoredAny),
}

/// A present field, `null` included (serde would read `null` as absent).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `PUT /api/status`'s body: `{"status": "dnd"}`, with `"until"` (RFC 3339 with an offset)
/// for a while. Other fields are ignored.
#[derive(Deserialize)]
struct StatusChange {
    #[serde(default, deserialize_with = "present")]
    status: Option<Field<Status>>,
    #[serde(default, deserialize_with = "present")]
    until: Option<Field<String>>,
}

/// `{"status": …}`, with `reason` and `until` (RFC 3339, UTC, when known) while something other
/// than the user's hand holds it, and `then` while a timer runs.
#[derive(Serialize)]
struct StatusAnswer {
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    then: Option<Status>,
}

fn answer(status: Status, why: Option<Why>) -> Answer {
    let until = why
        .and_then(Why::until)
        .and_then(|until| jiff::Timestamp::from_second(until).ok())
        .map(|until| until.to_string());
    let then = match why {
        Some(Why::Timer { then, .. }) => Some(then),
        _ => None,
    };
    no_store(StatusAnswer {
        status,
        reason: why.map(Why::as_str),
        until,
        then,
    })
}

async fn read(State(state): State<AppState>, Authed(session): Authed) -> Answer {
    record(&session);
    let (member_id, user_id) = (&session.member_id, session.user_id);
    let status = state
        .portals
        .read_status(member_id, user_id)
        .await
        .map_err(|error| ApiError::failed(error, session.lang))?;
    let why = state
        .portals
        .why(member_id, user_id, status)
        .await
        .map_err(|error| ApiError::failed(error, session.lang))?;
    answer(status, why)
}

async fn write(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    record(&session);
    let lang = session.lang;
    let object = json_object(headers, body, lang)?;
    let change: StatusChange = serde_json::from_value(Value::Object(object))
        .map_err(|_| ApiError::new(Code::BadRequest, lang))?;
    let chosen = match change.status {
        None => return Err(ApiError::new(Code::BadRequest, lang)),
        Some(Field::Invalid(_)) => return Err(ApiError::new(Code::InvalidStatus, lang)),
        Some(Field::Valid(chosen)) => chosen,
    };
    let (member_id, user_id) = (&session.member_id, session.user_id);
    let Some(until) = change.until else {
        state
            .portals
            .set_status(member_id, user_id, chosen)
            .await
            .map_err(|error| ApiError::failed(error, lang))?;
        return answer(chosen, None);
    };
    // RFC 3339 with an offset (a bare local time names no moment), within the next week.
    let until = match until {
        Field::Valid(text) => text.parse::<jiff::Timestamp>().ok(),
        Field::Invalid(_) => None,
    }
    .and_then(|until| state.portals.timer_end(until.as_second()))
    .ok_or_else(|| ApiError::new(Code::InvalidUntil, lang))?;
    let timer = state
        .portals
        .set_status_until(member_id, user_id, chosen, until)
        .await
        .map_err(|error| ApiError::failed(error, lang))?;
    answer(
        chosen,
        Some(Why::Timer {
            until: timer.until,
            then: timer.then,
        }),
    )
}

/// The body as a JSON object, declared as JSON; nothing looser (serde would also read
/// `["dnd"]` into a struct). It takes the request's header values and body, which share the
/// connection's read buffer, so a handler lets go of them before it waits for Bitrix24; held
/// through the wait, hyper must allocate the connection another buffer for its next read
/// (docs/performance.md, "Every target, three rounds in a row").
pub(super) fn json_object(
    headers: HeaderMap,
    body: Bytes,
    lang: Lang,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(Code::UnsupportedMediaType, lang));
    }
    match serde_json::from_slice(&body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::new(Code::BadRequest, lang)),
    }
}

/// Names the session's portal and user on the request's span (the status routes' hot path has
/// no span of its own: each costs an allocation and work at every poll).
pub(super) fn record(session: &Session) {
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&session.member_id));
    span.record("user_id", tracing::field::display(session.user_id));
}
