//! What the product does, in plain Rust: install, record an event, uninstall, open the page,
//! sign in, read and set a status, and the background pass. Handlers in `http/` extract a
//! request, call one use case here and render what it returns; nothing here knows HTTP, and
//! nothing in `http/` touches the store or calls Bitrix24 itself.

pub mod automation;
mod availability;
pub mod background;
pub mod bindings;
mod board;
pub mod bot;
pub mod call_log;
mod confirm;
mod events;
mod finishes;
pub mod gate;
mod install;
mod jobs;
pub mod licence;
mod network;
mod open;
mod outcome;
mod plans;
mod presence;
mod refusal;
pub mod removal;
pub mod scheduler;
mod schedules;
mod sign_in;
mod team;
mod timers;

use std::sync::Arc;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Portal, Store, StoreError};
use crate::tokens::TokenManager;
pub use availability::{Focus, Found, Unreadable};
use bitrix24::OAuthClient;
use bitrix24::clock::Clock;
use bitrix24::domain::MemberId;
pub use board::{Board, BoardMember, DepartmentChoice, TeamQuery};
use confirm::Confirmations;
pub use events::Recorded;
use gate::Gate;
pub use jobs::Jobs;
pub use open::{Opened, StatusChange};
pub use plans::Plans;
pub use refusal::Refusal;
pub use sign_in::SignInStart;
use team::TeamCache;
pub use timers::{LONGEST_TIMER, Timer, TimerEnd};

/// The use cases, over the parts they need. Share one per process.
#[derive(Debug)]
pub struct Portals {
    store: Store,
    oauth: OAuthClient,
    tokens: Arc<TokenManager>,
    config: Config,
    clock: Clock,
    jobs: Jobs,
    gate: Gate,
    confirmations: Confirmations,
    team: TeamCache,
}

/// What the use cases are built over.
#[derive(Debug)]
pub struct Parts {
    pub store: Store,
    pub oauth: OAuthClient,
    pub tokens: Arc<TokenManager>,
    pub config: Config,
    /// The clock timers, schedules and paid periods run on (tests and the demo move it).
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

impl Portals {
    /// The use cases over the app's parts.
    pub fn new(parts: Parts) -> Self {
        let Parts {
            store,
            oauth,
            tokens,
            config,
            clock,
            metrics,
        } = parts;
        let jobs = Jobs::new(store.clone(), tokens.clone(), clock.clone(), metrics);
        Self {
            store,
            oauth,
            tokens,
            config,
            clock,
            jobs,
            gate: Gate::default(),
            confirmations: Confirmations::default(),
            team: TeamCache::default(),
        }
    }

    /// The background use cases, for the process's loops and for tests that run them by hand.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Unix seconds of the oldest refresh among usable accounts, for metrics.
    pub async fn oldest_refresh(&self) -> Result<Option<i64>, StoreError> {
        self.store.oldest_refresh().await
    }

    /// How many accounts are in each state, for metrics.
    pub async fn account_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.store.account_counts().await
    }

    /// An installed portal (not merely started, not removed), or why not.
    async fn installed(&self, member_id: &MemberId) -> Result<Portal, Refusal> {
        let portal = self
            .store
            .portal(member_id)
            .await?
            .filter(|p| p.record.state == crate::store::PortalState::Active)
            .ok_or(Refusal::NotInstalled)?;
        match (portal.removing_since, portal.paused_at) {
            (Some(_), _) => Err(Refusal::BeingRemoved),
            (None, Some(_)) => Err(Refusal::Paused),
            (None, None) if portal.period.ended_at.is_some() => Err(Refusal::PaymentRequired),
            (None, None) => Ok(portal),
        }
    }
}
