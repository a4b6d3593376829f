//! `GET /api/schedule` and `PUT /api/schedule`: the user's weekly focus schedule in the
//! contract's shape, `{"time_zone": "Europe/Berlin", "rules": [{"days": ["mon"], "from":
//! "09:00", "to": "11:00", "status": "dnd"}]}`, authorised by the page's session. A `PUT`
//! replaces it whole; a schedule the contract refuses answers 422 `invalid_schedule` naming the
//! rule and field, and changes nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::Value;

use super::api::{json_object, record};
use super::error::{ApiError, NoStoreJson, no_store};
use super::extract::Authed;
use super::state::AppState;
use crate::schedule::{Schedule, ScheduleShape};

/// `GET /api/schedule` and `PUT /api/schedule`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/schedule", get(read).put(write))
}

type Answer = NoStoreJson<ScheduleShape>;

fn answer(schedule: &Schedule) -> Answer {
    no_store(ScheduleShape::from(schedule))
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn read(State(state): State<AppState>, Authed(session): Authed) -> Answer {
    record(&session);
    let schedule = state
        .portals
        .schedule(&session.member_id, session.user_id)
        .await
        .map_err(|error| ApiError::failed(error, session.lang))?;
    answer(&schedule)
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
    let object = json_object(headers, body, lang)?;
    let schedule = ScheduleShape::read(Value::Object(object))
        .and_then(Schedule::try_from)
        .map_err(|invalid| ApiError::invalid_schedule(lang, &invalid))?;
    state
        .portals
        .save_schedule(&session.member_id, session.user_id, &schedule)
        .await
        .map_err(|error| ApiError::failed(error, lang))?;
    answer(&schedule)
}
