//! The demo portal's general chat: a message typed in the box is stored as the current user's,
//! and a command line in it goes to the app's bot as Bitrix24 sends it (`chat.rs`); the bot's
//! answer shows in the chat beside the status it set. The bot's private messages to the current
//! user show there too, marked. A button adds the bot to the chat, which it greets.

use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::chat::Dialog;
use super::context::{PortalCtx, lock};
use super::portal_ui::{Control, back, deliver};
use super::world::World;
use bitrix24::domain::MemberId;

/// The general chat's id.
const GENERAL: u64 = 1;

/// Messages the panel shows.
const SHOWN: usize = 8;

/// `/demo/chat` and `/demo/chat/add-bot`.
pub(super) fn router() -> Router<PortalCtx> {
    Router::new()
        .route("/demo/chat", post(chat))
        .route("/demo/chat/add-bot", post(add_bot))
}

/// The current user adds the app's bot to the general chat; its join event goes to the app.
async fn add_bot(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    let joined =
        lock(&ctx.shared).add_bot_to_chat(&ctx.member_id, &control.app, control.user, GENERAL);
    if let Some((url, event)) = joined {
        deliver(&event, vec![url]).await;
    }
    back(&control)
}

/// The chat box's form. Its fields are spelled out: a flattened `Control` would read `user`
/// from a form as text and refuse it.
#[derive(Deserialize)]
struct Typed {
    app: String,
    user: u64,
    lang: Option<String>,
    text: String,
}

/// Posts the current user's message in the general chat, and its commands to the app's bot.
async fn chat(State(ctx): State<PortalCtx>, Form(typed): Form<Typed>) -> Redirect {
    let control = Control {
        app: typed.app,
        user: typed.user,
        lang: typed.lang,
    };
    let text: String = typed.text.trim().chars().take(1000).collect();
    if !text.is_empty() {
        let dialog = format!("chat{GENERAL}");
        let (_, events) = lock(&ctx.shared).type_message(
            &ctx.member_id,
            &control.app,
            control.user,
            &dialog,
            &text,
        );
        for (url, event) in events {
            deliver(&event, vec![url]).await;
        }
    }
    back(&control)
}

/// The general chat's last messages and the bots' private ones to `user`, oldest first: the
/// author's name (or the bot's), the text.
pub(super) fn last_messages(
    world: &World,
    member_id: &MemberId,
    user: u64,
) -> Vec<(String, String)> {
    let Some(portal) = world.portals.get(member_id) else {
        return Vec::new();
    };
    let name = |id: u64| {
        portal
            .users
            .get(&id)
            .map(|u| format!("{} {}", u.name, u.last_name))
            .or_else(|| {
                portal
                    .bots
                    .iter()
                    .find(|b| b.id == id)
                    .map(|b| b.name.clone())
            })
            .unwrap_or_else(|| format!("#{id}"))
    };
    let shown: Vec<_> = portal
        .messages
        .iter()
        .filter(|m| match m.dialog {
            Dialog::Group(chat) => chat == GENERAL,
            Dialog::Private(to, _) => to == user && m.author_id != user,
        })
        .collect();
    shown
        .iter()
        .skip(shown.len().saturating_sub(SHOWN))
        .map(|m| match m.dialog {
            Dialog::Private(..) => (
                format!("{} (to you only)", name(m.author_id)),
                m.text.clone(),
            ),
            Dialog::Group(_) => (name(m.author_id), m.text.clone()),
        })
        .collect()
}
