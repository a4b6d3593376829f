//! Sentences built from the catalogue for what the page, the API and the chat bot say about
//! statuses, timers and schedules: names, times in the user's zone, rules, why a status is what
//! it is, and why a schedule was refused.

use crate::automation::Reason;
use crate::i18n::Text;
use crate::portals::automation::Why;
use crate::portals::bot::{Reply, Said};
use crate::portals::{BoardMember, Found, Unreadable};
use crate::schedule::{self, Invalid, Problem, Rule};
use bitrix24::domain::Status;

/// A status's name and what it means.
pub fn status_words(t: &'static Text, s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Online => (t.status_online, t.status_online_about),
        Status::Dnd => (t.status_dnd, t.status_dnd_about),
        Status::Away => (t.status_away, t.status_away_about),
        Status::Break => (t.status_break, t.status_break_about),
    }
}

/// The short name of day `day` (0 = Monday).
pub fn day_name(t: &'static Text, day: usize) -> &'static str {
    t.days_short.split(',').nth(day).unwrap_or_default()
}

/// `unix` on the wall clock of `zone`, as the user's language says it: `11:30` (or `11:30 AM`)
/// today, "tomorrow, 00:49", "7 дек., 09:00" on another day.
pub fn local_time(t: &'static Text, zone: &jiff::tz::TimeZone, unix: i64, now: i64) -> String {
    let (Ok(at), Ok(today)) = (
        jiff::Timestamp::from_second(unix),
        jiff::Timestamp::from_second(now),
    ) else {
        return String::new();
    };
    let (at, today) = (at.to_zoned(zone.clone()), today.to_zoned(zone.clone()));
    let time = at.strftime(t.time_format).to_string();
    if at.date() == today.date() {
        return time;
    }
    if today
        .date()
        .tomorrow()
        .is_ok_and(|tomorrow| tomorrow == at.date())
    {
        return t.tomorrow_at.replace("{time}", &time);
    }
    let month = usize::try_from(at.month() - 1).unwrap_or_default();
    t.date_time
        .replace("{day}", &at.day().to_string())
        .replace(
            "{month}",
            t.months_short.split(',').nth(month).unwrap_or_default(),
        )
        .replace("{time}", &time)
}

/// "Mon–Fri", "Mon, Wed", "every day".
fn days_text(t: &'static Text, rule: &Rule) -> String {
    let days: Vec<usize> = (0..7).filter(|d| rule.on(*d)).collect();
    match days.as_slice() {
        [_, _, _, _, _, _, _] => t.every_day.to_owned(),
        [first, .., last] if days.len() >= 3 && last - first + 1 == days.len() => {
            format!("{}–{}", day_name(t, *first), day_name(t, *last))
        }
        _ => days
            .iter()
            .map(|d| day_name(t, *d))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// "Do not disturb · Mon–Fri · 09:00–11:00".
pub fn rule_text(t: &'static Text, rule: &Rule) -> String {
    format!(
        "{} · {} · {}–{}",
        status_words(t, rule.status).0,
        days_text(t, rule),
        schedule::clock_text(rule.from),
        schedule::clock_text(rule.to)
    )
}

/// Why a schedule was refused, naming the rule and field.
pub fn schedule_problem(t: &'static Text, invalid: &Invalid) -> String {
    let template = match invalid.problem {
        Problem::Shape => t.sched_shape,
        Problem::Zone => t.sched_zone,
        Problem::TooMany => t.sched_too_many,
        Problem::Day => t.sched_day,
        Problem::Time => t.sched_time,
        Problem::Order => t.sched_order,
        Problem::Status => t.sched_status,
        Problem::Overlap { .. } => t.sched_overlap,
    };
    let (other, day) = match invalid.problem {
        Problem::Overlap { other, day } => (other.to_string(), day_name(t, day)),
        _ => (String::new(), ""),
    };
    template
        .replace("{rule}", &invalid.rule.unwrap_or_default().to_string())
        .replace("{field}", invalid.field)
        .replace("{other}", &other)
        .replace("{day}", day)
}

/// Why the status is what it is, in the user's words: "Do not disturb — in a meeting until
/// 11:00". A timer has a line of its own (`running`).
pub fn reason_text(
    t: &'static Text,
    why: Why,
    zone: &jiff::tz::TimeZone,
    now: i64,
) -> Option<String> {
    let (template, status) = match why {
        Why::Automatic {
            reason: Reason::Meeting,
            status,
            ..
        } => (t.why_meeting, status),
        Why::Automatic { status, .. } if status == Status::Break => (t.why_day_paused, status),
        Why::Automatic { status, .. } => (t.why_day_closed, status),
        Why::Schedule { status, .. } => (t.why_schedule, status),
        Why::Timer { .. } => return None,
    };
    let time = why
        .until()
        .map(|until| local_time(t, zone, until, now))
        .unwrap_or_default();
    Some(
        template
            .replace("{status}", status_words(t, status).0)
            .replace("{time}", &time),
    )
}

/// What the chat bot says, in the user's words.
pub fn bot_reply(said: &Said) -> String {
    let t = said.lang.text();
    let time = |at: i64| local_time(t, &said.zone, at, said.now);
    match &said.reply {
        Reply::Set(status, None) => t.bot_done.replace("{status}", status_words(t, *status).0),
        Reply::Set(status, Some(until)) => t
            .bot_done_until
            .replace("{status}", status_words(t, *status).0)
            .replace("{time}", &time(*until)),
        Reply::Status(status, Some(Why::Timer { until, then })) => t
            .running
            .replace("{status}", status_words(t, *status).0)
            .replace("{time}", &time(*until))
            .replace("{then}", status_words(t, *then).0),
        Reply::Status(status, why) => (*why)
            .and_then(|why| reason_text(t, why, &said.zone, said.now))
            .unwrap_or_else(|| {
                t.bot_your_status
                    .replace("{status}", status_words(t, *status).0)
            }),
        Reply::Colleague(Found::One(colleague)) => member_line(said, colleague),
        Reply::Colleague(Found::NotOne) => t.bot_not_one.to_owned(),
        Reply::Focus(focus) => {
            let department = focus.department.as_deref().unwrap_or(t.team_everyone);
            if focus.members.is_empty() {
                return t.bot_focus_none.replace("{department}", department);
            }
            let mut lines = vec![t.bot_focus.replace("{department}", department)];
            lines.extend(
                focus
                    .members
                    .iter()
                    .map(|m| format!("• {}", member_line(said, m))),
            );
            if focus.more > 0 {
                lines.push(t.bot_focus_more.replace("{count}", &focus.more.to_string()));
            }
            lines.join("\n")
        }
        Reply::Unreadable(why) => unreadable_text(t, *why),
        Reply::OpenApp => t.bot_open_app.to_owned(),
        Reply::Help => t.bot_help.to_owned(),
        Reply::Welcome => format!("{}\n{}", t.bot_welcome, t.bot_help),
    }
}

/// Why the user cannot see colleagues' statuses, and who can change that.
pub fn unreadable_text(t: &'static Text, why: Unreadable) -> String {
    match why {
        Unreadable::Scope(scope) => t.team_scope.replace("{scope}", scope),
        Unreadable::Method(method) => t.team_method.replace("{method}", method),
        Unreadable::EmployeesOnly => t.team_employees_only.to_owned(),
    }
}

/// "Anna Smith — Do not disturb until 11:00 · On vacation", as the team board says it.
fn member_line(said: &Said, member: &BoardMember) -> String {
    let t = said.lang.text();
    let mut line = format!("{} — {}", member.name, status_words(t, member.status).0);
    if let Some(until) = member.until {
        let time = local_time(t, &said.zone, until, said.now);
        line = format!("{line} {}", t.team_until.replace("{time}", &time));
    }
    if member.absent {
        line = format!("{line} · {}", t.team_absent);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn rules_read_as_people_write_them() {
        let t = Lang::En.text();
        let weekdays = schedule::RuleShape::new(
            &["mon", "tue", "wed", "thu", "fri"],
            "09:00",
            "11:00",
            "dnd",
        )
        .checked(1)
        .expect("rule");
        assert_eq!(
            rule_text(t, &weekdays),
            "Do not disturb · Mon–Fri · 09:00–11:00"
        );
        let some = schedule::RuleShape::new(&["mon", "wed"], "13:00", "13:45", "break")
            .checked(1)
            .expect("rule");
        assert!(rule_text(t, &some).contains("Mon, Wed"));
        let all = schedule::RuleShape::new(&schedule::DAYS, "13:00", "13:45", "break")
            .checked(1)
            .expect("rule");
        assert!(rule_text(t, &all).contains("every day"));
    }

    #[test]
    fn times_read_in_the_users_language_today_tomorrow_and_later() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").expect("zone");
        // 2026-12-06 23:30 in Berlin; the end 79 minutes later is tomorrow, 00:49.
        let now = 1_796_596_200;
        let soon = now + 20 * 60;
        let tomorrow = now + 79 * 60;
        let later = now + 3 * 86_400;
        let say = |lang: Lang, at| local_time(lang.text(), &berlin, at, now);
        assert_eq!(say(Lang::En, soon), "11:50 PM");
        assert_eq!(say(Lang::De, soon), "23:50");
        assert_eq!(say(Lang::En, tomorrow), "tomorrow, 12:49 AM");
        assert_eq!(say(Lang::Ru, tomorrow), "завтра, 00:49");
        assert_eq!(say(Lang::En, later), "Dec 9, 11:30 PM");
        assert_eq!(say(Lang::Ru, later), "9 дек., 23:30");
        assert_eq!(say(Lang::De, later), "9. Dez., 23:30");
        assert_eq!(say(Lang::Fr, later), "9 déc. à 23:30");
        assert_eq!(say(Lang::PtBr, later), "9 de dez., 23:30");
    }

    #[test]
    fn every_language_names_seven_days() {
        for lang in Lang::ALL {
            assert_eq!(lang.text().days_short.split(',').count(), 7, "{lang:?}");
        }
    }

    #[test]
    fn an_overlap_names_both_rules_and_the_day() {
        let invalid = Invalid {
            rule: Some(3),
            field: "days",
            problem: Problem::Overlap { other: 1, day: 2 },
        };
        assert_eq!(
            schedule_problem(Lang::En.text(), &invalid),
            "Rule 3 overlaps rule 1 on Wed: at any moment only one rule may apply."
        );
    }
}
