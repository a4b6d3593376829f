//! The state every handler shares: built once by `build` (in lib.rs), cloned cheaply per request.

use std::ops::Deref;
use std::sync::Arc;

use super::gate::Gate;
use super::session::SessionKey;
use crate::bitrix::OAuthClient;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tokens::TokenManager;

/// Everything a request handler needs, built once.
#[derive(Debug)]
pub struct App {
    /// The validated configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// OAuth calls to the configured OAuth server.
    pub oauth: OAuthClient,
    /// Working tokens and REST calls on behalf of users.
    pub tokens: Arc<TokenManager>,
    /// Signs and checks the status page's session tokens.
    pub sessions: SessionKey,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Budgets of failed verifications per portal and address.
    pub gate: Gate,
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
