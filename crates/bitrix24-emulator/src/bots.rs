//! Chat-bots 2.0 (`docs/bitrix24.md`, "Chat-bots 2.0"): bots an app registers
//! (`imbot.v2.Bot.register`, idempotent per code, `…update`, `…unregister`), their commands
//! (`imbot.v2.Command.register`, `…answer`) and messages (`imbot.v2.Chat.Message.send`). A bot
//! belongs to the app, not to a user: any token of the app may act on it, as on Bitrix24.

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
    /// The line under its name in its profile.
    #[serde(default)]
    pub work_position: String,
    /// Its picture as sent: Base64 without a `data:` prefix.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Where its events go (`eventMode` `webhook`); `None` in fetch mode.
    pub webhook_url: Option<String>,
    /// Its commands: id and word (without the slash).
    pub commands: Vec<(u64, String)>,
    /// Each command's title as registered (a text, or one per language code).
    #[serde(default)]
    pub titles: Vec<(String, Value)>,
    /// The group chats it was added to.
    #[serde(default)]
    pub chats: Vec<u64>,
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
        "imbot.v2.bot.update" => update(portal, rec, params),
        "imbot.v2.chat.message.send" => send(portal, rec, params, now),
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

fn text_of(value: Option<&Value>) -> Option<String> {
    value.and_then(|v| param_str(&json!({ "v": v }), "v"))
}

/// `fields.eventMode` and `fields.webhookUrl`: `Some(url)` for webhook mode, `None` for fetch.
fn event_mode(params: &Value) -> Result<Option<String>, Failure> {
    match text_of(field(params, "eventMode"))
        .as_deref()
        .unwrap_or("fetch")
    {
        "fetch" => Ok(None),
        "webhook" => {
            let url = text_of(field(params, "webhookUrl"))
                .ok_or_else(|| fail(400, "BOT_WEBHOOK_URL_REQUIRED", "Webhook URL is required"))?;
            let parsed = url::Url::parse(&url)
                .map_err(|_| fail(400, "BOT_INVALID_CALLBACK", "Invalid callback URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(fail(400, "BOT_INVALID_CALLBACK", "Invalid callback URL"));
            }
            Ok(Some(url))
        }
        _ => Err(fail(400, "BOT_INVALID_EVENT_MODE", "Invalid event mode")),
    }
}

/// Applies `fields.properties` (name, workPosition, avatar) to `bot`.
fn set_properties(bot: &mut Bot, properties: &Value) {
    if let Some(name) = param_str(properties, "name").filter(|n| !n.is_empty()) {
        bot.name = name;
    }
    if let Some(position) = param_str(properties, "workPosition") {
        bot.work_position = position;
    }
    if let Some(avatar) = param_str(properties, "avatar").filter(|a| !a.is_empty()) {
        bot.avatar = Some(avatar);
    }
}

fn register(portal: &mut Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let code = text_of(field(params, "code"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail(400, "BOT_CODE_REQUIRED", "Bot code is required"))?;
    let properties = field(params, "properties")
        .filter(|p| param_str(p, "name").is_some_and(|n| !n.is_empty()))
        .ok_or_else(|| {
            fail(
                400,
                "BOT_PROPERTIES_REQUIRED",
                "Bot properties are required",
            )
        })?;
    let webhook = event_mode(params)?;
    let bot = match portal.bots.iter().find(|b| b.code == code) {
        // Idempotent: the same code from the same app answers the bot as it is, unchanged.
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
            let mut bot = Bot {
                id,
                client_id: rec.client_id.clone(),
                code,
                name: String::new(),
                work_position: String::new(),
                avatar: None,
                webhook_url: webhook,
                commands: Vec::new(),
                titles: Vec::new(),
                chats: Vec::new(),
            };
            set_properties(&mut bot, properties);
            portal.bots.push(bot.clone());
            bot
        }
    };
    Ok(described(&bot))
}

/// `imbot.v2.Bot.update`: new properties, and a new event mode or webhook.
fn update(portal: &mut Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let index = owned(portal, rec, params)?;
    let webhook = match field(params, "eventMode") {
        Some(_) => Some(event_mode(params)?),
        None => None,
    };
    let bot = &mut portal.bots[index];
    if let Some(properties) = field(params, "properties") {
        set_properties(bot, properties);
    }
    if let Some(webhook) = webhook {
        bot.webhook_url = webhook;
    }
    Ok(described(bot))
}

/// A bot as register, update and get answer it (no `webhookUrl`: Bitrix24 never shows it).
fn described(bot: &Bot) -> Value {
    json!({
        "bot": {"id": bot.id, "code": bot.code, "type": "bot", "appId": bot.client_id,
            "eventMode": if bot.webhook_url.is_some() { "webhook" } else { "fetch" },
            "countCommand": bot.commands.len()},
        "users": [{"id": bot.id, "name": bot.name, "bot": true, "type": "bot", "active": true}],
    })
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
    let title = field(params, "title").cloned().unwrap_or(Value::Null);
    let bot = &mut portal.bots[index];
    let id = match bot.commands.iter().find(|(_, w)| *w == word) {
        Some((id, _)) => *id,
        None => {
            bot.commands.push((next, word.clone()));
            bot.titles.push((word.clone(), title));
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
        .and_then(|d| Dialog::seen_by_bot(&d, bot))
        .ok_or_else(|| fail(400, "DIALOG_ID_REQUIRED", "Dialog id is required"))?;
    // The answer's access comes from the command's message: it answers in that message's chat.
    let message_id: Option<u64> = param_str(params, "messageId").and_then(|m| m.parse().ok());
    let in_its_chat = portal
        .messages
        .iter()
        .any(|m| Some(m.id) == message_id && m.dialog == dialog);
    if !in_its_chat {
        return Err(fail(
            400,
            "COMMAND_ANSWER_FAILED",
            "The command's message is not in that dialog",
        ));
    }
    let text = text_of(field(params, "message"))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(400, "MESSAGE_EMPTY", "Message is empty"))?;
    let id = post(portal, dialog, bot, now, text);
    Ok(json!({"id": id}))
}

/// `imbot.v2.Chat.Message.send`: a message from the bot in a chat it is in, or in a user's
/// private chat with it.
fn send(portal: &mut Portal, rec: &AccessRec, params: &Value, now: i64) -> Result<Value, Failure> {
    let index = owned(portal, rec, params)?;
    let bot = &portal.bots[index];
    let dialog = param_str(params, "dialogId")
        .and_then(|d| Dialog::seen_by_bot(&d, bot.id))
        .ok_or_else(|| fail(400, "DIALOG_ID_REQUIRED", "Dialog id is required"))?;
    if let Dialog::Group(chat) = dialog
        && !bot.chats.contains(&chat)
    {
        return Err(fail(
            403,
            "ACCESS_DENIED",
            "Bot is not a participant in the chat",
        ));
    }
    let text = text_of(field(params, "message"))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(400, "EMPTY_MESSAGE", "Message is empty"))?;
    let id = post(portal, dialog, portal.bots[index].id, now, text);
    Ok(json!({"id": id, "uuidMap": {}}))
}
