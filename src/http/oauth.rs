//! `GET /oauth/start?domain=PORTAL` and `GET /oauth/callback`: the OAuth 2.0 authorization-code
//! flow for a user who opens the app outside the portal (`docs/bitrix24.md`, "OAuth").
//!
//! The `state` is 32 random bytes, stored hashed in the database with its portal and a
//! ten-minute expiry, and deleted when used: it cannot be replayed, and any instance sharing
//! the database can finish a flow another one started; a portal has at most a few hundred
//! under way. The code is exchanged at the OAuth server stored for the portal (one of
//! `B24_OAUTH_URL`), whatever `server_domain` the redirect names; the user then sees their
//! status page.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::app::View;
use super::page::{PageError, Problem};
use super::state::AppState;
use crate::bitrix::Error as BitrixError;
use crate::bitrix::batch::{self, BatchAnswer};
use crate::bitrix::status::{self, PageRead};
use crate::clock::unix_now;
use crate::domain::{PortalDomain, Status};
use crate::i18n::Lang;
use crate::store::crypto::random_hex;
use crate::store::{AccountRecord, PortalState, Tokens};
use crate::tokens::Repeat;

/// How long a sign-in may take between start and callback.
const STATE_TTL_SECS: i64 = 600;

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

fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Result<Response, PageError> {
    let lang = browser_lang(&headers);
    let refuse = |problem| PageError::new(problem, lang);
    let domain = query
        .domain
        .as_deref()
        .and_then(|d| PortalDomain::parse(d).ok())
        .filter(|d| app.config.allow_http || !d.is_loopback())
        .ok_or_else(|| refuse(Problem::BadDomain))?;
    let portal = app
        .store
        .portal_by_domain(&domain)
        .await
        .map_err(|error| PageError::internal(lang, &error))?
        .filter(|p| p.record.state == PortalState::Active)
        .ok_or_else(|| refuse(Problem::NotInstalled))?;

    let state = random_hex(32);
    let now = unix_now();
    let stored = app
        .store
        .put_oauth_state(
            &state_hash(&state),
            &portal.record.member_id,
            now + STATE_TTL_SECS,
            now,
        )
        .await
        .map_err(|error| PageError::internal(lang, &error))?;
    if !stored {
        tracing::warn!(member_id = %portal.record.member_id, "too many sign-ins under way for one portal");
        return Err(refuse(Problem::RateLimited(60)));
    }
    let scheme = if app.config.allow_http && domain.is_loopback() {
        "http"
    } else {
        "https"
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &app.config.client_id)
        .append_pair("state", &state)
        .finish();
    let location = format!("{scheme}://{domain}/oauth/authorize/?{query}");
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
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
    let refuse = |problem| {
        let error = PageError::new(problem, lang);
        match &retry {
            Some(link) => error.with_retry(link.clone()),
            None => error,
        }
    };
    let (Some(code), Some(state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return Err(refuse(Problem::SignInState));
    };
    if code.len() > 512 || state.len() > 128 {
        return Err(refuse(Problem::SignInState));
    }
    let member_id = app
        .store
        .take_oauth_state(&state_hash(state), unix_now())
        .await
        .map_err(|error| PageError::internal(lang, &error))?
        .ok_or_else(|| {
            tracing::info!("unknown, used or expired OAuth state");
            refuse(Problem::SignInState)
        })?;
    tracing::Span::current().record("member_id", tracing::field::display(&member_id));

    let portal = app
        .store
        .portal(&member_id)
        .await
        .map_err(|error| PageError::internal(lang, &error))?
        .filter(|p| p.record.state == PortalState::Active && p.removing_since.is_none())
        .ok_or_else(|| refuse(Problem::NotInstalled))?;
    let grant = app
        .oauth
        .exchange_code(&portal.record.server_endpoint, code)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "code exchange failed");
            match error {
                BitrixError::OAuth { .. } => refuse(Problem::SignInRefused),
                _ if error.is_transient() => refuse(Problem::Unavailable),
                _ => refuse(Problem::SignInRefused),
            }
        })?;
    if grant.member_id != member_id {
        tracing::warn!("code issued for another portal than the sign-in started with");
        return Err(refuse(Problem::NotVerified));
    }
    let answer = app
        .tokens
        .call_with_token::<BatchAnswer>(
            &member_id,
            &portal.record.client_endpoint,
            &grant.access,
            batch::METHOD,
            status::page_batch(None),
            Repeat::Safe,
        )
        .await
        .map_err(|error| super::app::page_error(&error, lang))?;
    let page = PageRead::from_answer(&answer);
    let profile = page.profile.ok_or_else(|| refuse(Problem::SignInRefused))?;
    let user_id = match (profile.user_id(), grant.user_id) {
        (Some(id), None) => id,
        (Some(id), Some(granted)) if granted == id => granted,
        _ => return Err(refuse(Problem::NotVerified)),
    };
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
    let now = unix_now();
    let account = AccountRecord {
        member_id: member_id.clone(),
        user_id,
        is_admin: profile.admin,
        is_installer: false,
        tokens: Tokens {
            access: grant.access,
            refresh: grant.refresh,
            expires_at: grant.expires_at,
        },
    };
    app.tokens
        .save_account(&account, now)
        .await
        .map_err(|error| PageError::internal(lang, &error))?;
    tracing::info!("signed in");
    Ok(super::app::render(
        &app,
        View {
            lang,
            portal: &portal,
            user_id,
            user_name: &profile.display_name(),
            current: page.status.unwrap_or(Status::Online),
            message: None,
        },
    ))
}
