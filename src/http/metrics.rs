//! `GET /metrics` on the metrics listener: the counters, plus accounts by state and the oldest
//! refresh read from the database at scrape time.

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
    match state.portals.oldest_refresh().await {
        Ok(oldest) => state
            .metrics
            .set_oldest_refresh_age(oldest.map_or(0, |at| state.portals.now() - at)),
        Err(error) => tracing::warn!(%error, "could not read the oldest refresh for metrics"),
    }
    state.metrics.set_call_log_dropped(state.call_log.dropped());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}
