//! `POST /install`: the portal's install POST (protocol doc §1.1–§1.3). The token is verified
//! with the OAuth server before anything is written; then the portal and its installing
//! administrator are stored in one transaction, the app's placements and event handlers are
//! bound with the administrator's token, and the answer is a page that calls
//! `BX24.installFinish()`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::input;
use super::page::{PageError, Problem};
use crate::AppState;
use crate::bitrix::batch::{self, BatchAnswer};
use crate::bitrix::frame::FramePost;
use crate::bitrix::types::UserId;
use crate::bitrix::verify::{self, VerifyError};
use crate::clock::unix_now;
use crate::i18n::{Lang, Text};
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
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn install(
    State(state): State<AppState>,
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

    let verified = verify::verify(
        &state.oauth,
        &frame.access,
        &frame.member_id,
        &frame.domain,
        config.allow_http,
    )
    .await
    .map_err(|error| {
        tracing::warn!(%error, "install not verified");
        match error {
            VerifyError::Refused(_) => refuse(Problem::NotVerified),
            VerifyError::Unavailable(_) => refuse(Problem::Unavailable),
        }
    })?;
    span.record("user_id", tracing::field::display(verified.user_id));
    let profile = verify::profile(&state.rest, &verified.client_endpoint, &frame.access)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "profile of the installing user failed");
            if error.is_transient() {
                refuse(Problem::Unavailable)
            } else {
                refuse(Problem::NotVerified)
            }
        })?;
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
        server_endpoint: config.server_endpoint(),
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

    bind_handlers(&state, &frame, verified.user_id)
        .await
        .map_err(|()| refuse(Problem::BindingsFailed))?;
    tracing::info!("installed");

    let page = InstallPage {
        lang: lang.code(),
        t: lang.text(),
        css: super::assets::url("app.css"),
        bx24_js: config.js_url.as_str(),
        install_js: super::assets::url("install.js"),
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

/// Binds the configured placements and our event handlers in one `batch` call. A placement
/// the portal refuses is logged and skipped; an existing binding is fine; an event handler
/// that cannot be bound fails the install, since without `ONAPPUNINSTALL` we would never
/// learn of an uninstall.
async fn bind_handlers(state: &AppState, frame: &FramePost, user_id: UserId) -> Result<(), ()> {
    let config = &state.config;
    let handler = config.url_for("app");
    let mut commands: Vec<(String, String)> = Vec::new();
    for placement in &config.placements {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("PLACEMENT", placement)
            .append_pair("HANDLER", &handler)
            .append_pair("TITLE", Lang::En.text().app_name);
        for lang in [Lang::En, Lang::Ru, Lang::De] {
            query.append_pair(
                &format!("LANG_ALL[{}][TITLE]", lang.code()),
                lang.text().app_name,
            );
        }
        if placement.starts_with("IM_") {
            query.append_pair("OPTIONS[iconName]", "fa-circle");
        }
        commands.push((
            format!("placement:{placement}"),
            format!("placement.bind?{}", query.finish()),
        ));
    }
    for event in ["ONAPPUNINSTALL", "ONAPPUPDATE"] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("event", event)
            .append_pair("handler", &config.url_for("events"))
            .finish();
        commands.push((format!("event:{event}"), format!("event.bind?{query}")));
    }
    let answer = state
        .tokens
        .call::<BatchAnswer>(
            &frame.member_id,
            user_id,
            batch::METHOD,
            batch::params(
                commands
                    .iter()
                    .map(|(key, command)| (key.as_str(), command.clone())),
            ),
            Repeat::Safe,
        )
        .await
        .map_err(|error| tracing::warn!(%error, "binding placements and events failed"))?;
    let mut fatal = false;
    for (key, code) in answer.errors() {
        let code = code.as_str();
        if code.contains("ALREADY") {
            continue;
        }
        if key.starts_with("event:") {
            tracing::warn!(binding = %key, code, "the portal refused an event handler");
            fatal = true;
        } else {
            tracing::warn!(binding = %key, code, "the portal refused a placement; skipped");
        }
    }
    if fatal { Err(()) } else { Ok(()) }
}
