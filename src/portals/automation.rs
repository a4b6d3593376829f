//! Statuses that set themselves (`docs/users.md`, "Automatic statuses"): the user's switches,
//! why their status is what it is, and what one look at a user does with what the portal's
//! shared read found (`presence.rs`). Who wins: a change the user makes, or a timer, stands until
//! the automatic reason ends; a meeting or the working day wins over a schedule rule while it
//! holds, and at its end the rule's status comes back if the rule still runs, else the status
//! from before both.

use super::outcome::Outcome;
use super::{Jobs, Portals, Refusal};
use crate::automation::{self, Held, Reason, Settings};
use crate::store::{SavedSchedule, Timer, UserAutomation};
use crate::tokens::CallError;
use bitrix24::domain::{MemberId, Status, UserId};
use bitrix24::presence::{Busy, DayState};

/// Why a status is what it is, when the user did not set it by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// An automatic reason holds it at `status`, until its end when known.
    Automatic {
        /// The reason.
        reason: Reason,
        /// The status it set.
        status: Status,
        /// Unix seconds.
        until: Option<i64>,
    },
    /// A timed status runs until `until`, then `then` comes back.
    Timer {
        /// Unix seconds.
        until: i64,
        /// The status restored.
        then: Status,
    },
    /// A schedule rule holds it at `status` until `until`.
    Schedule {
        /// The rule's status.
        status: Status,
        /// Unix seconds.
        until: i64,
    },
}

impl Why {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic { reason, .. } => reason.as_str(),
            Self::Timer { .. } => "timer",
            Self::Schedule { .. } => "schedule",
        }
    }

    /// When it ends, if known.
    pub fn until(self) -> Option<i64> {
        match self {
            Self::Automatic { until, .. } => until,
            Self::Timer { until, .. } | Self::Schedule { until, .. } => Some(until),
        }
    }
}

/// Why `current` is what it is at `now`: an automatic reason that holds it, else a timer, else a
/// schedule rule in force — each only if it set `current`, so a change by hand (here or in the
/// messenger itself) has no reason.
pub fn why(
    held: Option<Held>,
    timer: Option<&Timer>,
    schedule: Option<&SavedSchedule>,
    current: Status,
    now: i64,
) -> Option<Why> {
    let automatic = held
        .filter(|h| !h.overridden && h.wanted.status == current)
        .map(|h| Why::Automatic {
            reason: h.wanted.reason,
            status: current,
            until: h.wanted.until,
        });
    let timed = || {
        timer.filter(|t| t.status == current).map(|t| Why::Timer {
            until: t.until,
            then: t.then,
        })
    };
    let scheduled = || {
        let saved = schedule?;
        let until = saved.active_until.filter(|until| *until > now)?;
        let window = saved.schedule.window_at(now)?;
        (window.status == current).then_some(Why::Schedule {
            status: current,
            until,
        })
    };
    automatic.or_else(timed).or_else(scheduled)
}

/// What the portal lacks for the switches and chat commands to work, for the page to name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lacks {
    /// The portal has not granted the `imbot` scope: no chat commands.
    pub imbot: bool,
    /// The portal has not granted the `calendar` scope.
    pub calendar: bool,
    /// The portal has not granted the `timeman` scope.
    pub timeman: bool,
    /// No administrator's pair is stored, so nobody may read the working days.
    pub admin: bool,
}

impl Portals {
    /// The user's switches; all off until they save theirs.
    pub async fn automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Settings, Refusal> {
        if !self.store.may_have_automation(member_id, user_id).await? {
            return Ok(Settings::default());
        }
        let saved = self.store.automation(member_id, user_id).await?;
        Ok(saved.map(|s| s.settings).unwrap_or_default())
    }

    /// Replaces the user's switches; the portal is looked at with the scheduler's next tick
    /// (a switch turned off ends what it held at once; a new user's meetings are known once the
    /// calendar is read, which a save brings forward to `presence::CALENDAR_SOONEST` after the last
    /// read).
    pub async fn save_automation(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        settings: &Settings,
    ) -> Result<(), Refusal> {
        self.installed(member_id).await?;
        self.store
            .save_automation(member_id, user_id, settings, self.clock.now())
            .await?;
        tracing::info!(target: "audit", meetings = settings.meetings, working_day = settings.working_day, "automation saved");
        Ok(())
    }

    /// Why the user's status, `current` as Bitrix24 just said, is what it is at the app's
    /// clock ([`why`]); each table is read only when the account's cached flags say it may hold
    /// something.
    pub async fn why(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        current: Status,
    ) -> Result<Option<Why>, Refusal> {
        let held = if self.store.may_have_automation(member_id, user_id).await? {
            let saved = self.store.automation(member_id, user_id).await?;
            saved.and_then(|a| a.held)
        } else {
            None
        };
        let (may_timer, may_schedule) = self.store.may_have_plans(member_id, user_id).await;
        let timer = match may_timer {
            true => self.store.timer(member_id, user_id).await?,
            false => None,
        };
        let schedule = match may_schedule {
            true => self.store.schedule(member_id, user_id).await?,
            false => None,
        };
        let now = self.clock.now();
        Ok(why(held, timer.as_ref(), schedule.as_ref(), current, now))
    }
}

impl Jobs {
    /// Makes the user's status follow what should hold it at `now`, given their busy intervals
    /// and working day, and records what holds it.
    pub(super) async fn follow(
        &self,
        member_id: &MemberId,
        user: &UserAutomation,
        busy: &[Busy],
        day: Option<DayState>,
        now: i64,
    ) -> Outcome {
        let user_id = user.user_id;
        let wanted = automation::wanted(&user.settings, busy, day, now);
        let done: Result<(Option<Held>, bool), CallError> = match (user.held, wanted) {
            (None, None) => return Outcome::Unchanged,
            (Some(held), Some(wanted)) if held.wanted == wanted => return Outcome::Unchanged,
            (Some(held), Some(wanted))
                if held.overridden || held.wanted.status == wanted.status =>
            {
                Ok((Some(Held { wanted, ..held }), false))
            }
            (Some(held), Some(wanted)) => self
                .set_status(member_id, user_id, wanted.status)
                .await
                .map(|()| (Some(Held { wanted, ..held }), true)),
            // A timer started during the reason restores what came before the reason.
            (Some(held), None) if held.overridden => self
                .store
                .retarget_timer(member_id, user_id, held.before)
                .await
                .map(|_| (None, false))
                .map_err(CallError::from),
            (Some(held), None) => match self
                .status_after(member_id, user_id, held.before, now)
                .await
            {
                Ok(back) => self
                    .set_status(member_id, user_id, back)
                    .await
                    .map(|()| (None, true)),
                Err(error) => Err(error),
            },
            (None, Some(wanted)) => self.start(member_id, user_id, wanted, now).await,
        };
        let (held, changed) = match done {
            Ok(done) => done,
            Err(error) => {
                tracing::warn!(%member_id, %user_id, %error, "an automatic status could not be set");
                return Outcome::of(&error);
            }
        };
        if let Err(error) = self.store.set_held(member_id, user_id, held.as_ref()).await {
            tracing::error!(%error, "the automation could not record what it did");
            return Outcome::Deferred;
        }
        if changed {
            tracing::info!(%member_id, %user_id, reason = ?held.map(|h| h.wanted.reason), "automatic status");
            Outcome::Applied
        } else {
            Outcome::Unchanged
        }
    }

    /// A reason begins: a running timer wins until it ends; otherwise its status is set,
    /// remembering the status from before it (and before a schedule rule in force).
    async fn start(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        wanted: automation::Wanted,
        now: i64,
    ) -> Result<(Option<Held>, bool), CallError> {
        if self.store.may_have_timer(member_id, user_id).await?
            && let Some(timer) = self.store.timer(member_id, user_id).await?
        {
            let held = Held {
                wanted,
                before: timer.then,
                overridden: true,
            };
            return Ok((Some(held), false));
        }
        let rule_before = self
            .rule_in_force(member_id, user_id, now)
            .await?
            .map(|(_, b)| b);
        let replaced = self.swap_status(member_id, user_id, wanted.status).await?;
        let held = Held {
            wanted,
            before: rule_before.flatten().unwrap_or(replaced),
            overridden: false,
        };
        Ok((Some(held), true))
    }

    /// The status once a reason ends: the rule's if a schedule rule runs now, else `before`.
    async fn status_after(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        before: Status,
        now: i64,
    ) -> Result<Status, CallError> {
        let rule = self.rule_in_force(member_id, user_id, now).await?;
        Ok(rule.map_or(before, |(status, _)| status))
    }

    /// The status of the user's schedule rule in force at `now`, with the status it restores.
    pub(super) async fn rule_in_force(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        now: i64,
    ) -> Result<Option<(Status, Option<Status>)>, CallError> {
        let (_, may_schedule) = self.store.may_have_plans(member_id, user_id).await;
        if !may_schedule {
            return Ok(None);
        }
        let Some(saved) = self.store.schedule(member_id, user_id).await? else {
            return Ok(None);
        };
        if saved.active_until.is_none_or(|until| until <= now) {
            return Ok(None);
        }
        Ok(saved
            .schedule
            .window_at(now)
            .map(|window| (window.status, saved.before)))
    }

    /// The status an automatic reason holds for the user (and what comes back after it), if
    /// one does and the user did not override it: the scheduler leaves the status alone then.
    pub(super) async fn held(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Held>, CallError> {
        if !self.store.may_have_automation(member_id, user_id).await? {
            return Ok(None);
        }
        let saved = self.store.automation(member_id, user_id).await?;
        Ok(saved.and_then(|a| a.held).filter(|h| !h.overridden))
    }
}
