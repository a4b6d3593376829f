//! A paid app's life on each portal (`docs/bitrix24.md`, "Paid apps"). `app.info` says what the
//! period is (read at install, on `ONAPPPAYMENT`, weekly, and every few hours once its end
//! passed); when the OAuth server refuses a portal's tokens with `PAYMENT_REQUIRED`, the token
//! manager records the end and every call and background change for the portal waits, kept.
//! Whether payment returned is learnt the only way nobody can forge: a refresh the OAuth server
//! answers with a pair — asked in the background, when someone opens the app, and on
//! `ONAPPPAYMENT`, at most once a minute per portal whatever prompts it.

use serde_json::json;

use super::{Jobs, Portals, Refusal};
use crate::tokens::{CallError, Repeat};
use bitrix24::domain::{MemberId, UserId};
use bitrix24::event::Event;
use bitrix24::licence::{APP_INFO, PaidPeriod};

/// How often the background asks whether payment returned on a portal whose period ended.
pub const PROBE_EVERY: i64 = 15 * 60;

/// The least time between two asks for one portal, whatever prompts them: an open, or an
/// `ONAPPPAYMENT` anyone who saw the `application_token` could send.
const PROBE_GAP: i64 = 60;

/// `app.info` is read again after this long in any case…
const READ_EVERY: i64 = 7 * 86_400;

/// …and after this long once the period's end has passed, to see the grace period begin.
const RECHECK_PAST_END: i64 = 6 * 3_600;

/// Portals looked at per background pass, of each kind.
const PER_PASS: u32 = 32;

/// What asking whether payment returned came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probed {
    /// The OAuth server issues tokens again: calls and background work resume.
    Resumed,
    /// Still refused with `PAYMENT_REQUIRED`, or no pair to ask with.
    StillEnded,
    /// Someone asked less than a minute ago (or the period is not ended): not asked again.
    NotAsked,
}

/// What one background look at paid periods did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Looked {
    /// Portals whose period resumed.
    pub resumed: usize,
    /// Portals still ended.
    pub still_ended: usize,
    /// `app.info` reads recorded.
    pub read: usize,
}

impl Jobs {
    /// Asks whether payment returned on a portal whose period ended, unless anyone asked
    /// within `gap` seconds.
    async fn probe(&self, member_id: &MemberId, gap: i64) -> Result<Probed, CallError> {
        let now = self.clock.now();
        if !self
            .store
            .claim_payment_probe(member_id, now, now.saturating_sub(gap))
            .await?
        {
            return Ok(Probed::NotAsked);
        }
        let Some(user_id) = self.store.period_account(member_id).await? else {
            return Ok(Probed::StillEnded);
        };
        match self.tokens.refresh_despite_period(member_id, user_id).await {
            Ok(()) => {}
            Err(CallError::PaymentRequired) => return Ok(Probed::StillEnded),
            Err(error) => return Err(error),
        }
        if self.store.resume_period(member_id).await? {
            tracing::info!(%member_id, "the app's paid period on this portal is back: calls and background work resume");
        }
        // The pair just refreshed is the one to ask with.
        if let Err(error) = self.read_period_as(member_id, user_id).await {
            tracing::warn!(%member_id, %error, "app.info could not be read after a payment");
        }
        Ok(Probed::Resumed)
    }

    /// Reads `app.info` with the pair of the portal's
    /// [`crate::store::Store::period_account`] and records what it says; `false` when the
    /// portal has no pair to ask with.
    pub(super) async fn read_period(&self, member_id: &MemberId) -> Result<bool, CallError> {
        match self.store.period_account(member_id).await? {
            Some(user_id) => self.read_period_as(member_id, user_id).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Reads `app.info` with `user_id`'s pair and records what it says.
    async fn read_period_as(&self, member_id: &MemberId, user_id: UserId) -> Result<(), CallError> {
        let result: serde_json::Value = self
            .tokens
            .call(member_id, user_id, APP_INFO, json!({}), Repeat::Safe)
            .await?;
        let period = PaidPeriod::from_app_info(&result);
        self.store
            .record_period(member_id, &period, self.clock.now())
            .await?;
        Ok(())
    }

    /// The background's share: asks about the portals whose period ended, and reads
    /// `app.info` of those due a read, a few of each per pass.
    pub(super) async fn look_at_periods(&self) -> Looked {
        let mut looked = Looked::default();
        let now = self.clock.now();
        let ended = self
            .store
            .periods_to_probe(now - PROBE_EVERY, PER_PASS)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "listing portals whose paid period ended failed");
                Vec::new()
            });
        for member_id in ended {
            match self.probe(&member_id, PROBE_EVERY).await {
                Ok(Probed::Resumed) => looked.resumed += 1,
                Ok(Probed::StillEnded) => looked.still_ended += 1,
                Ok(Probed::NotAsked) => {}
                Err(error) => {
                    tracing::warn!(%member_id, %error, "asking whether payment returned failed");
                }
            }
        }
        let due = self
            .store
            .claim_period_reads(now, now - READ_EVERY, now - RECHECK_PAST_END, PER_PASS)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "listing portals due an app.info read failed");
                Vec::new()
            });
        for member_id in due {
            match self.read_period(&member_id).await {
                Ok(true) => looked.read += 1,
                Ok(false) | Err(CallError::PaymentRequired) => {}
                Err(error) => tracing::warn!(%member_id, %error, "app.info could not be read"),
            }
        }
        looked
    }
}

impl Portals {
    /// A portal whose period ended, asked whether payment returned (at most once a minute):
    /// `Ok` when it did.
    pub(super) async fn paid_again(&self, member_id: &MemberId) -> Result<(), Refusal> {
        match self.jobs.probe(member_id, PROBE_GAP).await? {
            Probed::Resumed => Ok(()),
            Probed::StillEnded | Probed::NotAsked => Err(Refusal::PaymentRequired),
        }
    }

    /// `ONAPPPAYMENT`: a claim, since every employee has seen the `application_token` that
    /// authenticates it. It only prompts a look — whether payment returned, or `app.info` — at
    /// most once a minute per portal; what the event's `data` says is never recorded.
    pub(super) async fn payment(&self, event: &Event) -> Result<(), Refusal> {
        let Some(portal) = self.store.portal(&event.member_id).await? else {
            return Err(Refusal::NotInstalled);
        };
        // The documented event carries no `application_token`; one that does must carry ours.
        let forged = event.application_token.is_some()
            && !portal
                .record
                .application_token
                .as_ref()
                .is_some_and(|stored| event.carries(stored));
        if forged {
            return Err(Refusal::NotVerified);
        }
        if portal.period.ended_at.is_some() {
            self.jobs.probe(&event.member_id, PROBE_GAP).await?;
            return Ok(());
        }
        let now = self.clock.now();
        if self
            .store
            .claim_period_read(&event.member_id, now, now - PROBE_GAP)
            .await?
        {
            match self.jobs.read_period(&event.member_id).await {
                Ok(_) | Err(CallError::PaymentRequired) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}
