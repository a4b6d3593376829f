#![doc = include_str!("../README.md")]

pub mod answers;
pub mod batch;
pub mod bindings;
pub mod bot;
pub mod clock;
pub mod domain;
pub mod error;
pub mod event;
pub mod form;
pub mod frame;
pub mod licence;
pub mod oauth;
pub mod observe;
pub mod presence;
pub mod resolve;
pub mod rest;
pub mod status;
pub mod team;
pub mod verify;
pub mod wire;

use std::time::Duration;

pub use error::{Category, Error, ErrorCode, OAuthErrorCode};
pub use oauth::{AppInfo, Grant, OAuthClient};
pub use rest::{Caller, RestClient, Success};

/// Most requests in flight to one portal at once. A portal takes a few requests per second
/// anyway; more parallel connections would only cost memory on both sides.
pub const MAX_IN_FLIGHT_PER_PORTAL: usize = 16;

/// How long a connection to a portal is kept open unused (the pool drops it between this and
/// twice this after its last answer).
pub const IDLE_CONNECTION: Duration = Duration::from_secs(3);

/// Builds an HTTP client for both clients: no redirects followed (a renamed portal answers 302,
/// `docs/bitrix24.md`), a timeout on every call, and `user_agent`, which should name the app. With
/// `public_only`, host names resolve to public addresses only, and the connection goes to the
/// address that was checked (no DNS rebinding); see [`resolve`].
pub fn http_client(
    timeout: Duration,
    public_only: bool,
    user_agent: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a bundled crypto provider; ring is the one we ship. A second
    // install attempt (tests build many clients) is harmless and reports only that.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let builder = if public_only {
        reqwest::Client::builder().dns_resolver(std::sync::Arc::new(resolve::PublicOnly))
    } else {
        reqwest::Client::builder()
    };
    builder
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        // An app with thousands of portals touches most of them only now and then (a
        // schedule's start, a minute's read): an idle connection costs about 25 KiB, so one is
        // kept only while its portal is busy.
        .pool_idle_timeout(IDLE_CONNECTION)
        // No more idle connections to a portal than requests may be in flight to it: a pool
        // that opens one while another is being handed back would otherwise keep both.
        .pool_max_idle_per_host(MAX_IN_FLIGHT_PER_PORTAL)
        .user_agent(user_agent)
        .build()
}

/// Reads an answer's body, refusing one larger than `limit` bytes before reading it all.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, Error> {
    let status = response.status();
    let too_large = || Error::Unexpected {
        status,
        detail: format!("the answer is larger than {limit} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::from_transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
