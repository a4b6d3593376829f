//! The process: [`Application::build`] opens the database, builds the clients and binds the
//! listeners (starting the demo's Bitrix24 in demo mode); [`Application::run_until`] serves,
//! runs the background loops (keep-alive and portal checks, the scheduler, the token-cache
//! check) and the metrics listener, and at shutdown drains, lets refreshes under way store
//! their pairs and flushes the call log. `main.rs` and the tests start the same thing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use bitrix24::observe::Observers;
use bitrix24::{self as bitrix, OAuthClient, RestClient};

use crate::config::{Config, Mode};
use crate::http::listen::Edge;
use crate::http::session::SessionKey;
use crate::http::state::{App, AppState};
use crate::metrics::Metrics;
use crate::portals::call_log::{CallLog, Recorder};
use crate::portals::{Parts, Portals};
use crate::store::{Keyring, Store, StoreError};
use crate::tokens::TokenManager;
use crate::{USER_AGENT, http};
use bitrix24::clock::Clock;

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The OAuth client could not be built.
    #[error(transparent)]
    Bitrix(#[from] bitrix::Error),
    /// A listener could not be bound.
    #[error("cannot listen on {what} {addr}: {error}")]
    Listen {
        /// Which setting names the address.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        error: std::io::Error,
    },
    /// The demo's Bitrix24 could not start.
    #[error("cannot start the demo Bitrix24: {0}")]
    Demo(std::io::Error),
}

/// Whether the background loops run: always in production; a test that applies due work by
/// hand (`Jobs::apply_due`) turns them off so that it alone decides when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loops {
    /// The keep-alive, the scheduler and the token-cache check run on their own.
    Run,
    /// None of them runs.
    Manual,
}

/// The whole app, built and bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    store: Store,
    loops: Loops,
    #[cfg(feature = "demo")]
    demo: Option<crate::demo::Demo>,
}

impl Application {
    /// Binds `LISTEN_ADDR` (and `METRICS_ADDR`), starts the demo's Bitrix24 in demo mode (its
    /// clock is then the app's, so "skip 1 hour" moves both), and builds the app.
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        let listener = bind("LISTEN_ADDR", config.listen_addr).await?;
        #[cfg(feature = "demo")]
        if config.mode == Mode::Demo {
            let address = local_addr("LISTEN_ADDR", &listener, config.listen_addr)?;
            let (demo, config) = crate::demo::start(config, address)
                .await
                .map_err(BuildError::Demo)?;
            let clock = demo.emulator.clock();
            let mut app = Self::build_on(config, listener, clock, Loops::Run).await?;
            app.demo = Some(demo);
            return Ok(app);
        }
        Self::build_on(config, listener, Clock::default(), Loops::Run).await
    }

    /// Builds the app to serve on `listener`, reading time from `clock` (tests move it).
    pub async fn build_on(
        config: Config,
        listener: TcpListener,
        clock: Clock,
        loops: Loops,
    ) -> Result<Self, BuildError> {
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(bind("METRICS_ADDR", addr).await?),
            None => None,
        };
        let keys = Keyring::new(&config.app_secret, config.app_secret_previous.as_ref());
        let store = Store::open_with(&config.database_url, keys, config.database).await?;
        let http = bitrix::http_client(config.bitrix_timeout, !config.allow_http, USER_AGENT)?;
        let metrics = Arc::new(Metrics::new());
        let (call_log, calls) =
            CallLog::start(store.clone(), clock.clone(), config.call_log_retention);
        let observers = Observers::to(Arc::new(Recorder::new(metrics.clone(), calls)));
        let rest = RestClient::new(http.clone(), config.allow_http, observers.clone());
        let oauth = OAuthClient::new(
            http,
            &config.oauth_servers,
            &config.client_id,
            &config.client_secret,
            observers,
        )?;
        // Every call to a portal goes through the token manager and its rate limiter, so the
        // REST client lives there only.
        let tokens = Arc::new(TokenManager::new(
            store.clone(),
            oauth.clone(),
            rest,
            config.tokens.clone(),
            clock.clone(),
            metrics.clone(),
        ));
        let sessions = SessionKey::new(config.app_secret.derive(SessionKey::PURPOSE));
        let portals = Portals::new(Parts {
            store: store.clone(),
            oauth,
            tokens: tokens.clone(),
            config: config.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
        });
        let state = AppState::new(App {
            metrics,
            sessions,
            config,
            portals,
            tokens,
            clock,
            call_log,
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        Ok(Self {
            listener,
            metrics_listener,
            router: http::router(state.clone()),
            state,
            store,
            loops,
            #[cfg(feature = "demo")]
            demo: None,
        })
    }

    /// Where the app listens.
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the metrics listener listens, when `METRICS_ADDR` is set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The app's shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The database it opened, shared with everything it built (tests look into it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` completes. Then `/readyz` answers 503 for `SHUTDOWN_DELAY` while
    /// requests are still served, the listener closes, requests in flight finish, refreshes
    /// under way store their pairs (they already rotated them at Bitrix24), and the call log
    /// is flushed; then the loops are stopped.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            metrics_listener,
            router,
            state,
            store,
            loops,
            #[cfg(feature = "demo")]
            demo,
        } = self;
        let config = &state.config;
        let mut tasks = JoinSet::new();
        if let Some(metrics_listener) = metrics_listener {
            let metrics = http::metrics_router(state.clone());
            tasks.spawn(async move {
                if let Err(error) = http::listen::serve(
                    metrics_listener,
                    metrics,
                    std::future::pending(),
                    Edge::default(),
                )
                .await
                {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            });
        }
        if loops == Loops::Run {
            let jobs = state.portals.jobs();
            tasks.spawn(jobs.clone().run_background(config.keepalive.clone()));
            tasks.spawn(jobs.clone().run_scheduler());
            tasks.spawn(store.check_cache_forever());
        }
        let address = listener.local_addr()?;
        #[cfg(feature = "demo")]
        if let Some(demo) = &demo {
            tracing::warn!(
                oauth = %demo.emulator.oauth_url(),
                portal = %demo.portal.domain,
                "DEMO MODE: no B24_CLIENT_ID/B24_CLIENT_SECRET set, talking to the built-in Bitrix24 emulator on loopback, not to real portals"
            );
            say(&format!(
                "b24-status demo: open {} (the app listens on http://{address})\n\
                 b24-status demo: a portal of the east region (its own OAuth server) is at {}",
                demo.url, demo.east_url
            ));
        }
        if config.mode == Mode::Production {
            say(&format!("b24-status listening on http://{address}"));
        }
        let draining = state.clone();
        let delay = config.shutdown_delay;
        let shutdown = async move {
            shutdown.await;
            // Readiness fails first while requests are still served, so a load balancer moves
            // new ones elsewhere before the listener closes.
            draining.start_draining();
            tracing::info!(delay_s = delay.as_secs(), "draining: /readyz answers 503");
            tokio::time::sleep(delay).await;
        };
        http::listen::serve(listener, router, shutdown, Edge::default()).await?;
        if !state.tokens.drain(config.tokens.lease).await {
            tracing::warn!("stopped with token refreshes still under way");
        }
        state.call_log.flush().await;
        tasks.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, BuildError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| BuildError::Listen { what, addr, error })
}

#[cfg(feature = "demo")]
fn local_addr(
    what: &'static str,
    listener: &TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, BuildError> {
    listener
        .local_addr()
        .map_err(|error| BuildError::Listen { what, addr, error })
}

/// Prints a line for the person who started the app; a reader that went away (`| head -1`)
/// is no reason to stop serving.
fn say(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _gone = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}
