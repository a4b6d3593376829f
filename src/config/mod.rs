//! Configuration: environment variables (and a `.env` file) with the same names as the command
//! line flags, validated once at start-up into a typed [`Config`]. Every refusal is one line
//! that says how to fix it.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::store::crypto::KeyError;
use crate::store::{MasterKey, PoolSettings};
use bitrix24::domain::ClientSecret;

mod cli;
mod secrets;
pub use cli::{Cli, Command, LogFormat, setting_names};
pub use secrets::{DEFAULT_DATABASE_URL, Secrets};

/// Which Bitrix24 the app talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Real portals, configured credentials.
    Production,
    /// The built-in emulator with generated credentials.
    Demo,
}

/// A start-up refusal: one line, saying what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Production or demo.
    pub mode: Mode,
    /// The app's client_id.
    pub client_id: String,
    /// The app's client_secret.
    pub client_secret: ClientSecret,
    /// The OAuth servers a portal may use (`B24_OAUTH_URL`), as origins; the first is assumed
    /// for a request that names none.
    pub oauth_servers: Vec<Url>,
    /// The app's public base URL, without a trailing slash in its path.
    pub public_url: Url,
    /// Where to listen.
    pub listen_addr: SocketAddr,
    /// The database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// How the database pool is sized.
    pub database: PoolSettings,
    /// The master key.
    pub app_secret: MasterKey,
    /// Whether `APP_SECRET` was set; demo mode keeps a generated key in a file otherwise.
    pub app_secret_given: bool,
    /// The previous master key, during a rotation.
    pub app_secret_previous: Option<MasterKey>,
    /// Whether http:// and loopback Bitrix24 endpoints are acceptable.
    pub allow_http: bool,
    pub log_format: LogFormat,
    /// How long one call to Bitrix24 may take.
    pub bitrix_timeout: Duration,
    /// How long one request to us may take.
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// The Bitrix24 JS library's URL.
    pub js_url: Url,
    /// Placement codes bound at install.
    pub placements: Vec<String>,
    /// Rate limiting and refresh tuning.
    pub tokens: crate::tokens::Settings,
    /// Keep-alive tuning.
    pub keepalive: crate::tokens::keepalive::KeepaliveSettings,
    /// How long the call log keeps a record.
    pub call_log_retention: Duration,
    /// How long a shutdown keeps serving with `/readyz` at 503.
    pub shutdown_delay: Duration,
    /// Where metrics are served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The header naming the client's address behind a proxy, lowercased.
    pub client_ip_header: Option<axum::http::HeaderName>,
}

const SECRET_HINT: &str = "generate one with: openssl rand -base64 32";

impl Config {
    /// Validates the operator's flags and the secrets in the environment.
    pub fn from_env(cli: Cli) -> Result<Self, ConfigError> {
        Self::load(cli, Secrets::from_env()?)
    }

    /// Validates the operator's input. In demo mode, generates credentials; the demo reads
    /// (or creates) the master key in its file.
    pub fn load(cli: Cli, secrets: Secrets) -> Result<Self, ConfigError> {
        let mode = match (&cli.client_id, &secrets.client_secret) {
            (None, None) => Mode::Demo,
            (Some(_), Some(_)) => Mode::Production,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "B24_CLIENT_ID is set but B24_CLIENT_SECRET is not: set both (production) or neither (demo mode)",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "B24_CLIENT_SECRET is set but B24_CLIENT_ID is not: set both (production) or neither (demo mode)",
                ));
            }
        };
        let listen_addr: SocketAddr = cli.listen_addr.trim().parse().map_err(|_| {
            ConfigError::new(format!(
                "LISTEN_ADDR {:?} is not an address such as 127.0.0.1:8080",
                cli.listen_addr
            ))
        })?;
        let public_url = parse_base_url("PUBLIC_URL", &cli.public_url)?;
        let js_url = parse_base_url("B24_JS_URL", &cli.js_url)?;
        let metrics_addr = match cli
            .metrics_addr
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            Some(addr) => Some(addr.parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(format!(
                    "METRICS_ADDR {addr:?} is not an address such as 127.0.0.1:9090"
                ))
            })?),
            None => None,
        };
        if !(1..=120).contains(&cli.bitrix_timeout) {
            return Err(ConfigError::new(
                "BITRIX_TIMEOUT must be between 1 and 120 seconds",
            ));
        }
        let placements: Vec<String> = cli
            .placements
            .split(',')
            .map(|p| p.trim().to_ascii_uppercase())
            .filter(|p| !p.is_empty())
            .collect();
        if placements
            .iter()
            .any(|p| !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(ConfigError::new(format!(
                "PLACEMENTS {:?} must be placement codes separated by commas, e.g. IM_NAVIGATION,LEFT_MENU",
                cli.placements
            )));
        }
        if cli.rate_burst == 0 || !(cli.rate_per_sec > 0.0 && cli.rate_per_sec.is_finite()) {
            return Err(ConfigError::new(
                "RATE_LIMIT_BURST and RATE_LIMIT_PER_SECOND must be positive",
            ));
        }
        if cli.keepalive_days == 0 || cli.keepalive_days > 170 {
            return Err(ConfigError::new(
                "KEEPALIVE_DAYS must be between 1 and 170 (refresh tokens live 180 days, or 28 in older docs)",
            ));
        }
        if !(3..=366).contains(&cli.call_log_days) {
            return Err(ConfigError::new(
                "CALL_LOG_DAYS must be between 3 (what Bitrix24 Market asks for) and 366",
            ));
        }
        if cli.shutdown_delay > 60 {
            return Err(ConfigError::new(
                "SHUTDOWN_DELAY must be between 0 and 60 seconds",
            ));
        }
        let bitrix_timeout = Duration::from_secs(cli.bitrix_timeout);
        let tokens = crate::tokens::Settings {
            rate_burst: cli.rate_burst,
            rate_per_sec: cli.rate_per_sec,
            rate_max_wait: Duration::from_secs(cli.rate_max_wait),
            lease: crate::tokens::Settings::lease_for(bitrix_timeout),
            ..crate::tokens::Settings::default()
        };
        let client_ip_header = match cli.client_ip_header.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(axum::http::HeaderName::try_from(name).map_err(|_| {
                ConfigError::new(format!(
                    "CLIENT_IP_HEADER {name:?} is not a header name such as X-Forwarded-For"
                ))
            })?),
        };
        let keepalive = crate::tokens::keepalive::KeepaliveSettings {
            max_age: Duration::from_secs(cli.keepalive_days * 24 * 3600),
            ..crate::tokens::keepalive::KeepaliveSettings::default()
        };
        let app_secret_previous = secrets
            .app_secret_previous
            .as_deref()
            .map(|text| parse_key("APP_SECRET_PREVIOUS", text))
            .transpose()?;
        let common = |client_id: String,
                      client_secret: ClientSecret,
                      oauth_servers: Vec<Url>,
                      app_secret: MasterKey,
                      allow_http: bool| Config {
            mode,
            client_id,
            client_secret,
            oauth_servers,
            public_url: public_url.clone(),
            listen_addr,
            database_url: secrets.database_url().to_owned(),
            database: PoolSettings {
                max_connections: cli.database_max_connections,
            },
            app_secret,
            app_secret_given: secrets.app_secret.is_some(),
            app_secret_previous: app_secret_previous.clone(),
            allow_http,
            log_format: cli.log_format,
            bitrix_timeout,
            request_timeout: Duration::from_secs(30),
            body_limit: 64 * 1024,
            js_url: js_url.clone(),
            placements: placements.clone(),
            tokens: crate::tokens::Settings {
                allow_http,
                ..tokens.clone()
            },
            keepalive: keepalive.clone(),
            call_log_retention: Duration::from_secs(cli.call_log_days * 24 * 3600),
            shutdown_delay: Duration::from_secs(cli.shutdown_delay),
            metrics_addr,
            client_ip_header: client_ip_header.clone(),
        };

        match mode {
            Mode::Production => {
                let client_id = cli.client_id.clone().unwrap_or_default();
                let client_id = client_id.trim();
                if client_id.is_empty() || client_id.len() > 200 {
                    return Err(ConfigError::new("B24_CLIENT_ID is empty"));
                }
                let client_secret =
                    ClientSecret::parse(secrets.client_secret.as_deref().unwrap_or_default())
                        .map_err(|_| ConfigError::new("B24_CLIENT_SECRET is empty"))?;
                let Some(secret) = secrets.app_secret.as_deref() else {
                    return Err(ConfigError::new(format!(
                        "APP_SECRET is required outside demo mode; {SECRET_HINT}"
                    )));
                };
                let app_secret = parse_key("APP_SECRET", secret)?;
                let oauth_servers = parse_origins("B24_OAUTH_URL", &cli.oauth_url)?;
                if !cli.allow_http {
                    let urls = oauth_servers.iter().map(|url| ("B24_OAUTH_URL", url));
                    for (name, url) in urls.chain([("PUBLIC_URL", &public_url)]) {
                        if url.scheme() != "https" {
                            return Err(ConfigError::new(format!(
                                "{name} must be an https:// URL (B24_ALLOW_HTTP=true allows http for development)"
                            )));
                        }
                    }
                }
                Ok(common(
                    client_id.to_owned(),
                    client_secret,
                    oauth_servers,
                    app_secret,
                    cli.allow_http,
                ))
            }
            #[cfg(not(feature = "demo"))]
            Mode::Demo => Err(ConfigError::new(
                "this build has no demo mode: set B24_CLIENT_ID and B24_CLIENT_SECRET (and APP_SECRET)",
            )),
            #[cfg(feature = "demo")]
            Mode::Demo => {
                if !listen_addr.ip().is_loopback() {
                    return Err(ConfigError::new(format!(
                        "demo mode listens on loopback only, not {listen_addr}: set B24_CLIENT_ID and B24_CLIENT_SECRET for production"
                    )));
                }
                // The key (kept in a file unless APP_SECRET is given), the credentials derived
                // from it and the emulator's addresses are demo::start's to fill in.
                let app_secret = match secrets.app_secret.as_deref() {
                    Some(secret) => parse_key("APP_SECRET", secret)?,
                    None => MasterKey::generate(),
                };
                let client_id = String::new();
                let client_secret = ClientSecret::parse("demo")
                    .map_err(|_| ConfigError::new("could not hold a demo secret"))?;
                Ok(common(
                    client_id,
                    client_secret,
                    Vec::new(),
                    app_secret,
                    true,
                ))
            }
        }
    }
}

/// What an operator command needs to read the tokens: the keys the app runs with.
pub fn keyring(secrets: &Secrets, command: &str) -> Result<crate::store::Keyring, ConfigError> {
    let Some(secret) = secrets.app_secret.as_deref() else {
        return Err(ConfigError::new(format!(
            "{command} needs the APP_SECRET the app runs with (or APP_SECRET_FILE)"
        )));
    };
    let previous = secrets
        .app_secret_previous
        .as_deref()
        .map(|text| parse_key("APP_SECRET_PREVIOUS", text))
        .transpose()?;
    Ok(crate::store::Keyring::new(
        &parse_key("APP_SECRET", secret)?,
        previous.as_ref(),
    ))
}

impl Config {
    /// `PUBLIC_URL` joined with `path` (`app` → `https://status.example.com/app`).
    pub fn url_for(&self, path: &str) -> String {
        format!("{}/{path}", self.public_url.as_str().trim_end_matches('/'))
    }
}

/// A master key from its base64 text in the setting `name`.
fn parse_key(name: &str, text: &str) -> Result<MasterKey, ConfigError> {
    MasterKey::from_base64(text)
        .map_err(|e: KeyError| ConfigError::new(format!("{name} {e}; {SECRET_HINT}")))
}

/// A comma-separated list of base URLs, each reduced to its origin.
fn parse_origins(name: &str, text: &str) -> Result<Vec<Url>, ConfigError> {
    let mut origins = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let url = parse_base_url(name, part)?;
        if url.path() != "/" {
            return Err(ConfigError::new(format!(
                "{name} {part:?} must name servers only, like https://oauth.bitrix.info"
            )));
        }
        if !origins.contains(&url) {
            origins.push(url);
        }
    }
    if origins.is_empty() {
        return Err(ConfigError::new(format!(
            "{name} must name at least one OAuth server"
        )));
    }
    Ok(origins)
}

fn parse_base_url(name: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(format!("{name} {text:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(format!(
            "{name} {text:?} must be an http(s) URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::new(format!(
            "{name} {text:?} must not carry a query, fragment or user name"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
