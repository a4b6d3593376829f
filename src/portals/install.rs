//! Installing the app: the administrator's install POST, verified with the portal's OAuth
//! server before anything is written (`docs/bitrix24.md`, "Installation").

use std::net::IpAddr;

use url::Url;

use super::confirm::Claim;
use super::{Portals, Refusal, bindings};
use crate::i18n::Lang;
use crate::store::{AccountRecord, PortalRecord, PortalState, Tokens};
use crate::tokens::Repeat;
use bitrix24::ErrorCode;
use bitrix24::clock::unix_now;
use bitrix24::domain::{AccessToken, MemberId};
use bitrix24::frame::FramePost;
use bitrix24::verify::{self, Profile, Verified};

impl Portals {
    /// Verifies an install POST, stores the portal and its installing administrator in one
    /// transaction and binds the app's placements and handlers; returns the placements the
    /// portal refused, with its error codes.
    pub async fn install(
        &self,
        frame: &FramePost,
        from: IpAddr,
    ) -> Result<Vec<(String, ErrorCode)>, Refusal> {
        let refresh = frame.refresh.clone().ok_or(Refusal::BadRequest)?;
        if frame.domain.is_loopback() && !self.config.allow_http {
            return Err(Refusal::BadRequest);
        }
        let server = self.named_server(frame.server_endpoint.as_ref(), "install POST")?;
        let verified = self.confirm(Claim::of_frame(&server, frame), from).await?;
        tracing::Span::current().record("user_id", tracing::field::display(verified.user_id));
        let profile = self
            .confirmed_profile(&frame.member_id, &verified, &frame.access)
            .await?;
        if !profile.admin {
            return Err(Refusal::AdminOnly);
        }

        let existing = self.store.portal(&frame.member_id).await?;
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
            tokens: Tokens::issued(frame.access.clone(), refresh, frame.expires_in, now),
        };
        self.store
            .upsert_portal_and_account(&portal, &account, now)
            .await?;
        self.confirmations.forget_portal(&frame.member_id);

        let refused = bindings::bind(
            &self.tokens,
            &self.config,
            &frame.member_id,
            verified.user_id,
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, "binding placements and events failed");
            Refusal::BindingsFailed
        })?;
        // Without ONAPPUNINSTALL bound we would learn of an uninstall only by reconciliation.
        if refused.lacks_required_events() {
            return Err(Refusal::BindingsFailed);
        }
        self.register_bot_if_granted(&portal, verified.user_id, Lang::from_code(&frame.lang))
            .await;
        // Bitrix24 just issued the administrator a pair: whatever period had ended is paid.
        self.store.resume_period(&frame.member_id).await?;
        if let Err(error) = self.jobs.read_period(&frame.member_id).await {
            tracing::warn!(%error, "app.info could not be read at install");
        }
        tracing::info!("installed");
        Ok(refused.placements)
    }

    /// The OAuth server a request names, when it is on the allowlist; nothing is sent to one
    /// that is not (`what` names the request in the log).
    pub(super) fn named_server(&self, named: Option<&Url>, what: &str) -> Result<Url, Refusal> {
        self.oauth.server_endpoint(named).ok_or_else(|| {
            tracing::warn!("{what} names an OAuth server off the allowlist");
            Refusal::OffList
        })
    }

    /// The profile behind a token the OAuth server just confirmed, read at the portal the
    /// server named; the portal must name the same user.
    pub(super) async fn confirmed_profile(
        &self,
        member_id: &MemberId,
        verified: &Verified,
        access: &AccessToken,
    ) -> Result<Profile, Refusal> {
        let profile = self
            .tokens
            .call_with_token::<Profile>(
                member_id,
                &verified.client_endpoint,
                access,
                verify::PROFILE,
                serde_json::json!({}),
                Repeat::Safe,
            )
            .await?;
        if profile.user_id() != Some(verified.user_id) {
            return Err(Refusal::NotVerified);
        }
        Ok(profile)
    }
}
