//! The state every handler shares: built once by `build` (in lib.rs), cloned cheaply per request.

use std::ops::Deref;
use std::sync::Arc;

use super::session::SessionKey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::portals::Portals;
use crate::tokens::TokenManager;

/// Everything a request handler needs, built once.
#[derive(Debug)]
pub struct App {
    /// The validated configuration.
    pub config: Config,
    /// What the product does: every handler calls one of these.
    pub portals: Portals,
    /// The token manager, for the background pass, a shutdown's drain and tests.
    pub tokens: Arc<TokenManager>,
    /// Signs and checks the status page's session tokens.
    pub sessions: SessionKey,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// The shared state: one cheap clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<App>);

impl AppState {
    /// Wraps what the app built.
    pub fn new(app: App) -> Self {
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
