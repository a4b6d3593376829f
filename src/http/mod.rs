//! The HTTP surface: one module per route family, merged here under the common layers.

mod api;
mod app;
mod assets;
mod automation_api;
mod bot;
mod client_ip;
mod code;
mod error;
mod events;
mod extract;
mod forms;
mod health;
mod input;
mod install;
pub mod listen;
mod metrics;
pub mod middleware;
mod oauth;
mod page;
mod refusal;
mod renew;
mod schedule_api;
mod security;
pub mod session;
pub mod state;
mod status_page;
mod team_api;
mod team_page;
mod words;

use axum::Router;

use state::AppState;

/// The whole app's routes.
pub fn router(state: AppState) -> Router {
    let config = &state.config;
    let (limit, timeout) = (config.body_limit, config.request_timeout);
    let state_metrics = state.metrics.clone();
    let routes = Router::new()
        .merge(health::router())
        .merge(assets::router())
        .merge(install::router())
        .merge(events::router())
        .merge(oauth::router())
        .merge(automation_api::router())
        .merge(bot::router())
        .merge(app::router())
        .merge(api::router())
        .merge(schedule_api::router())
        .merge(team_api::router())
        .merge(team_page::router())
        .merge(renew::router())
        .with_state(state);
    middleware::apply(routes, state_metrics, limit, timeout)
}

/// `GET /metrics` in the OpenMetrics text format, for the separate metrics listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::render))
        .with_state(state)
}
