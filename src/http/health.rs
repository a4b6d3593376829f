//! Liveness and readiness probes for orchestrators and load balancers. Readiness turns 503 as
//! soon as a shutdown begins, while the app still serves, so traffic moves away before the
//! listener closes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::state::AppState;

/// `GET /healthz` (the process answers) and `GET /readyz` (not shutting down, and the database
/// answers too).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining", "message": "This instance is shutting down."})),
        );
    }
    match state.portals.ready().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(err) => {
            tracing::error!(%err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "message": "The database does not answer."})),
            )
        }
    }
}
