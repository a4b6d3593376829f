//! `GET /api/automation` and `PUT /api/automation`: the user's switches for statuses that set
//! themselves, `{"meetings":{"enabled":false,"status":"dnd"},"working_day":{"enabled":false}}`
//! (`docs/api.md`), authorised by the page's session. A `PUT` replaces them whole; anything else
//! is 422 `invalid_automation` naming the field, and nothing is stored.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{Field, json_object, present, record};
use super::error::{ApiError, NoStoreJson, no_store};
use super::extract::Authed;
use super::state::AppState;
use crate::automation::{MEETING_STATUSES, Settings};
use bitrix24::domain::Status;

/// `GET /api/automation` and `PUT /api/automation`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/automation", get(read).put(write))
}

/// The switches, in the contract's shape (also the `PUT` body's).
#[derive(Serialize)]
struct Switches {
    meetings: Meetings,
    working_day: WorkingDay,
}

#[derive(Serialize)]
struct Meetings {
    enabled: bool,
    status: Status,
}

#[derive(Serialize)]
struct WorkingDay {
    enabled: bool,
}

impl From<Settings> for Switches {
    fn from(settings: Settings) -> Self {
        Self {
            meetings: Meetings {
                enabled: settings.meetings,
                status: settings.meeting_status,
            },
            working_day: WorkingDay {
                enabled: settings.working_day,
            },
        }
    }
}

/// The `PUT` body as sent, each field judged on its own.
#[derive(Deserialize)]
struct Body {
    #[serde(default, deserialize_with = "present")]
    meetings: Option<Field<MeetingsBody>>,
    #[serde(default, deserialize_with = "present")]
    working_day: Option<Field<WorkingDayBody>>,
}

#[derive(Deserialize)]
struct MeetingsBody {
    #[serde(default, deserialize_with = "present")]
    enabled: Option<Field<bool>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Field<Status>>,
}

#[derive(Deserialize)]
struct WorkingDayBody {
    #[serde(default, deserialize_with = "present")]
    enabled: Option<Field<bool>>,
}

impl Body {
    /// The settings, or the first field at fault.
    fn settings(self) -> Result<Settings, &'static str> {
        let meetings: MeetingsBody = valid(self.meetings, "meetings")?;
        let meetings_on = valid(meetings.enabled, "meetings.enabled")?;
        let meeting_status = valid(meetings.status, "meetings.status").and_then(|s| {
            MEETING_STATUSES
                .contains(&s)
                .then_some(s)
                .ok_or("meetings.status")
        })?;
        let working_day: WorkingDayBody = valid(self.working_day, "working_day")?;
        Ok(Settings {
            meetings: meetings_on,
            meeting_status,
            working_day: valid(working_day.enabled, "working_day.enabled")?,
        })
    }
}

/// A field's value, or its name when it is missing or of another type.
fn valid<T>(field: Option<Field<T>>, name: &'static str) -> Result<T, &'static str> {
    match field {
        Some(Field::Valid(value)) => Ok(value),
        _ => Err(name),
    }
}

type Answer = NoStoreJson<Switches>;

fn answer(settings: Settings) -> Answer {
    no_store(settings.into())
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn read(State(state): State<AppState>, Authed(session): Authed) -> Answer {
    record(&session);
    let settings = state
        .portals
        .automation(&session.member_id, session.user_id)
        .await
        .map_err(|error| ApiError::failed(error, session.lang))?;
    answer(settings)
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
    let settings = serde_json::from_value::<Body>(Value::Object(object))
        .map_err(|_| "meetings")
        .and_then(Body::settings)
        .map_err(|field| ApiError::invalid_automation(lang, field))?;
    state
        .portals
        .save_automation(&session.member_id, session.user_id, &settings)
        .await
        .map_err(|error| ApiError::failed(error, lang))?;
    answer(settings)
}
