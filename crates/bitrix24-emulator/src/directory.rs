//! The company directory a portal answers (`docs/bitrix24.md`, "Reading colleagues"):
//! `department.get`, `user.get` (50 a page, `total` and `next` hoisted out) and
//! `im.user.list.get` (each user's messenger status and absence, keyed by id; ids the caller may
//! not see answer `null`).

use serde_json::{Map, Value, json};

use super::wire::{Answered, Failure, has_scope, insufficient_scope, param, param_str};
use super::world::{AccessRec, Portal, User};

/// A list method's page size.
const PAGE: usize = 50;

/// Answers `method` if it is one of the directory's, else `None`.
pub(super) fn call(
    portal: &Portal,
    rec: &AccessRec,
    method: &str,
    params: &Value,
) -> Option<Result<Answered, Failure>> {
    let scope = portal
        .installs
        .get(&rec.client_id)
        .map_or("", |i| i.scope.as_str());
    let answered = match method {
        "department.get" => need(scope, &["department"]).map(|()| departments(portal, params)),
        "user.get" => {
            need(scope, &["user", "user_brief", "user_basic"]).map(|()| users(portal, rec, params))
        }
        "im.user.list.get" => need(scope, &["im"]).map(|()| statuses(portal, rec, params)),
        _ => return None,
    };
    Some(answered)
}

fn need(scope: &str, any_of: &[&str]) -> Result<(), Failure> {
    if any_of.iter().any(|wanted| has_scope(scope, wanted)) {
        Ok(())
    } else {
        Err(insufficient_scope())
    }
}

/// The values of a parameter sent as `ID[]=…`, `ID[0]=…`, a JSON array or one value.
pub(super) fn values(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(Value::Object(items)) => items.values().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn start(params: &Value) -> usize {
    param_str(params, "start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One page of `items`, with the paging Bitrix24 adds.
fn paged(items: Vec<Value>, start: usize) -> Answered {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(PAGE).collect();
    let next = (start + PAGE < total).then_some(start + PAGE);
    Answered {
        result: Value::Array(page),
        total: Some(total),
        next,
    }
}

/// `department.get`: filters `ID` and `PARENT`, sorted by `SORT`.
fn departments(portal: &Portal, params: &Value) -> Answered {
    let ids = values(param(params, "ID"));
    let parent = param_str(params, "PARENT");
    let mut found: Vec<_> = portal
        .departments
        .iter()
        .filter(|d| ids.is_empty() || ids.contains(&d.id.to_string()))
        .filter(|d| {
            parent
                .as_ref()
                .is_none_or(|p| d.parent.map(|x| x.to_string()).as_ref() == Some(p))
        })
        .collect();
    found.sort_by_key(|d| (d.sort, d.id));
    let items = found
        .into_iter()
        .map(|d| {
            let mut item = json!({"ID": d.id.to_string(), "NAME": d.name, "SORT": d.sort});
            if let Some(parent) = d.parent {
                item["PARENT"] = json!(parent.to_string());
            }
            item
        })
        .collect();
    paged(items, start(params))
}

/// `user.get`: `FILTER[ACTIVE]`, `FILTER[UF_DEPARTMENT]`, `FILTER[USER_TYPE]` and
/// `FILTER[NAME_SEARCH]`, sorted by `ID`.
fn users(portal: &Portal, rec: &AccessRec, params: &Value) -> Answered {
    let viewer_extranet = is_extranet(portal, rec);
    let filter = param(params, "FILTER").cloned().unwrap_or(Value::Null);
    let department = param_str(&filter, "UF_DEPARTMENT");
    let search = param_str(&filter, "NAME_SEARCH").map(|s| s.to_lowercase());
    let user_type = param_str(&filter, "USER_TYPE");
    let items = portal
        .users
        .iter()
        .filter(|(_, u)| {
            department
                .as_ref()
                .is_none_or(|d| u.departments.iter().any(|x| x.to_string() == *d))
        })
        .filter(|(_, u)| {
            search.as_ref().is_none_or(|s| {
                format!("{} {}", u.name, u.last_name)
                    .to_lowercase()
                    .contains(s)
            })
        })
        .filter(|(_, u)| !viewer_extranet || u.extranet)
        .filter(|(_, u)| match user_type.as_deref() {
            Some("employee") => !u.extranet,
            Some("extranet") => u.extranet,
            _ => true,
        })
        .map(|(id, u)| {
            json!({
                "ID": id.to_string(),
                "ACTIVE": true,
                "NAME": u.name,
                "LAST_NAME": u.last_name,
                "WORK_POSITION": u.position,
                "UF_DEPARTMENT": u.departments,
                "USER_TYPE": if u.extranet { "extranet" } else { "employee" },
            })
        })
        .collect();
    paged(items, start(params))
}

/// Whether the token's user is an extranet user.
fn is_extranet(portal: &Portal, rec: &AccessRec) -> bool {
    portal.users.get(&rec.user_id).is_some_and(|u| u.extranet)
}

/// `im.user.list.get`: an object keyed by id (`RESULT_TYPE=array`: an array).
fn statuses(portal: &Portal, rec: &AccessRec, params: &Value) -> Answered {
    let viewer_extranet = is_extranet(portal, rec);
    let ids = values(param(params, "ID"));
    let mut keyed = Map::new();
    let mut listed = Vec::new();
    for id in ids {
        let user = id
            .parse::<u64>()
            .ok()
            .and_then(|n| Some((n, portal.users.get(&n)?)))
            .filter(|(_, u)| !viewer_extranet || u.extranet);
        let value = user.map_or(Value::Null, |(n, u)| im_user(n, u));
        if !value.is_null() {
            listed.push(value.clone());
        }
        keyed.insert(id, value);
    }
    let as_array = param_str(params, "RESULT_TYPE").is_some_and(|t| t == "array");
    Answered {
        result: if as_array {
            Value::Array(listed)
        } else {
            Value::Object(keyed)
        },
        total: None,
        next: None,
    }
}

fn im_user(id: u64, user: &User) -> Value {
    json!({
        "id": id,
        "active": true,
        "name": format!("{} {}", user.name, user.last_name),
        "first_name": user.name,
        "last_name": user.last_name,
        "work_position": user.position,
        "avatar": "",
        "status": user.status.map_or("online", |s| s.as_str()),
        "idle": false,
        "last_activity_date": "2026-12-01T09:00:00+00:00",
        "absent": user.absent_until.as_deref().map_or(json!(false), |d| json!(d)),
        "departments": user.departments,
        "bot": false,
        "extranet": user.extranet,
    })
}
