//! `GET /metrics` on the metrics listener: the counters, plus accounts by state read from the
//! database at scrape time.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;

pub(super) async fn render(State(state): State<AppState>) -> Response {
    match state.portals.account_counts().await {
        Ok(counts) => {
            for (account_state, count) in counts {
                state.metrics.set_accounts(&account_state, count);
            }
        }
        Err(error) => tracing::warn!(%error, "could not count accounts for metrics"),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
