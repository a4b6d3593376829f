//! What the status page shows besides the status: the user's running timer, their schedule,
//! their automatic statuses and why the status is what it is, and a planned change the app
//! could not make while their tokens were dead (told once).

use super::Portals;
use super::automation::{Lacks, Why, why};
use crate::automation::Settings;
use crate::schedule::Schedule;
use crate::store::{Portal, StoreError, Timer};
use bitrix24::domain::{Status, UserId};
use bitrix24::presence::{CALENDAR_SCOPE, TIMEMAN_SCOPE};

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
    /// Their automatic-status switches.
    pub automation: Settings,
    /// What the portal lacks for them to work.
    pub lacks: Lacks,
    /// Why the status is what it is, unless the user set it by hand.
    pub why: Option<Why>,
}

impl Portals {
    /// The user's plans on `portal`; `current` is their status as Bitrix24 just said, and
    /// `profile_zone` the time zone their Bitrix24 profile names.
    pub async fn plans(
        &self,
        portal: &Portal,
        user_id: UserId,
        current: Status,
        profile_zone: Option<&str>,
    ) -> Result<Plans, StoreError> {
        let member_id = &portal.record.member_id;
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
        let now = self.clock.now();
        let automation = if self.store.may_have_automation(member_id, user_id).await? {
            self.store.automation(member_id, user_id).await?
        } else {
            None
        };
        let held = automation.as_ref().and_then(|a| a.held);
        let settings = automation.map(|a| a.settings).unwrap_or_default();
        let why = why(held, timer.as_ref(), saved.as_ref(), current, now);
        // Only the switch that needs an administrator's pair pays for looking for one.
        let lacks = Lacks {
            imbot: !portal.record.grants(bitrix24::bot::SCOPE),
            calendar: !portal.record.grants(CALENDAR_SCOPE),
            timeman: !portal.record.grants(TIMEMAN_SCOPE),
            admin: settings.working_day && self.store.admin_account(member_id).await?.is_none(),
        };
        Ok(Plans {
            automation: settings,
            lacks,
            why,
            timer,
            saved: saved.is_some(),
            schedule: saved.map_or_else(|| Schedule::for_zone(profile_zone), |s| s.schedule),
            missed_timer,
            missed_change,
        })
    }
}
