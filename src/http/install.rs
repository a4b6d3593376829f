//! `POST /install`: the portal's install POST (`docs/bitrix24.md`, "Installation"). The token
//! is verified with the portal's OAuth server (named by `SERVER_ENDPOINT`, trusted only when
//! on the allowlist) before anything is written; then the portal and its installing
//! administrator are stored in one transaction, the app's placements and event handlers are
//! bound with the administrator's token, and the answer is a page that calls
//! `BX24.installFinish()` and names any placement the portal refused.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::client_ip::ClientIp;
use super::input;
use super::page::{PageError, Problem};
use super::state::AppState;
use crate::bitrix::bindings::extra_scope;
use crate::bitrix::verify::{self, Profile};
use crate::clock::unix_now;
use crate::i18n::Text;
use crate::portals::bindings;
use crate::store::{AccountRecord, PortalRecord, PortalState, Tokens};
use crate::tokens::Repeat;

/// `POST /install`.
pub fn router() -> Router<AppState> {
    Router::new().route("/install", post(install))
}

#[derive(Template, WebTemplate)]
#[template(path = "install.html")]
struct InstallPage<'a> {
    lang: &'a str,
    t: &'static Text,
    css: &'a str,
    bx24_js: &'a str,
    install_js: &'a str,
    /// Sentences about placements the portal refused, for the administrator.
    refused: Vec<String>,
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn install(
    State(state): State<AppState>,
    from: ClientIp,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (frame, lang) = input::read_frame(&uri, &headers, &body)?;
    let refuse = |problem| PageError::new(problem, lang);
    let Some(refresh) = frame.refresh.clone() else {
        tracing::info!("install POST without REFRESH_ID");
        return Err(refuse(Problem::BadRequest));
    };
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&frame.member_id));
    let config = &state.config;
    if frame.domain.is_loopback() && !config.allow_http {
        return Err(refuse(Problem::BadRequest));
    }
    let Some(server) = state.oauth.server_endpoint(frame.server_endpoint.as_ref()) else {
        tracing::warn!("install POST names an OAuth server off the allowlist");
        return Err(refuse(Problem::NotVerified));
    };
    if let Err(wait) = state.gate.check(&frame.member_id, from.0) {
        return Err(refuse(Problem::RateLimited(wait.as_secs().max(1))));
    }

    let verified = verify::verify(
        &state.oauth,
        &server,
        &frame.access,
        &frame.member_id,
        &frame.domain,
        config.allow_http,
    )
    .await
    .map_err(|error| {
        tracing::warn!(%error, "install not verified");
        super::app::unverified(&state, &frame.member_id, from, &error, lang)
    })?;
    span.record("user_id", tracing::field::display(verified.user_id));
    let profile = state
        .tokens
        .call_with_token::<Profile>(
            &frame.member_id,
            &verified.client_endpoint,
            &frame.access,
            verify::PROFILE,
            serde_json::json!({}),
            Repeat::Safe,
        )
        .await
        .map_err(|error| super::app::page_error(&error, lang))?;
    if profile.user_id() != Some(verified.user_id) {
        return Err(refuse(Problem::NotVerified));
    }
    if !profile.admin {
        return Err(refuse(Problem::AdminOnly));
    }

    let store = &state.store;
    let existing = store
        .portal(&frame.member_id)
        .await
        .map_err(|error| PageError::internal(lang, &error))?;
    let application_token = frame
        .application_token
        .clone()
        .or_else(|| existing.and_then(|p| p.record.application_token));
    let now = unix_now();
    let portal = PortalRecord {
        member_id: frame.member_id.clone(),
        domain: frame.domain.clone(),
        client_endpoint: verified.client_endpoint.clone(),
        server_endpoint: server,
        application_token,
        scope: verified.scope.clone(),
        licence: frame.licence.clone(),
        state: PortalState::Active,
        app_version: verified.version,
    };
    let account = AccountRecord {
        member_id: frame.member_id.clone(),
        user_id: verified.user_id,
        is_admin: true,
        is_installer: true,
        tokens: Tokens {
            access: frame.access.clone(),
            refresh,
            expires_at: now + i64::try_from(frame.expires_in).unwrap_or(3600),
        },
    };
    store
        .upsert_portal_and_account(&portal, &account, now)
        .await
        .map_err(|error| PageError::internal(lang, &error))?;
    state.tokens.forget_portal(&frame.member_id);

    let refused = bindings::bind(&state.tokens, config, &frame.member_id, verified.user_id)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "binding placements and events failed");
            refuse(Problem::BindingsFailed)
        })?;
    // Without ONAPPUNINSTALL bound we would learn of an uninstall only by reconciliation.
    if !refused.events.is_empty() {
        return Err(refuse(Problem::BindingsFailed));
    }
    tracing::info!("installed");

    let t = lang.text();
    let refused = refused
        .placements
        .iter()
        .map(|(placement, code)| {
            let mut sentence = t
                .install_placement_refused
                .replace("{placement}", placement)
                .replace("{code}", code.as_str());
            if let Some(scope) = extra_scope(placement) {
                sentence.push(' ');
                sentence.push_str(&t.install_scope_hint.replace("{scope}", scope));
            }
            sentence
        })
        .collect();
    let page = InstallPage {
        lang: lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: config.js_url.as_str(),
        install_js: super::assets::url("install.js"),
        refused,
    };
    let mut response = page.into_response();
    let csp = super::security::page_csp(config, &frame.domain);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}
