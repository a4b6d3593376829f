//! A weekly focus schedule: rules such as "Do not disturb, Mon–Fri 09:00–11:00" in the user's
//! time zone, read and checked as the API contract says (`docs/users.md`, "Focus time"), and the
//! moments they start and end (`calendar.rs`).

mod calendar;
mod shape;

pub use calendar::{Plan, Step, Window, next_at, plan, today_at};
pub use shape::{RuleShape, ScheduleShape};

use bitrix24::domain::Status;

/// The most rules one schedule holds.
pub const MOST_RULES: usize = 20;

/// Minutes since midnight at which a working day ends, for "until the end of my working day",
/// when neither time tracking nor the calendar says: 18:00.
pub const WORKDAY_END: u16 = 18 * 60;

/// Days of the week in the API's spelling, Monday first.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One rule: a status on some days between two times of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Bit `d` set for day `d` of [`DAYS`].
    pub days: u8,
    /// Minutes since midnight at which it starts.
    pub from: u16,
    /// Minutes since midnight at which it ends (up to 24:00), after `from`.
    pub to: u16,
    /// The status it sets.
    pub status: Status,
}

impl Rule {
    /// Whether it applies on day `day` (0 = Monday).
    pub fn on(&self, day: usize) -> bool {
        self.days & (1 << day) != 0
    }

    fn overlaps(&self, other: &Rule) -> Option<usize> {
        let common = self.days & other.days;
        (common != 0 && self.from < other.to && other.from < self.to)
            .then(|| common.trailing_zeros() as usize)
    }
}

/// A user's schedule: their time zone and rules that never overlap.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The IANA name of the zone the rules are read in.
    pub zone_name: String,
    zone: jiff::tz::TimeZone,
    /// The rules, in the order the user gave them.
    pub rules: Vec<Rule>,
}

/// Why a schedule was refused: which rule (counted from 1) and field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The rule, counted from 1, when the problem is one rule's.
    pub rule: Option<usize>,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Not the documented shape (a missing field, a wrong type).
    Shape,
    /// Not an IANA time zone name.
    Zone,
    /// More than [`MOST_RULES`] rules.
    TooMany,
    /// A day that is not one of [`DAYS`], a repeated day, or no day at all.
    Day,
    /// Not a time such as `09:00`.
    Time,
    /// `from` is not before `to`.
    Order,
    /// Not one of the four statuses.
    Status,
    /// Overlaps another rule (counted from 1) on a day (0 = Monday).
    Overlap {
        /// The earlier rule it overlaps.
        other: usize,
        /// The first day they share.
        day: usize,
    },
}

fn invalid(rule: Option<usize>, field: &'static str, problem: Problem) -> Invalid {
    Invalid {
        rule,
        field,
        problem,
    }
}

/// `HH:MM` as minutes since midnight; `24:00` only where `end_of_day` allows it.
fn parse_clock(text: &str, end_of_day: bool) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (0..=23, 0..=59) => Some(h * 60 + m),
        (24, 0) if end_of_day => Some(24 * 60),
        _ => None,
    }
}

/// Minutes since midnight as `HH:MM`.
pub fn clock_text(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The zone named `name` (IANA, as Bitrix24's profile and the API give it).
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    let name = name.trim();
    // IANA names are letters, digits and `/_+-` (`America/Argentina/Buenos_Aires`,
    // `Etc/GMT+3`); offsets, POSIX strings and paths are not names.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+-".contains(c);
    if name.is_empty()
        || name.len() > 64
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
        || !name.chars().all(allowed)
        || name.contains("//")
    {
        return None;
    }
    jiff::tz::TimeZone::get(name).ok()
}

impl Schedule {
    /// An empty schedule in the zone a Bitrix24 profile names, else UTC.
    pub fn for_zone(zone_name: Option<&str>) -> Self {
        zone_name.and_then(Self::empty).unwrap_or_else(|| Self {
            zone_name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
            rules: Vec::new(),
        })
    }

    /// An empty schedule in `zone_name`, if that names a zone.
    pub fn empty(zone_name: &str) -> Option<Self> {
        let zone = zone(zone_name)?;
        Some(Self {
            zone_name: zone.iana_name().unwrap_or(zone_name).to_owned(),
            zone,
            rules: Vec::new(),
        })
    }

    /// Adds `rule` unless it overlaps one already here or the schedule is full.
    pub fn add(&mut self, rule: Rule) -> Result<(), Problem> {
        if self.rules.len() >= MOST_RULES {
            return Err(Problem::TooMany);
        }
        if let Some((other, day)) = self
            .rules
            .iter()
            .enumerate()
            .find_map(|(i, known)| rule.overlaps(known).map(|day| (i + 1, day)))
        {
            return Err(Problem::Overlap { other, day });
        }
        self.rules.push(rule);
        Ok(())
    }

    /// The same rules read in another zone.
    pub fn in_zone(&self, zone_name: &str) -> Option<Self> {
        let mut moved = Self::empty(zone_name)?;
        moved.rules = self.rules.clone();
        Some(moved)
    }

    /// The zone the rules are read in.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }
}

#[cfg(test)]
mod tests;
