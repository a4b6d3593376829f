//! What the product does, in plain Rust: install, record an event, uninstall, open the page,
//! sign in, read and set a status, and the background pass. Handlers in `http/` extract a
//! request, call one use case here and render what it returns; nothing here knows HTTP, and
//! nothing in `http/` touches the store or calls Bitrix24 itself.

pub mod background;
pub mod bindings;
mod board;
pub mod call_log;
mod confirm;
mod events;
pub mod gate;
mod install;
pub mod licence;
mod network;
mod open;
mod outcome;
mod plans;
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
use crate::tokens::{CallError, TokenManager};
use bitrix24::OAuthClient;
use bitrix24::clock::Clock;
use bitrix24::domain::MemberId;
pub use board::{Board, BoardMember, DepartmentChoice, TeamQuery};
use confirm::Confirmations;
pub use events::Recorded;
use gate::Gate;
pub use open::{Opened, StatusChange};
pub use plans::Plans;
pub use sign_in::SignInStart;
use team::TeamCache;
pub use timers::{LONGEST_TIMER, Timer, TimerEnd};

/// Why a use case did not do what was asked, in the terms a page or an answer needs.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request lacks something Bitrix24 always sends.
    #[error("the request is incomplete")]
    BadRequest,
    /// The portal has not installed the app.
    #[error("the app is not installed on this portal")]
    NotInstalled,
    /// An uninstall of the portal awaits confirmation.
    #[error("the app is being removed from this portal")]
    BeingRemoved,
    /// The operator paused the portal.
    #[error("the app is paused on this portal")]
    Paused,
    /// The app's trial or paid period on the portal ended.
    #[error("the app's paid period on this portal ended")]
    PaymentRequired,
    /// The OAuth server did not confirm the token.
    #[error("Bitrix24 did not confirm the request")]
    NotVerified,
    /// The request names an OAuth server off the allowlist; nothing was sent to it.
    #[error("the request names an OAuth server this app does not use")]
    OffList,
    /// The portal did not accept the token.
    #[error("the portal refused the token")]
    TokenRejected,
    /// Only an administrator may do this.
    #[error("an administrator is required")]
    AdminOnly,
    /// Bitrix24 did not answer.
    #[error("Bitrix24 did not answer")]
    Unavailable,
    /// The app's event handlers could not be bound.
    #[error("the app's handlers could not be bound")]
    BindingsFailed,
    /// Too many failed checks for this portal or from this address.
    #[error("too many failed checks; retry in {0} s")]
    Budget(u64),
    /// The sign-in's state is unknown, used or expired.
    #[error("the sign-in state is unknown or expired")]
    SignInState,
    /// The OAuth server refused the sign-in.
    #[error("the OAuth server refused the sign-in")]
    SignInRefused,
    /// Too many sign-ins are under way for one portal.
    #[error("too many sign-ins under way")]
    TooManySignIns,
    /// Not the address of an installed portal.
    #[error("not a portal address")]
    BadDomain,
    /// A call on the user's behalf failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// The portal holds as many accounts as the app keeps for one; a new user's pair was not
    /// stored.
    #[error("the portal holds as many accounts as one may")]
    AccountsFull,
    /// The portal has not granted a scope the team board needs (named as Bitrix24 names it).
    #[error("the portal has not granted the {0} scope")]
    ScopeMissing(&'static str),
    /// The team board is for the portal's employees; the viewer is not one (extranet, guest).
    #[error("the viewer is not one of the portal's employees")]
    EmployeesOnly,
    /// The portal's REST lacks a method the team board needs (an older on-premise portal).
    #[error("the portal's REST has no method {0}")]
    MethodMissing(&'static str),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AccountsFull(_) => Self::AccountsFull,
            other => Self::Store(other),
        }
    }
}

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

/// The use cases that run without a request, or outlive one: the background pass (keep-alive,
/// removal checks, paid periods), the scheduler, and an uninstall's confirmation. Cheap to
/// clone, so work it starts can hold its own copy.
#[derive(Clone, Debug)]
pub struct Jobs {
    store: Store,
    tokens: Arc<TokenManager>,
    clock: Clock,
    metrics: Arc<Metrics>,
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
        let jobs = Jobs {
            store: store.clone(),
            tokens: tokens.clone(),
            clock: clock.clone(),
            metrics,
        };
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
