//! The state every handler shares: built once by `Application::build_on` (application.rs), cloned
//! cheaply per request.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::session::SessionKey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::portals::Portals;
use crate::portals::call_log::CallLog;
use crate::tokens::TokenManager;
use bitrix24::clock::Clock;

/// Everything a request handler needs, built once.
#[derive(Debug)]
pub struct App {
    /// The validated configuration.
    pub config: Config,
    /// What the product does: every handler calls one of these.
    pub portals: Portals,
    /// The token manager, for a shutdown's drain and tests.
    pub tokens: Arc<TokenManager>,
    /// The clock timers, schedules and paid periods run on, for tests that move it.
    pub clock: Clock,
    /// Signs and checks the status page's session tokens.
    pub sessions: SessionKey,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The writer of the Bitrix24 call log, flushed at shutdown.
    pub call_log: Arc<CallLog>,
    /// Set once a shutdown began: `/readyz` says so, so a load balancer moves on first.
    pub draining: AtomicBool,
}

impl App {
    /// Starts the shutdown: from now on `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether a shutdown began.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
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
