//! Reading colleagues for the team board (`docs/bitrix24.md`, "Reading colleagues"): the
//! company's departments (`department.get`), its active employees (`user.get`, 50 a page) and
//! their messenger status and absence (`im.user.list.get`), all as `batch` commands, so a whole
//! portal is read in a few requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batch::{BatchAnswer, MAX_COMMANDS};
use super::error::ErrorCode;
use crate::domain::{Status, UserId};

/// The company structure: departments and their heads.
pub const DEPARTMENTS: &str = "department.get";
/// The portal's users, a page of [`PAGE`] at a time.
pub const USERS: &str = "user.get";
/// The messenger's view of users: status, absence.
pub const IM_USERS: &str = "im.user.list.get";

/// What a list method answers per page.
pub const PAGE: usize = 50;
/// The most employees the board reads from one portal (200 pages of `user.get`).
pub const MAX_MEMBERS: usize = 10_000;

/// The scopes the board needs, each as the methods' pages name it: `im` for statuses,
/// `department` for the structure, and any of `user_brief`, `user_basic`, `user` for the list.
pub const NEEDED_SCOPES: [(&str, &[&str]); 3] = [
    ("im", &["im"]),
    ("department", &["department"]),
    ("user_brief", &["user_brief", "user_basic", "user"]),
];

/// The first of [`NEEDED_SCOPES`] that `granted` (comma- or space-separated) lacks.
pub fn missing_scope(granted: &str) -> Option<&'static str> {
    NEEDED_SCOPES
        .iter()
        .find(|(_, any_of)| !any_of.iter().any(|s| crate::domain::grants(granted, s)))
        .map(|(name, _)| *name)
}

/// A department.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Bitrix24's own order.
    pub sort: i64,
}

/// An employee as the board shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colleague {
    /// Their id.
    pub id: UserId,
    /// "First Last".
    pub name: String,
    /// Their position, possibly empty.
    pub position: String,
    /// The departments they belong to.
    pub departments: Vec<u64>,
    /// Their messenger status, once read.
    pub status: Option<Status>,
    /// On vacation or otherwise absent.
    pub absent: bool,
}

/// A `user.get` page command: active employees (no extranet, bots or e-mail users), by id.
pub fn users_command(page: usize) -> String {
    format!(
        "{USERS}?FILTER[ACTIVE]=true&FILTER[USER_TYPE]=employee&SORT=ID&ORDER=ASC&start={}",
        page * PAGE
    )
}

/// A `department.get` page command.
pub fn departments_command(page: usize) -> String {
    format!("{DEPARTMENTS}?sort=SORT&order=ASC&START={}", page * PAGE)
}

/// The scope a directory method needs, as the board names it to the administrator.
pub fn scope_of(method: &str) -> &'static str {
    match method {
        DEPARTMENTS => "department",
        USERS => "user_brief",
        _ => "im",
    }
}

/// `im.user.list.get` commands for `ids`, [`PAGE`] ids each, keyed `<prefix><n>` (any prefix
/// but `d` and `u`, which name the list pages).
pub fn status_commands(ids: &[UserId], prefix: char) -> Vec<(String, String)> {
    ids.chunks(PAGE)
        .enumerate()
        .map(|(n, chunk)| {
            let query: Vec<String> = chunk.iter().map(|id| format!("ID[]={id}")).collect();
            (
                format!("{prefix}{n}"),
                format!("{IM_USERS}?{}", query.join("&")),
            )
        })
        .collect()
}

/// The commands of the first request: the first page of departments (`d0`) and employees
/// (`u0`), and the statuses of the employees read last time, so a portal of up to 50 is one
/// request.
pub fn first_commands(known: &[UserId]) -> Vec<(String, String)> {
    let mut commands = vec![
        ("d0".to_owned(), departments_command(0)),
        ("u0".to_owned(), users_command(0)),
    ];
    let room = (MAX_COMMANDS - commands.len()) * PAGE;
    commands.extend(status_commands(&known[..known.len().min(room)], 's'));
    commands
}

/// The pages after the first, given the totals the first request answered.
pub fn later_pages(answer: &BatchAnswer) -> Vec<(String, String)> {
    let pages = |key: &str| {
        answer
            .total(key)
            .unwrap_or(0)
            .min(MAX_MEMBERS)
            .div_ceil(PAGE)
    };
    let departments = (1..pages("d0")).map(|p| (format!("d{p}"), departments_command(p)));
    let users = (1..pages("u0")).map(|p| (format!("u{p}"), users_command(p)));
    departments.chain(users).collect()
}

/// A command's failure that the board cannot work around: the method it belongs to and why.
pub fn first_failure(answer: &BatchAnswer) -> Option<(&'static str, ErrorCode)> {
    answer.errors().next().map(|(key, code)| {
        let method = match key.as_bytes().first() {
            Some(b'd') => DEPARTMENTS,
            Some(b'u') => USERS,
            _ => IM_USERS,
        };
        (method, code)
    })
}

/// What a portal's directory reads came to, merged over requests.
#[derive(Debug, Default)]
pub struct Read {
    departments: BTreeMap<u64, Department>,
    members: BTreeMap<UserId, Colleague>,
    statuses: BTreeMap<UserId, (Status, bool, Option<String>)>,
}

#[derive(Deserialize)]
struct UserItem {
    #[serde(rename = "ID", deserialize_with = "super::wire::lenient_u64")]
    id: Option<u64>,
    #[serde(rename = "NAME", default)]
    name: Option<String>,
    #[serde(rename = "LAST_NAME", default)]
    last_name: Option<String>,
    #[serde(rename = "WORK_POSITION", default)]
    position: Option<String>,
    #[serde(rename = "UF_DEPARTMENT", default)]
    departments: Value,
}

#[derive(Deserialize)]
struct DepartmentItem {
    #[serde(rename = "ID", deserialize_with = "super::wire::lenient_u64")]
    id: Option<u64>,
    #[serde(rename = "NAME", default)]
    name: String,
    #[serde(
        rename = "SORT",
        default,
        deserialize_with = "super::wire::lenient_u64"
    )]
    sort: Option<u64>,
}

fn ids(value: &Value) -> Vec<u64> {
    let one = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// A page's items, at most [`PAGE`]: an on-premise portal may answer any number, and what it
/// sends beyond a page is dropped with a log line (the request's span names the portal).
fn items<T: for<'de> Deserialize<'de>>(value: Option<&Value>) -> impl Iterator<Item = T> {
    let list = match value {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    if list.len() > PAGE {
        tracing::warn!(
            sent = list.len(),
            kept = PAGE,
            "the portal answered more items than a page holds"
        );
    }
    list.into_iter()
        .take(PAGE)
        .filter_map(|item| serde_json::from_value(item).ok())
}

impl Read {
    /// Takes in one request's answer.
    pub fn add(&mut self, answer: &BatchAnswer, keys: &[(String, String)]) {
        for (key, _) in keys {
            let result = answer.result(key);
            match key.as_bytes().first() {
                Some(b'd') => self.departments.extend(
                    items::<DepartmentItem>(result)
                        .filter_map(|d| Some((d.id?, d)))
                        .map(|(id, d)| {
                            let sort = d.sort.and_then(|s| i64::try_from(s).ok()).unwrap_or(500);
                            (
                                id,
                                Department {
                                    id,
                                    name: d.name,
                                    sort,
                                },
                            )
                        }),
                ),
                Some(b'u') => self
                    .members
                    .extend(items::<UserItem>(result).filter_map(|u| {
                        let id = UserId::new(u.id?).ok()?;
                        let name = format!(
                            "{} {}",
                            u.name.unwrap_or_default().trim(),
                            u.last_name.unwrap_or_default().trim()
                        );
                        let colleague = Colleague {
                            id,
                            name: name.trim().to_owned(),
                            position: u.position.unwrap_or_default(),
                            departments: ids(&u.departments),
                            status: None,
                            absent: false,
                        };
                        Some((id, colleague))
                    })),
                _ => self.add_statuses(result),
            }
        }
        // A portal cannot make us keep more people than a directory may hold.
        if self.members.len() > MAX_MEMBERS {
            tracing::warn!(
                kept = MAX_MEMBERS,
                "the portal listed more employees than the board keeps"
            );
            while self.members.len() > MAX_MEMBERS {
                self.members.pop_last();
            }
        }
        if self.statuses.len() > MAX_MEMBERS {
            let members = &self.members;
            self.statuses.retain(|id, _| members.contains_key(id));
        }
    }

    /// `im.user.list.get`'s object keyed by id (users the token may not see are `null`).
    fn add_statuses(&mut self, result: Option<&Value>) {
        let Some(Value::Object(users)) = result else {
            return;
        };
        for (id, user) in users {
            let Some(id) = id.parse().ok().and_then(|n| UserId::new(n).ok()) else {
                continue;
            };
            let status = user
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| Status::parse(s).ok())
                .unwrap_or(Status::Online);
            // `absent` is `false`, or the date the absence ends.
            let absent = user.get("absent").is_some_and(|a| a.is_string());
            let name = user.get("name").and_then(Value::as_str).map(str::to_owned);
            self.statuses.insert(id, (status, absent, name));
        }
    }

    /// Employees whose status was not read yet (new since last time).
    pub fn unread(&self) -> Vec<UserId> {
        self.members
            .keys()
            .filter(|id| !self.statuses.contains_key(id))
            .copied()
            .collect()
    }

    /// The departments and employees, with their statuses.
    pub fn finish(self) -> (Vec<Department>, Vec<Colleague>) {
        let mut statuses = self.statuses;
        let members = self
            .members
            .into_values()
            .map(|mut c| {
                if let Some((status, absent, name)) = statuses.remove(&c.id) {
                    c.status = Some(status);
                    c.absent = absent;
                    if c.name.is_empty() {
                        c.name = name.unwrap_or_default();
                    }
                }
                c
            })
            .collect();
        (self.departments.into_values().collect(), members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_scope_is_named() {
        assert_eq!(missing_scope("im,placement,user_brief,department"), None);
        assert_eq!(missing_scope("im placement user department"), None);
        assert_eq!(missing_scope("im,placement,user_brief"), Some("department"));
        assert_eq!(missing_scope("im,department"), Some("user_brief"));
        assert_eq!(missing_scope("placement"), Some("im"));
    }

    #[test]
    fn pages_statuses_and_absences_are_read() {
        let id = |n| UserId::new(n).expect("id");
        let known: Vec<UserId> = (1..=120).map(id).collect();
        let first = first_commands(&known);
        assert_eq!(first.len(), 2 + 3);
        assert!(first[2].1.starts_with("im.user.list.get?ID[]=1&ID[]=2&"));
        let answer: BatchAnswer = serde_json::from_value(json!({
            "result": {
                "d0": [{"ID": "1", "NAME": "Sales", "SORT": "500"}],
                "u0": [{"ID": "2", "NAME": "Boris", "LAST_NAME": "Ivanov", "WORK_POSITION": "Manager", "UF_DEPARTMENT": [1]},
                       {"ID": "3", "NAME": "Clara", "LAST_NAME": "Schmidt", "UF_DEPARTMENT": ["1"]}],
                "s0": {"2": {"status": "dnd", "absent": "2026-12-10T00:00:00+01:00"}, "4": null}
            },
            "result_total": {"d0": 1, "u0": 120}
        }))
        .expect("answer");
        let later = later_pages(&answer);
        assert_eq!(
            later.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["u1", "u2"]
        );
        assert!(later[1].1.ends_with("start=100"));
        let mut read = Read::default();
        read.add(&answer, &first);
        assert_eq!(read.unread(), [id(3)]);
        let (departments, members) = read.finish();
        assert_eq!(departments[0].name, "Sales");
        assert_eq!(members[0].status, Some(Status::Dnd));
        assert!(members[0].absent);
        assert_eq!(members[1].departments, [1]);
        assert_eq!(members[1].status, None);
    }

    #[test]
    fn a_portal_that_sends_too_much_is_cut_to_a_page() {
        let flood: Vec<Value> = (1..=5000u64)
            .map(|n| json!({"ID": n.to_string(), "NAME": "Made", "LAST_NAME": "Up"}))
            .collect();
        let answer: BatchAnswer =
            serde_json::from_value(json!({"result": {"u0": flood}})).expect("answer");
        let mut read = Read::default();
        read.add(&answer, &[("u0".to_owned(), String::new())]);
        assert_eq!(read.unread().len(), PAGE);
    }
}
