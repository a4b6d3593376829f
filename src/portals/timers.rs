//! A status for a while: set it now, and the scheduler (`scheduler.rs`) restores the status the
//! user had before when the time is up. A plain status change ends a running timer, so no stale
//! restore is left behind.

pub use crate::store::Timer;
use bitrix24::domain::{MemberId, Status, UserId};

use super::{Portals, Refusal};

/// The furthest ahead a timer may end, in seconds: a week.
pub const LONGEST_TIMER: i64 = 7 * 24 * 3600;

/// When a timed status ends: a moment after the app's clock's now and at most
/// [`LONGEST_TIMER`] ahead. Only [`Portals::timer_end`] makes one, so the page's form and the
/// API check an end the same way, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEnd(i64);

impl TimerEnd {
    /// Unix seconds.
    pub fn unix(self) -> i64 {
        self.0
    }
}

impl Portals {
    /// Applies `chosen` until `until`, then the status the user had before: the
    /// one a running timer would have restored, else the one Bitrix24 reported just before the
    /// change (read and changed in one `batch` request).
    pub async fn set_status_until(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
        until: TimerEnd,
    ) -> Result<Timer, Refusal> {
        let before = self.jobs.swap_status(member_id, user_id, chosen).await?;
        self.start_timer(member_id, user_id, chosen, until, before)
            .await
    }

    /// Records a timer for `chosen`, just applied, until `until`: it restores what a running
    /// timer would have, else `before`. It wins over an automatic reason until the reason ends.
    pub(super) async fn start_timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
        until: TimerEnd,
        before: Status,
    ) -> Result<Timer, Refusal> {
        let running = self.store.timer(member_id, user_id).await?;
        let timer = Timer {
            member_id: member_id.clone(),
            user_id,
            status: chosen,
            until: until.unix(),
            then: running.map_or(before, |t| t.then),
        };
        self.store.set_timer(&timer, self.clock.now()).await?;
        self.store.override_automation(member_id, user_id).await?;
        Ok(timer)
    }

    /// The user's running timer, if any.
    pub async fn timer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Timer>, Refusal> {
        Ok(self.store.timer(member_id, user_id).await?)
    }

    /// Unix seconds on the app's clock (the one timers and schedules run on).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `until` (unix seconds) as the end of a timer set now, if it is one: in the future and
    /// at most [`LONGEST_TIMER`] ahead.
    pub fn timer_end(&self, until: i64) -> Option<TimerEnd> {
        let now = self.clock.now();
        (until > now && until - now <= LONGEST_TIMER).then_some(TimerEnd(until))
    }
}
