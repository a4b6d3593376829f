//! Everything that speaks Bitrix24: the REST client, OAuth, error codes and the values they
//! carry. Nothing outside this module knows a Bitrix24 URL or field name.

pub mod batch;
pub mod error;
pub mod event;
pub mod form;
pub mod frame;
pub mod oauth;
pub mod rest;
pub mod status;
pub mod types;
pub mod verify;

use std::time::Duration;

pub use error::{Error, ErrorCode, OAuthErrorCode};
pub use oauth::{AppInfo, Grant, OAuthClient};
pub use rest::{RestClient, Success};

/// Builds the app's one HTTP client: no redirects followed (a renamed portal answers 302,
/// protocol doc §3), a timeout on every call, and a User-Agent that names us.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a bundled crypto provider; ring is the one we ship. A second
    // install attempt (tests build many clients) is harmless and reports only that.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        // Idle connections cost memory; each portal's rate limit keeps the useful number small.
        .pool_max_idle_per_host(32)
        .user_agent(concat!("b24-status/", env!("CARGO_PKG_VERSION")))
        .build()
}
