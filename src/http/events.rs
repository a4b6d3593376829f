//! `POST /events`: `ONAPPINSTALL`, `ONAPPUPDATE` and `ONAPPUNINSTALL` from the portal
//! (protocol doc §1.4, §6). Answers are JSON and quick, since the portal does not retry and
//! calls slow handlers less often.
//!
//! - `ONAPPUNINSTALL` carries no usable token: the stored `application_token`, compared in
//!   constant time, is the only proof it is genuine.
//! - `ONAPPINSTALL` / `ONAPPUPDATE` carry tokens, verified with the OAuth server like an
//!   install. An `application_token` different from the stored one (or the first one) is
//!   accepted only from a portal administrator, so an employee's token cannot re-key a portal
//!   and then forge its uninstall.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::input::{self, InputError};
use crate::AppState;
use crate::bitrix::event::{Event, EventKind};
use crate::bitrix::verify::{self, VerifyError};
use crate::clock::unix_now;
use crate::store::{AccountRecord, PortalRecord, PortalState, Tokens};

/// `POST /events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/events", post(events))
}

type Answer = (StatusCode, Json<Value>);

fn answer(status: StatusCode, code: &str, message: &str) -> Answer {
    (status, Json(json!({"error": code, "message": message})))
}

fn ok(outcome: &str) -> Answer {
    (StatusCode::OK, Json(json!({"status": outcome})))
}

#[tracing::instrument(skip_all, fields(event, member_id))]
async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let pairs = match input::form_pairs(&headers, &body) {
        Ok(pairs) => pairs,
        Err(InputError::NotAForm) => {
            return answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Events must be sent as application/x-www-form-urlencoded.",
            );
        }
        Err(InputError::NotText) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The event is not valid UTF-8.",
            );
        }
    };
    let event = match Event::parse(&pairs) {
        Ok(event) => event,
        Err(error) => {
            tracing::info!(%error, "event refused");
            return answer(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("The event could not be read: {error}."),
            );
        }
    };
    let span = tracing::Span::current();
    span.record("event", tracing::field::debug(&event.kind));
    span.record("member_id", tracing::field::display(&event.member_id));
    let result = match &event.kind {
        EventKind::Uninstall => uninstall(&state, &event).await,
        EventKind::Install | EventKind::Update => install_or_update(&state, &event).await,
        EventKind::Other(_) => Ok(ok("ignored")),
    };
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "event failed");
        answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The event could not be processed; nothing was changed.",
        )
    })
}

async fn uninstall(state: &AppState, event: &Event) -> Result<Answer, crate::store::StoreError> {
    let Some(portal) = state.store.portal(&event.member_id).await? else {
        tracing::warn!("uninstall for an unknown portal");
        return Ok(answer(
            StatusCode::NOT_FOUND,
            "unknown_portal",
            "This portal has not installed the app.",
        ));
    };
    let genuine = portal
        .record
        .application_token
        .as_ref()
        .is_some_and(|stored| stored.matches(event.application_token.expose()));
    if !genuine {
        tracing::warn!("uninstall with a wrong application_token refused");
        return Ok(answer(
            StatusCode::UNAUTHORIZED,
            "wrong_application_token",
            "The application token does not match.",
        ));
    }
    state
        .store
        .uninstall_portal(&event.member_id, event.clean, unix_now())
        .await?;
    tracing::info!(clean = event.clean, "uninstalled");
    Ok(ok("uninstalled"))
}

async fn install_or_update(
    state: &AppState,
    event: &Event,
) -> Result<Answer, crate::store::StoreError> {
    let Some(auth) = &event.auth else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The event carries no access token.",
        ));
    };
    let config = &state.config;
    let verified = match verify::verify(
        &state.oauth,
        &auth.access,
        &event.member_id,
        &event.domain,
        config.allow_http,
    )
    .await
    {
        Ok(verified) => verified,
        Err(VerifyError::Refused(why)) => {
            tracing::warn!(%why, "event not verified");
            return Ok(answer(
                StatusCode::FORBIDDEN,
                "not_verified",
                "Bitrix24 did not confirm this event's token.",
            ));
        }
        Err(VerifyError::Unavailable(error)) => {
            tracing::warn!(%error, "event could not be verified");
            return Ok(answer(
                StatusCode::BAD_GATEWAY,
                "bitrix_unavailable",
                "Bitrix24 did not answer; nothing was changed.",
            ));
        }
    };
    let existing = state.store.portal(&event.member_id).await?;
    let same_token = existing
        .as_ref()
        .and_then(|p| p.record.application_token.as_ref())
        .is_some_and(|stored| stored.matches(event.application_token.expose()));
    let profile = match verify::profile(&state.rest, &verified.client_endpoint, &auth.access).await
    {
        Ok(profile) if profile.user_id() == Some(verified.user_id) => profile,
        Ok(_) => {
            return Ok(answer(
                StatusCode::FORBIDDEN,
                "not_verified",
                "The event's user does not match its token.",
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "profile for an event failed");
            return Ok(answer(
                StatusCode::BAD_GATEWAY,
                "bitrix_unavailable",
                "Bitrix24 did not answer; nothing was changed.",
            ));
        }
    };
    if !same_token && !profile.admin {
        tracing::warn!("a non-administrator's event tried to change the application token");
        return Ok(answer(
            StatusCode::FORBIDDEN,
            "admin_required",
            "Only an administrator's event may change the application token.",
        ));
    }
    let now = unix_now();
    let portal = PortalRecord {
        member_id: event.member_id.clone(),
        domain: event.domain.clone(),
        client_endpoint: verified.client_endpoint.clone(),
        server_endpoint: config.server_endpoint(),
        application_token: Some(event.application_token.clone()),
        scope: if auth.scope.is_empty() {
            verified.scope.clone()
        } else {
            auth.scope.clone()
        },
        licence: auth
            .licence
            .clone()
            .or_else(|| existing.as_ref().and_then(|p| p.record.licence.clone())),
        state: PortalState::Active,
        app_version: event.version.or(verified.version),
    };
    match &auth.refresh {
        Some(refresh) => {
            let account = AccountRecord {
                member_id: event.member_id.clone(),
                user_id: verified.user_id,
                is_admin: profile.admin,
                is_installer: event.kind == EventKind::Install,
                tokens: Tokens {
                    access: auth.access.clone(),
                    refresh: refresh.clone(),
                    expires_at: now + i64::try_from(auth.expires_in).unwrap_or(3600),
                },
            };
            state
                .store
                .upsert_portal_and_account(&portal, &account, now)
                .await?;
        }
        None => state.store.upsert_portal(&portal, now).await?,
    }
    tracing::info!(version = ?portal.app_version, "installation recorded from event");
    Ok(ok(if event.kind == EventKind::Install {
        "installed"
    } else {
        "updated"
    }))
}
