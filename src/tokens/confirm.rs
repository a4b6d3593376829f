//! Is the app still installed on a portal? Asked of the portal's OAuth server with the pairs
//! we hold, never believed from a request (`docs/bitrix24.md`, "Uninstall"): Bitrix24 revokes
//! every token of the app on a portal before it sends `ONAPPUNINSTALL`, so while one stored
//! pair still works, the app is installed — whatever an event claims.

use super::{CallError, TokenManager};
use bitrix24 as bitrix;
use bitrix24::domain::{MemberId, UserId};

/// How many of a portal's pairs are tried before an uninstall is believed.
const PAIRS_TRIED: u32 = 3;

/// What one stored pair says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It still works: the app is installed (a pair the check refreshed was stored).
    Alive,
    /// Refused: the access token by `app.info`, the refresh token with `invalid_grant`.
    Dead,
    /// The OAuth server could not be asked; the reason, for the log.
    Unknown(String),
}

/// What the pairs of a portal say together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every pair tried is refused (or none is stored): the app is gone.
    Gone,
    /// A pair works: the app is installed.
    Installed,
    /// The OAuth server could not be asked.
    Unknown,
}

impl TokenManager {
    /// Asks the portal's OAuth server whether `user_id`'s stored pair still works: first the
    /// access token with `app.info`, then, if that is refused, a refresh (whose new pair is
    /// stored like any other, single-flight).
    pub async fn probe(&self, member_id: &MemberId, user_id: UserId) -> Result<Probe, CallError> {
        let key = (member_id.clone(), user_id);
        let Some(target) = self.store.account_for_call(member_id, user_id).await? else {
            return Ok(Probe::Dead);
        };
        let server = target.server.clone();
        let generation = target.account.generation;
        let Some(tokens) = target.account.tokens else {
            return Ok(Probe::Dead);
        };
        let caller = bitrix::Caller {
            member_id,
            user_id: Some(user_id),
        };
        match self.oauth.app_info(caller, &server, &tokens.access).await {
            Ok(info) if info.install.member_id == member_id.as_str() => return Ok(Probe::Alive),
            Ok(_) => return Ok(Probe::Dead),
            Err(error) if error.is_transient() => return Ok(Probe::Unknown(error.to_string())),
            Err(bitrix::Error::Api { .. } | bitrix::Error::OAuth { .. }) => {}
            Err(error) => return Ok(Probe::Unknown(error.to_string())),
        }
        match self.refresher.newer_than(&key, &server, generation).await {
            Ok(_) => Ok(Probe::Alive),
            Err(CallError::NeedsReauth) => Ok(Probe::Dead),
            Err(CallError::Store(error)) => Err(CallError::Store(error)),
            Err(error) => Ok(Probe::Unknown(error.to_string())),
        }
    }

    /// Whether the app is gone from `member_id`, judged by up to three of its stored pairs
    /// (active accounts first, the freshest first). With no pair stored, nothing shows the
    /// app is installed and nothing is left to protect: gone.
    pub async fn confirm_removed(&self, member_id: &MemberId) -> Result<Verdict, CallError> {
        let mut unknown = false;
        for user_id in self.store.probe_candidates(member_id, PAIRS_TRIED).await? {
            match self.probe(member_id, user_id).await? {
                Probe::Alive => return Ok(Verdict::Installed),
                Probe::Dead => {}
                Probe::Unknown(why) => {
                    tracing::warn!(%member_id, %why, "could not ask the OAuth server about a pair");
                    unknown = true;
                }
            }
        }
        Ok(if unknown {
            Verdict::Unknown
        } else {
            Verdict::Gone
        })
    }
}
