//! The automation's look at a portal (`docs/users.md`, "Automatic statuses"): one read of the
//! calendar for all its users who opted in to meetings, one `batch` of working days for those
//! who opted in to the working day, then each user's status follows (`automation.rs`). Portals
//! are claimed in the store, so instances sharing the database look at each once; a portal is
//! looked at every [`LOOK_EVERY`] seconds and at each meeting's start and end, and its reads
//! keep within a tenth of its rate limit however many users opted in.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Jobs;
use super::outcome::{Outcome, RETRY};
use super::scheduler::Report;
use crate::store::{DuePortal, Looked, UserAutomation};
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

/// Requests a minute the reads may take of a portal: a tenth of the 120 its limit allows
/// (2 a second), a third for the calendar and the rest for the working days. With more users
/// than one call a minute covers, the reads come less often.
const READS_PER_MINUTE: (i64, i64) = (4, 8);

/// Portals claimed at a time.
const BATCH: u32 = 16;

/// How long a claim holds: longer than a look at a large portal with its rate-limit waits.
const CLAIM: i64 = 300;

/// How often reads of `users` costing one call per [`batch::MAX_COMMANDS`] may come, in
/// seconds: every `base`, or less often when that would take more than `per_minute` calls a
/// minute.
fn every(base: i64, users: usize, per_minute: i64) -> i64 {
    let calls = i64::try_from(users.div_ceil(batch::MAX_COMMANDS)).unwrap_or(i64::MAX);
    base.max(calls.saturating_mul(60) / per_minute.max(1))
}

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
        let (outcomes, looked) = match self.store.automated_users(member_id).await {
            Ok(users) if users.is_empty() => (Vec::new(), Looked::default()),
            Ok(users) => self.look_at_users(&due, &users, now).await,
            Err(error) => {
                tracing::warn!(%member_id, %error, "the automation could not read its users");
                let retry = Looked {
                    next_at: Some(now + RETRY),
                    ..Looked::default()
                };
                (vec![Outcome::Deferred], retry)
            }
        };
        if let Err(error) = self.store.finish_automation(&due, owner, &looked).await {
            tracing::error!(%error, "the automation could not record its look");
        }
        outcomes
    }

    /// Reads what is due for `users` and makes each user's status follow it.
    async fn look_at_users(
        &self,
        due: &DuePortal,
        users: &[UserAutomation],
        now: i64,
    ) -> (Vec<Outcome>, Looked) {
        let member_id = &due.member_id;
        let read = self.read_portal(due, users, now).await;
        let mut outcomes = Vec::with_capacity(users.len());
        let mut next_at = read.next_read.min(now + LOOK_EVERY);
        for user in users {
            let busy = read.busy.get(&user.user_id).unwrap_or(&user.busy);
            let day = match &read.days {
                Days::Read(days) => days.get(&user.user_id).copied(),
                Days::Kept => user.day,
                Days::Unknown => None,
            };
            outcomes.push(self.follow(member_id, user, busy, day, now).await);
            if user.settings.meetings
                && let Some(boundary) = crate::automation::next_boundary(busy, now)
            {
                next_at = next_at.min(boundary);
            }
        }
        let looked = Looked {
            next_at: Some(next_at),
            calendar_at: read.calendar_at,
            days_at: read.days_at,
        };
        (outcomes, looked)
    }

    /// What this look reads of the portal: the calendar and the working days, each when due and
    /// allowed. A read that fails leaves what the last one found.
    async fn read_portal(&self, due: &DuePortal, users: &[UserAutomation], now: i64) -> Read {
        let member_id = &due.member_id;
        let mut read = Read {
            busy: BTreeMap::new(),
            days: Days::Unknown,
            calendar_at: None,
            days_at: None,
            next_read: i64::MAX,
        };
        let portal = match self.store.portal(member_id).await {
            Ok(Some(portal)) => portal.record,
            Ok(None) => return read,
            Err(error) => {
                tracing::warn!(%member_id, %error, "the automation could not read the portal");
                read.days = Days::Kept;
                read.next_read = now + RETRY;
                return read;
            }
        };
        let admin = self.store.admin_account(member_id).await.ok().flatten();
        let opted = |on: fn(&UserAutomation) -> bool| -> Vec<UserId> {
            users.iter().filter(|u| on(u)).map(|u| u.user_id).collect()
        };
        let meeting_users = opted(|u| u.settings.meetings);
        let day_users = opted(|u| u.settings.working_day);

        let calendar_every = every(CALENDAR_EVERY, meeting_users.len(), READS_PER_MINUTE.0);
        let soonest = CALENDAR_SOONEST.max(calendar_every / 8);
        let calendar_due_at = match due.calendar_at {
            None => now,
            Some(at) if due.calendar_stale => at + soonest,
            Some(at) => at + calendar_every,
        };
        // Free/busy of colleagues is what any employee's meeting planner shows: an
        // administrator's pair reads it, else a user who opted in.
        if !meeting_users.is_empty() && portal.grants(CALENDAR_SCOPE) {
            if calendar_due_at <= now {
                let readers = admin.into_iter().chain(meeting_users.iter().copied());
                match self
                    .read_calendars(member_id, readers, &meeting_users, now)
                    .await
                {
                    Ok(busy) => {
                        read.busy = busy;
                        read.calendar_at = Some(now);
                        read.next_read = now + calendar_every;
                    }
                    Err(error) => {
                        tracing::warn!(%member_id, %error, "the calendar could not be read");
                        read.next_read = now + RETRY;
                    }
                }
            } else {
                read.next_read = calendar_due_at;
            }
        }

        let days_every = every(LOOK_EVERY, day_users.len(), READS_PER_MINUTE.1);
        if let (false, true, Some(admin)) =
            (day_users.is_empty(), portal.grants(TIMEMAN_SCOPE), admin)
        {
            let age = due.days_at.map_or(i64::MAX, |at| now.saturating_sub(at));
            if age >= days_every {
                match self.read_days(member_id, admin, &day_users).await {
                    Ok(days) => {
                        read.days = Days::Read(days);
                        read.days_at = Some(now);
                    }
                    Err(error) => {
                        tracing::warn!(%member_id, %error, "the working days could not be read");
                        // A day read long ago says nothing any more: its reason ends.
                        read.days = if age > 3 * days_every {
                            Days::Unknown
                        } else {
                            Days::Kept
                        };
                    }
                }
                read.next_read = read.next_read.min(now + days_every);
            } else {
                read.days = Days::Kept;
                read.next_read = read.next_read.min(now + days_every - age);
            }
        }
        let none = BTreeMap::new();
        let days = match &read.days {
            Days::Read(days) => days,
            Days::Kept | Days::Unknown => &none,
        };
        if let Err(error) = self
            .store
            .record_presence(member_id, &read.busy, days)
            .await
        {
            tracing::warn!(%member_id, %error, "the automation could not record what it read");
        }
        read
    }

    /// The busy intervals of `users` from yesterday to the day after tomorrow (UTC dates, so
    /// that any zone's today is inside), still to end after `now`, read with the first of
    /// `readers` the portal answers.
    async fn read_calendars(
        &self,
        member_id: &MemberId,
        readers: impl Iterator<Item = UserId>,
        users: &[UserId],
        now: i64,
    ) -> Result<BTreeMap<UserId, Vec<Busy>>, CallError> {
        let day = |offset: i64| {
            jiff::Timestamp::from_second(now + offset * 86_400)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let mut last = CallError::NeedsReauth;
        // A reader whose pair is gone, or who may not see colleagues (a guest), is skipped.
        for reader in readers.take(3) {
            let mut found = BTreeMap::new();
            let mut failed = None;
            for chunk in users.chunks(batch::MAX_COMMANDS) {
                let params = presence::accessibility_params(chunk, &day(-1), &day(2));
                let answered: Result<Value, _> = self
                    .tokens
                    .call(
                        member_id,
                        reader,
                        presence::ACCESSIBILITY,
                        params,
                        Repeat::Safe,
                    )
                    .await;
                match answered {
                    Ok(result) => {
                        let mut read = presence::busy_intervals(&result);
                        for user in chunk {
                            let mut busy = read.remove(user).unwrap_or_default();
                            busy.retain(|b| b.to > now);
                            found.insert(*user, busy);
                        }
                    }
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
            }
            match failed {
                None => return Ok(found),
                Some(error) if refused(&error) => last = error,
                Some(error) => return Err(error),
            }
        }
        Err(last)
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

/// Whether the portal refused `reader` itself (a pair gone, a guest), so another may try.
fn refused(error: &CallError) -> bool {
    match error {
        CallError::NeedsReauth => true,
        CallError::Bitrix(error) => !error.is_transient(),
        other => other.is_auth_refusal(),
    }
}

/// What a look read.
struct Read {
    /// Busy intervals, for the users whose calendar was read now.
    busy: BTreeMap<UserId, Vec<Busy>>,
    days: Days,
    calendar_at: Option<i64>,
    days_at: Option<i64>,
    /// When a read is due next.
    next_read: i64,
}

/// The working days this look goes by.
enum Days {
    /// Read now.
    Read(BTreeMap<UserId, DayState>),
    /// Read recently, or not readable just now: the last read stands.
    Kept,
    /// Nobody may read them (no `timeman`, no administrator's pair): no working-day reason
    /// holds.
    Unknown,
}
