//! `ONAPPINSTALL`, `ONAPPUPDATE` and `ONAPPUNINSTALL` (`docs/bitrix24.md`, "Events",
//! "Uninstall"); `ONAPPPAYMENT` is `licence.rs`'s. Install and update events carry tokens, verified with the OAuth server the
//! event names (when it is on the allowlist); an `application_token` different from the stored
//! one (or the first one) is accepted only from an administrator; an update binds the app's
//! handlers again, since Bitrix24 removed them. An uninstall's `application_token` is only a
//! filter: the uninstall itself is confirmed with the OAuth server (see [`super::removal`]).

use std::net::IpAddr;

use super::confirm::Claim;
use super::removal::Removal;
use super::{Portals, Refusal, bindings};
use crate::i18n::Lang;
use crate::store::{AccountRecord, PortalRecord, PortalState, Tokens};
use bitrix24::clock::unix_now;
use bitrix24::event::{Event, EventKind};

/// What an event came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// An install or update was stored.
    Installed,
    /// An update was stored and the handlers bound again.
    Updated,
    /// An uninstall, and what became of it.
    Uninstall(Removal),
    /// The portal never installed the app.
    UnknownPortal,
    /// The uninstall's `application_token` does not match the stored one.
    WrongToken,
    /// The event carries no usable token.
    NoToken,
    /// A non-administrator's event tried to change the `application_token`.
    AdminRequired,
    /// `ONAPPPAYMENT` prompted a look at the portal's paid period.
    PaymentNoted,
    /// A calendar changed: the portal's calendar is read sooner.
    CalendarNoted,
    /// An event this app does not handle.
    Ignored,
}

impl Portals {
    /// Handles one event from the portal.
    pub async fn record_event(&self, event: &Event, from: IpAddr) -> Result<Recorded, Refusal> {
        match &event.kind {
            EventKind::Uninstall => self.uninstall(event, from).await,
            EventKind::Install | EventKind::Update => self.install_or_update(event, from).await,
            EventKind::Payment => self.payment(event).await.map(|()| Recorded::PaymentNoted),
            EventKind::CalendarEntry => self.calendar_entry(event).await,
            EventKind::Other(_) => Ok(Recorded::Ignored),
        }
    }

    /// A calendar entry changed. Only a hint that costs one sooner read at most every
    /// `presence::CALENDAR_SOONEST` seconds, so the stored `application_token` is proof
    /// enough: whoever knows it can only make the app look sooner.
    async fn calendar_entry(&self, event: &Event) -> Result<Recorded, Refusal> {
        let Some(portal) = self.store.recent_portal(&event.member_id).await? else {
            return Ok(Recorded::UnknownPortal);
        };
        match &portal.record.application_token {
            Some(stored) if event.carries(stored) => {
                self.store
                    .calendar_changed(&event.member_id, self.clock.now())
                    .await?;
                Ok(Recorded::CalendarNoted)
            }
            _ => Ok(Recorded::WrongToken),
        }
    }

    async fn uninstall(&self, event: &Event, from: IpAddr) -> Result<Recorded, Refusal> {
        let Some(portal) = self.store.portal(&event.member_id).await? else {
            tracing::warn!("uninstall for an unknown portal");
            return Ok(Recorded::UnknownPortal);
        };
        // A filter, not a proof: every employee has seen this token.
        let token_fits = portal
            .record
            .application_token
            .as_ref()
            .is_none_or(|stored| event.carries(stored));
        if !token_fits {
            tracing::warn!("uninstall with a wrong application_token refused");
            return Ok(Recorded::WrongToken);
        }
        let reservation = self.gate.reserve(&event.member_id, from).await?;
        // Confirming an uninstall asks the OAuth server too: it takes a place among the
        // verifications in flight like any other check.
        let permit = self.gate.in_flight().await?;
        let removal = self.jobs.uninstall(&event.member_id, event.clean).await?;
        drop(permit);
        if removal == Removal::Forged {
            self.gate.spent(reservation);
        } else {
            self.gate.refund(reservation);
            self.confirmations.forget_portal(&event.member_id);
        }
        Ok(Recorded::Uninstall(removal))
    }

    async fn install_or_update(&self, event: &Event, from: IpAddr) -> Result<Recorded, Refusal> {
        let Some(auth) = &event.auth else {
            return Ok(Recorded::NoToken);
        };
        let server = self.named_server(event.server_endpoint.as_ref(), "event")?;
        let verified = self
            .confirm(
                Claim {
                    server: &server,
                    access: &auth.access,
                    member_id: &event.member_id,
                    domain: &event.domain,
                    expires_in: auth.expires_in,
                },
                from,
            )
            .await?;
        // Past the check, each event costs a profile read, a write and (an update) a re-bind:
        // a few an hour per user whose token came with it, so nobody spends another's.
        self.gate.rebind(&event.member_id, verified.user_id)?;
        let existing = self.store.portal(&event.member_id).await?;
        let same_token = existing
            .as_ref()
            .and_then(|p| p.record.application_token.as_ref())
            .is_some_and(|stored| event.carries(stored));
        let profile = self
            .confirmed_profile(&event.member_id, &verified, &auth.access)
            .await
            .map_err(|refusal| match refusal {
                Refusal::NotVerified => refusal,
                other => {
                    tracing::warn!(error = %other, "profile for an event failed");
                    Refusal::Unavailable
                }
            })?;
        if !same_token && !profile.admin {
            tracing::warn!("a non-administrator's event tried to change the application token");
            return Ok(Recorded::AdminRequired);
        }
        let now = unix_now();
        let portal = PortalRecord {
            member_id: event.member_id.clone(),
            domain: event.domain.clone(),
            client_endpoint: verified.client_endpoint.clone(),
            server_endpoint: server,
            application_token: event.application_token.clone(),
            // What the OAuth server confirmed wins over what the event says.
            scope: if verified.scope.is_empty() {
                auth.scope.clone()
            } else {
                verified.scope.clone()
            },
            licence: auth
                .licence
                .clone()
                .or_else(|| existing.as_ref().and_then(|p| p.record.licence.clone())),
            state: PortalState::Active,
            app_version: verified.version.or(event.version),
        };
        // An event passes through whoever sent it: its refresh token is unproven, so it never
        // replaces a pair that works (`docs/security.md`, "Tokens").
        let keep = self
            .tokens
            .has_working_pair(&event.member_id, verified.user_id)
            .await;
        match &auth.refresh {
            Some(refresh) if !keep => {
                let account = AccountRecord {
                    member_id: event.member_id.clone(),
                    user_id: verified.user_id,
                    is_admin: profile.admin,
                    is_installer: event.kind == EventKind::Install && profile.admin,
                    tokens: Tokens::issued(
                        auth.access.clone(),
                        refresh.clone(),
                        auth.expires_in,
                        now,
                    ),
                };
                self.store
                    .upsert_portal_and_account(&portal, &account, now)
                    .await?;
            }
            _ => self.store.upsert_portal(&portal, now).await?,
        }
        self.confirmations.forget_portal(&event.member_id);
        tracing::info!(version = ?portal.app_version, "installation recorded from event");
        if event.kind == EventKind::Install {
            return Ok(Recorded::Installed);
        }
        // Bitrix24 removed our handlers with the update: without ONAPPUNINSTALL bound again we
        // would learn of an uninstall only by reconciliation.
        match auth.refresh {
            Some(_) => {
                let rebound = bindings::bind(
                    &self.tokens,
                    &self.config,
                    &event.member_id,
                    verified.user_id,
                )
                .await;
                if let Err(error) = rebound {
                    tracing::warn!(%error, "re-binding after an update failed");
                }
                let lang = Lang::from_code(event.language.as_deref().unwrap_or_default());
                self.register_bot_if_granted(&portal, verified.user_id, lang)
                    .await;
            }
            None => {
                tracing::warn!("an update event without a refresh token; handlers not re-bound")
            }
        }
        Ok(Recorded::Updated)
    }
}
