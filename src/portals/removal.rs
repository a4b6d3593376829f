//! Removing a portal: an `ONAPPUNINSTALL` is confirmed with the OAuth server before anything
//! is deleted (`docs/bitrix24.md`, "Uninstall"), since every employee can read the
//! `application_token` that authenticates it. A confirmed uninstall stops every use of the
//! portal's tokens at once; an unconfirmable one suspends the portal and is checked again in
//! the background; a portal whose every pair is refused is checked the same way, so a lost
//! event is noticed.

use std::time::Duration;

use super::Jobs;
use crate::tokens::CallError;
use crate::tokens::confirm::Verdict;
use bitrix24::domain::MemberId;

/// What became of an uninstall event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Confirmed: the portal's tokens are gone (with `clean`, all its rows).
    Removed,
    /// A stored pair still works: the event is forged and nothing changed.
    Forged,
    /// The OAuth server could not be asked: the portal is suspended until it can.
    Suspended,
}

/// What one check of a portal that may be gone found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Gone, and now removed.
    Removed,
    /// Still installed (a suspension is lifted).
    Kept,
    /// Could not be asked; try later.
    Unknown,
}

/// The longest an uninstall event waits for the OAuth server before the portal is suspended
/// and checked in the background instead; well inside the request timeout.
const CONFIRM_WITHIN: Duration = Duration::from_secs(10);

/// Waits between background checks of a suspended portal; after the last one, the keep-alive's
/// reconciliation takes over.
const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(60),
    Duration::from_secs(300),
    Duration::from_secs(900),
];

impl Jobs {
    /// Handles an `ONAPPUNINSTALL` whose `application_token` matched (or the portal has none).
    pub(super) async fn uninstall(
        &self,
        member_id: &MemberId,
        clean: bool,
    ) -> Result<Removal, CallError> {
        let portal = self.store.portal(member_id).await?;
        let written_at = portal.as_ref().map(|p| p.updated_at);
        if portal.is_some_and(|p| p.removing_since.is_some()) {
            // Its background check is under way; a second event adds no work.
            self.store
                .suspend_portal(member_id, clean, self.clock.now())
                .await?;
            return Ok(Removal::Suspended);
        }
        // A hanging OAuth server must not keep the event past the request's own timeout, or
        // the portal would be neither removed nor suspended.
        let verdict = tokio::time::timeout(CONFIRM_WITHIN, self.tokens.confirm_removed(member_id))
            .await
            .unwrap_or(Ok(Verdict::Unknown))?;
        match verdict {
            Verdict::Gone => {
                self.remove(member_id, clean, written_at).await?;
                Ok(Removal::Removed)
            }
            Verdict::Installed => {
                tracing::warn!(%member_id, "ONAPPUNINSTALL refused: the app is still installed on this portal, so the event is forged");
                Ok(Removal::Forged)
            }
            Verdict::Unknown => {
                let now = self.clock.now();
                self.store.suspend_portal(member_id, clean, now).await?;
                tracing::warn!(%member_id, "ONAPPUNINSTALL could not be confirmed yet; the portal is suspended");
                tokio::spawn(self.clone().retry(member_id.clone()));
                Ok(Removal::Suspended)
            }
        }
    }

    /// Removes the portal unless its row changed since `written_at` (a reinstall while the
    /// OAuth server was being asked wins).
    async fn remove(
        &self,
        member_id: &MemberId,
        clean: bool,
        written_at: Option<i64>,
    ) -> Result<(), CallError> {
        let now = self.clock.now();
        if self
            .store
            .uninstall_portal(member_id, clean, now, written_at)
            .await?
        {
            tracing::info!(%member_id, clean, "uninstalled");
        } else {
            tracing::info!(%member_id, "the portal changed while its uninstall was checked; kept");
        }
        Ok(())
    }

    async fn retry(self, member_id: MemberId) {
        for delay in RETRY_DELAYS {
            tokio::time::sleep(delay).await;
            match self.check(&member_id).await {
                Ok(Check::Removed | Check::Kept) => return,
                Ok(Check::Unknown) => {}
                Err(error) => {
                    tracing::warn!(%member_id, %error, "checking a suspended portal failed");
                }
            }
        }
    }

    /// Checks a portal that may be gone (suspended, or every pair refused): removes it when
    /// the OAuth server confirms, lifts a suspension when a pair still works.
    pub async fn check(&self, member_id: &MemberId) -> Result<Check, CallError> {
        let written_at = self.store.portal(member_id).await?.map(|p| p.updated_at);
        match self.tokens.confirm_removed(member_id).await? {
            Verdict::Gone => {
                let clean = self.store.removal_is_clean(member_id).await?;
                self.remove(member_id, clean, written_at).await?;
                Ok(Check::Removed)
            }
            Verdict::Installed => {
                self.store
                    .resume_portal(member_id, self.clock.now())
                    .await?;
                Ok(Check::Kept)
            }
            Verdict::Unknown => Ok(Check::Unknown),
        }
    }

    /// Checks every portal that may be gone; returns how many were removed.
    pub async fn reconcile(&self) -> Result<usize, CallError> {
        let mut removed = 0;
        for member_id in self.store.portals_to_reconcile().await? {
            match self.check(&member_id).await {
                Ok(Check::Removed) => removed += 1,
                Ok(_) => {}
                Err(error) => tracing::warn!(%member_id, %error, "reconciling a portal failed"),
            }
        }
        Ok(removed)
    }
}
