//! `GET /oauth/start?domain=PORTAL` and `GET /oauth/callback`: the OAuth 2.0 authorization-code
//! flow for a user who opens the app outside the portal (`docs/bitrix24.md`, "OAuth").
//!
//! The `state` is 32 random bytes, stored hashed in the database with its portal and a
//! ten-minute expiry, and deleted when used: it cannot be replayed, and any instance sharing
//! the database can finish a flow another one started; a portal has at most a few hundred
//! under way. The browser that starts a flow gets a cookie ([`BROWSER_COOKIE`]) without which
//! its state is worth nothing, so a callback link started by someone else signs nobody in. The code is exchanged at the OAuth server stored for the portal (one of
//! `B24_OAUTH_URL`), whatever `server_domain` the redirect names; the user then sees their
//! status page.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::page::{PageError, Problem};
use super::state::AppState;
use crate::i18n::Lang;
use bitrix24::domain::PortalDomain;

/// `GET /oauth/start` and `GET /oauth/callback`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/start", get(start))
        .route("/oauth/callback", get(callback))
}

#[derive(Deserialize)]
struct StartQuery {
    domain: Option<String>,
}

/// The browser's preferred language, for pages outside the portal (no `LANG` there).
fn browser_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map_or(Lang::En, Lang::from_code)
}

async fn start(
    State(app): State<AppState>,
    from: ClientIp,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Result<Response, PageError> {
    let lang = browser_lang(&headers);
    let start = app
        .portals
        .start_sign_in(query.domain.as_deref().unwrap_or_default(), from.0)
        .await
        .map_err(|refusal| super::refusal::page(refusal, lang))?;
    let secure = if app.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{BROWSER_COOKIE}={}; Path=/oauth/; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
        start.browser
    );
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, start.location),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response())
}

/// The cookie that binds a sign-in to the browser that started it. `Lax` is sent on the
/// portal's top-level redirect back to us, and only to `/oauth/`.
pub const BROWSER_COOKIE: &str = "b24_sign_in";

/// The value of [`BROWSER_COOKIE`] the browser sent, or nothing.
fn browser_of(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.to_owned())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    domain: Option<String>,
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let lang = browser_lang(&headers);
    let retry = query
        .domain
        .as_deref()
        .and_then(|d| PortalDomain::parse(d).ok())
        .map(|d| {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("domain", d.as_str())
                .finish();
            format!("/oauth/start?{encoded}")
        });
    let with_retry = |error: PageError| match &retry {
        Some(link) => error.with_retry(link.clone()),
        None => error,
    };
    let (Some(code), Some(state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return Err(with_retry(PageError::new(Problem::SignInState, lang)));
    };
    let opened = app
        .portals
        .finish_sign_in(state, code, &browser_of(&headers))
        .await
        .map_err(|refusal| with_retry(super::refusal::page(refusal, lang)))?;
    let session = super::status_page::begin(&app, &opened, lang)?;
    Ok(super::status_page::render(
        &app,
        &opened,
        &session,
        lang,
        None,
        axum::http::StatusCode::OK,
    ))
}
