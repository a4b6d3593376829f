//! The command line and environment, as the operator types them: every setting is a flag, an
//! environment variable of the same name, or a line in `.env`.

use clap::{Parser, Subcommand, ValueEnum};

/// Every setting's environment variable: the flags', the secrets' and `RUST_LOG`, as
/// `.env.example` lists them.
pub fn setting_names() -> Vec<String> {
    let flags = <Cli as clap::CommandFactory>::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env().map(|env| env.to_string_lossy().into_owned()))
        .collect::<Vec<_>>();
    let secrets = super::secrets::SECRET_NAMES.iter().map(|s| (*s).to_owned());
    flags
        .into_iter()
        .chain(secrets)
        .chain(["RUST_LOG".to_owned()])
        .collect()
}

/// The command line and environment, as typed by the operator.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "b24-status",
    version,
    about = "Bitrix24 app backend: every employee sets their own messenger status.",
    long_about = "Bitrix24 app backend: every employee sets their own messenger status.\n\n\
        Two modes:\n  \
        production  B24_CLIENT_ID and B24_CLIENT_SECRET (from the Bitrix24 vendor account) and\n              \
        APP_SECRET are set; the app talks to real portals over HTTPS.\n  \
        demo        neither credential is set: a built-in Bitrix24 emulator (both regional OAuth\n              \
        servers and a portal of each) starts on loopback, so the app can be tried without any\n              \
        account.\n\n\
        Every flag can be given as the environment variable named in brackets, or in a .env file;\n\
        a variable set blank (NAME=) counts as unset.\n\n\
        Secrets are read from the environment or .env only, never from flags: B24_CLIENT_SECRET,\n\
        APP_SECRET, APP_SECRET_PREVIOUS, DATABASE_URL (default sqlite://data/b24-status.db) and\n\
        TARGET_DATABASE_URL (migrate-store's target).\n\
        Each may be given instead as NAME_FILE, the path of a file that holds it."
)]
pub struct Cli {
    /// The app's client_id from the Bitrix24 vendor account.
    #[arg(long = "b24-client-id", env = "B24_CLIENT_ID")]
    pub client_id: Option<String>,
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
    /// Most connections to the database per instance (default: 4 for SQLite, 10 for
    /// PostgreSQL).
    #[arg(long = "database-max-connections", env = "DATABASE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: Option<u32>,
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
    /// Days the log of Bitrix24 calls is kept (Bitrix24 Market asks for at least 3).
    #[arg(long = "call-log-days", env = "CALL_LOG_DAYS", default_value_t = 3)]
    pub call_log_days: u64,
    /// Seconds a shutdown keeps serving with /readyz at 503, so load balancers move away first.
    #[arg(long = "shutdown-delay", env = "SHUTDOWN_DELAY", default_value_t = 5)]
    pub shutdown_delay: u64,
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
    /// Operator commands print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// An operator command; without one, the app serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator commands: the same binary and configuration as the app, for the people who run
/// it. Each prints a table, or JSON with `--json`.
#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Lists every portal: domain, member id, state, users, oldest refresh, key ids in use.
    Portals,
    /// Lists a portal's accounts: user, state, last refresh, whether they must sign in again.
    Accounts {
        /// The portal's domain or member id.
        portal: String,
    },
    /// Forgets the tokens of a portal's users (or one user), who sign in again on their next
    /// visit.
    Reauth {
        /// The portal's domain or member id.
        portal: String,
        /// One user's id; all users when left out.
        user: Option<u64>,
    },
    /// Pauses a portal: no call is made for it, and its users are told, until `resume`.
    Suspend {
        /// The portal's domain or member id.
        portal: String,
    },
    /// Lifts a pause made with `suspend`.
    Resume {
        /// The portal's domain or member id.
        portal: String,
    },
    /// Prints everything held about a portal, secrets aside, as JSON (a data-subject request).
    Export {
        /// The portal's domain or member id.
        portal: String,
    },
    /// Deletes everything held about a portal.
    Purge {
        /// The portal's domain or member id.
        portal: String,
        /// Confirms the deletion; without it, nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Re-encrypts every token under the current APP_SECRET, so APP_SECRET_PREVIOUS can go.
    /// Safe while instances run; run again to resume.
    Rekey,
    /// Checks the configuration, the database, the OAuth servers and PUBLIC_URL, and says
    /// what to fix.
    Check,
    /// Copies the SQLite database into FILE while the app runs (PostgreSQL: use pg_dump).
    Backup {
        /// The new file.
        file: std::path::PathBuf,
    },
    /// Prints a portal's Bitrix24 calls from the call log.
    Calls {
        /// The portal's domain or member id.
        portal: String,
        /// From when: a duration back (30m, 6h, 3d) or an RFC 3339 time.
        #[arg(long, default_value = "24h")]
        since: String,
        /// The most calls printed.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Asks the app running on LISTEN_ADDR for /healthz (a container's health check).
    Healthcheck,
    /// Prints what to enter in the Bitrix24 vendor account for this PUBLIC_URL: the installer,
    /// handler, event and redirect URLs and the scopes.
    VendorFields,
    /// Creates the database if needed and applies this version's migrations, as the app's
    /// start does (the other commands never create or migrate).
    Migrate,
    /// Copies every portal, account and sign-in under way from DATABASE_URL into the empty
    /// database TARGET_DATABASE_URL (or TARGET_DATABASE_URL_FILE) names: SQLite to PostgreSQL,
    /// or back. Then checks counts and a sample decryption. Needs the APP_SECRET the app runs
    /// with. Stop the app first. The target is not a flag: it may carry a password.
    MigrateStore,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}
