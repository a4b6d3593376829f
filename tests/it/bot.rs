//! The chat bot over real HTTP: registered with its commands and looks where the portal granted
//! `imbot` (and only there), its webhook pointed back at the app on every update, a greeting
//! once per chat it joins, and nothing left of it after an uninstall. The commands themselves
//! are in `bot_commands.rs`, forged events in `bot_forgery.rs`.

use b24_status::emulator::{Dialog, FormPost, Message};
use serde_json::{Value, json};

use super::harness::{CLIENT_ID, SCOPE, TestApp};

/// Grants `imbot` on the app's portal and plays the update that brings it, in `lang`.
pub async fn grant_imbot(app: &TestApp, version: u32, lang: &str) {
    let scope = format!("{SCOPE},imbot");
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, &scope);
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, version, 1)
        .with("data[LANGUAGE_ID]", lang);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
}

/// An installed app whose portal also granted `imbot`, the bot registered by the update that
/// brought the new scope.
pub async fn with_bot() -> TestApp {
    let app = TestApp::installed(&[]).await;
    grant_imbot(&app, 2, "en").await;
    app
}

/// The bot's id on the app's portal.
pub fn bot_id(app: &TestApp) -> u64 {
    app.bitrix.emulator.bots(app.member())[0].id
}

/// Posts a webhook event to the app at `url`; its HTTP status and `status` field.
pub async fn deliver(app: &TestApp, url: &str, event: &FormPost) -> (u16, Value) {
    let answer = app
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(event.body())
        .send()
        .await
        .expect("app answers");
    (answer.status().as_u16(), answer.json().await.expect("json"))
}

/// Calls the portal's REST with `token`, as any holder of it could; the HTTP status and body.
pub async fn rest_as(app: &TestApp, token: &str, method: &str, params: Value) -> (u16, Value) {
    let mut body = params;
    body["auth"] = json!(token);
    let answer = super::harness::client()
        .post(format!("{}{method}", app.bitrix.portal.client_endpoint))
        .json(&body)
        .send()
        .await
        .expect("the portal answers");
    (answer.status().as_u16(), answer.json().await.expect("json"))
}

/// What the bot wrote, oldest first.
pub fn bot_messages(app: &TestApp) -> Vec<Message> {
    let bot = bot_id(app);
    app.bitrix
        .emulator
        .messages(app.member())
        .into_iter()
        .filter(|m| m.author_id == bot)
        .collect()
}

#[tokio::test]
async fn the_bot_is_registered_with_its_commands_and_looks_where_imbot_is_granted() {
    let app = TestApp::installed(&[]).await;
    grant_imbot(&app, 2, "de").await;
    let bots = app.bitrix.emulator.bots(app.member());
    assert_eq!(bots.len(), 1);
    let bot = &bots[0];
    assert_eq!(bot.webhook_url.as_deref(), Some(app.url("/bot").as_str()));
    let words: Vec<&str> = bot.commands.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(words, ["dnd", "away", "break", "online", "status", "focus"]);
    // Named in the portal's language, with a picture of its own and a title per language.
    assert_eq!(bot.name, "Status");
    assert!(
        bot.work_position.contains("/dnd 1h"),
        "{}",
        bot.work_position
    );
    let avatar = bot.avatar.as_deref().expect("an avatar");
    assert!(
        avatar.starts_with("iVBORw0KGgo"),
        "a PNG, Base64 without a prefix"
    );
    let (_, dnd_title) = &bot.titles[0];
    assert_eq!(dnd_title["de"], "Nicht stören");
    assert_eq!(dnd_title["ru"], "Не беспокоить");
    assert_eq!(dnd_title["ua"], "Не турбувати");
    // Another update registers nothing twice, and points a webhook that an employee's token
    // moved elsewhere back at the app.
    let employee = app.bitrix.access_token(app.bitrix.employee);
    let moved = rest_as(
        &app,
        &employee,
        "imbot.v2.Bot.update",
        json!({"botId": bot.id, "fields": {"eventMode": "webhook",
            "webhookUrl": "http://127.0.0.1:9/harvest"}}),
    )
    .await;
    assert_eq!(moved.0, 200, "{}", moved.1);
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 3, 1)
        .with("data[LANGUAGE_ID]", "de");
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    assert!(
        app.bitrix.emulator.bots(app.member()) == bots,
        "as registered"
    );
}

#[tokio::test]
async fn without_imbot_there_is_no_bot_and_the_page_says_what_to_add() {
    let plain = TestApp::installed(&[]).await;
    assert!(plain.bitrix.emulator.bots(plain.member()).is_empty());
    assert_eq!(plain.bitrix.emulator.arrivals("imbot.v2.bot.register"), 0);
    let page = plain
        .open_app_as(plain.bitrix.employee, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("need the Chat bots permission (imbot)"),
        "{page}"
    );
    let app = with_bot().await;
    let page = app
        .open_app_as(app.bitrix.employee, "en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("From any chat: type /dnd 1h"), "{page}");
    // An update that takes `imbot` away makes the app forget its bot: its events are not ours.
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, SCOPE);
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 3, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    assert_eq!(app.count("bots").await, 0);
}

#[tokio::test]
async fn the_bot_greets_a_chat_it_joins_once_and_nowhere_it_was_not_added() {
    let app = with_bot().await;
    app.session_of(1).await;
    let (url, joined) = app
        .bitrix
        .emulator
        .add_bot_to_chat(app.member(), CLIENT_ID, app.bitrix.employee, 7)
        .expect("a webhook bot");
    assert_eq!(deliver(&app, &url, &joined).await.1["status"], "greeted");
    let said = bot_messages(&app);
    assert_eq!(said.len(), 1);
    assert_eq!(said[0].dialog, Dialog::Group(7));
    assert!(said[0].text.contains("/focus"), "help with the commands");
    assert_eq!(deliver(&app, &url, &joined).await.1["status"], "repeated");
    assert_eq!(bot_messages(&app).len(), 1, "once");
    // A join event for a chat the bot was never added to: Bitrix24 refuses the greeting.
    let elsewhere = joined
        .with("data[dialogId]", "chat8")
        .with("data[chat][dialogId]", "chat8");
    assert_eq!(deliver(&app, &url, &elsewhere).await.1["status"], "greeted");
    assert_eq!(bot_messages(&app).len(), 1, "nothing said in chat8");
    // Join events prove nothing: a portal's chats are greeted 20 an hour at most, and only
    // group chats.
    for chat in 100..125 {
        let dialog = format!("chat{chat}");
        let forged = joined
            .with("data[dialogId]", &dialog)
            .with("data[chat][dialogId]", &dialog);
        deliver(&app, &url, &forged).await;
    }
    assert_eq!(app.count("bot_greetings").await, 20);
    let private = joined.with("data[dialogId]", "2");
    assert_eq!(deliver(&app, &url, &private).await.0, 400);
}

#[tokio::test]
async fn an_uninstall_leaves_nothing_of_the_bot() {
    let app = with_bot().await;
    assert_eq!(app.count("bots").await, 1);
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    assert_eq!(app.count("bots").await, 0);
    assert!(
        app.bitrix.emulator.bots(app.member()).is_empty(),
        "Bitrix24 removed it"
    );
}
