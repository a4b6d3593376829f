//! `GET /api/team?department=ID&q=TEXT&page=N` (Bearer session): one page of the team board —
//! `{"members":[{"id":2,"name":"Boris Ivanov","position":"…","status":"dnd","until":null,
//! "absent":false}],"departments":[{"id":1,"name":"…"}],"page":1,"pages":3}` — cut from the
//! portal's shared read, so asking costs Bitrix24 nothing most of the time.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use serde_json::{Value, json};

use super::api::record;
use super::error::{ApiError, NoStoreJson, no_store};
use super::extract::Authed;
use super::state::AppState;
use crate::portals::{Board, TeamQuery};

/// `GET /api/team`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/team", get(read))
}

/// The first value of each query parameter the board takes.
pub(super) fn query_field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The board as the API answers it.
pub(super) fn board_json(board: &Board) -> Value {
    let members: Vec<Value> = board
        .members
        .iter()
        .map(|m| {
            let until = m
                .until
                .and_then(|u| jiff::Timestamp::from_second(u).ok())
                .map(|u| u.to_string());
            json!({
                "id": m.id.get(),
                "name": m.name,
                "position": m.position,
                "status": m.status.as_str(),
                "until": until,
                "absent": m.absent,
            })
        })
        .collect();
    let departments: Vec<Value> = board
        .departments
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name}))
        .collect();
    json!({
        "members": members,
        "departments": departments,
        "department": board.department,
        "page": board.page,
        "pages": board.pages,
    })
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn read(
    State(state): State<AppState>,
    Authed(session): Authed,
    RawQuery(raw): RawQuery,
) -> NoStoreJson {
    record(&session);
    let lang = session.lang;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let query = TeamQuery::parse(
        query_field(&pairs, "department"),
        query_field(&pairs, "q"),
        query_field(&pairs, "page"),
    )
    .map_err(|field| ApiError::invalid_query(lang, field))?;
    let board = state
        .portals
        .board(&session.member_id, session.user_id, &query)
        .await
        .map_err(|refusal| ApiError::failed(refusal, lang))?;
    no_store(board_json(&board))
}
