//! Chat commands (`docs/users.md`, "Chat commands"): the app's bot registered with its commands
//! at install and update, and a command's webhook believed only when the portal, read with the
//! invoking user's own pair, shows their message (`docs/security.md`, "Chat commands"). A
//! believed command acts through the same use cases as the page, once per message.

mod registration;

use serde_json::Value;

use super::automation::Why;
use super::availability::{Focus, Found, Unreadable};
use super::{Portals, Refusal};
use crate::command::{self, Command, While};
use crate::i18n::Lang;
use crate::schedule::{self, WORKDAY_END};
use crate::tokens::{CallError, Repeat};
use bitrix24::batch::{self, BatchAnswer};
use bitrix24::bot::{self, BotEvent, CommandEvent, JoinEvent};
use bitrix24::domain::{MemberId, Status, UserId};
use bitrix24::status::{self, PageRead};

/// What the bot says, before it is put in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The status was set, until then when given.
    Set(Status, Option<i64>),
    /// The user's status, and why when something other than their hand set it.
    Status(Status, Option<Why>),
    /// A colleague's status, as the team board shows it.
    Colleague(Found),
    /// Who in the user's department is not available.
    Focus(Focus),
    /// The colleagues' statuses cannot be read for this user.
    Unreadable(Unreadable),
    /// The user has no pair the app may act with: open the app once.
    OpenApp,
    /// The command was not understood.
    Help,
    /// The bot was added to a chat: who it is and its commands.
    Welcome,
}

/// A reply with what its words need.
pub struct Said {
    pub reply: Reply,
    pub lang: Lang,
    /// The user's zone, for times.
    pub zone: jiff::tz::TimeZone,
    /// Unix seconds on the app's clock.
    pub now: i64,
}

/// What a command webhook came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Believed and acted on, and answered.
    Done,
    /// The user has no pair: asked to open the app.
    AskedToOpen,
    /// The bot joined a chat and greeted it.
    Greeted,
    /// Acted on already (a repeated or replayed event).
    Repeated,
    /// Not this app's bot, or not the portal's `application_token`.
    NotOurs,
    /// The portal, read with the user's own pair, does not show the command.
    NotBelieved,
}

impl Portals {
    /// A bot webhook (`pairs`, decoded), answered in words `say` gives: a command, believed
    /// only when the invoking user's own read shows their message, then acted on once; or the
    /// bot joining a chat, greeted once a day.
    pub async fn bot_event(
        &self,
        pairs: &[(String, String)],
        say: impl Fn(&Said) -> String,
    ) -> Result<Heard, Refusal> {
        let event = BotEvent::parse(pairs).map_err(|error| {
            tracing::info!(%error, "a bot webhook the app does not act on");
            Refusal::BadRequest
        })?;
        let (member_id, token, bot_id) = match &event {
            BotEvent::Command(e) => (&e.member_id, &e.application_token, e.bot_id),
            BotEvent::Joined(e) => (&e.member_id, &e.application_token, e.bot_id),
        };
        let portal = self.installed(member_id).await?;
        let ours = portal
            .record
            .application_token
            .as_ref()
            .is_some_and(|stored| stored.matches(token.expose()));
        if !ours || self.store.bot(member_id).await? != Some(bot_id) {
            tracing::warn!(%member_id, "a bot webhook with another application token or bot");
            return Ok(Heard::NotOurs);
        }
        match event {
            BotEvent::Command(event) => self.bot_command(&event, &say).await,
            BotEvent::Joined(event) => self.greet(&event, &say).await,
        }
    }

    /// A command of the app's own bot.
    async fn bot_command(
        &self,
        event: &CommandEvent,
        say: &impl Fn(&Said) -> String,
    ) -> Result<Heard, Refusal> {
        let member_id = &event.member_id;
        let (user_id, now) = (event.user_id, self.clock.now());
        let lang = Lang::from_code(event.language.as_deref().unwrap_or_default());
        let usable = self
            .store
            .call_target(member_id, user_id)
            .await?
            .is_some_and(|t| t.account.tokens.is_some());
        let read = match usable {
            true => self.read_as(member_id, user_id, event).await,
            false => Err(CallError::NeedsReauth),
        };
        let read = match read {
            Ok(read) => read,
            Err(CallError::NeedsReauth) => return self.ask_to_open(event, lang, say).await,
            Err(error) => return Err(error.into()),
        };
        let line = match bot::confirm(event, &read, now) {
            Ok(line) => line,
            Err(why) => {
                tracing::warn!(%member_id, %user_id, %why, "a command event the portal does not confirm");
                return Ok(Heard::NotBelieved);
            }
        };
        if !self
            .store
            .first_command(member_id, event.message_id, now)
            .await?
        {
            return Ok(Heard::Repeated);
        }
        let (reply, zone) = self.act(member_id, user_id, command::parse(&line)).await?;
        let said = Said {
            reply,
            lang,
            zone,
            now,
        };
        // Bitrix24 has no answer only one member of a chat sees: what is about colleagues, or
        // why the user's status is what it is, goes to their private chat with the bot.
        let private = matches!(
            said.reply,
            Reply::Status(..) | Reply::Colleague(_) | Reply::Focus(_) | Reply::Unreadable(_)
        );
        let text = say(&said);
        match private && event.dialog_id.starts_with("chat") {
            true => {
                let params = bot::send_params(event.bot_id, &event.private_dialog(), &text);
                self.send_as_bot(member_id, user_id, params).await;
            }
            false => self.answer(member_id, user_id, event, &text).await,
        }
        tracing::info!(target: "audit", command = event.command.as_str(), "chat command");
        Ok(Heard::Done)
    }

    /// The bot joined a chat: it says what it does and its commands there, once a day at most,
    /// with an administrator's pair (any pair of the app may speak as its bot; Bitrix24 refuses
    /// a chat the bot is not in).
    async fn greet(
        &self,
        event: &JoinEvent,
        say: &impl Fn(&Said) -> String,
    ) -> Result<Heard, Refusal> {
        let member_id = &event.member_id;
        let now = self.clock.now();
        if !self
            .store
            .first_greeting(member_id, &event.dialog_id, now)
            .await?
        {
            return Ok(Heard::Repeated);
        }
        let Some(admin) = self.store.admin_account(member_id).await? else {
            return Ok(Heard::Greeted);
        };
        let said = Said {
            reply: Reply::Welcome,
            lang: Lang::from_code(event.language.as_deref().unwrap_or_default()),
            zone: jiff::tz::TimeZone::UTC,
            now,
        };
        let params = bot::send_params(event.bot_id, &event.dialog_id, &say(&said));
        self.send_as_bot(member_id, admin, params).await;
        Ok(Heard::Greeted)
    }

    /// Sends a message as the bot with `user_id`'s pair; a failure is logged.
    async fn send_as_bot(&self, member_id: &MemberId, user_id: UserId, params: Value) {
        let sent: Result<Value, _> = self
            .tokens
            .call(member_id, user_id, bot::SEND, params, Repeat::Never)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%member_id, %error, "the bot's message could not be sent");
        }
    }

    /// The event's message, read with the invoking user's own pair.
    async fn read_as(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        event: &CommandEvent,
    ) -> Result<Value, CallError> {
        self.tokens
            .call(
                member_id,
                user_id,
                bot::MESSAGES,
                event.messages_params(),
                Repeat::Safe,
            )
            .await
    }

    /// Does what `command` asks for `user_id`; answers the reply and the user's zone.
    async fn act(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        command: Command,
    ) -> Result<(Reply, jiff::tz::TimeZone), Refusal> {
        // One read says the user's zone, status and working hours.
        let answer: BatchAnswer = self
            .tokens
            .call(
                member_id,
                user_id,
                batch::METHOD,
                status::page_batch(None, true),
                Repeat::Safe,
            )
            .await?;
        let page = PageRead::from_answer(&answer);
        let zone = page
            .profile
            .as_ref()
            .and_then(|p| p.time_zone.as_deref())
            .and_then(schedule::zone)
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let now = self.clock.now();
        let reply = match command {
            Command::Help => Reply::Help,
            Command::StatusOf(who) => match self.colleague(member_id, user_id, &who).await {
                Ok(found) => Reply::Colleague(found),
                Err(refusal) => Reply::Unreadable(Unreadable::of(refusal)?),
            },
            Command::Focus => match self.focus(member_id, user_id).await {
                Ok(focus) => Reply::Focus(focus),
                Err(refusal) => Reply::Unreadable(Unreadable::of(refusal)?),
            },
            Command::Status => {
                let current = page.status.unwrap_or(Status::Online);
                Reply::Status(current, self.why(member_id, user_id, current).await?)
            }
            Command::Set(chosen, While::Good) => {
                self.set_status(member_id, user_id, chosen).await?;
                Reply::Set(chosen, None)
            }
            Command::Set(chosen, lasting) => {
                let end = match lasting {
                    While::Minutes(m) => Some(now + i64::from(m) * 60),
                    While::Until(at) => schedule::next_at(&zone, now, at),
                    While::Today => {
                        schedule::today_at(&zone, now, page.work_end.unwrap_or(WORKDAY_END))
                    }
                    While::Good => None,
                };
                match end.and_then(|end| self.timer_end(end)) {
                    Some(end) => {
                        let timer = self
                            .set_status_until(member_id, user_id, chosen, end)
                            .await?;
                        Reply::Set(chosen, Some(timer.until))
                    }
                    None => Reply::Help,
                }
            }
        };
        Ok((reply, zone))
    }

    /// Tells a user the app holds no pair of theirs, once per message, answering with the
    /// pair of the portal's administrator (any pair of the app may answer as its bot).
    async fn ask_to_open(
        &self,
        event: &CommandEvent,
        lang: Lang,
        say: &impl Fn(&Said) -> String,
    ) -> Result<Heard, Refusal> {
        let member_id = &event.member_id;
        let now = self.clock.now();
        if !self
            .store
            .first_command(member_id, event.message_id, now)
            .await?
        {
            return Ok(Heard::Repeated);
        }
        if let Some(admin) = self.store.admin_account(member_id).await? {
            let said = Said {
                reply: Reply::OpenApp,
                lang,
                zone: jiff::tz::TimeZone::UTC,
                now,
            };
            self.answer(member_id, admin, event, &say(&said)).await;
        }
        Ok(Heard::AskedToOpen)
    }

    /// Answers the command in its chat with `user_id`'s pair; a failed answer is logged, the
    /// command stands.
    async fn answer(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        event: &CommandEvent,
        text: &str,
    ) {
        let answered: Result<Value, _> = self
            .tokens
            .call(
                member_id,
                user_id,
                bot::COMMAND_ANSWER,
                event.answer_params(text),
                Repeat::Never,
            )
            .await;
        if let Err(error) = answered {
            tracing::warn!(%member_id, %error, "a command could not be answered");
        }
    }
}
