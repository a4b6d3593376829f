//! Chat-bots 2.0 (`docs/bitrix24.md`, "Chat-bots 2.0"): bots an app registers
//! (`imbot.v2.Bot.register`, idempotent per code, `…unregister`) and their commands
//! (`imbot.v2.Command.register`, `…answer`). A bot belongs to the app, not to a user: any token
//! of the app may act on it, as on Bitrix24.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chat::{Dialog, messages, post};
use super::wire::{Answered, Failure, fail, has_scope, insufficient_scope, param, param_str};
use super::world::{AccessRec, Portal};

/// Bots' user ids start here, apart from people's.
const FIRST_BOT: u64 = 1_000_000;

/// A bot an app registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    /// Its user id.
    pub id: u64,
    /// The app that registered it.
    pub client_id: String,
    /// Its code, unique on the portal.
    pub code: String,
    /// Its name in chats.
    pub name: String,
    /// Where its events go (`eventMode` `webhook`); `None` in fetch mode.
    pub webhook_url: Option<String>,
    /// Its commands: id and word (without the slash).
    pub commands: Vec<(u64, String)>,
}

/// Answers `method` if it is one of the chat's or the bots', else `None`.
pub(super) fn call(
    portal: &mut Portal,
    rec: &AccessRec,
    method: &str,
    params: &Value,
    now: i64,
) -> Option<Result<Answered, Failure>> {
    let scope = portal
        .installs
        .get(&rec.client_id)
        .map_or("", |i| i.scope.as_str())
        .to_owned();
    let answered = match method {
        "im.dialog.messages.get" if has_scope(&scope, "im") => messages(portal, rec, params),
        "im.dialog.messages.get" => Err(insufficient_scope()),
        m if m.starts_with("imbot.v2.") && !has_scope(&scope, "imbot") => Err(insufficient_scope()),
        "imbot.v2.bot.register" => register(portal, rec, params),
        "imbot.v2.bot.unregister" => owned(portal, rec, params).map(|i| {
            portal.bots.remove(i);
            json!(true)
        }),
        "imbot.v2.command.register" => command(portal, rec, params),
        "imbot.v2.command.answer" => answer(portal, rec, params, now),
        _ => return None,
    };
    Some(answered.map(Answered::from))
}

fn field<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    param(params, "fields").and_then(|f| param(f, name))
}

fn register(portal: &mut Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let text = |name: &str| field(params, name).and_then(|v| param_str(&json!({ "v": v }), "v"));
    let code = text("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail(400, "BOT_CODE_REQUIRED", "Bot code is required"))?;
    let name = field(params, "properties")
        .and_then(|p| param_str(p, "name"))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            fail(
                400,
                "BOT_PROPERTIES_REQUIRED",
                "Bot properties are required",
            )
        })?;
    let webhook = match text("eventMode").as_deref().unwrap_or("fetch") {
        "fetch" => None,
        "webhook" => {
            let url = text("webhookUrl")
                .ok_or_else(|| fail(400, "BOT_WEBHOOK_URL_REQUIRED", "Webhook URL is required"))?;
            let parsed = url::Url::parse(&url)
                .map_err(|_| fail(400, "BOT_INVALID_CALLBACK", "Invalid callback URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(fail(400, "BOT_INVALID_CALLBACK", "Invalid callback URL"));
            }
            Some(url)
        }
        _ => return Err(fail(400, "BOT_INVALID_EVENT_MODE", "Invalid event mode")),
    };
    let bot = match portal.bots.iter().find(|b| b.code == code) {
        // Idempotent: the same code from the same app answers the bot as it is.
        Some(bot) if bot.client_id == rec.client_id => bot.clone(),
        Some(_) => {
            return Err(fail(
                400,
                "BOT_CODE_ALREADY_TAKEN",
                "Bot code is already taken",
            ));
        }
        None => {
            let id = portal
                .bots
                .iter()
                .map(|b| b.id + 1)
                .max()
                .unwrap_or(FIRST_BOT);
            let bot = Bot {
                id,
                client_id: rec.client_id.clone(),
                code,
                name,
                webhook_url: webhook,
                commands: Vec::new(),
            };
            portal.bots.push(bot.clone());
            bot
        }
    };
    Ok(json!({
        "bot": {"id": bot.id, "code": bot.code, "type": "bot", "appId": bot.client_id,
            "eventMode": if bot.webhook_url.is_some() { "webhook" } else { "fetch" },
            "countCommand": bot.commands.len()},
        "users": [{"id": bot.id, "name": bot.name, "bot": true, "type": "bot", "active": true}],
    }))
}

/// The index of the bot `botId` names, if the calling app owns it.
fn owned(portal: &Portal, rec: &AccessRec, params: &Value) -> Result<usize, Failure> {
    let id: u64 = param_str(params, "botId")
        .and_then(|b| b.parse().ok())
        .ok_or_else(|| fail(400, "BOT_ID_REQUIRED", "Bot id is required"))?;
    let index = portal
        .bots
        .iter()
        .position(|b| b.id == id)
        .ok_or_else(|| fail(404, "BOT_NOT_FOUND", "Bot not found"))?;
    // Owned by the app, not by a user: any token of the app may act on its bots.
    if portal.bots[index].client_id != rec.client_id {
        return Err(fail(
            403,
            "BOT_OWNERSHIP_ERROR",
            "Bot belongs to another application",
        ));
    }
    Ok(index)
}

fn command(portal: &mut Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let index = owned(portal, rec, params)?;
    let word = field(params, "command")
        .and_then(|c| param_str(&json!({ "v": c }), "v"))
        .map(|c| c.trim_start_matches('/').to_lowercase())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail(400, "COMMAND_REQUIRED", "Command is required"))?;
    let next = portal
        .bots
        .iter()
        .flat_map(|b| b.commands.iter().map(|(id, _)| id + 1))
        .max()
        .unwrap_or(1);
    let bot = &mut portal.bots[index];
    let id = match bot.commands.iter().find(|(_, w)| *w == word) {
        Some((id, _)) => *id,
        None => {
            bot.commands.push((next, word.clone()));
            next
        }
    };
    Ok(json!({"command": {"id": id, "botId": bot.id, "command": word, "common": true}}))
}

fn answer(
    portal: &mut Portal,
    rec: &AccessRec,
    params: &Value,
    now: i64,
) -> Result<Value, Failure> {
    let index = owned(portal, rec, params)?;
    let bot = portal.bots[index].id;
    let dialog = param_str(params, "dialogId")
        .and_then(|d| dialog_of(&d, bot))
        .ok_or_else(|| fail(400, "DIALOG_ID_REQUIRED", "Dialog id is required"))?;
    let text = field(params, "message")
        .and_then(|m| param_str(&json!({ "v": m }), "v"))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(400, "MESSAGE_EMPTY", "Message is empty"))?;
    let id = post(portal, dialog, bot, now, text);
    Ok(json!({"id": id}))
}

/// A dialog id as the `bot` sees it (`chat<N>`, or the user's id for their private chat).
fn dialog_of(id: &str, bot: u64) -> Option<Dialog> {
    match id.strip_prefix("chat") {
        Some(n) => n.parse().ok().map(Dialog::Group),
        None => id.parse().ok().map(|user| Dialog::Private(user, bot)),
    }
}
