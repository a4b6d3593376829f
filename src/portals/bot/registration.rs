//! The app's bot on a portal (`docs/bitrix24.md`, "Chat-bots 2.0"): registered with its
//! commands at install and at every update, where the portal granted `imbot`, looking like the
//! app in the portal's language; forgotten where `imbot` is no longer granted. Bitrix24 itself
//! removes an app's bots when the app is uninstalled.

use serde_json::{Map, Value};

use super::super::Portals;
use crate::command::COMMANDS;
use crate::i18n::{BITRIX24_CODES, Lang, Text};
use crate::store::PortalRecord;
use crate::tokens::{CallError, Repeat};
use bitrix24::bot::{self, Looks};
use bitrix24::domain::{MemberId, UserId};

/// The app's bot's code on every portal.
pub const BOT_CODE: &str = "status";

/// The bot's picture in chats.
const AVATAR: &[u8] = include_bytes!("../../../static/bot-avatar.png");

/// What `/dnd 1h` and its kin may be followed by, as the command list shows it.
const WHILE_PARAMS: &str = "30m | 1h | until 14:00 | today";

impl Portals {
    /// Registers the app's bot where the portal granted `imbot`, with `user_id`'s pair (an
    /// administrator's, at install or update), named in `lang`; where it is not granted, the
    /// app forgets its bot, and everything else works. A failure is logged.
    pub(in super::super) async fn register_bot_if_granted(
        &self,
        portal: &PortalRecord,
        user_id: UserId,
        lang: Lang,
    ) {
        let member_id = &portal.member_id;
        let done = match portal.grants(bot::SCOPE) {
            true => self.register_bot(member_id, user_id, lang).await,
            false => self.store.forget_bot(member_id).await.map_err(Into::into),
        };
        if let Err(error) = done {
            tracing::warn!(%member_id, %error, "the chat bot could not be registered");
        }
    }

    /// Registers the bot (registering again answers the same bot), then sets how it looks and
    /// where its events go (registering does not change an existing bot), then its commands.
    async fn register_bot(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        lang: Lang,
    ) -> Result<(), CallError> {
        let t = lang.text();
        let webhook = self.config.url_for("bot");
        let looks = Looks {
            name: t.app_name,
            work_position: t.chat_hint,
            avatar_png: AVATAR,
        };
        let call = |method, params| {
            self.tokens
                .call::<Value>(member_id, user_id, method, params, Repeat::Safe)
        };
        let registered = call(
            bot::REGISTER,
            bot::register_params(BOT_CODE, &looks, &webhook),
        )
        .await?;
        let Some(bot_id) = bot::registered(&registered) else {
            tracing::warn!(%member_id, "the portal registered the bot without saying its id");
            return Ok(());
        };
        call(bot::UPDATE, bot::update_params(bot_id, &looks, &webhook)).await?;
        self.store
            .save_bot(member_id, bot_id, self.clock.now())
            .await?;
        for word in COMMANDS {
            let params = match word {
                "dnd" | "away" | "break" => WHILE_PARAMS,
                "status" => "@…",
                _ => "",
            };
            let title = titles(|t| title(t, word));
            call(
                bot::COMMAND_REGISTER,
                bot::command_params(bot_id, word, &title, params),
            )
            .await?;
        }
        Ok(())
    }
}

/// A command's title in the user's language.
fn title(t: &'static Text, word: &str) -> &'static str {
    match word {
        "dnd" => t.status_dnd,
        "away" => t.status_away,
        "break" => t.status_break,
        "online" => t.status_online,
        "status" => t.page_title,
        _ => t.team_title,
    }
}

/// `{"en": …, "de": …, "ua": …}`: one text for each language code Bitrix24 uses.
fn titles(text: impl Fn(&'static Text) -> &'static str) -> Value {
    let each: Map<String, Value> = BITRIX24_CODES
        .iter()
        .map(|code| {
            (
                (*code).to_owned(),
                text(Lang::from_code(code).text()).into(),
            )
        })
        .collect();
    Value::Object(each)
}
