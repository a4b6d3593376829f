//! A schedule in the contract's JSON shape (`docs/api.md`, "Focus schedule"), which is also how
//! the store keeps one: serde reads the fields' types, then each rule is checked on its own so
//! that a refusal names the rule and field at fault.

use serde::{Deserialize, Serialize};

use super::{DAYS, Invalid, MOST_RULES, Problem, Rule, Schedule, clock_text, invalid, parse_clock};
use bitrix24::domain::Status;

/// `{"time_zone": "Europe/Berlin", "rules": [...]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScheduleShape {
    /// An IANA zone name.
    pub time_zone: String,
    /// The rules, in the user's order.
    pub rules: Vec<RuleShape>,
}

/// `{"days": ["mon"], "from": "09:00", "to": "11:00", "status": "dnd"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RuleShape {
    /// Day names from [`DAYS`], any case, each once.
    pub days: Vec<String>,
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`, up to `24:00`.
    pub to: String,
    /// One of the four statuses.
    pub status: String,
}

impl ScheduleShape {
    /// Reads the contract's JSON; a body serde cannot read names the first rule it cannot
    /// (or `time_zone`, or `rules` itself) as [`Problem::Shape`].
    pub fn read(body: serde_json::Value) -> Result<Self, Invalid> {
        let at_fault = |body: &serde_json::Value| {
            if !body
                .get("time_zone")
                .is_some_and(serde_json::Value::is_string)
            {
                return invalid(None, "time_zone", Problem::Shape);
            }
            let rules = body.get("rules").and_then(serde_json::Value::as_array);
            let bad = rules.and_then(|rules| {
                rules
                    .iter()
                    .position(|r| RuleShape::deserialize(r).is_err())
            });
            invalid(bad.map(|i| i + 1), "rules", Problem::Shape)
        };
        Self::deserialize(&body).map_err(|_| at_fault(&body))
    }
}

impl TryFrom<ScheduleShape> for Schedule {
    type Error = Invalid;

    fn try_from(shape: ScheduleShape) -> Result<Self, Invalid> {
        let mut schedule = Self::empty(&shape.time_zone)
            .ok_or_else(|| invalid(None, "time_zone", Problem::Zone))?;
        if shape.rules.len() > MOST_RULES {
            return Err(invalid(None, "rules", Problem::TooMany));
        }
        for (i, rule) in shape.rules.iter().enumerate() {
            let n = i + 1;
            schedule
                .add(rule.checked(n)?)
                .map_err(|problem| invalid(Some(n), "days", problem))?;
        }
        Ok(schedule)
    }
}

impl From<&Schedule> for ScheduleShape {
    fn from(schedule: &Schedule) -> Self {
        Self {
            time_zone: schedule.zone_name.clone(),
            rules: schedule.rules.iter().map(RuleShape::from).collect(),
        }
    }
}

impl From<&Rule> for RuleShape {
    fn from(rule: &Rule) -> Self {
        Self {
            days: (0..7)
                .filter(|d| rule.on(*d))
                .map(|d| DAYS[d].to_owned())
                .collect(),
            from: clock_text(rule.from),
            to: clock_text(rule.to),
            status: rule.status.as_str().to_owned(),
        }
    }
}

impl RuleShape {
    /// A rule as the page's form gives it.
    pub fn new(days: &[&str], from: &str, to: &str, status: &str) -> Self {
        Self {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            from: from.to_owned(),
            to: to.to_owned(),
            status: status.to_owned(),
        }
    }

    /// The rule, checked as rule `n` (counted from 1) of a schedule.
    pub fn checked(&self, n: usize) -> Result<Rule, Invalid> {
        let at = Some(n);
        let mut mask = 0u8;
        for day in &self.days {
            let d = DAYS
                .iter()
                .position(|known| day.eq_ignore_ascii_case(known))
                .filter(|d| mask & (1 << d) == 0)
                .ok_or_else(|| invalid(at, "days", Problem::Day))?;
            mask |= 1 << d;
        }
        if mask == 0 {
            return Err(invalid(at, "days", Problem::Day));
        }
        let from =
            parse_clock(&self.from, false).ok_or_else(|| invalid(at, "from", Problem::Time))?;
        let to = parse_clock(&self.to, true).ok_or_else(|| invalid(at, "to", Problem::Time))?;
        if from >= to {
            return Err(invalid(at, "to", Problem::Order));
        }
        let status =
            Status::parse(&self.status).map_err(|_| invalid(at, "status", Problem::Status))?;
        Ok(Rule {
            days: mask,
            from,
            to,
            status,
        })
    }
}
