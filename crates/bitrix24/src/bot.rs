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
/// Registers a command.
pub const COMMAND_REGISTER: &str = "imbot.v2.Command.register";
/// Answers a command.
pub const COMMAND_ANSWER: &str = "imbot.v2.Command.answer";
/// Reads messages of a dialog, as the token's user sees them.
pub const MESSAGES: &str = "im.dialog.messages.get";
/// A command typed (or pressed) in a chat.
pub const COMMAND_EVENT: &str = "ONIMBOTV2COMMANDADD";

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
    /// Another event than a command.
    #[error("not a command event")]
    NotACommand,
    /// A field is missing or malformed.
    #[error("the command event lacks a valid {0}")]
    Missing(&'static str),
}

impl CommandEvent {
    /// Reads a webhook's decoded form pairs (every scalar a string, as Bitrix24 sends them).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, EventError> {
        let json = form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let text = |path: &[&str]| -> Option<&str> {
            path.iter()
                .try_fold(&json, |node, key| node.get(key))?
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let number = |path: &[&str], what| {
            text(path)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(EventError::Missing(what))
        };
        if !text(&["event"]).is_some_and(|e| e.eq_ignore_ascii_case(COMMAND_EVENT)) {
            return Err(EventError::NotACommand);
        }
        let command = text(&["data", "command", "command"])
            .map(|c| c.trim_start_matches('/').to_lowercase())
            .filter(|c| !c.is_empty() && c.len() <= 32)
            .ok_or(EventError::Missing("command"))?;
        let chat_id = number(&["data", "message", "chatId"], "chat")
            .or_else(|_| number(&["data", "chat", "id"], "chat"))?;
        Ok(Self {
            application_token: text(&["auth", "application_token"])
                .and_then(|t| ApplicationToken::parse(t).ok())
                .ok_or(EventError::Missing("application_token"))?,
            member_id: text(&["data", "bot", "auth", "member_id"])
                .and_then(|m| MemberId::parse(m).ok())
                .ok_or(EventError::Missing("member_id"))?,
            bot_id: number(&["data", "bot", "id"], "bot")?,
            command_id: number(&["data", "command", "id"], "command")?,
            command,
            typed: text(&["data", "command", "context"]) == Some("textarea"),
            message_id: number(&["data", "message", "id"], "message")?,
            chat_id,
            dialog_id: text(&["data", "chat", "dialogId"])
                .filter(|d| d.len() <= 40)
                .ok_or(EventError::Missing("dialog"))?
                .to_owned(),
            user_id: UserId::new(number(&["data", "user", "id"], "user")?)
                .map_err(|_| EventError::Missing("user"))?,
            language: text(&["data", "language"]).map(str::to_owned),
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

    /// Parameters of [`MESSAGES`] that answer the event's message (and at most a few after it).
    pub fn messages_params(&self) -> Value {
        json!({
            "DIALOG_ID": self.user_dialog(),
            "FIRST_ID": self.message_id.saturating_sub(1),
            "LIMIT": 1,
        })
    }
}

/// Parameters of [`REGISTER`]: a bot named `name` whose events go to `webhook_url`.
pub fn register_params(code: &str, name: &str, webhook_url: &str) -> Value {
    json!({"fields": {
        "code": code,
        "properties": {"name": name},
        "type": "bot",
        "eventMode": "webhook",
        "webhookUrl": webhook_url,
    }})
}

/// The bot's id in [`REGISTER`]'s answer.
pub fn registered(result: &Value) -> Option<u64> {
    id(result.get("bot").and_then(|b| b.get("id")))
}

/// Parameters of [`COMMAND_REGISTER`]: `/command` for `bot_id`, usable in every chat.
pub fn command_params(bot_id: u64, command: &str, title: &str) -> Value {
    json!({"botId": bot_id, "fields": {
        "command": command,
        "common": true,
        "hidden": false,
        "extranetSupport": false,
        "title": title,
    }})
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
