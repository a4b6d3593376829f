//! `POST /events`: `ONAPPINSTALL`, `ONAPPUPDATE`, `ONAPPUNINSTALL` and `ONAPPPAYMENT` from the
//! portal (`docs/bitrix24.md`, "Events"), handled by [`crate::portals::Portals::record_event`].
//! Answers are JSON and quick, since the portal does not retry and calls slow handlers less
//! often.
//!
//! - `ONAPPUNINSTALL` carries no usable token, and its `application_token` is in every
//!   employee's frame POST: it is only a filter. The uninstall itself is confirmed with the
//!   OAuth server before anything is deleted (see [`crate::portals::removal`]).
//! - `ONAPPINSTALL` / `ONAPPUPDATE` carry tokens, verified with the OAuth server named by
//!   `auth[server_endpoint]` when it is on the allowlist. An `application_token` different
//!   from the stored one (or the first one) is accepted only from a portal administrator. An
//!   update re-binds the app's handlers, which Bitrix24 removed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::client_ip::ClientIp;
use super::input::{self, InputError};
use super::state::AppState;
use crate::i18n::Lang;
use crate::portals::removal::Removal;
use crate::portals::{Recorded, Refusal};
use bitrix24::event::Event;

/// `POST /events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/events", post(events))
}

type Answer = (StatusCode, Json<Value>);

fn answer(status: StatusCode, code: &str, message: &str) -> Answer {
    (status, Json(json!({"error": code, "message": message})))
}

fn ok(outcome: &str) -> Answer {
    (StatusCode::OK, Json(json!({"status": outcome})))
}

#[tracing::instrument(skip_all, fields(event, member_id))]
async fn events(
    State(state): State<AppState>,
    from: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let pairs = match input::form_pairs(&headers, &body) {
        Ok(pairs) => pairs,
        Err(InputError::NotAForm) => {
            return answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Events must be sent as application/x-www-form-urlencoded.",
            );
        }
        Err(InputError::NotText) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The event is not valid UTF-8.",
            );
        }
    };
    let event = match Event::parse(&pairs) {
        Ok(event) => event,
        Err(error) => {
            tracing::info!(%error, "event refused");
            return answer(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("The event could not be read: {error}."),
            );
        }
    };
    let span = tracing::Span::current();
    span.record("event", tracing::field::debug(&event.kind));
    span.record("member_id", tracing::field::display(&event.member_id));
    match state.portals.record_event(&event, from.0).await {
        Ok(recorded) => recorded_answer(recorded),
        Err(refusal) => refused_answer(&refusal),
    }
}

fn recorded_answer(recorded: Recorded) -> Answer {
    match recorded {
        Recorded::Installed => ok("installed"),
        Recorded::Updated => ok("updated"),
        Recorded::PaymentNoted => ok("payment_noted"),
        Recorded::Ignored => ok("ignored"),
        Recorded::CalendarNoted => ok("calendar_noted"),
        Recorded::Uninstall(Removal::Removed) => ok("uninstalled"),
        Recorded::Uninstall(Removal::Suspended) => {
            (StatusCode::ACCEPTED, Json(json!({"status": "suspended"})))
        }
        Recorded::Uninstall(Removal::Forged) => answer(
            StatusCode::FORBIDDEN,
            "still_installed",
            "Bitrix24 says the app is still installed on this portal; nothing was changed.",
        ),
        Recorded::UnknownPortal => answer(
            StatusCode::NOT_FOUND,
            "unknown_portal",
            "This portal has not installed the app.",
        ),
        Recorded::WrongToken => answer(
            StatusCode::UNAUTHORIZED,
            "wrong_application_token",
            "The application token does not match.",
        ),
        Recorded::NoToken => answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The event carries no access token.",
        ),
        Recorded::AdminRequired => answer(
            StatusCode::FORBIDDEN,
            "admin_required",
            "Only an administrator's event may change the application token.",
        ),
    }
}

/// A refusal as the event endpoint says it: the code every answer uses, and its sentence in
/// English (the portal does not read it; an operator looking at Bitrix24's logs might).
fn refused_answer(refusal: &Refusal) -> Answer {
    let code = super::refusal::meaning(refusal).code;
    answer(code.status(), code.as_str(), code.message(Lang::En.text()))
}
