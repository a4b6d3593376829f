//! `POST /bot`: the app's chat bot's webhook (`docs/users.md`, "Chat commands"), handled by
//! [`crate::portals::Portals::bot_event`], which believes a command only when the portal,
//! read with the invoking user's own pair, shows it (`docs/security.md`, "Chat commands").
//! Answers are short JSON: the portal does not read them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::code::Code;
use super::error::ApiError;
use super::input;
use super::state::AppState;
use super::words::bot_reply;
use crate::i18n::Lang;
use crate::portals::bot::Heard;

/// `POST /bot`.
pub fn router() -> Router<AppState> {
    Router::new().route("/bot", post(command))
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn command(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(pairs) = input::form_pairs(&headers, &body) else {
        return ApiError::new(Code::BadRequest, Lang::En).into_response();
    };
    match state.portals.bot_event(&pairs, bot_reply).await {
        Ok(heard) => {
            let status = match heard {
                Heard::Done => "done",
                Heard::AskedToOpen => "asked_to_open",
                Heard::Greeted => "greeted",
                Heard::Repeated => "repeated",
                Heard::NotOurs => "not_ours",
                Heard::NotBelieved => "not_believed",
            };
            (StatusCode::OK, Json(json!({ "status": status }))).into_response()
        }
        Err(refusal) => ApiError::failed(refusal, Lang::En).into_response(),
    }
}
