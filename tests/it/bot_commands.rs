//! Every chat command over real HTTP, typed in a chat of the emulated portal and sent to the app
//! as Bitrix24 sends it: statuses set through the page's use cases, answers in the user's
//! language (about colleagues only in the user's private chat with the bot), help for what is
//! not understood, a user without a pair asked to open the app, and two instances answering
//! each command once.

use b24_status::domain::Status;
use b24_status::emulator::{Dialog, FormPost, Message, UserSpec};
use serde_json::Value;

use super::bot::{bot_id, bot_messages, deliver, with_bot};
use super::harness::{CLIENT_ID, TestApp};
use super::schedules::{advance_to, next_eight_utc};

/// `user` types `text` in `dialog`; the one command event it makes, and where it goes.
pub fn typed(app: &TestApp, user: u64, dialog: &str, text: &str) -> (String, FormPost) {
    let (_, mut events) =
        app.bitrix
            .emulator
            .type_message(app.member(), CLIENT_ID, user, dialog, text);
    assert_eq!(events.len(), 1, "one command line");
    events.remove(0)
}

pub fn status_of(app: &TestApp, user: u64) -> Status {
    app.bitrix
        .emulator
        .user_status(app.member(), user)
        .unwrap_or(Status::Online)
}

/// `user` types `text` in `chat42`; the bot's one answer to it.
async fn command(app: &TestApp, user: u64, text: &str) -> Message {
    let before = bot_messages(app).len();
    let (url, event) = typed(app, user, "chat42", text);
    assert_eq!(
        deliver(app, &url, &event).await.1["status"],
        "done",
        "{text}"
    );
    let said = bot_messages(app);
    assert_eq!(said.len(), before + 1, "one answer to {text}");
    said[before].clone()
}

/// An app with its bot, at the next 08:00 UTC, the employee in UTC with a pair.
async fn at_eight() -> (TestApp, u64) {
    let app = with_bot().await;
    let user = app.bitrix.employee;
    app.bitrix.emulator.set_time_zone(app.member(), user, "UTC");
    advance_to(&app, next_eight_utc(&app).0);
    app.session_of(user).await;
    (app, user)
}

/// When a command's status ends.
enum Ends {
    Never,
    /// So many seconds after the command.
    After(i64),
    /// At this moment.
    At(i64),
}

#[tokio::test]
async fn each_status_command_sets_the_status_for_its_while_and_answers_in_the_chat() {
    let (app, user) = at_eight().await;
    let session = app.session_of(user).await;
    let reason = |body: Value| (body["reason"].clone(), body["until"].clone());
    let now = app.state.clock.now();
    let eight = now - now.rem_euclid(86_400) + 8 * 3600;
    for (text, status, ends) in [
        ("/dnd", Status::Dnd, Ends::Never),
        ("/away 30m", Status::Away, Ends::After(30 * 60)),
        (
            "/break until 14:00",
            Status::Break,
            Ends::At(eight + 6 * 3600),
        ),
        ("/dnd today", Status::Dnd, Ends::At(eight + 10 * 3600)),
        ("/online", Status::Online, Ends::Never),
    ] {
        // The app's clock runs on during the test: a while counted from the command may end
        // a second later than one counted from before it.
        let before = app.state.clock.now();
        let said = command(&app, user, text).await;
        let after = app.state.clock.now();
        assert_eq!(said.dialog, Dialog::Group(42), "{text} answered in place");
        assert!(said.text.starts_with("Done: "), "{text}: {}", said.text);
        assert_eq!(status_of(&app, user), status, "{text}");
        let body: Value = app.api_get(&session).await.json().await.expect("json");
        let until =
            |at: i64| Value::from(jiff::Timestamp::from_second(at).expect("time").to_string());
        match ends {
            Ends::At(at) => assert_eq!(reason(body), ("timer".into(), until(at)), "{text}"),
            Ends::After(seconds) => {
                assert_eq!(body["reason"], "timer", "{text}: {body}");
                let possible: Vec<Value> = (before..=after).map(|at| until(at + seconds)).collect();
                assert!(
                    possible.contains(&body["until"]),
                    "{text}: {body}, expected one of {possible:?}"
                );
            }
            Ends::Never => assert_eq!(body["reason"], Value::Null, "{text}: {body}"),
        }
    }
    let help = command(&app, user, "/dnd forever").await;
    assert!(help.text.starts_with("Commands: /dnd"), "{}", help.text);
    assert_eq!(
        status_of(&app, user),
        Status::Online,
        "help changes nothing"
    );
}

#[tokio::test]
async fn status_answers_privately_for_the_user_and_for_a_colleague() {
    let (app, user) = at_eight().await;
    let sales = app.bitrix.emulator.add_department(app.member(), "Sales");
    let vera = app.bitrix.emulator.add_user(
        app.member(),
        UserSpec::new("Vera", "Seller", false).in_department(sales, "Seller"),
    );
    app.bitrix
        .emulator
        .set_user_status(app.member(), 1, Status::Dnd);
    app.bitrix
        .emulator
        .set_user_status(app.member(), vera, Status::Away);
    command(&app, user, "/break 1h").await;
    let private = Dialog::Private(user, bot_id(&app));
    let own = command(&app, user, "/status").await;
    assert_eq!(own.dialog, private, "only the user sees it");
    assert_eq!(own.text, "On a break until 9:00 AM, then Online.");
    let mentioned = command(&app, user, "/status [USER=1]Anna Admin[/USER]").await;
    assert_eq!(
        (mentioned.dialog, mentioned.text.as_str()),
        (private.clone(), "Anna Admin — Do not disturb")
    );
    let named = command(&app, user, "/status @vera").await;
    assert_eq!(named.text, "Vera Seller — Away");
    let nobody = command(&app, user, "/status @Zoe").await;
    assert!(
        nobody.text.contains("mention one with @"),
        "{}",
        nobody.text
    );
    // The user's own department (the company's root) only: Vera is in Sales.
    let focus = command(&app, user, "/focus").await;
    assert_eq!(focus.dialog, private);
    assert_eq!(
        focus.text,
        "Not available — Company:\n• Anna Admin — Do not disturb\n• Boris Ivanov — On a break until 9:00 AM"
    );
    let german = app
        .bitrix
        .emulator
        .type_message(app.member(), CLIENT_ID, user, "chat42", "/focus")
        .1
        .remove(0);
    let event = german.1.with("data[language]", "de");
    assert_eq!(deliver(&app, &german.0, &event).await.1["status"], "done");
    let said = bot_messages(&app);
    assert!(
        said[said.len() - 1]
            .text
            .starts_with("Nicht verfügbar — Company:")
    );
}

#[tokio::test]
async fn colleagues_need_the_boards_permissions_and_say_which() {
    let app = with_bot().await;
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, "im,placement,user_brief,imbot");
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 3, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
    let user = app.bitrix.employee;
    app.session_of(user).await;
    let focus = command(&app, user, "/focus").await;
    assert!(
        focus
            .text
            .starts_with("The team board needs the “department” permission"),
        "{}",
        focus.text
    );
    let own = command(&app, user, "/dnd").await;
    assert_eq!(own.text, "Done: Do not disturb.", "the rest works");
}

#[tokio::test]
async fn a_user_with_no_pair_is_asked_to_open_the_app_once() {
    let app = with_bot().await;
    let stranger = app
        .bitrix
        .emulator
        .add_user(app.member(), UserSpec::new("Vera", "New", false));
    let (url, event) = typed(&app, stranger, "chat42", "/dnd");
    assert_eq!(
        deliver(&app, &url, &event).await.1["status"],
        "asked_to_open"
    );
    assert_eq!(status_of(&app, stranger), Status::Online);
    let said = bot_messages(&app);
    assert_eq!(said.len(), 1);
    assert!(said[0].text.starts_with("Open the Status app once"));
    assert_eq!(deliver(&app, &url, &event).await.1["status"], "repeated");
    assert_eq!(bot_messages(&app).len(), 1);
}

#[tokio::test]
async fn two_instances_answer_each_command_once() {
    let (app, user) = at_eight().await;
    let (second, state) = app.second_instance(&[]).await;
    let behind = app.state.clock.now() - state.clock.now();
    state
        .clock
        .advance(std::time::Duration::from_secs(behind.unsigned_abs()));
    let there = format!("http://{second}/bot");
    for (text, then) in [
        ("/dnd 1h", Status::Dnd),
        ("/status", Status::Dnd),
        ("/focus", Status::Dnd),
        ("/away", Status::Away),
        ("/online", Status::Online),
        ("/dnd forever", Status::Online),
    ] {
        let before = bot_messages(&app).len();
        let (here, event) = typed(&app, user, "chat42", text);
        let (a, b) = tokio::join!(deliver(&app, &here, &event), deliver(&app, &there, &event));
        let mut heard = [a.1["status"].clone(), b.1["status"].clone()];
        heard.sort_by_key(Value::to_string);
        assert_eq!(heard, ["done", "repeated"], "{text}");
        assert_eq!(bot_messages(&app).len(), before + 1, "{text} answered once");
        assert_eq!(status_of(&app, user), then, "{text}");
    }
}
