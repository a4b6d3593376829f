//! `POST /events`: `ONAPPINSTALL`, `ONAPPUPDATE` and `ONAPPUNINSTALL` from the portal
//! (`docs/bitrix24.md`, "Events"). Answers are JSON and quick, since the portal does not retry
//! and calls slow handlers less often.
//!
//! - `ONAPPUNINSTALL` carries no usable token, and its `application_token` is in every
//!   employee's frame POST: it is only a filter. The uninstall itself is confirmed with the
//!   OAuth server before anything is deleted (see [`crate::portals::removal`]).
//! - `ONAPPINSTALL` / `ONAPPUPDATE` carry tokens, verified with the OAuth server named by
//!   `auth[server_endpoint]` when it is on the allowlist. An `application_token` different
//!   from the stored one (or the first one) is accepted only from a portal administrator. An
//!   update re-binds the app's handlers, which Bitrix24 removed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::client_ip::ClientIp;
use super::input::{self, InputError};
use super::state::AppState;
use crate::bitrix::event::{Event, EventKind};
use crate::bitrix::verify::{self, Profile, VerifyError};
use crate::clock::unix_now;
use crate::portals::{bindings, removal};
use crate::store::{AccountRecord, PortalRecord, PortalState, Tokens};
use crate::tokens::{CallError, Repeat};

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

fn busy(retry_after: std::time::Duration) -> Answer {
    answer(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &format!(
            "Too many events failed verification; try again in {} s.",
            retry_after.as_secs().max(1)
        ),
    )
}

#[tracing::instrument(skip_all, fields(event, member_id))]
async fn events(
    State(state): State<AppState>,
    from: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
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
        EventKind::Uninstall => uninstall(&state, &event, from).await,
        EventKind::Install | EventKind::Update => install_or_update(&state, &event, from).await,
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

async fn uninstall(state: &AppState, event: &Event, from: ClientIp) -> Result<Answer, CallError> {
    let Some(portal) = state.store.portal(&event.member_id).await? else {
        tracing::warn!("uninstall for an unknown portal");
        return Ok(answer(
            StatusCode::NOT_FOUND,
            "unknown_portal",
            "This portal has not installed the app.",
        ));
    };
    // A filter, not a proof: every employee has seen this token.
    let token_fits = portal
        .record
        .application_token
        .as_ref()
        .is_none_or(|stored| stored.matches(event.application_token.expose()));
    if !token_fits {
        tracing::warn!("uninstall with a wrong application_token refused");
        return Ok(answer(
            StatusCode::UNAUTHORIZED,
            "wrong_application_token",
            "The application token does not match.",
        ));
    }
    if let Err(wait) = state.gate.check(&event.member_id, from.0) {
        return Ok(busy(wait));
    }
    Ok(
        match removal::uninstall(&state.tokens, &event.member_id, event.clean).await? {
            removal::Removal::Removed => ok("uninstalled"),
            removal::Removal::Suspended => {
                (StatusCode::ACCEPTED, Json(json!({"status": "suspended"})))
            }
            removal::Removal::Forged => {
                state.gate.charge(&event.member_id, from.0);
                answer(
                    StatusCode::FORBIDDEN,
                    "still_installed",
                    "Bitrix24 says the app is still installed on this portal; nothing was changed.",
                )
            }
        },
    )
}

async fn install_or_update(
    state: &AppState,
    event: &Event,
    from: ClientIp,
) -> Result<Answer, CallError> {
    let Some(auth) = &event.auth else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The event carries no access token.",
        ));
    };
    let Some(server) = state.oauth.server_endpoint(event.server_endpoint.as_ref()) else {
        tracing::warn!("event names an OAuth server off the allowlist");
        return Ok(answer(
            StatusCode::FORBIDDEN,
            "unknown_oauth_server",
            "The event names an OAuth server this app does not use.",
        ));
    };
    if let Err(wait) = state.gate.check(&event.member_id, from.0) {
        return Ok(busy(wait));
    }
    let config = &state.config;
    let verified = match verify::verify(
        &state.oauth,
        &server,
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
            state.gate.charge(&event.member_id, from.0);
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
    let profile = state
        .tokens
        .call_with_token::<Profile>(
            &event.member_id,
            &verified.client_endpoint,
            &auth.access,
            verify::PROFILE,
            json!({}),
            Repeat::Safe,
        )
        .await;
    let profile = match profile {
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
        server_endpoint: server,
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
            state.tokens.forget_portal(&event.member_id);
        }
        None => state.store.upsert_portal(&portal, now).await?,
    }
    tracing::info!(version = ?portal.app_version, "installation recorded from event");
    if event.kind == EventKind::Update {
        // Bitrix24 removed our handlers with the update: without ONAPPUNINSTALL bound again we
        // would learn of an uninstall only by reconciliation.
        match auth.refresh {
            Some(_) => {
                let rebound =
                    bindings::bind(&state.tokens, config, &event.member_id, verified.user_id).await;
                if let Err(error) = rebound {
                    tracing::warn!(%error, "re-binding after an update failed");
                }
            }
            None => {
                tracing::warn!("an update event without a refresh token; handlers not re-bound")
            }
        }
    }
    Ok(ok(if event.kind == EventKind::Install {
        "installed"
    } else {
        "updated"
    }))
}
