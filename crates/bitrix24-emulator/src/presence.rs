//! Calendars and working days (`docs/bitrix24.md`, "Calendars and working time"):
//! `calendar.accessibility.get` (any employee reads many users' busy entries in one call; an
//! extranet user is refused), `calendar.settings.get`, and time tracking's `timeman.status`,
//! `timeman.settings` (another user's only for an administrator), `timeman.open`,
//! `timeman.pause` and `timeman.close` (the caller's own day). Timestamps come as strings, as
//! PHP writes them.

use serde_json::{Value, json};

use super::directory::values;
use super::wire::{Answered, Failure, fail, has_scope, insufficient_scope, param_str};
use super::world::{AccessRec, Meeting, Portal, WorkDay};

/// The portal's working hours, as `calendar.settings.get` gives them.
const WORK_TIME: (&str, &str) = ("9", "18");

/// The usual end of a day, as `timeman.settings` gives it.
const MIN_FINISH: &str = "18:00:00";

/// Answers `method` if it is one of the calendar's or time tracking's, else `None`.
pub(super) fn call(
    portal: &mut Portal,
    rec: &AccessRec,
    method: &str,
    params: &Value,
    now: i64,
) -> Option<Result<Answered, Failure>> {
    let family = if method.starts_with("calendar.") {
        "calendar"
    } else if method.starts_with("timeman.") {
        "timeman"
    } else {
        return None;
    };
    let scope = portal
        .installs
        .get(&rec.client_id)
        .map_or("", |i| i.scope.as_str());
    if !has_scope(scope, family) {
        return Some(Err(insufficient_scope()));
    }
    let answered = match method {
        "calendar.accessibility.get" => accessibility(portal, rec, params),
        "calendar.settings.get" => Ok(json!({
            "work_time_start": WORK_TIME.0,
            "work_time_end": WORK_TIME.1,
            "week_holidays": ["SA", "SU"],
            "year_holidays": "1.01,25.12",
            "week_start": "MO",
        })),
        "timeman.status" => day_of(portal, rec, params).map(|day| status(day, now)),
        "timeman.settings" => settings(portal, rec, params),
        "timeman.open" | "timeman.pause" | "timeman.close" => change_day(portal, rec, method, now),
        _ => Err(fail(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")),
    };
    Some(answered.map(Answered::from))
}

/// Busy entries of the users asked for between two dates (UTC days, both included).
fn accessibility(portal: &Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    // As the docs show it: HTTP 400 with an empty `error` and the sentence alone.
    if portal.users.get(&rec.user_id).is_none_or(|u| u.extranet) {
        return Err(fail(400, "", "Access denied"));
    }
    let day = |name: &str| -> Result<i64, Failure> {
        let text = param_str(params, name).unwrap_or_default();
        let date: jiff::civil::Date = text
            .parse()
            .map_err(|_| fail(400, "ERROR_ARGUMENT", format!("Invalid value of '{name}'")))?;
        date.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_second())
            .map_err(|_| fail(400, "ERROR_ARGUMENT", format!("Invalid value of '{name}'")))
    };
    let (from, to) = (day("from")?, day("to")? + 86_400);
    let mut answer = serde_json::Map::new();
    for id in values(super::wire::param(params, "users")) {
        let Some(user) = id.parse().ok().and_then(|id: u64| portal.users.get(&id)) else {
            continue;
        };
        let entries: Vec<Value> = user
            .meetings
            .iter()
            .filter(|m| m.from < to && from < m.to)
            .map(entry)
            .collect();
        answer.insert(id, Value::Array(entries));
    }
    Ok(Value::Object(answer))
}

fn entry(meeting: &Meeting) -> Value {
    let local = |unix: i64| {
        jiff::Timestamp::from_second(unix)
            .map(|t| t.strftime("%d.%m.%Y %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    json!({
        "ID": meeting.id.to_string(),
        "NAME": meeting.name,
        "DATE_FROM": local(meeting.from),
        "DATE_TO": local(meeting.to),
        "DATE_FROM_TS_UTC": meeting.from.to_string(),
        "DATE_TO_TS_UTC": meeting.to.to_string(),
        "DT_SKIP_TIME": if meeting.all_day { "Y" } else { "N" },
        "TZ_FROM": "UTC",
        "TZ_TO": "UTC",
        "ACCESSIBILITY": meeting.accessibility,
        "IMPORTANCE": "normal",
    })
}

/// Time tracking's settings of `USER_ID` (the caller's when not given).
fn settings(portal: &Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    day_of(portal, rec, params)?;
    let asked = param_str(params, "USER_ID").and_then(|id| id.parse().ok());
    let finish = portal
        .users
        .get(&asked.unwrap_or(rec.user_id))
        .and_then(|u| u.work_end.clone())
        .unwrap_or_else(|| MIN_FINISH.to_owned());
    Ok(
        json!({"UF_TIMEMAN": true, "UF_TM_FREE": false, "UF_TM_MAX_START": "09:15:00",
        "UF_TM_MIN_FINISH": finish, "UF_TM_MIN_DURATION": "08:00:00",
        "UF_TM_ALLOWED_DELTA": "00:15:00"}),
    )
}

/// The working day of `USER_ID` (the caller's when not given): another user's only for an
/// administrator.
fn day_of(portal: &Portal, rec: &AccessRec, params: &Value) -> Result<WorkDay, Failure> {
    let asked = param_str(params, "USER_ID").and_then(|id| id.parse().ok());
    let user_id = asked.unwrap_or(rec.user_id);
    let caller_admin = portal.users.get(&rec.user_id).is_some_and(|u| u.admin);
    if user_id != rec.user_id && !caller_admin {
        return Err(fail(403, "ACCESS_DENIED", "Access denied"));
    }
    portal
        .users
        .get(&user_id)
        .map(|u| u.day)
        .ok_or_else(|| fail(400, "USER_NOT_FOUND", "User not found"))
}

fn status(day: WorkDay, now: i64) -> Value {
    let iso = super::wire::iso_date;
    match day {
        WorkDay::Closed => json!({"STATUS": "CLOSED", "TIME_START": null, "TIME_FINISH": null,
            "DURATION": "00:00:00", "TIME_LEAKS": "00:00:00", "ACTIVE": false}),
        WorkDay::Opened(at) | WorkDay::Paused(at) => json!({
            "STATUS": if matches!(day, WorkDay::Paused(_)) { "PAUSED" } else { "OPENED" },
            "TIME_START": iso(at),
            "TIME_FINISH": null,
            "DURATION": clock(now - at),
            "TIME_LEAKS": "00:00:00",
            "ACTIVE": true,
        }),
    }
}

fn clock(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Opens, pauses or closes the caller's own working day.
fn change_day(
    portal: &mut Portal,
    rec: &AccessRec,
    method: &str,
    now: i64,
) -> Result<Value, Failure> {
    let user = portal
        .users
        .get_mut(&rec.user_id)
        .ok_or_else(|| fail(400, "USER_NOT_FOUND", "User not found"))?;
    user.day = next_day(user.day, method, now)
        .ok_or_else(|| fail(400, "WRONG_ACTION", "The working day cannot be changed so"))?;
    Ok(status(user.day, now))
}

/// The day after `method` (`timeman.open`, `.pause`, `.close`), if it may be done now: open
/// starts a closed day or resumes a paused one.
pub(super) fn next_day(day: WorkDay, method: &str, now: i64) -> Option<WorkDay> {
    match (method, day) {
        ("timeman.open", WorkDay::Closed) => Some(WorkDay::Opened(now)),
        ("timeman.open", WorkDay::Paused(at)) => Some(WorkDay::Opened(at)),
        ("timeman.pause", WorkDay::Opened(at)) => Some(WorkDay::Paused(at)),
        ("timeman.close", WorkDay::Opened(_) | WorkDay::Paused(_)) => Some(WorkDay::Closed),
        _ => None,
    }
}
