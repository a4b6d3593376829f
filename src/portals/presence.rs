//! The automation's look at a portal (`docs/users.md`, "Automatic statuses"): one read of the
//! calendar for all its users who opted in to meetings, one `batch` of working days for those
//! who opted in to the working day, then each user's status follows (`automation.rs`). Portals
//! are claimed in the store, so instances sharing the database look at each once; a portal is
//! looked at every [`LOOK_EVERY`] seconds and at each meeting's start and end.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Jobs;
use super::outcome::Outcome;
use super::scheduler::Report;
use crate::store::{DuePortal, UserAutomation};
use crate::tokens::{CallError, Repeat};
use bitrix24::batch::{self, BatchAnswer};
use bitrix24::domain::{MemberId, UserId};
use bitrix24::presence::{self, Busy, CALENDAR_SCOPE, DayState, TIMEMAN_SCOPE};

/// How often a portal is looked at, in seconds: a working day's change lands within this.
pub const LOOK_EVERY: i64 = 60;

/// How often a portal's calendar is read when no calendar event says it changed, in seconds.
pub const CALENDAR_EVERY: i64 = 120;

/// The soonest a calendar event brings the next read of the calendar, in seconds after the
/// last: events come with every entry anyone adds, so a busy portal's would read it constantly.
pub const CALENDAR_SOONEST: i64 = 15;

/// Portals claimed at a time.
const BATCH: u32 = 16;

/// How long a claim holds: longer than a look with its rate-limit waits.
const CLAIM: i64 = 120;

impl Jobs {
    /// Looks at every portal due at `now`; `owner` names this process in the claims.
    pub(super) async fn look_at_presence(&self, owner: &str, now: i64) -> Report {
        let mut report = Report::default();
        loop {
            let due = match self
                .store
                .claim_due_automation(now, BATCH, owner, now + CLAIM)
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(%error, "the automation could not claim due portals");
                    return report;
                }
            };
            let claimed = due.len();
            let mut looks = tokio::task::JoinSet::new();
            for portal in due {
                let (jobs, owner) = (self.clone(), owner.to_owned());
                looks.spawn(async move { jobs.look_at_portal(portal, &owner, now).await });
            }
            while let Some(done) = looks.join_next().await {
                for outcome in done.unwrap_or_default() {
                    report.count(outcome, &self.metrics);
                }
            }
            if claimed < BATCH as usize {
                return report;
            }
        }
    }

    async fn look_at_portal(&self, due: DuePortal, owner: &str, now: i64) -> Vec<Outcome> {
        let member_id = &due.member_id;
        let read = self.read_portal(&due, now).await;
        let (users, busy, days, calendar_at) = match read {
            Ok(read) => read,
            Err(error) => {
                // The claim runs out and the next look tries again.
                tracing::warn!(%member_id, %error, "the automation could not read the portal");
                return vec![Outcome::Deferred];
            }
        };
        let mut outcomes = Vec::with_capacity(users.len());
        let mut next_at = (!users.is_empty()).then_some(now + LOOK_EVERY);
        for user in &users {
            let busy_now = busy.get(&user.user_id).unwrap_or(&user.busy);
            let day = days.get(&user.user_id).copied().or(user.day);
            outcomes.push(self.follow(member_id, user, busy_now, day, now).await);
            if user.settings.meetings
                && let Some(boundary) = crate::automation::next_boundary(busy_now, now)
            {
                next_at = next_at.map(|at| at.min(boundary));
            }
        }
        let finished = self
            .store
            .finish_automation(&due, owner, next_at, calendar_at)
            .await;
        if let Err(error) = finished {
            tracing::error!(%error, "the automation could not record its look");
        }
        outcomes
    }

    /// The portal's users who opted in, with what this look read: busy intervals, working
    /// days, and when the calendar was read (if it was).
    async fn read_portal(&self, due: &DuePortal, now: i64) -> Result<Read, CallError> {
        let member_id = &due.member_id;
        let users = self.store.automated_users(member_id).await?;
        let Some(portal) = self.store.portal(member_id).await? else {
            return Ok((Vec::new(), BTreeMap::new(), BTreeMap::new(), None));
        };
        let granted = |wanted: &str| portal.record.scope.split([',', ' ']).any(|s| s == wanted);
        let admin = self.store.admin_account(member_id).await?;
        let opted = |on: fn(&UserAutomation) -> bool| -> Vec<UserId> {
            users.iter().filter(|u| on(u)).map(|u| u.user_id).collect()
        };
        let meeting_users = opted(|u| u.settings.meetings);
        let day_users = opted(|u| u.settings.working_day);
        let calendar_due = due.calendar_at.is_none_or(|at| {
            now - at >= CALENDAR_EVERY || (due.calendar_stale && now - at >= CALENDAR_SOONEST)
        });
        let mut busy = BTreeMap::new();
        let mut calendar_at = None;
        // Free/busy of colleagues is what any employee's meeting planner shows: an
        // administrator's pair reads it, else the first user who opted in.
        if calendar_due
            && granted(CALENDAR_SCOPE)
            && let Some(reader) = admin.or(meeting_users.first().copied())
        {
            busy = self
                .read_calendars(member_id, reader, &meeting_users, now)
                .await?;
            calendar_at = Some(now);
        }
        let mut days = BTreeMap::new();
        if granted(TIMEMAN_SCOPE)
            && let Some(admin) = admin
        {
            days = self.read_days(member_id, admin, &day_users).await?;
        }
        self.store.record_presence(member_id, &busy, &days).await?;
        Ok((users, busy, days, calendar_at))
    }

    /// The busy intervals of `users` from yesterday to the day after tomorrow (UTC dates, so
    /// that any zone's today is inside), still to end after `now`.
    async fn read_calendars(
        &self,
        member_id: &MemberId,
        reader: UserId,
        users: &[UserId],
        now: i64,
    ) -> Result<BTreeMap<UserId, Vec<Busy>>, CallError> {
        let day = |offset: i64| {
            jiff::Timestamp::from_second(now + offset * 86_400)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let mut found = BTreeMap::new();
        for chunk in users.chunks(batch::MAX_COMMANDS) {
            let params = presence::accessibility_params(chunk, &day(-1), &day(2));
            let result: Value = self
                .tokens
                .call(
                    member_id,
                    reader,
                    presence::ACCESSIBILITY,
                    params,
                    Repeat::Safe,
                )
                .await?;
            let mut read = presence::busy_intervals(&result);
            for user in chunk {
                let mut busy = read.remove(user).unwrap_or_default();
                busy.retain(|b| b.to > now);
                found.insert(*user, busy);
            }
        }
        Ok(found)
    }

    /// The working days of `users`, read with an administrator's pair in `batch`es.
    async fn read_days(
        &self,
        member_id: &MemberId,
        admin: UserId,
        users: &[UserId],
    ) -> Result<BTreeMap<UserId, DayState>, CallError> {
        let mut found = BTreeMap::new();
        for chunk in users.chunks(batch::MAX_COMMANDS) {
            let answer: BatchAnswer = self
                .tokens
                .call(
                    member_id,
                    admin,
                    batch::METHOD,
                    presence::day_batch(chunk),
                    Repeat::Safe,
                )
                .await?;
            for (user, code) in answer.errors() {
                tracing::warn!(%member_id, user, code = code.as_str(), "a working day could not be read");
            }
            found.extend(presence::day_states(&answer, chunk));
        }
        Ok(found)
    }
}

/// What a look read: users, busy intervals, working days, when the calendar was read.
type Read = (
    Vec<UserAutomation>,
    BTreeMap<UserId, Vec<Busy>>,
    BTreeMap<UserId, DayState>,
    Option<i64>,
);
