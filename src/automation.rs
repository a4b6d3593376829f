//! Statuses that set themselves (`docs/users.md`, "Automatic statuses"): the switches a user
//! chose, and which automatic reason should hold their status now. A paused or closed working
//! day outranks a meeting (whoever is not at work is not in a meeting); the use cases that apply
//! the answer live in `portals/automation.rs`.

use bitrix24::domain::Status;
use bitrix24::presence::{Busy, DayState};

/// The statuses a meeting may set.
pub const MEETING_STATUSES: [Status; 3] = [Status::Dnd, Status::Away, Status::Break];

/// A user's switches; all off until they save theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// A busy calendar entry sets [`Settings::meeting_status`] while it runs.
    pub meetings: bool,
    /// One of [`MEETING_STATUSES`].
    pub meeting_status: Status,
    /// A paused working day sets `break`, a closed one `away`.
    pub working_day: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            meetings: false,
            meeting_status: Status::Dnd,
            working_day: false,
        }
    }
}

/// Why a status was set without the user touching it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A busy entry of the user's calendar.
    Meeting,
    /// The user's working day is paused or closed.
    WorkingDay,
}

impl Reason {
    /// The API's and the store's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meeting => "meeting",
            Self::WorkingDay => "working_day",
        }
    }

    /// The reverse of [`Reason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "meeting" => Some(Self::Meeting),
            "working_day" => Some(Self::WorkingDay),
            _ => None,
        }
    }
}

/// What should hold a user's status now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// Why.
    pub reason: Reason,
    /// The status it sets.
    pub status: Status,
    /// When it ends, if known (a meeting's end).
    pub until: Option<i64>,
}

/// What holds a user's status now, and what comes back when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The reason and the status it set.
    pub wanted: Wanted,
    /// The status from before every automatic reason and schedule rule in force.
    pub before: Status,
    /// The user or a timer changed the status meanwhile: theirs stands until the reason ends.
    pub overridden: bool,
}

/// The reason that should hold the status at `now`, if any: the working day first, then a
/// meeting running at `now` (`busy` sorted and merged).
pub fn wanted(
    settings: &Settings,
    busy: &[Busy],
    day: Option<DayState>,
    now: i64,
) -> Option<Wanted> {
    let day_status = match day {
        Some(DayState::Paused) => Some(Status::Break),
        Some(DayState::Closed) => Some(Status::Away),
        _ => None,
    };
    if settings.working_day
        && let Some(status) = day_status
    {
        return Some(Wanted {
            reason: Reason::WorkingDay,
            status,
            until: None,
        });
    }
    if !settings.meetings {
        return None;
    }
    busy.iter()
        .find(|b| b.from <= now && now < b.to)
        .map(|b| Wanted {
            reason: Reason::Meeting,
            status: settings.meeting_status,
            until: Some(b.to),
        })
}

/// The next moment after `now` at which a meeting starts or ends.
pub fn next_boundary(busy: &[Busy], now: i64) -> Option<i64> {
    busy.iter()
        .flat_map(|b| [b.from, b.to])
        .filter(|at| *at > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Settings = Settings {
        meetings: true,
        meeting_status: Status::Dnd,
        working_day: true,
    };

    #[test]
    fn a_paused_or_closed_day_outranks_a_meeting() {
        let busy = [Busy { from: 100, to: 200 }];
        let meeting = wanted(&ON, &busy, Some(DayState::Opened), 150).expect("meeting");
        assert_eq!(
            (meeting.reason, meeting.status, meeting.until),
            (Reason::Meeting, Status::Dnd, Some(200))
        );
        let paused = wanted(&ON, &busy, Some(DayState::Paused), 150).expect("break");
        assert_eq!(
            (paused.reason, paused.status),
            (Reason::WorkingDay, Status::Break)
        );
        let closed = wanted(&ON, &[], Some(DayState::Closed), 150).expect("away");
        assert_eq!(closed.status, Status::Away);
        assert_eq!(wanted(&ON, &busy, Some(DayState::Expired), 200), None);
    }

    #[test]
    fn switches_that_are_off_want_nothing() {
        let busy = [Busy { from: 100, to: 200 }];
        assert_eq!(
            wanted(&Settings::default(), &busy, Some(DayState::Paused), 150),
            None
        );
        let meetings_only = Settings {
            working_day: false,
            ..ON
        };
        assert_eq!(
            wanted(&meetings_only, &busy, Some(DayState::Paused), 150).map(|w| w.reason),
            Some(Reason::Meeting)
        );
        assert_eq!(next_boundary(&busy, 50), Some(100));
        assert_eq!(next_boundary(&busy, 100), Some(200));
        assert_eq!(next_boundary(&busy, 200), None);
    }
}
