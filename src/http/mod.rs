//! The HTTP surface: one module per route family, merged here under the common layers.

mod health;
mod middleware;

use axum::Router;

use crate::AppState;

/// The whole app's routes.
pub fn router(state: AppState) -> Router {
    let config = &state.config;
    let (limit, timeout) = (config.body_limit, config.request_timeout);
    let routes = Router::new().merge(health::router()).with_state(state);
    middleware::apply(routes, limit, timeout)
}
