//! Opening the app inside the portal, and reading and setting a status: the frame POST is
//! checked against what we stored at install (`docs/bitrix24.md`, "Installation"), one `batch`
//! to the stored `client_endpoint` confirms the token, names the user and reads their status,
//! and the user's pair is stored for later calls.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::confirm::Claim;
use super::plans::Plans;
use super::{Portals, Refusal, TimerEnd};
use crate::store::{AccountRecord, Portal, PortalState, Tokens};
use crate::tokens::{CallError, Repeat};
use bitrix24::batch::{self, BatchAnswer};
use bitrix24::clock::unix_now;
use bitrix24::domain::{AccessToken, MemberId, Status, UserId};
use bitrix24::frame::FramePost;
use bitrix24::status::{self, PageRead};
use bitrix24::{presence, verify};

/// What the status page shows after an open or a change.
#[derive(Debug)]
pub struct Opened {
    /// The portal (its domain frames the page).
    pub portal: Portal,
    pub user_id: UserId,
    /// "First Last", as the portal knows them.
    pub user_name: String,
    /// Whether they administer the portal.
    pub admin: bool,
    /// Their status now.
    pub current: Status,
    /// Their timer and schedule.
    pub plans: Plans,
    /// The usual end of their working day, minutes after midnight, when Bitrix24 says.
    pub work_end: Option<u16>,
    /// The account's session epoch when this open begins a session (a frame POST, a sign-in);
    /// `None` for a page shown again within one.
    pub epoch: Option<i64>,
}

/// Who a token's user is and their status.
pub(super) struct Read {
    pub user_id: UserId,
    pub profile: verify::Profile,
    pub current: Status,
    pub work_end: Option<u16>,
}

/// What a change from the page's form came to.
#[derive(Debug)]
pub struct StatusChange {
    /// The page to show.
    pub opened: Opened,
    /// Why Bitrix24 refused the change, if it did.
    pub refused: Option<CallError>,
}

impl Portals {
    /// Opens the app for the user whose frame POST this is.
    pub async fn open(&self, frame: &FramePost, from: IpAddr) -> Result<Opened, Refusal> {
        let refresh = frame.refresh.clone().ok_or(Refusal::BadRequest)?;
        self.named_server(frame.server_endpoint.as_ref(), "frame POST")?;
        // At most a second old: every open of a busy portal would otherwise read and decrypt it.
        let mut portal = self
            .store
            .recent_portal(&frame.member_id)
            .await?
            .filter(|p| p.record.state != PortalState::New)
            .ok_or(Refusal::NotInstalled)?;
        if portal.removing_since.is_some() {
            return Err(Refusal::BeingRemoved);
        }
        if portal.paused_at.is_some() {
            return Err(Refusal::Paused);
        }
        if portal.period.ended_at.is_some() {
            // Someone opening the app may have just paid for it.
            self.paid_again(&frame.member_id).await?;
            portal = self
                .store
                .portal(&frame.member_id)
                .await?
                .ok_or(Refusal::NotInstalled)?;
        }
        let deleted = portal.record.state == PortalState::Deleted;
        if let (Some(sent), Some(stored)) =
            (&frame.application_token, &portal.record.application_token)
            && !stored.matches(sent.expose())
        {
            // After a real reinstall the token is new, and only the administrator's install POST
            // may tell us so; otherwise someone is lying.
            tracing::warn!("frame POST carries another application token");
            return Err(if deleted {
                Refusal::NotInstalled
            } else {
                Refusal::NotVerified
            });
        }
        // A token that works at the portal may be another app's: only the OAuth server can say
        // it is ours, for this portal and this user (cached until the token expires).
        let server = portal.record.server_endpoint.clone();
        let confirmed = self.confirm(Claim::of_frame(&server, frame), from).await?;
        if deleted || portal.record.domain != frame.domain {
            // A renamed portal, or a portal we took for uninstalled (every pair refused): the
            // OAuth server just confirmed where it is now.
            portal.record.domain = frame.domain.clone();
            portal.record.client_endpoint = confirmed.client_endpoint.clone();
            portal.record.state = PortalState::Active;
            self.store.upsert_portal(&portal.record, unix_now()).await?;
            tracing::info!(domain = %frame.domain, reactivated = deleted, "the OAuth server confirmed the portal's address");
        }
        let read = self.read_with(&portal, &frame.access).await?;
        if read.user_id != confirmed.user_id {
            tracing::warn!("the portal and the OAuth server name different users for a token");
            return Err(Refusal::NotVerified);
        }
        let tokens = Tokens::issued(frame.access.clone(), refresh, frame.expires_in, unix_now());
        self.keep_pair(&frame.member_id, read.user_id, read.profile.admin, tokens)
            .await?;
        Ok(Opened {
            plans: self
                .plans(
                    &portal,
                    read.user_id,
                    read.current,
                    read.profile.time_zone.as_deref(),
                )
                .await?,
            epoch: self
                .store
                .session_epoch(&frame.member_id, read.user_id)
                .await?,
            user_id: read.user_id,
            user_name: read.profile.display_name(),
            admin: read.profile.admin,
            current: read.current,
            work_end: read.work_end,
            portal,
        })
    }

    /// The page batch with a token the portal just handed us: who the user is and their status.
    pub(super) async fn read_with(
        &self,
        portal: &Portal,
        access: &AccessToken,
    ) -> Result<Read, Refusal> {
        let answer = self
            .tokens
            .call_with_token::<BatchAnswer>(
                &portal.record.member_id,
                &portal.record.client_endpoint,
                access,
                batch::METHOD,
                status::page_batch(None, reads_hours(portal)),
                Repeat::Safe,
            )
            .await
            .map_err(|error| {
                if error.is_auth_refusal() {
                    Refusal::TokenRejected
                } else {
                    Refusal::Call(error)
                }
            })?;
        let page = PageRead::from_answer(&answer);
        let Some((user_id, profile)) = page.profile.and_then(|p| Some((p.user_id()?, p))) else {
            tracing::warn!(error = ?page.profile_refused, "the portal did not confirm the frame's token");
            return Err(Refusal::TokenRejected);
        };
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        Ok(Read {
            user_id,
            profile,
            current: page.status.unwrap_or(Status::Online),
            work_end: page.work_end,
        })
    }

    /// Stores a pair that came through the user's browser, beside its confirmed access token,
    /// unless the user's stored pair works.
    async fn keep_pair(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        is_admin: bool,
        tokens: Tokens,
    ) -> Result<(), Refusal> {
        let account = AccountRecord {
            member_id: member_id.clone(),
            user_id,
            is_admin,
            is_installer: false,
            tokens,
        };
        self.tokens
            .save_account_unless_working(&account, unix_now())
            .await?;
        Ok(())
    }

    /// Sets `chosen` for a signed-in user — until `until` when given, else for
    /// good, ending a running timer — and reads back what Bitrix24 now says, in one `batch`
    /// (the page's forms). Without `chosen`, only reads.
    pub async fn change_from_page(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Option<Status>,
        until: Option<TimerEnd>,
    ) -> Result<StatusChange, Refusal> {
        let portal = self.installed(member_id).await?;
        let answer = self
            .tokens
            .call::<BatchAnswer>(
                member_id,
                user_id,
                batch::METHOD,
                status::page_batch(chosen, reads_hours(&portal)),
                Repeat::Safe,
            )
            .await?;
        let page = PageRead::from_answer(&answer);
        let refused = page.set_refused.map(|code| {
            tracing::warn!(code = code.as_str(), "the portal refused the status");
            CallError::refused(code)
        });
        match (chosen, &refused, until) {
            (None, _, _) | (_, Some(_), _) => {}
            (Some(_), None, None) => {
                self.store.clear_timer(member_id, user_id).await?;
                self.store.override_automation(member_id, user_id).await?;
            }
            (Some(chosen), None, Some(until)) => {
                let before = page.before.unwrap_or(Status::Online);
                self.start_timer(member_id, user_id, chosen, until, before)
                    .await?;
            }
        }
        let zone = page.profile.as_ref().and_then(|p| p.time_zone.as_deref());
        let current = page.status.or(chosen).unwrap_or(Status::Online);
        let plans = self.plans(&portal, user_id, current, zone).await?;
        Ok(StatusChange {
            opened: Opened {
                portal,
                user_id,
                admin: page.profile.as_ref().is_some_and(|p| p.admin),
                user_name: page.profile.map(|p| p.display_name()).unwrap_or_default(),
                current,
                work_end: page.work_end,
                plans,
                epoch: None,
            },
            refused,
        })
    }

    /// Whether a session begun at `epoch` still stands for its account: the pair is kept and
    /// usable, the portal in use, and no new pair, pause or suspension came since
    /// (`docs/security.md`, "Sessions"). Read from the store, never a cache.
    pub async fn session_stands(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        epoch: i64,
    ) -> Result<bool, Refusal> {
        Ok(self.store.session_epoch(member_id, user_id).await? == Some(epoch))
    }

    /// The user's status, read from Bitrix24 (never a cache).
    pub async fn read_status(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Status, Refusal> {
        let result: Value = self
            .tokens
            .call(member_id, user_id, status::GET, json!({}), Repeat::Safe)
            .await?;
        Ok(status::read(&result))
    }

    /// Applies `chosen` with the user's own token, ending a running timer: the user's own choice
    /// wins over a restore planned earlier, and over an automatic reason until it ends.
    pub async fn set_status(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
    ) -> Result<(), Refusal> {
        self.apply_status(member_id, user_id, chosen).await?;
        // Most users have no timer: the cached account says so without a database read.
        if self.store.may_have_timer(member_id, user_id).await? {
            self.store.clear_timer(member_id, user_id).await?;
        }
        self.store.override_automation(member_id, user_id).await?;
        Ok(())
    }

    /// Applies `chosen` with the user's own token, and nothing else.
    pub(super) async fn apply_status(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
    ) -> Result<(), CallError> {
        self.jobs.set_status(member_id, user_id, chosen).await?;
        tracing::info!(target: "audit", status = chosen.as_str(), "status set");
        Ok(())
    }
}

/// Whether the page's read also asks for the user's working hours: only where the portal
/// granted a scope that answers them.
fn reads_hours(portal: &Portal) -> bool {
    portal.record.grants(presence::TIMEMAN_SCOPE) || portal.record.grants(presence::CALENDAR_SCOPE)
}
