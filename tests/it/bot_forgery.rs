//! Every way an employee could forge a bot event (`docs/security.md`, "Chat commands"): the
//! webhook's application token is every employee's, and any token of the app may act as its
//! bot, so an event is believed only when the invoking user's own read of the portal shows their
//! message. None of these changes anyone's status or answers as anyone.

use b24_status::domain::Status;
use b24_status::emulator::{AppSpec, FormPost, UserSpec};
use serde_json::json;

use super::bot::{bot_id, bot_messages, deliver, rest_as, with_bot};
use super::bot_commands::{status_of, typed};
use super::harness::{CLIENT_ID, TestApp};

const OTHER_APP: &str = "other.vendor.app";
const RANDOM: &str = "0123456789abcdef0123456789abcdef";

/// `event` claimed as the administrator's (user 1), its bot pair's access token `token`.
fn as_admin_with(event: &FormPost, token: Option<&str>) -> FormPost {
    let mut forged = event
        .with("data[user][id]", "1")
        .with("data[message][authorId]", "1");
    let key = "data[bot][auth][access_token]";
    match token {
        Some(token) => forged.with(key, token),
        None => {
            forged.form.retain(|(k, _)| k != key);
            forged
        }
    }
}

/// A genuine bot access token of this app on another portal: a command typed there reaches
/// the app's bot with it.
async fn bot_token_of_another_portal(app: &TestApp) -> String {
    let emulator = &app.bitrix.emulator;
    let other = emulator
        .add_portal(UserSpec::new("Olga", "Other", true))
        .await
        .expect("portal");
    emulator.install(&other.member_id, CLIENT_ID);
    emulator.set_scope(&other.member_id, CLIENT_ID, "im,imbot");
    let admin = emulator.issue_tokens(&other.member_id, CLIENT_ID, 1).access;
    let register = json!({"auth": admin, "fields": {"code": "status",
        "properties": {"name": "Status"}, "eventMode": "webhook",
        "webhookUrl": "http://127.0.0.1:9/bot"}});
    let bot: serde_json::Value = super::harness::client()
        .post(format!("{}imbot.v2.Bot.register", other.client_endpoint))
        .json(&register)
        .send()
        .await
        .expect("portal answers")
        .json()
        .await
        .expect("json");
    let command = json!({"auth": admin, "botId": bot["result"]["bot"]["id"],
        "fields": {"command": "dnd", "common": true}});
    super::harness::client()
        .post(format!(
            "{}imbot.v2.Command.register",
            other.client_endpoint
        ))
        .json(&command)
        .send()
        .await
        .expect("portal answers");
    let (_, events) = emulator.type_message(&other.member_id, CLIENT_ID, 1, "chat1", "/dnd");
    let event = &events.first().expect("a command event").1;
    event
        .get("data[bot][auth][access_token]")
        .expect("a bot token")
        .to_owned()
}

#[tokio::test]
async fn no_bot_token_proves_a_colleague_typed_a_command() {
    let app = with_bot().await;
    let (admin, employee) = (1, app.bitrix.employee);
    app.session_of(admin).await;
    app.session_of(employee).await;
    app.bitrix.emulator.register_app(AppSpec {
        client_id: OTHER_APP.into(),
        client_secret: "other-secret".into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im,imbot".into(),
        version: 1,
    });
    app.bitrix.emulator.install(app.member(), OTHER_APP);
    let another_apps = app
        .bitrix
        .emulator
        .issue_tokens(app.member(), OTHER_APP, employee)
        .access;
    let own_frame_token = app.bitrix.access_token(employee);
    let other_portals = bot_token_of_another_portal(&app).await;
    // The employee types a command of their own, then claims it as the administrator's with
    // each token they could hold.
    let (url, genuine) = typed(&app, employee, "chat42", "/dnd");
    // A genuine bot token of this portal: one pointing the bot's webhook at their own server
    // would receive these.
    let bots_own = genuine
        .get("data[bot][auth][access_token]")
        .expect("a bot token")
        .to_owned();
    for token in [
        None,
        Some(bots_own.as_str()),
        Some(RANDOM),
        Some(another_apps.as_str()),
        Some(own_frame_token.as_str()),
        Some(other_portals.as_str()),
    ] {
        let forged = as_admin_with(&genuine, token);
        assert_eq!(
            deliver(&app, &url, &forged).await.1["status"],
            "not_believed",
            "{token:?}"
        );
    }
    // Their own `/focus` in their private chat with the bot, its answer pointed at a
    // colleague's private chat or another chat: the dialog must be the message's.
    let (_, focus) = typed(&app, employee, &bot_id(&app).to_string(), "/focus");
    for elsewhere in ["1", "chat42", "CHAT1"] {
        let redirected = focus.with("data[chat][dialogId]", elsewhere);
        assert_eq!(
            deliver(&app, &url, &redirected).await.1["status"],
            "not_believed",
            "{elsewhere}"
        );
    }
    // Their own `/online`, claimed as `/dnd`: the words come from the message.
    let (_, online) = typed(&app, employee, "chat42", "/online");
    let reworded = online.with("data[command][command]", "/dnd");
    assert_eq!(
        deliver(&app, &url, &reworded).await.1["status"],
        "not_believed"
    );
    assert_eq!(status_of(&app, admin), Status::Online);
    assert_eq!(status_of(&app, employee), Status::Online);
    assert!(bot_messages(&app).is_empty(), "nobody was answered");
    assert_eq!(deliver(&app, &url, &genuine).await.1["status"], "done");
    assert_eq!(
        status_of(&app, employee),
        Status::Dnd,
        "the genuine one acts"
    );
}

#[tokio::test]
async fn events_that_are_not_the_apps_own_bots_act_on_nothing() {
    let app = with_bot().await;
    let employee = app.bitrix.employee;
    app.session_of(employee).await;
    let (url, genuine) = typed(&app, employee, "chat42", "/dnd");
    let random_token = genuine.with("auth[application_token]", RANDOM);
    let other_bot = genuine.with("data[bot][id]", "7");
    let no_such_message = genuine.with("data[message][id]", "987654");
    let menu = genuine.with("data[command][context]", "menu");
    for (forged, expected) in [
        (&random_token, "not_ours"),
        (&other_bot, "not_ours"),
        (&no_such_message, "not_believed"),
        (&menu, "not_believed"),
    ] {
        assert_eq!(deliver(&app, &url, forged).await.1["status"], expected);
    }
    let unknown_portal = genuine.with("data[bot][auth][member_id]", RANDOM);
    assert_eq!(deliver(&app, &url, &unknown_portal).await.0, 404);
    let (_, joined) = app
        .bitrix
        .emulator
        .add_bot_to_chat(app.member(), CLIENT_ID, employee, 9)
        .expect("a webhook bot");
    let forged_join = joined.with("auth[application_token]", RANDOM);
    assert_eq!(
        deliver(&app, &url, &forged_join).await.1["status"],
        "not_ours"
    );
    assert_eq!(status_of(&app, employee), Status::Online);
    assert!(bot_messages(&app).is_empty(), "nobody was answered");
    // Replayed after it acted: once per message.
    assert_eq!(deliver(&app, &url, &genuine).await.1["status"], "done");
    assert_eq!(
        app.set_status(&app.session_of(employee).await, "online")
            .await,
        200
    );
    assert_eq!(deliver(&app, &url, &genuine).await.1["status"], "repeated");
    assert_eq!(status_of(&app, employee), Status::Online);
}

#[tokio::test]
async fn a_portal_without_imbot_believes_no_bot_event() {
    let app = with_bot().await;
    let employee = app.bitrix.employee;
    app.session_of(employee).await;
    let (url, event) = typed(&app, employee, "chat42", "/dnd");
    // The administrator takes `imbot` away; an event that arrives anyway is not the app's.
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, super::harness::SCOPE);
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 3, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    assert_eq!(deliver(&app, &url, &event).await.1["status"], "not_ours");
    assert_eq!(status_of(&app, employee), Status::Online);
    let (status, _) = rest_as(
        &app,
        &app.bitrix.access_token(employee),
        "imbot.v2.Bot.register",
        json!({"fields": {"code": "x", "properties": {"name": "X"}}}),
    )
    .await;
    assert_eq!(status, 403, "the portal refuses imbot without the scope");
}
