//! Weekly focus schedules: reading and saving a user's, and what the scheduler does when one of
//! its rules starts or ends (`scheduler.rs` finds them due). A rule's start remembers the status
//! it replaced — a running timer's restore, else what Bitrix24 says — and its end brings that
//! back; a change the user makes in between wins until the next boundary.

use serde_json::Value;

use super::outcome::{Outcome, RETRY};
use super::{Jobs, Portals, Refusal};
use crate::schedule::{self, Schedule, Step};
use crate::store::{SavedSchedule, ScheduleFinish, ScheduleState};
use crate::tokens::{CallError, Repeat};
use bitrix24::domain::{MemberId, UserId};
use bitrix24::verify::{PROFILE, Profile};

impl Portals {
    /// The user's schedule; before they save one, an empty one in their profile's time zone
    /// (UTC when the profile names none).
    pub async fn schedule(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Schedule, Refusal> {
        if let Some(saved) = self.store.schedule(member_id, user_id).await? {
            return Ok(saved.schedule);
        }
        let profile: Value = self
            .tokens
            .call(
                member_id,
                user_id,
                PROFILE,
                Value::Object(Default::default()),
                Repeat::Safe,
            )
            .await?;
        let zone = serde_json::from_value::<Profile>(profile)
            .ok()
            .and_then(|p| p.time_zone);
        Ok(Schedule::for_zone(zone.as_deref()))
    }

    /// Replaces the user's schedule; a rule already running starts at once.
    pub async fn save_schedule(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        schedule: &Schedule,
    ) -> Result<(), Refusal> {
        let now = self.clock.now();
        self.store
            .save_schedule(member_id, user_id, schedule, now)
            .await?;
        Ok(())
    }
}

impl Jobs {
    /// Makes the change due at `now` for a claimed schedule and records where it stands.
    pub(super) async fn apply_boundary(
        &self,
        owner: &str,
        saved: SavedSchedule,
        now: i64,
    ) -> Outcome {
        let plan = schedule::plan(&saved.schedule, saved.active_until, saved.before, now);
        let store = &self.store;
        let (member_id, user_id) = (&saved.member_id, saved.user_id);
        let mut state = ScheduleState {
            active_until: plan.active_until,
            before: plan.active_until.and(saved.before),
            next_at: plan.next_at,
            missed_at: None,
        };
        // A meeting or the working day holds the status: it wins while it runs, and at its end
        // brings back this rule's status if the rule still runs, else the status from before.
        let held = match plan.step {
            Step::Nothing => Ok(None),
            _ => self.held(member_id, user_id).await,
        };
        let done: Result<(), CallError> = match (held, plan.step) {
            (Err(error), _) => Err(error),
            (Ok(Some(held)), Step::Start(_)) => {
                state.before = Some(held.before);
                Ok(())
            }
            (Ok(Some(_)), _) => Ok(()),
            (Ok(None), step) => self.make_step(&saved, step, &mut state).await,
        };
        let outcome = match &done {
            Ok(()) if plan.step == Step::Nothing => Outcome::Unchanged,
            Ok(()) => Outcome::Applied,
            Err(error) => Outcome::of(error),
        };
        match (&outcome, done) {
            (Outcome::Deferred, Err(error)) => {
                tracing::warn!(%member_id, %user_id, %error, "a scheduled change could not be made yet");
                let retry_at = self.clock.now() + RETRY;
                if let Err(error) = store.retry_schedule(&saved, owner, retry_at).await {
                    tracing::error!(%error, "the scheduler could not record what it did");
                }
                return outcome;
            }
            (_, Err(error)) => {
                tracing::warn!(%member_id, %user_id, %error, "a scheduled change could not be made; dropped");
                state.active_until = None;
                state.before = None;
                if matches!(outcome, Outcome::Missed) {
                    state.missed_at = Some(plan.at);
                }
            }
            (_, Ok(())) if plan.step != Step::Nothing => {
                tracing::info!(%member_id, %user_id, step = ?plan.step, "scheduled change made");
            }
            _ => {}
        }
        let finish = ScheduleFinish {
            claimed: saved,
            owner: owner.to_owned(),
            state,
            claimed_at: now,
        };
        self.finishes.record(finish).await;
        outcome
    }

    /// Makes a rule's boundary change, recording in `state` the status its end restores.
    async fn make_step(
        &self,
        saved: &SavedSchedule,
        step: Step,
        state: &mut ScheduleState,
    ) -> Result<(), CallError> {
        let store = &self.store;
        let (member_id, user_id) = (&saved.member_id, saved.user_id);
        match step {
            Step::Nothing => Ok(()),
            Step::Start(chosen) => match self
                .swap_status(&saved.member_id, saved.user_id, chosen)
                .await
            {
                Ok(replaced) => {
                    // A timer running into the rule ends here; what it would have restored comes
                    // back when the rule ends.
                    let timer = match store.may_have_timer(member_id, user_id).await {
                        Ok(true) => store.timer(member_id, user_id).await,
                        Ok(false) => Ok(None),
                        Err(error) => Err(error),
                    };
                    let before = match timer {
                        Ok(Some(timer)) => {
                            let cleared = store.clear_timer(member_id, user_id).await;
                            cleared.map(|()| timer.then)
                        }
                        Ok(None) => Ok(replaced),
                        Err(error) => Err(error),
                    };
                    before
                        .map(|before| state.before = Some(before))
                        .map_err(CallError::from)
                }
                Err(error) => Err(error),
            },
            Step::Follow(chosen) => self.set_status(member_id, user_id, chosen).await,
            Step::Restore(then) => match store.retarget_timer(member_id, user_id, then).await {
                // The user's own timer runs past the rule: it restores the rule's "before" itself.
                Ok(true) => Ok(()),
                Ok(false) => self.set_status(member_id, user_id, then).await,
                Err(error) => Err(error.into()),
            },
        }
    }
}
