//! When a schedule's rules start and end, in unix seconds, read in the schedule's zone (so a rule
//! keeps its wall-clock times across daylight-saving changes), and what the scheduler does at a
//! boundary.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::Schedule;
use bitrix24::domain::Status;

/// One occurrence of a rule, in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When it starts.
    pub start: i64,
    /// When it ends.
    pub end: i64,
    /// The status it sets.
    pub status: Status,
}

/// What the scheduler changes at a boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// A rule starts while none runs: set its status, keeping the status from before it.
    Start(Status),
    /// A rule follows the one that ended: set its status, keeping the status from before both.
    Follow(Status),
    /// The rule in force ended: set the status from before it.
    Restore(Status),
}

/// What to do at a boundary, and the state after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The change to make.
    pub step: Step,
    /// The boundary it belongs to: the start of the rule window, or the end of the one that
    /// ended (what the user is told if the change cannot be made).
    pub at: i64,
    /// The end of the rule window in force afterwards.
    pub active_until: Option<i64>,
    /// The next boundary to look again at.
    pub next_at: Option<i64>,
}

/// The unix second of `minutes` past midnight on `date` in `zone`.
fn moment(zone: &TimeZone, date: Date, minutes: u16) -> Option<i64> {
    let (date, minutes) = if minutes >= 24 * 60 {
        (
            date.checked_add(Span::new().days(1)).ok()?,
            minutes - 24 * 60,
        )
    } else {
        (date, minutes)
    };
    let hour = i8::try_from(minutes / 60).ok()?;
    let minute = i8::try_from(minutes % 60).ok()?;
    let at = date.at(hour, minute, 0, 0).to_zoned(zone.clone()).ok()?;
    Some(at.timestamp().as_second())
}

impl Schedule {
    /// The rule windows from the day before `now` to a week after, in the schedule's zone.
    fn windows(&self, now: i64) -> Vec<Window> {
        let Ok(today) = Timestamp::from_second(now).map(|t| t.to_zoned(self.zone().clone())) else {
            return Vec::new();
        };
        let mut windows = Vec::new();
        for offset in -1..=7 {
            let Ok(date) = today.date().checked_add(Span::new().days(offset)) else {
                continue;
            };
            let day = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
            for rule in self.rules.iter().filter(|r| r.on(day)) {
                if let (Some(start), Some(end)) = (
                    moment(self.zone(), date, rule.from),
                    moment(self.zone(), date, rule.to),
                ) && start < end
                {
                    windows.push(Window {
                        start,
                        end,
                        status: rule.status,
                    });
                }
            }
        }
        windows
    }

    /// The rule window `now` falls in, if any.
    pub fn window_at(&self, now: i64) -> Option<Window> {
        self.windows(now)
            .into_iter()
            .find(|w| w.start <= now && now < w.end)
    }

    /// The first start or end of a rule after `now`.
    pub fn next_boundary(&self, now: i64) -> Option<i64> {
        self.windows(now)
            .into_iter()
            .flat_map(|w| [w.start, w.end])
            .filter(|at| *at > now)
            .min()
    }
}

/// What the scheduler does at `now` for a schedule whose applied rule window (if any) ends at
/// `active_until`, restoring `before` when it ends. A window that passed while nobody looked
/// changes nothing; one still running is applied.
pub fn plan(
    schedule: &Schedule,
    active_until: Option<i64>,
    before: Option<Status>,
    now: i64,
) -> Plan {
    let covering = schedule.window_at(now);
    let step = match (active_until, covering) {
        (Some(end), Some(window)) if window.end == end => Step::Nothing,
        (Some(_), Some(window)) => Step::Follow(window.status),
        (Some(_), None) => Step::Restore(before.unwrap_or(Status::Online)),
        (None, Some(window)) => Step::Start(window.status),
        (None, None) => Step::Nothing,
    };
    let at = match step {
        Step::Start(_) | Step::Follow(_) => covering.map_or(now, |w| w.start),
        Step::Restore(_) => active_until.unwrap_or(now),
        Step::Nothing => now,
    };
    Plan {
        step,
        at,
        active_until: covering.map(|w| w.end),
        next_at: schedule.next_boundary(now),
    }
}

/// The next `minutes` past midnight in `zone` after `now`: today's, else tomorrow's.
pub fn next_at(zone: &TimeZone, now: i64, minutes: u16) -> Option<i64> {
    let today = Timestamp::from_second(now)
        .ok()?
        .to_zoned(zone.clone())
        .date();
    match moment(zone, today, minutes).filter(|at| *at > now) {
        Some(at) => Some(at),
        None => moment(zone, today.tomorrow().ok()?, minutes),
    }
}

/// `minutes` past midnight today in `zone`, if that is still ahead of `now`.
pub fn today_at(zone: &TimeZone, now: i64, minutes: u16) -> Option<i64> {
    let today = Timestamp::from_second(now).ok()?.to_zoned(zone.clone());
    moment(zone, today.date(), minutes).filter(|at| *at > now)
}
