//! The REST methods a portal answers (`docs/bitrix24.md`, "Status methods", "Placements",
//! "Events", "Calling REST methods"): one function per family of methods, behind one
//! dispatcher, as PHP's REST layer does it.

use serde_json::{Value, json};

use super::wire::{
    Answered, Failure, fail, has_scope, insufficient_scope, not_found, param, param_str,
};
use super::world::{AccessRec, EventBinding, Install, PlacementBinding, Portal, User, World};
use bitrix24::domain::Status;

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
    "ONCALENDARENTRYADD",
    "ONCALENDARENTRYUPDATE",
    "ONCALENDARENTRYDELETE",
];

/// Who calls, and the parts of their portal a method may read or change.
struct Caller<'a> {
    rec: &'a AccessRec,
    licence: &'a str,
    install: &'a mut Install,
    user: &'a mut User,
    params: &'a Value,
}

impl Caller<'_> {
    fn need(&self, scope: &str) -> Result<(), Failure> {
        if has_scope(&self.install.scope, scope) {
            Ok(())
        } else {
            Err(insufficient_scope())
        }
    }

    fn require(&self, name: &'static str) -> Result<String, Failure> {
        param_str(self.params, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                fail(
                    400,
                    "ERROR_ARGUMENT",
                    format!("Argument '{name}' is null or empty"),
                )
            })
    }

    fn admin(&self) -> Result<(), Failure> {
        if self.user.admin {
            Ok(())
        } else {
            Err(fail(
                403,
                "ACCESS_DENIED",
                "Access denied! Admin permissions required",
            ))
        }
    }
}

/// Runs `method` for the token's user (`batch` is the caller's: `batch.rs`, which refuses it
/// nested).
pub(super) fn call_method(
    world: &mut World,
    rec: &AccessRec,
    method: &str,
    params: &Value,
) -> Result<Answered, Failure> {
    if method == "batch" {
        return Err(fail(
            405,
            "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "Batch calls are not allowed inside batch",
        ));
    }
    let now = world.now();
    let portal = world
        .portals
        .get_mut(&rec.member_id)
        .ok_or_else(|| fail(401, "invalid_token", "Unable to get application by token"))?;
    if portal.missing_methods.iter().any(|m| m == method) {
        return Err(not_found());
    }
    if let Some(answered) = super::bots::call(portal, rec, method, params, now) {
        return answered;
    }
    if let Some(answered) = super::presence::call(portal, rec, method, params, now) {
        return answered;
    }
    if let Some(answered) = super::directory::call(portal, rec, method, params) {
        return answered;
    }
    let Portal {
        licence,
        installs,
        users,
        ..
    } = portal;
    let mut caller = Caller {
        install: installs
            .get_mut(&rec.client_id)
            .ok_or_else(|| fail(401, "NOT_INSTALLED", "Application not installed"))?,
        user: users
            .get_mut(&rec.user_id)
            .ok_or_else(|| fail(401, "authorization_error", "User is not active"))?,
        licence,
        rec,
        params,
    };
    match method {
        "im.user.status.set" | "im.user.status.get" => status(&mut caller, method),
        "profile" | "user.current" | "user.admin" => users_method(&caller, method),
        "app.info" => Ok(app_info(&caller, now)),
        m if m.starts_with("placement.") => placements(&mut caller, method),
        m if m.starts_with("event.") => events(&mut caller, method),
        _ => Err(not_found()),
    }
    .map(Answered::from)
}

/// `im.user.status.*` (`docs/bitrix24.md`, "Status methods").
fn status(caller: &mut Caller<'_>, method: &str) -> Result<Value, Failure> {
    caller.need("im")?;
    match method {
        "im.user.status.set" => {
            let status = param_str(caller.params, "STATUS").unwrap_or_default();
            let status = Status::parse(&status)
                .map_err(|_| fail(400, "STATUS_ERROR", "Status is not available"))?;
            caller.user.status = Some(status);
            Ok(json!(true))
        }
        _ => Ok(caller
            .user
            .status
            .map_or(json!(false), |s| json!(s.as_str()))),
    }
}

/// `profile`, `user.current`, `user.admin`: who the token's user is.
fn users_method(caller: &Caller<'_>, method: &str) -> Result<Value, Failure> {
    let (rec, user) = (caller.rec, &*caller.user);
    match method {
        "profile" => Ok(json!({
            "ID": rec.user_id.to_string(),
            "ADMIN": user.admin,
            "NAME": user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": "",
            "TIME_ZONE": user.time_zone,
        })),
        "user.current" => {
            let scope = &caller.install.scope;
            if !["user", "user_brief", "user_basic"]
                .iter()
                .any(|s| has_scope(scope, s))
            {
                return Err(insufficient_scope());
            }
            Ok(json!({
                "ID": rec.user_id.to_string(),
                "ACTIVE": true,
                "NAME": user.name,
                "LAST_NAME": user.last_name,
                "EMAIL": format!("user{}@example.com", rec.user_id),
                "UF_DEPARTMENT": user.departments,
            }))
        }
        _ => Ok(json!(user.admin)),
    }
}

/// The portal's `app.info` (not the OAuth server's).
fn app_info(caller: &Caller<'_>, now: i64) -> Value {
    let (expired, days) = caller.install.period_at(now);
    json!({
        "ID": 1,
        "CODE": caller.rec.client_id,
        "VERSION": caller.install.version,
        "STATUS": caller.licence,
        "INSTALLED": caller.install.finished,
        "PAYMENT_EXPIRED": if expired { "Y" } else { "N" },
        "DAYS": days,
        "LANGUAGE_ID": "en",
        "LICENSE": "en_project",
        "LICENSE_TYPE": "project",
        "LICENSE_FAMILY": "project",
    })
}

/// `placement.bind`, `placement.unbind`, `placement.get` (`docs/bitrix24.md`, "Placements").
fn placements(caller: &mut Caller<'_>, method: &str) -> Result<Value, Failure> {
    caller.need("placement")?;
    match method {
        "placement.bind" => {
            caller.admin()?;
            let placement = caller.require("PLACEMENT")?.to_ascii_uppercase();
            let handler = caller.require("HANDLER")?;
            let Some((_, extra)) = PLACEMENTS.iter().find(|(code, _)| *code == placement) else {
                return Err(fail(
                    400,
                    "ERROR_PLACEMENT_NOT_FOUND",
                    "Placement not found",
                ));
            };
            if extra.is_some_and(|scope| !has_scope(&caller.install.scope, scope)) {
                return Err(fail(
                    400,
                    "ERROR_PLACEMENT_NOT_FOUND",
                    "Placement not found",
                ));
            }
            let handler_url = url::Url::parse(&handler)
                .map_err(|_| fail(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"))?;
            if !matches!(handler_url.scheme(), "http" | "https") {
                return Err(fail(
                    400,
                    "ERROR_UNSUPPORTED_PROTOCOL",
                    "Unsupported event handler protocol",
                ));
            }
            let install = &mut *caller.install;
            if install
                .placements
                .iter()
                .any(|b| b.placement == placement && b.handler == handler)
            {
                // UNCONFIRMED code: the docs name no duplicate error for placements.
                return Err(fail(
                    400,
                    "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED",
                    "Handler already binded",
                ));
            }
            let params = caller.params;
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
            caller.admin()?;
            let placement = caller.require("PLACEMENT")?.to_ascii_uppercase();
            let handler = param_str(caller.params, "HANDLER");
            let bindings = &mut caller.install.placements;
            let before = bindings.len();
            bindings.retain(|b| {
                b.placement != placement || handler.as_ref().is_some_and(|h| *h != b.handler)
            });
            Ok(json!({"count": before - bindings.len()}))
        }
        "placement.get" => Ok(Value::Array(
            caller
                .install
                .placements
                .iter()
                .map(|b| {
                    json!({"placement": b.placement, "userId": 0, "handler": b.handler,
                        "options": b.options, "title": b.title, "description": "",
                        "langAll": b.lang_all})
                })
                .collect(),
        )),
        _ => Err(not_found()),
    }
}

/// `event.bind`, `event.unbind`, `event.get` (`docs/bitrix24.md`, "Events").
fn events(caller: &mut Caller<'_>, method: &str) -> Result<Value, Failure> {
    match method {
        "event.bind" => {
            let event = caller.require("event")?.to_ascii_uppercase();
            let handler = caller.require("handler")?;
            let offline = param_str(caller.params, "event_type")
                .is_some_and(|t| t.eq_ignore_ascii_case("offline"));
            // The calendar's events exist for an app only with the `calendar` scope.
            if !EVENTS.contains(&event.as_str())
                || (event.starts_with("ONCALENDAR")
                    && !has_scope(&caller.install.scope, "calendar"))
            {
                return Err(fail(400, "ERROR_EVENT_NOT_FOUND", "Event not found"));
            }
            if offline && !caller.user.admin {
                return Err(fail(403, "ACCESS_DENIED", "Access denied!"));
            }
            let bindings = &mut caller.install.events;
            if bindings
                .iter()
                .any(|b| b.event == event && b.handler == handler)
            {
                return Err(fail(
                    400,
                    "ERROR_HANDLER_ALREADY_EXIST",
                    "Handler already binded",
                ));
            }
            bindings.push(EventBinding {
                event,
                handler,
                offline,
            });
            Ok(json!(true))
        }
        "event.unbind" => {
            let event = caller.require("event")?.to_ascii_uppercase();
            let handler = param_str(caller.params, "handler");
            let bindings = &mut caller.install.events;
            let before = bindings.len();
            bindings
                .retain(|b| b.event != event || handler.as_ref().is_some_and(|h| *h != b.handler));
            Ok(json!({"count": before - bindings.len()}))
        }
        "event.get" => Ok(Value::Array(
            caller
                .install
                .events
                .iter()
                .map(|b| {
                    json!({"event": b.event, "handler": b.handler, "auth_type": "0",
                        "offline": u8::from(b.offline)})
                })
                .collect(),
        )),
        _ => Err(not_found()),
    }
}
