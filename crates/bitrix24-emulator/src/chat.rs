//! Chats (`docs/bitrix24.md`, "Chat-bots 2.0"): the messages people type and
//! `im.dialog.messages.get` reading them as the token's user sees them. A typed message whose
//! line is a registered command of a webhook bot (`bots.rs`) becomes the `ONIMBOTV2COMMANDADD`
//! webhook Bitrix24 sends, every scalar a string.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::FormPost;
use super::wire::{Failure, fail, param_str};
use super::world::{AccessRec, Portal, World};
use bitrix24::domain::MemberId;

/// A message in a chat: a group chat (`chat<N>`) or a user's private chat with a bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its id, unique on the portal.
    pub id: u64,
    /// The chat it is in.
    pub chat_id: u64,
    /// `chat<N>` for a group chat; for a private chat, the bot's id and the user's.
    pub dialog: Dialog,
    /// Who wrote it (a bot's id for a bot's answer).
    pub author_id: u64,
    /// Unix seconds.
    pub date: i64,
    /// What it says.
    pub text: String,
}

/// Where a message was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dialog {
    /// A group chat everyone on the portal is in.
    Group(u64),
    /// The private chat of a user (first) and a bot (second).
    Private(u64, u64),
}

impl Dialog {
    /// A dialog id as `user` names it: `chat<N>`, or a bot's id for their private chat with it.
    pub(super) fn seen_by_user(id: &str, user: u64) -> Option<Self> {
        Self::parse(id, |bot| Self::Private(user, bot))
    }

    /// A dialog id as `bot` names it: `chat<N>`, or a user's id for their private chat with it.
    pub(super) fn seen_by_bot(id: &str, bot: u64) -> Option<Self> {
        Self::parse(id, |user| Self::Private(user, bot))
    }

    fn parse(id: &str, private: impl FnOnce(u64) -> Self) -> Option<Self> {
        match id.strip_prefix("chat") {
            Some(n) => n.parse().ok().map(Self::Group),
            None => id.parse().ok().map(private),
        }
    }
}

/// Stores a message and answers its id.
pub(super) fn post(
    portal: &mut Portal,
    dialog: Dialog,
    author: u64,
    now: i64,
    text: String,
) -> u64 {
    let id = portal.messages.iter().map(|m| m.id + 1).max().unwrap_or(1);
    let chat_id = match dialog {
        Dialog::Group(n) => n,
        // A private chat has an id of its own too.
        Dialog::Private(user, bot) => 100_000 + user * 10 + bot % 10,
    };
    portal.messages.push(Message {
        id,
        chat_id,
        dialog,
        author_id: author,
        date: now,
        text,
    });
    id
}

/// `im.dialog.messages.get`: the messages after `FIRST_ID` of `DIALOG_ID` as the token's user
/// sees it (`chat<N>`, or a bot's id for their private chat with it), oldest first.
pub(super) fn messages(portal: &Portal, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let dialog = param_str(params, "DIALOG_ID")
        .and_then(|d| Dialog::seen_by_user(&d, rec.user_id))
        .ok_or_else(|| fail(400, "DIALOG_ID_EMPTY", "Dialog ID can't be empty"))?;
    let first: u64 = param_str(params, "FIRST_ID")
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    let limit: usize = param_str(params, "LIMIT")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .clamp(1, 50);
    let found: Vec<Value> = portal
        .messages
        .iter()
        .filter(|m| m.dialog == dialog && m.id > first)
        .take(limit)
        .map(|m| {
            json!({"id": m.id, "chat_id": m.chat_id, "author_id": m.author_id,
                "date": super::wire::iso_date(m.date), "text": m.text, "params": []})
        })
        .collect();
    let chat_id = found.first().map_or(Value::Null, |m| m["chat_id"].clone());
    Ok(json!({"chat_id": chat_id, "messages": found, "users": []}))
}

impl World {
    /// `user` types `text` in `dialog` (`chat<N>`, or a bot's id for their private chat with
    /// it): the message is stored, and each line that is a command of a webhook bot of
    /// `client_id` becomes the `ONIMBOTV2COMMANDADD` event for that bot's webhook.
    pub(super) fn type_message(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        user: u64,
        dialog: &str,
        text: &str,
    ) -> (u64, Vec<(String, FormPost)>) {
        let now = self.now();
        let Some(portal) = self.portals.get_mut(member_id) else {
            return (0, Vec::new());
        };
        let Some(place) = Dialog::seen_by_user(dialog, user) else {
            return (0, Vec::new());
        };
        let id = post(portal, place.clone(), user, now, text.to_owned());
        let chat_id = portal.messages.last().map_or(0, |m| m.chat_id);
        let mut found = Vec::new();
        for line in text.lines().map(str::trim) {
            let Some(word) = line.strip_prefix('/') else {
                continue;
            };
            let (word, args) = word.split_once(' ').unwrap_or((word, ""));
            for bot in portal.bots.iter().filter(|b| b.client_id == client_id) {
                if let (Some(url), Some((command, _))) = (
                    &bot.webhook_url,
                    bot.commands
                        .iter()
                        .find(|(_, w)| w.eq_ignore_ascii_case(word)),
                ) {
                    found.push((
                        url.clone(),
                        bot.id,
                        bot.code.clone(),
                        *command,
                        word.to_lowercase(),
                        args.to_owned(),
                    ));
                }
            }
        }
        let dialog_for_bot = match place {
            Dialog::Group(n) => format!("chat{n}"),
            Dialog::Private(user, _) => user.to_string(),
        };
        let mut events = Vec::new();
        for (url, bot, code, command, word, args) in found {
            let mut pairs =
                self.bot_webhook(member_id, client_id, bot, &code, "ONIMBOTV2COMMANDADD");
            pairs.extend(
                [
                    ("data[command][id]", command.to_string()),
                    ("data[command][command]", format!("/{word}")),
                    ("data[command][params]", args),
                    ("data[command][context]", "textarea".to_owned()),
                    ("data[message][id]", id.to_string()),
                    ("data[message][chatId]", chat_id.to_string()),
                    ("data[message][authorId]", user.to_string()),
                    ("data[message][date]", super::wire::iso_date(now)),
                    ("data[message][text]", text.to_owned()),
                    ("data[chat][id]", chat_id.to_string()),
                    ("data[chat][dialogId]", dialog_for_bot.clone()),
                    ("data[user][id]", user.to_string()),
                    ("data[language]", "en".to_owned()),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
            events.push((
                url,
                FormPost {
                    query: Vec::new(),
                    form: pairs,
                },
            ));
        }
        (id, events)
    }

    /// `user` adds the bot of `client_id` (its first) to the group chat `chat<N>`: the bot is a
    /// member from now on, and the `ONIMBOTV2JOINCHAT` webhook Bitrix24 sends is returned with
    /// its address (none for a bot in fetch mode, or no such bot).
    pub(super) fn add_bot_to_chat(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        user: u64,
        chat: u64,
    ) -> Option<(String, FormPost)> {
        let bot = self
            .portals
            .get_mut(member_id)?
            .bots
            .iter_mut()
            .find(|b| b.client_id == client_id)?;
        if !bot.chats.contains(&chat) {
            bot.chats.push(chat);
        }
        let (id, code, url) = (bot.id, bot.code.clone(), bot.webhook_url.clone()?);
        let mut pairs = self.bot_webhook(member_id, client_id, id, &code, "ONIMBOTV2JOINCHAT");
        pairs.extend(
            [
                ("data[dialogId]", format!("chat{chat}")),
                ("data[chat][id]", chat.to_string()),
                ("data[chat][dialogId]", format!("chat{chat}")),
                ("data[chat][type]", "chat".to_owned()),
                ("data[user][id]", user.to_string()),
                ("data[language]", "en".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        Some((
            url,
            FormPost {
                query: Vec::new(),
                form: pairs,
            },
        ))
    }

    /// The part every bot webhook shares: the event, the portal's `auth` (only `domain` and
    /// `application_token`) and `data[bot]` with a fresh OAuth pair of the bot's own user.
    fn bot_webhook(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        bot: u64,
        code: &str,
        event: &str,
    ) -> Vec<(String, String)> {
        let now = self.now();
        let (domain, app_token) = self
            .portals
            .get(member_id)
            .map(|p| {
                let token = p
                    .installs
                    .get(client_id)
                    .map(|i| i.application_token.clone());
                (p.domain.clone(), token.unwrap_or_default())
            })
            .unwrap_or_default();
        let issued = self.issue(member_id, bot, client_id);
        let server_endpoint = self.server_endpoint(member_id);
        [
            ("event", event.to_owned()),
            ("event_handler_id", "1".to_owned()),
            ("ts", now.to_string()),
            ("auth[domain]", domain.clone()),
            ("auth[application_token]", app_token.clone()),
            ("data[bot][id]", bot.to_string()),
            ("data[bot][code]", code.to_owned()),
            ("data[bot][auth][access_token]", issued.access),
            ("data[bot][auth][refresh_token]", issued.refresh),
            ("data[bot][auth][expires_in]", "3600".to_owned()),
            ("data[bot][auth][scope]", "imbot".to_owned()),
            ("data[bot][auth][domain]", domain.clone()),
            ("data[bot][auth][server_endpoint]", server_endpoint),
            (
                "data[bot][auth][client_endpoint]",
                format!("http://{domain}/rest/"),
            ),
            ("data[bot][auth][member_id]", member_id.as_str().to_owned()),
            ("data[bot][auth][user_id]", bot.to_string()),
            ("data[bot][auth][application_token]", app_token),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}
