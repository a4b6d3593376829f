//! The REST methods a portal answers (`docs/bitrix24.md`, "Status methods", "Placements",
//! "Events", "Calling REST methods"): one function for all, as PHP's REST layer dispatches.

use serde_json::{Map, Value, json};

use super::wire::{Failure, fail, param, param_str};
use super::world::{AccessRec, EventBinding, PlacementBinding, World};
use crate::bitrix::form;
use crate::domain::Status;

/// Known placement codes and the extra scope each needs beyond `placement` (`docs/bitrix24.md`,
/// "Placements").
pub(super) const PLACEMENTS: &[(&str, Option<&str>)] = &[
    ("LEFT_MENU", None),
    ("IM_NAVIGATION", None),
    ("IM_TEXTAREA", None),
    ("IM_SIDEBAR", None),
    ("IM_CONTEXT_MENU", None),
    ("USER_PROFILE_MENU", Some("user")),
    ("USER_PROFILE_TOOLBAR", Some("user")),
    ("PAGE_BACKGROUND_WORKER", None),
];

/// Events an app may bind here (`docs/bitrix24.md`, "Events").
pub(super) const EVENTS: &[&str] = &[
    "ONAPPINSTALL",
    "ONAPPUPDATE",
    "ONAPPUNINSTALL",
    "ONAPPPAYMENT",
];

pub(super) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split([',', ' ']).any(|s| s.trim() == wanted)
}

pub(super) fn call_method(
    world: &mut World,
    rec: &AccessRec,
    method: &str,
    params: &Value,
    top_level: bool,
) -> Result<Value, Failure> {
    let portal = world
        .portals
        .get_mut(&rec.member_id)
        .ok_or_else(|| fail(401, "invalid_token", "Unable to get application by token"))?;
    let install = portal
        .installs
        .get_mut(&rec.client_id)
        .ok_or_else(|| fail(401, "NOT_INSTALLED", "Application not installed"))?;
    let user = portal
        .users
        .get_mut(&rec.user_id)
        .ok_or_else(|| fail(401, "authorization_error", "User is not active"))?;
    let need = |scope: &str| {
        if has_scope(&install.scope, scope) {
            Ok(())
        } else {
            Err(fail(
                403,
                "insufficient_scope",
                "The request requires higher privileges than provided by the access token",
            ))
        }
    };
    let require = |name: &'static str| {
        param_str(params, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                fail(
                    400,
                    "ERROR_ARGUMENT",
                    format!("Argument '{name}' is null or empty"),
                )
            })
    };
    match method {
        "im.user.status.set" => {
            need("im")?;
            let status = param_str(params, "STATUS").unwrap_or_default();
            let status = Status::parse(&status).map_err(|_| fail(400, "STATUS_ERROR", "Status is not available"))?;
            user.status = Some(status);
            Ok(json!(true))
        }
        "im.user.status.get" => {
            need("im")?;
            Ok(user.status.map_or(json!(false), |s| json!(s.as_str())))
        }
        "profile" => Ok(json!({
            "ID": rec.user_id.to_string(),
            "ADMIN": user.admin,
            "NAME": user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": "",
            "TIME_ZONE": "",
        })),
        "user.current" => {
            if !["user", "user_brief", "user_basic"].iter().any(|s| has_scope(&install.scope, s)) {
                return Err(fail(403, "insufficient_scope", "The request requires higher privileges than provided by the access token"));
            }
            Ok(json!({
                "ID": rec.user_id.to_string(),
                "ACTIVE": true,
                "NAME": user.name,
                "LAST_NAME": user.last_name,
                "EMAIL": format!("user{}@example.com", rec.user_id),
                "UF_DEPARTMENT": [1],
            }))
        }
        "user.admin" => Ok(json!(user.admin)),
        "app.info" => Ok(json!({
            "ID": 1,
            "CODE": rec.client_id,
            "VERSION": install.version,
            "STATUS": portal.licence,
            "INSTALLED": install.finished,
            "PAYMENT_EXPIRED": "N",
            "DAYS": null,
            "LANGUAGE_ID": "en",
            "LICENSE": "en_project",
            "LICENSE_TYPE": "project",
            "LICENSE_FAMILY": "project",
        })),
        "placement.bind" => {
            need("placement")?;
            if !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied! Admin permissions required"));
            }
            let placement = require("PLACEMENT")?.to_ascii_uppercase();
            let handler = require("HANDLER")?;
            let Some((_, extra)) = PLACEMENTS.iter().find(|(code, _)| *code == placement) else {
                return Err(fail(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found"));
            };
            if extra.is_some_and(|scope| !has_scope(&install.scope, scope)) {
                return Err(fail(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found"));
            }
            let handler_url = url::Url::parse(&handler).map_err(|_| fail(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"))?;
            if !matches!(handler_url.scheme(), "http" | "https") {
                return Err(fail(400, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported event handler protocol"));
            }
            if install.placements.iter().any(|b| b.placement == placement && b.handler == handler) {
                // UNCONFIRMED code: the docs name no duplicate error for placements.
                return Err(fail(400, "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED", "Handler already binded"));
            }
            install.placements.push(PlacementBinding {
                placement,
                handler,
                title: param_str(params, "TITLE").unwrap_or_default(),
                options: param(params, "OPTIONS").cloned().unwrap_or(Value::Null),
                lang_all: param(params, "LANG_ALL").cloned().unwrap_or(Value::Null),
            });
            Ok(json!(true))
        }
        "placement.unbind" => {
            need("placement")?;
            if !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied! Admin permissions required"));
            }
            let placement = require("PLACEMENT")?.to_ascii_uppercase();
            let handler = param_str(params, "HANDLER");
            let before = install.placements.len();
            install
                .placements
                .retain(|b| b.placement != placement || handler.as_ref().is_some_and(|h| *h != b.handler));
            Ok(json!({"count": before - install.placements.len()}))
        }
        "placement.get" => {
            need("placement")?;
            Ok(Value::Array(
                install
                    .placements
                    .iter()
                    .map(|b| json!({"placement": b.placement, "userId": 0, "handler": b.handler,
                        "options": b.options, "title": b.title, "description": "", "langAll": b.lang_all}))
                    .collect(),
            ))
        }
        "event.bind" => {
            let event = require("event")?.to_ascii_uppercase();
            let handler = require("handler")?;
            let offline = param_str(params, "event_type").is_some_and(|t| t.eq_ignore_ascii_case("offline"));
            if !EVENTS.contains(&event.as_str()) {
                return Err(fail(400, "ERROR_EVENT_NOT_FOUND", "Event not found"));
            }
            if offline && !user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied!"));
            }
            if install.events.iter().any(|b| b.event == event && b.handler == handler) {
                return Err(fail(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already binded"));
            }
            install.events.push(EventBinding { event, handler, offline });
            Ok(json!(true))
        }
        "event.unbind" => {
            let event = require("event")?.to_ascii_uppercase();
            let handler = param_str(params, "handler");
            let before = install.events.len();
            install
                .events
                .retain(|b| b.event != event || handler.as_ref().is_some_and(|h| *h != b.handler));
            Ok(json!({"count": before - install.events.len()}))
        }
        "event.get" => Ok(Value::Array(
            install
                .events
                .iter()
                .map(|b| json!({"event": b.event, "handler": b.handler, "auth_type": "0", "offline": u8::from(b.offline)}))
                .collect(),
        )),
        "batch" if top_level => batch(world, rec, params),
        "batch" => Err(fail(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Batch calls are not allowed inside batch")),
        _ => Err(fail(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")),
    }
}

/// `batch` (`docs/bitrix24.md`, "Calling REST methods"): up to 50 commands `key → "method?query"`,
/// answered together.
pub(super) fn batch(world: &mut World, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let commands = param(params, "cmd")
        .and_then(Value::as_object)
        .ok_or_else(|| fail(400, "ERROR_ARGUMENT", "Argument 'cmd' is null or empty"))?
        .clone();
    if commands.len() > 50 {
        return Err(fail(
            400,
            "ERROR_BATCH_LENGTH_EXCEEDED",
            "Max batch length exceeded",
        ));
    }
    let halt = param_str(params, "halt").is_some_and(|h| h == "1" || h == "true");
    let mut results = Map::new();
    let mut errors = Map::new();
    for (key, command) in commands {
        let command = command.as_str().unwrap_or_default();
        let (method, query) = command.split_once('?').unwrap_or((command, ""));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let sub_params = form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|_| json!({}));
        match call_method(world, rec, &method.to_ascii_lowercase(), &sub_params, false) {
            Ok(result) => {
                results.insert(key, result);
            }
            Err((_, code, description)) => {
                errors.insert(
                    key,
                    json!({"error": code, "error_description": description}),
                );
                if halt {
                    break;
                }
            }
        }
    }
    // PHP encodes empty maps as `[]`; so does the emulator.
    let as_php = |map: Map<String, Value>| {
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    };
    Ok(json!({
        "result": as_php(results),
        "result_error": as_php(errors),
        "result_total": [],
        "result_next": [],
        "result_time": {},
    }))
}
