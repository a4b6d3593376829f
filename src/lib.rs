//! b24-status: the backend of a Bitrix24 marketplace app with which every employee of a portal
//! sets their own messenger status. [`build`] assembles the whole app from a [`Config`];
//! [`serve`] runs it until a shutdown signal.

pub mod calls;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod operate;
pub mod portals;
pub mod schedule;
pub mod store;
pub mod telemetry;
pub mod tokens;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

/// The Bitrix24 client crate, under the name the app's modules use.
pub use bitrix24 as bitrix;
pub use bitrix24::{clock, domain};
/// The emulated Bitrix24 of the demo and the tests (the `bitrix24-emulator` crate).
#[cfg(feature = "demo")]
pub use bitrix24_emulator as emulator;
pub use config::Config;

/// What the app's requests to Bitrix24 call it (`User-Agent`).
pub const USER_AGENT: &str = concat!("b24-status/", env!("CARGO_PKG_VERSION"));

use bitrix::observe::Observers;
use bitrix::{OAuthClient, RestClient};
use calls::Recorder;
use clock::Clock;
use http::session::SessionKey;
pub use http::state::{App, AppState};
use metrics::Metrics;
use portals::Portals;
use portals::call_log::CallLog;
use store::{Keyring, Store};
use tokens::TokenManager;

/// Why the app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The OAuth client could not be built.
    #[error(transparent)]
    Bitrix(#[from] bitrix::Error),
}

/// `migrate-store`: copies the database at `from` into the empty one at `to` (see
/// [`Store::copy_to`]).
pub async fn migrate_store(
    from: &str,
    to: &str,
    keys: Keyring,
) -> Result<store::RowCounts, store::StoreError> {
    if from == to {
        return Err(store::StoreError::TargetNotEmpty(
            "it is the database being copied".into(),
        ));
    }
    let source = Store::open_existing(from, keys.clone(), true).await?;
    let target = Store::open(to, keys).await?;
    let copied = source.copy_to(&target).await;
    source.close().await;
    target.close().await;
    copied
}

/// Opens the database, builds the clients and returns the router with its state.
pub async fn build(config: Config) -> Result<(Router, AppState), BuildError> {
    build_with_clock(config, Clock::default()).await
}

/// [`build`], with timers, schedules and token expiry read from `clock` (the demo shares its
/// emulated portal's, so "skip 1 hour" moves both).
pub async fn build_with_clock(
    config: Config,
    clock: Clock,
) -> Result<(Router, AppState), BuildError> {
    let keys = Keyring::new(&config.app_secret, config.app_secret_previous.as_ref());
    let store = Store::open_with(&config.database_url, keys, config.database).await?;
    let http = bitrix::http_client(config.bitrix_timeout, !config.allow_http, USER_AGENT)?;
    let metrics = Arc::new(Metrics::new());
    let (call_log, calls) = CallLog::start(store.clone(), clock.clone(), config.call_log_retention);
    let observers = Observers::to(Arc::new(Recorder::new(metrics.clone(), calls)));
    let rest = RestClient::new(http.clone(), config.allow_http, observers.clone());
    let oauth = OAuthClient::new(
        http,
        &config.oauth_servers,
        &config.client_id,
        &config.client_secret,
        observers,
    )?;
    // Every call to a portal goes through the token manager and its rate limiter, so the REST
    // client lives there only.
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        oauth.clone(),
        rest,
        config.tokens.clone(),
        clock,
        metrics.clone(),
    ));
    let sessions = SessionKey::new(config.app_secret.derive(SessionKey::PURPOSE));
    let portals = Portals::new(store, oauth, tokens.clone(), config.clone());
    let state = AppState::new(App {
        metrics,
        sessions,
        config,
        portals,
        tokens,
        call_log,
        draining: std::sync::atomic::AtomicBool::new(false),
    });
    Ok((http::router(state.clone()), state))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish, with the listener's guards at their defaults ([`http::listen::Edge`]). Handlers see
/// the peer's address (for the verification budgets).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    http::listen::serve(listener, router, shutdown, http::listen::Edge::default()).await
}
