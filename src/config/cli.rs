//! The command line and environment, as the operator types them: every setting is a flag, an
//! environment variable of the same name, or a line in `.env`.

use clap::{Parser, Subcommand, ValueEnum};

/// The command line and environment, as typed by the operator.
#[derive(Parser, Debug)]
#[command(
    name = "b24-status",
    version,
    about = "Bitrix24 app backend: every employee sets their own messenger status.",
    long_about = "Bitrix24 app backend: every employee sets their own messenger status.\n\n\
        Two modes:\n  \
        production  B24_CLIENT_ID and B24_CLIENT_SECRET (from the Bitrix24 vendor account) and\n              \
        APP_SECRET are set; the app talks to real portals over HTTPS.\n  \
        demo        neither credential is set: a built-in Bitrix24 emulator (OAuth server and one\n              \
        portal) starts on loopback, so the app can be tried without any account.\n\n\
        Every flag can be given as the environment variable named in brackets, or in a .env file."
)]
pub struct Cli {
    /// The app's client_id from the Bitrix24 vendor account.
    #[arg(long = "b24-client-id", env = "B24_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The app's client_secret; sent to the servers of B24_OAUTH_URL and nowhere else.
    #[arg(
        long = "b24-client-secret",
        env = "B24_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// Bitrix24's OAuth servers, comma-separated: the only hosts that verify tokens, refresh
    /// them and ever see client_secret. Each portal uses the one that issued its tokens.
    #[arg(
        long = "b24-oauth-url",
        env = "B24_OAUTH_URL",
        default_value = "https://oauth.bitrix.info,https://oauth.bitrix24.tech"
    )]
    pub oauth_url: String,
    /// The app's public base URL, from which handler URLs are built.
    #[arg(
        long = "public-url",
        env = "PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// Address to listen on.
    #[arg(
        long = "listen-addr",
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen_addr: String,
    /// The database: sqlite://path (the file and its folder are created if missing) for one
    /// host, or postgres://user@host/db (add ?sslmode=require or verify-full for TLS) for
    /// several instances.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "sqlite://data/b24-status.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Most connections to the database per instance (default: 4 for SQLite, 10 for
    /// PostgreSQL).
    #[arg(long = "database-max-connections", env = "DATABASE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: Option<u32>,
    /// Base64 of at least 32 random bytes: encrypts tokens at rest and signs sessions.
    #[arg(long = "app-secret", env = "APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// The previous APP_SECRET while rotating: still decrypts, never encrypts.
    #[arg(
        long = "app-secret-previous",
        env = "APP_SECRET_PREVIOUS",
        hide_env_values = true
    )]
    pub app_secret_previous: Option<String>,
    /// Development only: accept http:// and loopback portal and OAuth endpoints.
    #[arg(
        long = "b24-allow-http",
        env = "B24_ALLOW_HTTP",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_http: bool,
    /// Log format.
    #[arg(
        long = "log-format",
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
    /// The Bitrix24 JS library the app's pages load (the emulator serves a stand-in).
    #[arg(
        long = "b24-js-url",
        env = "B24_JS_URL",
        default_value = "https://api.bitrix24.com/api/v1/"
    )]
    pub js_url: String,
    /// Placements bound at install, comma-separated (USER_PROFILE_MENU also needs the `user`
    /// scope).
    #[arg(
        long = "placements",
        env = "PLACEMENTS",
        default_value = "IM_NAVIGATION"
    )]
    pub placements: String,
    /// Requests a portal accepts at once (Bitrix24: 50, Enterprise 250).
    #[arg(
        long = "rate-limit-burst",
        env = "RATE_LIMIT_BURST",
        default_value_t = 50
    )]
    pub rate_burst: u32,
    /// Requests per second a portal accepts after the burst (Bitrix24: 2, Enterprise 5).
    #[arg(
        long = "rate-limit-per-second",
        env = "RATE_LIMIT_PER_SECOND",
        default_value_t = 2.0
    )]
    pub rate_per_sec: f64,
    /// Longest a request waits for the portal's rate limit, in seconds.
    #[arg(
        long = "rate-limit-max-wait",
        env = "RATE_LIMIT_MAX_WAIT",
        default_value_t = 10
    )]
    pub rate_max_wait: u64,
    /// Refresh tokens not refreshed for this many days.
    #[arg(long = "keepalive-days", env = "KEEPALIVE_DAYS", default_value_t = 20)]
    pub keepalive_days: u64,
    /// Where to serve Prometheus metrics (`/metrics`); off when unset.
    #[arg(long = "metrics-addr", env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Seconds one call to Bitrix24 may take.
    #[arg(long = "bitrix-timeout", env = "BITRIX_TIMEOUT", default_value_t = 15)]
    pub bitrix_timeout: u64,
    /// Behind a reverse proxy: the header that carries the client's address (e.g.
    /// X-Forwarded-For, whose last entry is used, or X-Real-IP). Unset: the peer address.
    #[arg(long = "client-ip-header", env = "CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// An operator command; without one, the app serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Copies every portal, account and sign-in under way from DATABASE_URL into an empty
    /// database (SQLite to PostgreSQL, or back), then checks counts and a sample decryption.
    /// Needs the APP_SECRET the app runs with. Stop the app first.
    MigrateStore {
        /// The empty target database: postgres://… or sqlite://….
        #[arg(long = "to", hide_env_values = true)]
        to: String,
    },
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}
