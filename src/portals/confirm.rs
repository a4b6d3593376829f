//! Every token we believe is ours: a token that works at the portal may belong to another
//! vendor's app on it, so before a frame POST opens a session, or an install or event writes
//! anything, its access token is confirmed with the portal's OAuth server (`app.info`: issued
//! to our `client_id`, for this portal, for this user; `docs/security.md`, "Tokens"). A
//! confirmation is kept by the token's hash until the token expires, so an employee reopening
//! the app within the hour costs nothing, and a confirmed token is never refused by a budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use url::Url;

use super::gate::Closed;
use super::{Portals, Refusal};
use bitrix24::domain::{AccessToken, MemberId, PortalDomain};
use bitrix24::frame::FramePost;
use bitrix24::verify::{self, Verified, VerifyError};

/// The longest a confirmation is kept: an access token lives an hour (`docs/bitrix24.md`,
/// "OAuth").
pub const LONGEST_CONFIRMATION_SECS: i64 = 3600;
/// Most confirmations kept in memory.
const CAPACITY: usize = 100_000;

struct Confirmed {
    member_id: MemberId,
    domain: PortalDomain,
    verified: Verified,
    until: i64,
}

/// Confirmed tokens by the SHA-256 of the token (the token itself is never kept here).
#[derive(Default)]
pub(super) struct Confirmations {
    entries: Mutex<HashMap<[u8; 32], Confirmed>>,
}

impl std::fmt::Debug for Confirmations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmations").finish_non_exhaustive()
    }
}

fn key(access: &AccessToken) -> [u8; 32] {
    Sha256::digest(access.expose().as_bytes()).into()
}

impl Confirmations {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Confirmed>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(
        &self,
        access: &AccessToken,
        member_id: &MemberId,
        domain: &PortalDomain,
        now: i64,
    ) -> Option<Verified> {
        self.entries()
            .get(&key(access))
            .filter(|c| c.until > now && &c.member_id == member_id && &c.domain == domain)
            .map(|c| c.verified.clone())
    }

    fn put(&self, access: &AccessToken, confirmed: Confirmed, now: i64) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, c| c.until > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key(access), confirmed);
    }

    /// Forgets every confirmation for a portal: it was uninstalled, installed again or moved.
    pub(super) fn forget_portal(&self, member_id: &MemberId) {
        self.entries().retain(|_, c| &c.member_id != member_id);
    }
}

impl From<Closed> for Refusal {
    fn from(closed: Closed) -> Self {
        match closed {
            Closed::Budget(wait) => Refusal::Budget(wait.as_secs().max(1)),
            // Retrying in a second is what a person can do about a crowd, as about a budget.
            Closed::Busy => Refusal::Budget(1),
        }
    }
}

/// What a token to confirm came with.
pub(super) struct Claim<'a> {
    /// The OAuth server of the portal (allowlisted, or stored at install).
    pub server: &'a Url,
    /// The access token to confirm.
    pub access: &'a AccessToken,
    /// The portal the request names.
    pub member_id: &'a MemberId,
    /// The domain the request names.
    pub domain: &'a PortalDomain,
    /// Seconds the token has left, as the request says (at most an hour is believed).
    pub expires_in: u64,
}

impl<'a> Claim<'a> {
    /// What a frame POST (the install's or a page's) claims, to be confirmed at `server`.
    pub fn of_frame(server: &'a Url, frame: &'a FramePost) -> Self {
        Self {
            server,
            access: &frame.access,
            member_id: &frame.member_id,
            domain: &frame.domain,
            expires_in: frame.expires_in,
        }
    }
}

impl Portals {
    /// Confirms `claim.access` with the OAuth server: ours, for this portal on this domain.
    /// A confirmation already held answers at once; otherwise the check is reserved against
    /// the budgets of the portal from `from`'s network and of that network, and waits for a
    /// place among the verifications in flight.
    pub(super) async fn confirm(
        &self,
        claim: Claim<'_>,
        from: IpAddr,
    ) -> Result<Verified, Refusal> {
        let now = self.clock.now();
        if let Some(verified) =
            self.confirmations
                .get(claim.access, claim.member_id, claim.domain, now)
        {
            return Ok(verified);
        }
        let reservation = self.gate.reserve(claim.member_id, from).await?;
        let permit = self.gate.in_flight().await?;
        let outcome = verify::verify(
            &self.oauth,
            claim.server,
            claim.access,
            claim.member_id,
            claim.domain,
            self.config.allow_http,
        )
        .await;
        drop(permit);
        match outcome {
            Ok(verified) => {
                self.gate.refund(reservation);
                let lifetime = i64::try_from(claim.expires_in)
                    .unwrap_or(LONGEST_CONFIRMATION_SECS)
                    .min(LONGEST_CONFIRMATION_SECS);
                let confirmed = Confirmed {
                    member_id: claim.member_id.clone(),
                    domain: claim.domain.clone(),
                    verified: verified.clone(),
                    until: now + lifetime,
                };
                self.confirmations.put(claim.access, confirmed, now);
                Ok(verified)
            }
            Err(VerifyError::Refused(why)) => {
                tracing::warn!(domain = %claim.domain, %why, "the OAuth server did not confirm a token");
                self.gate.spent(reservation);
                Err(Refusal::NotVerified)
            }
            Err(VerifyError::Unavailable(error)) => {
                tracing::warn!(domain = %claim.domain, %error, "the OAuth server could not confirm a token");
                self.gate.refund(reservation);
                Err(Refusal::Unavailable)
            }
        }
    }
}
