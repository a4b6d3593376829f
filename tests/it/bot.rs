//! Chat commands over real HTTP: the bot registered where the portal granted `imbot`, a typed
//! `/dnd 1h` acting once with the user's own pair, and every way an employee could forge a
//! command event — none changes anyone's status or answers as anyone.

use b24_status::domain::Status;
use b24_status::emulator::FormPost;
use serde_json::Value;

use super::harness::{CLIENT_ID, SCOPE, TestApp};

/// An installed app whose portal also granted `imbot`, the bot registered by the update that
/// brought the new scope.
async fn with_bot() -> TestApp {
    let app = TestApp::installed(&[]).await;
    let scope = format!("{SCOPE},imbot");
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, &scope);
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 2, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    app
}

/// Posts a webhook event to the app; its HTTP status and `status` field.
async fn deliver(app: &TestApp, url: &str, event: &FormPost) -> (u16, Value) {
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

/// `user` types `text` in `dialog`; the one command event it makes.
fn typed(app: &TestApp, user: u64, dialog: &str, text: &str) -> (String, FormPost) {
    let (_, mut events) =
        app.bitrix
            .emulator
            .type_message(app.member(), CLIENT_ID, user, dialog, text);
    assert_eq!(events.len(), 1, "one command line");
    events.remove(0)
}

fn status_of(app: &TestApp, user: u64) -> Status {
    app.bitrix
        .emulator
        .user_status(app.member(), user)
        .unwrap_or(Status::Online)
}

fn answers(app: &TestApp) -> usize {
    app.bitrix.emulator.arrivals("imbot.v2.command.answer")
}

fn with_field(event: &FormPost, key: &str, value: &str) -> FormPost {
    let mut forged = event.clone();
    for (k, v) in &mut forged.form {
        if k == key {
            *v = value.to_owned();
        }
    }
    forged
}

#[tokio::test]
async fn the_bot_is_registered_with_its_commands_where_imbot_is_granted() {
    let app = with_bot().await;
    let bots = app.bitrix.emulator.bots(app.member());
    assert_eq!(bots.len(), 1);
    assert_eq!(
        bots[0].webhook_url.as_deref(),
        Some(app.url("/bot").as_str())
    );
    let words: Vec<&str> = bots[0].commands.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(words, ["dnd", "away", "break", "online", "status"]);
    // Another update registers nothing twice.
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 3, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    assert_eq!(app.bitrix.emulator.bots(app.member()), bots);
    let plain = TestApp::installed(&[]).await;
    assert!(
        plain.bitrix.emulator.bots(plain.member()).is_empty(),
        "no imbot, no bot"
    );
}

#[tokio::test]
async fn a_typed_command_sets_the_status_once_with_the_users_own_pair() {
    let app = with_bot().await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let (url, event) = typed(&app, user, "chat42", "/dnd 1h");
    assert_eq!(deliver(&app, &url, &event).await.1["status"], "done");
    assert_eq!(status_of(&app, user), Status::Dnd);
    let answer = app
        .api_get(&session)
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(answer["reason"], "timer", "{answer}");
    assert_eq!(answers(&app), 1, "the bot answered in the chat");
    // The same event again acts on nothing.
    assert_eq!(app.set_status(&session, "online").await, 200);
    assert_eq!(deliver(&app, &url, &event).await.1["status"], "repeated");
    assert_eq!(status_of(&app, user), Status::Online);
    let (url, status) = typed(&app, user, "chat42", "/status");
    assert_eq!(deliver(&app, &url, &status).await.1["status"], "done");
    assert_eq!(answers(&app), 2);
}

#[tokio::test]
async fn no_forged_event_changes_a_status_or_answers_as_anyone() {
    let app = with_bot().await;
    let (admin, employee) = (1, app.bitrix.employee);
    app.session_of(admin).await;
    app.session_of(employee).await;
    // The employee's own message, claimed as the administrator's.
    let (url, genuine) = typed(&app, employee, "chat42", "/dnd");
    let as_admin = with_field(&genuine, "data[user][id]", "1");
    let random_token = with_field(
        &genuine,
        "auth[application_token]",
        "0123456789abcdef0123456789abcdef",
    );
    let other_bot = with_field(&genuine, "data[bot][id]", "7");
    let no_such_message = with_field(&genuine, "data[message][id]", "987654");
    let menu = with_field(&genuine, "data[command][context]", "menu");
    for (forged, expected) in [
        (&as_admin, "not_believed"),
        (&random_token, "not_ours"),
        (&other_bot, "not_ours"),
        (&no_such_message, "not_believed"),
        (&menu, "not_believed"),
    ] {
        assert_eq!(deliver(&app, &url, forged).await.1["status"], expected);
    }
    assert_eq!(status_of(&app, admin), Status::Online);
    assert_eq!(status_of(&app, employee), Status::Online);
    assert_eq!(answers(&app), 0, "nobody was answered");
    let unknown_portal = with_field(
        &genuine,
        "data[bot][auth][member_id]",
        "0123456789abcdef0123456789abcdef",
    );
    assert_eq!(deliver(&app, &url, &unknown_portal).await.0, 404);
    assert_eq!(deliver(&app, &url, &genuine).await.1["status"], "done");
    assert_eq!(
        status_of(&app, employee),
        Status::Dnd,
        "the genuine one acts"
    );
}

#[tokio::test]
async fn a_user_with_no_pair_is_asked_to_open_the_app_once() {
    let app = with_bot().await;
    let stranger = app.bitrix.emulator.add_user(
        app.member(),
        b24_status::emulator::UserSpec::new("Vera", "New", false),
    );
    let (url, event) = typed(&app, stranger, "chat42", "/dnd");
    assert_eq!(
        deliver(&app, &url, &event).await.1["status"],
        "asked_to_open"
    );
    assert_eq!(status_of(&app, stranger), Status::Online);
    assert_eq!(answers(&app), 1);
    assert_eq!(deliver(&app, &url, &event).await.1["status"], "repeated");
    assert_eq!(answers(&app), 1);
}

#[tokio::test]
async fn an_uninstall_forgets_the_bot() {
    let app = with_bot().await;
    assert_eq!(app.count("bots").await, 1);
    let uninstall = app
        .bitrix
        .emulator
        .uninstall(app.member(), CLIENT_ID, false);
    assert_eq!(app.post_form("/events", &uninstall).await.status(), 200);
    assert_eq!(app.count("bots").await, 0);
}
