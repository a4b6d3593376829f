//! What says where a person is without them saying it (`docs/bitrix24.md`, "Calendars and
//! working time"): the busy entries of their calendar (`calendar.accessibility.get`, scope
//! `calendar`, many users in one call) and the state of their working day (`timeman.status`,
//! scope `timeman`, one user per call, so many go in one `batch`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::batch::{self, BatchAnswer};
use crate::domain::UserId;

/// Busy intervals of many users between two dates.
pub const ACCESSIBILITY: &str = "calendar.accessibility.get";
/// One user's working day.
pub const TIMEMAN_STATUS: &str = "timeman.status";
/// One user's working-time settings (the usual end of their day).
pub const TIMEMAN_SETTINGS: &str = "timeman.settings";
/// The calendar's settings: the company's working hours.
pub const CALENDAR_SETTINGS: &str = "calendar.settings.get";
/// The scope of the calendar methods.
pub const CALENDAR_SCOPE: &str = "calendar";
/// The scope of the working-time methods.
pub const TIMEMAN_SCOPE: &str = "timeman";
/// The calendar events the app binds to re-read a portal's calendar sooner; they carry only the
/// entry's id.
pub const CALENDAR_EVENTS: [&str; 3] = [
    "ONCALENDARENTRYADD",
    "ONCALENDARENTRYUPDATE",
    "ONCALENDARENTRYDELETE",
];

/// A busy interval, unix seconds, `from` < `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Busy {
    /// Its start.
    pub from: i64,
    /// Its end.
    pub to: i64,
}

/// Where a working day stands (`timeman.status`'s `STATUS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayState {
    /// Open: the person is working.
    Opened,
    /// Paused: on a break.
    Paused,
    /// Closed (or never opened today): not working.
    Closed,
    /// Opened and not closed by the end the portal allows: still counted as open.
    Expired,
}

impl DayState {
    /// `STATUS` as `timeman.status` answers it (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "OPENED" => Some(Self::Opened),
            "PAUSED" => Some(Self::Paused),
            "CLOSED" => Some(Self::Closed),
            "EXPIRED" => Some(Self::Expired),
            _ => None,
        }
    }

    /// The lowercase name the app stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Paused => "paused",
            Self::Closed => "closed",
            Self::Expired => "expired",
        }
    }
}

/// Parameters of [`ACCESSIBILITY`]: `users` between the dates `from` and `to` (`YYYY-MM-DD`,
/// both included).
pub fn accessibility_params(users: &[UserId], from: &str, to: &str) -> Value {
    json!({ "users": users.iter().map(|u| u.get()).collect::<Vec<_>>(), "from": from, "to": to })
}

/// The busy intervals in an [`ACCESSIBILITY`] answer, by user: entries marked `busy` with a
/// time (all-day ones are not meetings), merged where they touch or overlap. The answer maps
/// each user's id to a list of entries; timestamps may come as numbers or strings.
pub fn busy_intervals(result: &Value) -> BTreeMap<UserId, Vec<Busy>> {
    let mut found = BTreeMap::new();
    let Some(users) = result.as_object() else {
        return found;
    };
    for (user, entries) in users {
        let Some(user) = user.parse().ok().and_then(|id| UserId::new(id).ok()) else {
            continue;
        };
        let mut busy: Vec<Busy> = entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| text(e, "ACCESSIBILITY").is_some_and(|a| a.eq_ignore_ascii_case("busy")))
            .filter(|e| text(e, "DT_SKIP_TIME").is_none_or(|s| s != "Y"))
            .filter_map(|e| {
                let from = number(e, "DATE_FROM_TS_UTC")?;
                let to = number(e, "DATE_TO_TS_UTC")?;
                (from < to).then_some(Busy { from, to })
            })
            .collect();
        busy.sort();
        found.insert(user, merged(busy));
    }
    found
}

/// `busy`, sorted, with touching or overlapping intervals joined.
pub fn merged(busy: Vec<Busy>) -> Vec<Busy> {
    let mut out: Vec<Busy> = Vec::with_capacity(busy.len());
    for next in busy {
        match out.last_mut() {
            Some(last) if next.from <= last.to => last.to = last.to.max(next.to),
            _ => out.push(next),
        }
    }
    out
}

/// A `batch` reading the working day of each of `users` (at most [`batch::MAX_COMMANDS`]),
/// each command keyed by the user's id.
pub fn day_batch(users: &[UserId]) -> Value {
    batch::params(
        users
            .iter()
            .map(|u| (u.to_string(), format!("{TIMEMAN_STATUS}?USER_ID={u}"))),
    )
}

/// The working days a [`day_batch`] read, by user; a user whose read failed is left out.
pub fn day_states(answer: &BatchAnswer, users: &[UserId]) -> BTreeMap<UserId, DayState> {
    users
        .iter()
        .filter_map(|u| {
            let result = answer.result(&u.to_string())?;
            Some((*u, DayState::parse(text(result, "STATUS")?)?))
        })
        .collect()
}

/// The usual end of a working day, minutes after midnight, from `timeman.settings`
/// (`UF_TM_MIN_FINISH`) or the calendar's settings (`work_time_end`), whichever answers.
pub fn work_end(timeman: Option<&Value>, calendar: Option<&Value>) -> Option<u16> {
    let from_timeman = timeman
        .and_then(|t| t.get("UF_TM_MIN_FINISH"))
        .and_then(clock);
    from_timeman.or_else(|| {
        calendar
            .and_then(|c| c.get("work_time_end"))
            .and_then(clock)
    })
}

/// A time of day as the working-time methods give it: `"18:00"`, `"18:00:00"`, `"18.30"`,
/// `"18"`, an hour as a number (`19`, what an extranet caller gets) or seconds after midnight;
/// minutes after midnight, at most 24:00.
fn clock(value: &Value) -> Option<u16> {
    let hours = |h: u64| h.checked_mul(60);
    let minutes = match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| if n <= 24 { hours(n) } else { Some(n / 60) })?,
        Value::String(s) if s.contains([':', '.']) => {
            let mut parts = s.split([':', '.']);
            let h: u64 = parts.next()?.trim().parse().ok()?;
            let m: u64 = parts.next()?.trim().parse().ok()?;
            hours(h)?.checked_add(m).filter(|_| m < 60)?
        }
        Value::String(s) => s.trim().parse::<u64>().ok().and_then(hours)?,
        _ => return None,
    };
    u16::try_from(minutes)
        .ok()
        .filter(|m| (1..=24 * 60).contains(m))
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn number(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(n: u64) -> UserId {
        UserId::new(n).expect("id")
    }

    #[test]
    fn only_timed_busy_entries_count_and_touching_ones_join() {
        let answer = json!({
            "7": [
                {"DATE_FROM_TS_UTC": "1000", "DATE_TO_TS_UTC": "2000", "DT_SKIP_TIME": "N", "ACCESSIBILITY": "busy"},
                {"DATE_FROM_TS_UTC": 2000, "DATE_TO_TS_UTC": 2500, "DT_SKIP_TIME": "N", "ACCESSIBILITY": "busy"},
                {"DATE_FROM_TS_UTC": "3000", "DATE_TO_TS_UTC": "4000", "DT_SKIP_TIME": "N", "ACCESSIBILITY": "free"},
                {"DATE_FROM_TS_UTC": "0", "DATE_TO_TS_UTC": "86400", "DT_SKIP_TIME": "Y", "ACCESSIBILITY": "busy"}
            ],
            "8": [],
            "x": []
        });
        let busy = busy_intervals(&answer);
        assert_eq!(
            busy[&uid(7)],
            [Busy {
                from: 1000,
                to: 2500
            }]
        );
        assert!(busy[&uid(8)].is_empty());
        assert_eq!(busy.len(), 2);
    }

    #[test]
    fn working_days_read_from_a_batch() {
        let users = [uid(3), uid(4), uid(5)];
        let params = day_batch(&users);
        assert_eq!(params["cmd"]["3"], "timeman.status?USER_ID=3");
        let answer: BatchAnswer = serde_json::from_value(json!({
            "result": {"3": {"STATUS": "PAUSED"}, "4": {"STATUS": "OPENED"}},
            "result_error": {"5": {"error": "ACCESS_DENIED"}}
        }))
        .expect("answer");
        let states = day_states(&answer, &users);
        assert_eq!(states[&uid(3)], DayState::Paused);
        assert_eq!(states[&uid(4)], DayState::Opened);
        assert!(!states.contains_key(&uid(5)));
    }

    #[test]
    fn the_end_of_the_day_reads_in_each_spelling() {
        assert_eq!(
            work_end(Some(&json!({"UF_TM_MIN_FINISH": "17:30"})), None),
            Some(17 * 60 + 30)
        );
        assert_eq!(
            work_end(None, Some(&json!({"work_time_end": "19.00"}))),
            Some(19 * 60)
        );
        assert_eq!(
            work_end(None, Some(&json!({"work_time_end": "18"}))),
            Some(18 * 60)
        );
        assert_eq!(
            work_end(Some(&json!({"UF_TM_MIN_FINISH": 63000})), None),
            Some(17 * 60 + 30)
        );
        assert_eq!(
            work_end(Some(&json!({})), Some(&json!({"work_time_end": "25:00"}))),
            None
        );
        let hour = json!({"work_time_end": 19});
        assert_eq!(work_end(None, Some(&hour)), Some(19 * 60));
        let off = json!({"UF_TM_MIN_FINISH": "00:00:00"});
        assert_eq!(work_end(Some(&off), None), None);
        let huge = json!({"work_time_end": "99999999999999999999"});
        assert_eq!(work_end(None, Some(&huge)), None);
    }
}
