//! What the status page shows besides the status: the user's running timer, their schedule,
//! and a planned change the app could not make while their tokens were dead (told once).

use super::Portals;
use crate::schedule::Schedule;
use crate::store::{StoreError, Timer};
use bitrix24::domain::{MemberId, UserId};

/// A user's plans, as the page shows them.
#[derive(Debug)]
pub struct Plans {
    /// The timed status running, if any.
    pub timer: Option<Timer>,
    /// Their schedule; before they save one, an empty one in their profile's time zone.
    pub schedule: Schedule,
    /// Whether they saved a schedule (else the zone is only the profile's suggestion).
    pub saved: bool,
    /// A timed status whose end could not be restored: told on this visit, once.
    pub missed_timer: Option<Timer>,
    /// When a scheduled change could not be made: told on this visit, once.
    pub missed_change: Option<i64>,
}

impl Portals {
    /// The user's plans; `profile_zone` is the time zone their Bitrix24 profile names.
    pub async fn plans(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        profile_zone: Option<&str>,
    ) -> Result<Plans, StoreError> {
        // Reads only, unless there is a failed change to tell (told once, then forgotten); and
        // only what the account's cached entry says may be there.
        let (may_have_timer, may_have_schedule) =
            self.store.may_have_plans(member_id, user_id).await;
        let any_timer = if may_have_timer {
            self.store.any_timer(member_id, user_id).await?
        } else {
            None
        };
        let (timer, missed_timer) = match any_timer {
            Some((_, true)) => (
                None,
                self.store.take_missed_timer(member_id, user_id).await?,
            ),
            Some((running, false)) => (Some(running), None),
            None => (None, None),
        };
        let saved = if may_have_schedule {
            self.store.schedule(member_id, user_id).await?
        } else {
            None
        };
        let mut missed_change = None;
        if let Some(at) = saved.as_ref().and_then(|s| s.missed_at)
            && self
                .store
                .clear_missed_change(member_id, user_id, at)
                .await?
        {
            missed_change = Some(at);
        }
        Ok(Plans {
            timer,
            saved: saved.is_some(),
            schedule: saved.map_or_else(|| Schedule::for_zone(profile_zone), |s| s.schedule),
            missed_timer,
            missed_change,
        })
    }
}
