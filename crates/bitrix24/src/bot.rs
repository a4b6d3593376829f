//! Chat-bots 2.0 (`docs/bitrix24.md`, "Chat-bots 2.0"): the methods a bot app calls, a typed
//! command's webhook event, and the check that makes the event believable — the message re-read
//! with the invoking user's own token, which only the portal can answer.

use serde_json::{Value, json};

use super::form::{self, FormError};
use crate::domain::{ApplicationToken, MemberId, UserId};

/// The scope of the bot methods.
pub const SCOPE: &str = "imbot";
/// Registers a bot.
pub const REGISTER: &str = "imbot.v2.Bot.register";
/// Removes a bot.
pub const UNREGISTER: &str = "imbot.v2.Bot.unregister";
/// Changes a bot's properties and where its events go.
pub const UPDATE: &str = "imbot.v2.Bot.update";
/// Sends a message as a bot.
pub const SEND: &str = "imbot.v2.Chat.Message.send";
/// Registers a command.
pub const COMMAND_REGISTER: &str = "imbot.v2.Command.register";
/// Answers a command.
pub const COMMAND_ANSWER: &str = "imbot.v2.Command.answer";
/// Reads messages of a dialog, as the token's user sees them.
pub const MESSAGES: &str = "im.dialog.messages.get";
/// A command typed (or pressed) in a chat.
pub const COMMAND_EVENT: &str = "ONIMBOTV2COMMANDADD";
/// The bot was added to a chat, or a user opened a chat with it.
pub const JOIN_EVENT: &str = "ONIMBOTV2JOINCHAT";

/// How old a command's message may be when its event arrives, in seconds: a replay of an old,
/// genuine event acts on nothing.
pub const FRESH: i64 = 300;

/// A command event as the webhook claims it. Nothing in it is proof (`docs/security.md`,
/// "Chat commands"): [`confirm`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandEvent {
    /// `auth[application_token]`: a filter, every employee has seen it.
    pub application_token: ApplicationToken,
    /// `data[bot][auth][member_id]`.
    pub member_id: MemberId,
    /// `data[bot][id]`.
    pub bot_id: u64,
    /// `data[command][id]`: the registered command, for the answer.
    pub command_id: u64,
    /// `data[command][command]` without its slash, lower case.
    pub command: String,
    /// `data[command][context]`: `textarea` when typed.
    pub typed: bool,
    /// `data[message][id]`.
    pub message_id: u64,
    /// `data[message][chatId]` (else `data[chat][id]`).
    pub chat_id: u64,
    /// `data[chat][dialogId]`: `chat<N>`, or the user's id for their private chat with the bot.
    pub dialog_id: String,
    /// `data[user][id]`: who the event says typed it.
    pub user_id: UserId,
    /// `data[language]`, when given.
    pub language: Option<String>,
}

/// Why a form is not a command event this app can use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a form Bitrix24 would send.
    #[error(transparent)]
    Form(#[from] FormError),
    /// Another event than a command or a join.
    #[error("not a command or join event")]
    NotACommand,
    /// A field is missing or malformed.
    #[error("the command event lacks a valid {0}")]
    Missing(&'static str),
}

/// The bot was added to a chat (or a user opened a chat with it), as the webhook claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinEvent {
    /// `auth[application_token]`: a filter, every employee has seen it.
    pub application_token: ApplicationToken,
    /// `data[bot][auth][member_id]`.
    pub member_id: MemberId,
    /// `data[bot][id]`.
    pub bot_id: u64,
    /// `data[dialogId]` (else `data[chat][dialogId]`): the group chat to greet, `chat<N>`.
    pub dialog_id: String,
    /// `data[language]`, when given.
    pub language: Option<String>,
}

/// A bot webhook the app acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotEvent {
    /// [`COMMAND_EVENT`].
    Command(CommandEvent),
    /// [`JOIN_EVENT`].
    Joined(JoinEvent),
}

/// A webhook's form as JSON, with readers of its string scalars.
struct Fields(Value);

impl Fields {
    fn text(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(&self.0, |node, key| node.get(key))?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn number(&self, path: &[&str], what: &'static str) -> Result<u64, EventError> {
        self.text(path)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(EventError::Missing(what))
    }

    fn application_token(&self) -> Result<ApplicationToken, EventError> {
        self.text(&["auth", "application_token"])
            .and_then(|t| ApplicationToken::parse(t).ok())
            .ok_or(EventError::Missing("application_token"))
    }

    fn member_id(&self) -> Result<MemberId, EventError> {
        self.text(&["data", "bot", "auth", "member_id"])
            .and_then(|m| MemberId::parse(m).ok())
            .ok_or(EventError::Missing("member_id"))
    }

    fn dialog(&self, path: &[&str]) -> Option<String> {
        self.text(path).filter(|d| d.len() <= 40).map(str::to_owned)
    }

    fn language(&self) -> Option<String> {
        self.text(&["data", "language"]).map(str::to_owned)
    }
}

impl BotEvent {
    /// Reads a webhook's decoded form pairs (every scalar a string, as Bitrix24 sends them).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, EventError> {
        let fields = Fields(form::to_json(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?);
        match fields
            .text(&["event"])
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some(COMMAND_EVENT) => CommandEvent::read(&fields).map(Self::Command),
            Some(JOIN_EVENT) => Ok(Self::Joined(JoinEvent {
                application_token: fields.application_token()?,
                member_id: fields.member_id()?,
                bot_id: fields.number(&["data", "bot", "id"], "bot")?,
                dialog_id: fields
                    .dialog(&["data", "dialogId"])
                    .or_else(|| fields.dialog(&["data", "chat", "dialogId"]))
                    .filter(|d| group_dialog(d))
                    .ok_or(EventError::Missing("group chat"))?,
                language: fields.language(),
            })),
            _ => Err(EventError::NotACommand),
        }
    }
}

impl CommandEvent {
    /// Reads a webhook's decoded form pairs (every scalar a string, as Bitrix24 sends them).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, EventError> {
        match BotEvent::parse(pairs)? {
            BotEvent::Command(event) => Ok(event),
            BotEvent::Joined(_) => Err(EventError::NotACommand),
        }
    }

    fn read(fields: &Fields) -> Result<Self, EventError> {
        let text = |path: &[&str]| fields.text(path);
        let number = |path: &[&str], what| fields.number(path, what);
        let command = text(&["data", "command", "command"])
            .map(|c| c.trim_start_matches('/').to_lowercase())
            .filter(|c| !c.is_empty() && c.len() <= 32)
            .ok_or(EventError::Missing("command"))?;
        let chat_id = number(&["data", "message", "chatId"], "chat")
            .or_else(|_| number(&["data", "chat", "id"], "chat"))?;
        Ok(Self {
            application_token: fields.application_token()?,
            member_id: fields.member_id()?,
            bot_id: number(&["data", "bot", "id"], "bot")?,
            command_id: number(&["data", "command", "id"], "command")?,
            command,
            typed: text(&["data", "command", "context"]) == Some("textarea"),
            message_id: number(&["data", "message", "id"], "message")?,
            chat_id,
            dialog_id: fields
                .dialog(&["data", "chat", "dialogId"])
                .ok_or(EventError::Missing("dialog"))?,
            user_id: UserId::new(number(&["data", "user", "id"], "user")?)
                .map_err(|_| EventError::Missing("user"))?,
            language: fields.language(),
        })
    }

    /// The dialog as the invoking user sees it, for [`MESSAGES`]: a group chat is `chat<N>`
    /// for everyone, and a private chat with the bot is the bot's id.
    pub fn user_dialog(&self) -> String {
        if self.dialog_id.starts_with("chat") {
            self.dialog_id.clone()
        } else {
            self.bot_id.to_string()
        }
    }

    /// Parameters of [`COMMAND_ANSWER`] answering the command with `text`.
    pub fn answer_params(&self, text: &str) -> Value {
        json!({
            "botId": self.bot_id,
            "commandId": self.command_id,
            "messageId": self.message_id,
            "dialogId": self.dialog_id,
            "fields": {"message": text},
        })
    }

    /// The invoking user's private chat with the bot, as the bot names it: an answer there is
    /// seen by nobody else (Bitrix24 has no answer only one member of a chat sees).
    pub fn private_dialog(&self) -> String {
        self.user_id.to_string()
    }

    /// Parameters of [`MESSAGES`] that answer the event's message (and at most a few after it).
    pub fn messages_params(&self) -> Value {
        json!({
            "DIALOG_ID": self.user_dialog(),
            "FIRST_ID": self.message_id.saturating_sub(1),
            "LIMIT": 1,
        })
    }
}

/// How the bot looks in chats: its name and profile line in the portal's language, and its
/// picture (a PNG, sent as Base64 without a `data:` prefix).
pub struct Looks<'a> {
    /// Its name (`properties.name`).
    pub name: &'a str,
    /// The line under its name in its profile (`properties.workPosition`).
    pub work_position: &'a str,
    /// Its picture, a PNG file's bytes (`properties.avatar`).
    pub avatar_png: &'a [u8],
}

impl Looks<'_> {
    fn properties(&self) -> Value {
        use base64::Engine as _;
        json!({
            "name": self.name,
            "workPosition": self.work_position,
            "avatar": base64::engine::general_purpose::STANDARD.encode(self.avatar_png),
        })
    }
}

/// Parameters of [`REGISTER`]: a bot looking like `looks` whose events go to `webhook_url`.
pub fn register_params(code: &str, looks: &Looks<'_>, webhook_url: &str) -> Value {
    json!({"fields": {
        "code": code,
        "properties": looks.properties(),
        "type": "bot",
        "eventMode": "webhook",
        "webhookUrl": webhook_url,
    }})
}

/// Parameters of [`UPDATE`]: `bot_id` looks like `looks` and its events go to `webhook_url`
/// again — registering an existing bot changes nothing, and any token of the app may have
/// pointed the webhook elsewhere.
pub fn update_params(bot_id: u64, looks: &Looks<'_>, webhook_url: &str) -> Value {
    json!({"botId": bot_id, "fields": {
        "properties": looks.properties(),
        "eventMode": "webhook",
        "webhookUrl": webhook_url,
    }})
}

/// The bot's id in [`REGISTER`]'s answer.
pub fn registered(result: &Value) -> Option<u64> {
    id(result.get("bot").and_then(|b| b.get("id")))
}

/// Parameters of [`COMMAND_REGISTER`]: `/command` for `bot_id`, usable in every chat, with
/// its title and parameters in each language (`{"en": …, "de": …}`).
pub fn command_params(bot_id: u64, command: &str, title: &Value, params: &str) -> Value {
    json!({"botId": bot_id, "fields": {
        "command": command,
        "common": true,
        "hidden": false,
        "extranetSupport": false,
        "title": title,
        "params": params,
    }})
}

/// Parameters of [`SEND`]: `text` from `bot_id` in `dialog_id`.
pub fn send_params(bot_id: u64, dialog_id: &str, text: &str) -> Value {
    json!({"botId": bot_id, "dialogId": dialog_id, "fields": {"message": text}})
}

/// Why a command event was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotProven {
    /// Not typed in the message box (a button or a menu proves nothing about who chose it).
    #[error("the command was not typed")]
    NotTyped,
    /// The user's own read has no such message.
    #[error("the user's own read has no such message")]
    NoMessage,
    /// The message is someone else's, in another chat, or forwarded.
    #[error("the message is not the user's own, here")]
    NotTheirs,
    /// The message is older than [`FRESH`].
    #[error("the message is too old")]
    Stale,
    /// No line of the message is the command.
    #[error("the message does not hold the command")]
    NoCommand,
}

/// Decides whether `event` happened: `read` is [`MESSAGES`]' answer read with the invoking
/// user's own token, `now` unix seconds. Answers the command's line — `/dnd 1h` — as the
/// message holds it (the event's own words are never used).
pub fn confirm(event: &CommandEvent, read: &Value, now: i64) -> Result<String, NotProven> {
    if !event.typed {
        return Err(NotProven::NotTyped);
    }
    // The dialog answers go to must be the one the read looked at: the message's group chat,
    // or the user's own private chat with the bot.
    let group = format!("chat{}", event.chat_id);
    if event.dialog_id != group && event.dialog_id != event.user_id.to_string() {
        return Err(NotProven::NotTheirs);
    }
    let messages = read
        .get("messages")
        .and_then(Value::as_array)
        .ok_or(NotProven::NoMessage)?;
    let message = messages
        .iter()
        .find(|m| id(m.get("id")) == Some(event.message_id))
        .ok_or(NotProven::NoMessage)?;
    let forwarded = message
        .get("params")
        .and_then(|p| p.get("FORWARD_ID").or_else(|| p.get("forward")))
        .is_some_and(|f| !f.is_null() && f != "" && f != "0");
    if id(message.get("author_id")) != Some(event.user_id.get())
        || id(message.get("chat_id")) != Some(event.chat_id)
        || forwarded
    {
        return Err(NotProven::NotTheirs);
    }
    let sent = message
        .get("date")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .ok_or(NotProven::Stale)?
        .as_second();
    if now - sent > FRESH || sent - now > FRESH {
        return Err(NotProven::Stale);
    }
    let prefix = format!("/{}", event.command);
    message
        .get("text")
        .and_then(Value::as_str)
        .into_iter()
        .flat_map(str::lines)
        .map(str::trim)
        .find(|line| {
            line.to_lowercase()
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
        .map(str::to_owned)
        .ok_or(NotProven::NoCommand)
}

/// Whether `dialog` names a group chat, `chat<N>`.
fn group_dialog(dialog: &str) -> bool {
    let digits = dialog.strip_prefix("chat").unwrap_or_default();
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An id as the portal writes it: a number or a string of digits.
fn id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
