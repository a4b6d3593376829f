//! Chat-bots 2.0 (`docs/bitrix24.md`, "Chat-bots 2.0"): a bot registered once per code, owned by
//! the app (any of its tokens acts on it), commands typed in a chat sent to the bot's webhook
//! form-encoded with every scalar a string, and the message read back with the typing user's
//! own token.

use bitrix24::bot::{BotEvent, CommandEvent, confirm};
use serde_json::json;

use super::{rest_err, rest_ok};
use crate::harness::{Bitrix, CLIENT_ID, SCOPE};

async fn with_bot() -> (Bitrix, u64) {
    let bitrix = Bitrix::installed().await;
    let scope = format!("{SCOPE},imbot");
    bitrix
        .emulator
        .set_scope(bitrix.member(), CLIENT_ID, &scope);
    let admin = bitrix.access_token(1);
    let fields = json!({"fields": {"code": "status", "properties": {"name": "Status"},
        "eventMode": "webhook", "webhookUrl": "http://127.0.0.1:9/bot"}});
    let bot = rest_ok(&bitrix, "imbot.v2.Bot.register", &admin, fields.clone()).await;
    let again = rest_ok(&bitrix, "imbot.v2.Bot.register", &admin, fields).await;
    assert_eq!(
        bot["bot"]["id"], again["bot"]["id"],
        "registering is idempotent per code"
    );
    let id = bot["bot"]["id"].as_u64().expect("bot id");
    // Any token of the app acts on its bot: an employee's too.
    let employee = bitrix.access_token(bitrix.employee);
    let command = json!({"botId": id, "fields": {"command": "dnd", "common": true}});
    rest_ok(&bitrix, "imbot.v2.Command.register", &employee, command).await;
    (bitrix, id)
}

#[tokio::test]
async fn a_typed_command_reaches_the_webhook_and_the_users_own_read_confirms_it() {
    let (bitrix, bot) = with_bot().await;
    let user = bitrix.employee;
    let (message, events) = bitrix.emulator.type_message(
        bitrix.member(),
        CLIENT_ID,
        user,
        "chat42",
        "Deep work\n/dnd 1h",
    );
    assert_eq!(events.len(), 1);
    let (url, post) = &events[0];
    assert_eq!(url, "http://127.0.0.1:9/bot");
    let pairs = post.form.clone();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        value("data[bot][auth][user_id]"),
        Some(bot.to_string().as_str())
    );
    assert_eq!(value("data[command][params]"), Some("1h"));
    assert_eq!(value("data[user][id]"), Some(user.to_string().as_str()));
    let event = CommandEvent::parse(&pairs).expect("a command event");
    assert_eq!(event.message_id, message);
    let token = bitrix.access_token(user);
    let read = rest_ok(
        &bitrix,
        "im.dialog.messages.get",
        &token,
        event.messages_params(),
    )
    .await;
    let now = bitrix.emulator.clock().now();
    assert_eq!(confirm(&event, &read, now), Ok("/dnd 1h".to_owned()));
    // A colleague's read of the same chat shows the message as the employee's, not theirs.
    let forged = CommandEvent {
        user_id: b24_user(1),
        ..event
    };
    assert!(confirm(&forged, &read, now).is_err());
}

#[tokio::test]
async fn a_private_chat_with_the_bot_is_the_bots_id_to_the_user() {
    let (bitrix, bot) = with_bot().await;
    let user = bitrix.employee;
    let (_, events) =
        bitrix
            .emulator
            .type_message(bitrix.member(), CLIENT_ID, user, &bot.to_string(), "/dnd");
    let event = CommandEvent::parse(&events[0].1.form).expect("event");
    assert_eq!(
        event.dialog_id,
        user.to_string(),
        "the user's id, from the bot's side"
    );
    assert_eq!(event.user_dialog(), bot.to_string());
    let token = bitrix.access_token(user);
    let read = rest_ok(
        &bitrix,
        "im.dialog.messages.get",
        &token,
        event.messages_params(),
    )
    .await;
    assert_eq!(
        confirm(&event, &read, bitrix.emulator.clock().now()),
        Ok("/dnd".to_owned())
    );
}

#[tokio::test]
async fn bots_need_the_scope_and_a_code_and_belong_to_their_app() {
    let bitrix = Bitrix::installed().await;
    let admin = bitrix.access_token(1);
    let fields = json!({"fields": {"code": "status", "properties": {"name": "Status"}}});
    assert_eq!(
        rest_err(&bitrix, "imbot.v2.Bot.register", &admin, fields).await,
        (403, "insufficient_scope".to_owned())
    );
    let (bitrix, _) = with_bot().await;
    let admin = bitrix.access_token(1);
    let nameless = json!({"fields": {"code": "other"}});
    assert_eq!(
        rest_err(&bitrix, "imbot.v2.Bot.register", &admin, nameless).await,
        (400, "BOT_PROPERTIES_REQUIRED".to_owned())
    );
    let unknown = json!({"botId": 42, "fields": {"command": "x"}});
    assert_eq!(
        rest_err(&bitrix, "imbot.v2.Command.register", &admin, unknown).await,
        (404, "BOT_NOT_FOUND".to_owned())
    );
}

#[tokio::test]
async fn a_bot_speaks_in_chats_it_was_added_to_and_privately_to_anyone() {
    let (bitrix, bot) = with_bot().await;
    let token = bitrix.access_token(bitrix.employee);
    let say = |dialog: &str| json!({"botId": bot, "dialogId": dialog, "fields": {"message": "Hi"}});
    assert_eq!(
        rest_err(&bitrix, "imbot.v2.Chat.Message.send", &token, say("chat42")).await,
        (403, "ACCESS_DENIED".to_owned()),
        "not a member of the chat yet"
    );
    let (url, joined) = bitrix
        .emulator
        .add_bot_to_chat(bitrix.member(), CLIENT_ID, 1, 42)
        .expect("a webhook bot");
    assert_eq!(url, "http://127.0.0.1:9/bot");
    let Ok(BotEvent::Joined(event)) = BotEvent::parse(&joined.form) else {
        panic!("a join event");
    };
    assert_eq!((event.bot_id, event.dialog_id.as_str()), (bot, "chat42"));
    let sent = rest_ok(&bitrix, "imbot.v2.Chat.Message.send", &token, say("chat42")).await;
    assert!(sent["id"].as_u64().is_some(), "{sent}");
    // A user's private chat needs no invitation; the user reads it as the bot's id.
    let private = bitrix.employee.to_string();
    rest_ok(&bitrix, "imbot.v2.Chat.Message.send", &token, say(&private)).await;
    let read = rest_ok(
        &bitrix,
        "im.dialog.messages.get",
        &token,
        json!({"DIALOG_ID": bot.to_string()}),
    )
    .await;
    assert_eq!(read["messages"][0]["author_id"], json!(bot));
    assert_eq!(read["messages"][0]["text"], "Hi");
}

#[tokio::test]
async fn registering_again_changes_nothing_and_an_update_points_the_webhook_anew() {
    let (bitrix, bot) = with_bot().await;
    let employee = bitrix.access_token(bitrix.employee);
    // Any token of the app may point the bot's events elsewhere.
    let elsewhere = json!({"botId": bot, "fields": {"eventMode": "webhook",
        "webhookUrl": "http://127.0.0.1:9/elsewhere", "properties": {"name": "Mine"}}});
    rest_ok(&bitrix, "imbot.v2.Bot.update", &employee, elsewhere).await;
    let admin = bitrix.access_token(1);
    let fields = json!({"fields": {"code": "status", "properties": {"name": "Status"},
        "eventMode": "webhook", "webhookUrl": "http://127.0.0.1:9/bot"}});
    rest_ok(&bitrix, "imbot.v2.Bot.register", &admin, fields).await;
    let bots = bitrix.emulator.bots(bitrix.member());
    assert_eq!(
        bots[0].webhook_url.as_deref(),
        Some("http://127.0.0.1:9/elsewhere")
    );
    assert_eq!(bots[0].name, "Mine");
    let back = json!({"botId": bot, "fields": {"eventMode": "webhook",
        "webhookUrl": "http://127.0.0.1:9/bot", "properties": {"name": "Status"}}});
    let answer = rest_ok(&bitrix, "imbot.v2.Bot.update", &admin, back).await;
    assert!(answer["bot"].get("webhookUrl").is_none(), "never shown");
    let bots = bitrix.emulator.bots(bitrix.member());
    assert_eq!(
        bots[0].webhook_url.as_deref(),
        Some("http://127.0.0.1:9/bot")
    );
}

#[tokio::test]
async fn an_uninstall_removes_the_apps_bots() {
    let (bitrix, _) = with_bot().await;
    assert_eq!(bitrix.emulator.bots(bitrix.member()).len(), 1);
    bitrix.emulator.uninstall(bitrix.member(), CLIENT_ID, false);
    assert!(bitrix.emulator.bots(bitrix.member()).is_empty());
}

fn b24_user(id: u64) -> bitrix24::domain::UserId {
    bitrix24::domain::UserId::new(id).expect("id")
}
