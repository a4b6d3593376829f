use serde_json::json;

use super::*;

const NOW: i64 = 1_796_720_000;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A command event as Bitrix24 sends one: form-encoded, every scalar a string.
fn form(dialog: &str, context: &str) -> Vec<(String, String)> {
    pairs(&[
        ("event", "ONIMBOTV2COMMANDADD"),
        ("event_handler_id", "12"),
        ("ts", "1796720000"),
        ("auth[domain]", "example.bitrix24.com"),
        (
            "auth[application_token]",
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        ),
        ("data[bot][id]", "456"),
        ("data[bot][code]", "status"),
        ("data[bot][auth][access_token]", "bot-token"),
        (
            "data[bot][auth][member_id]",
            "a223c6b3710f85df22e9377d6c4f7553",
        ),
        ("data[bot][auth][user_id]", "456"),
        ("data[command][id]", "3"),
        ("data[command][command]", "/DND"),
        ("data[command][params]", "1h"),
        ("data[command][context]", context),
        ("data[message][id]", "9001"),
        ("data[message][chatId]", "77"),
        ("data[message][text]", "/dnd 1h"),
        ("data[chat][id]", "77"),
        ("data[chat][dialogId]", dialog),
        ("data[user][id]", "7"),
        ("data[language]", "de"),
    ])
}

fn event() -> CommandEvent {
    CommandEvent::parse(&form("chat77", "textarea")).expect("a command event")
}

fn read(
    author: u64,
    chat: u64,
    text: &str,
    date: i64,
    params: serde_json::Value,
) -> serde_json::Value {
    let date = jiff::Timestamp::from_second(date)
        .expect("time")
        .to_string();
    json!({"messages": [
        {"id": 9002, "chat_id": chat, "author_id": 3, "date": date, "text": "later", "params": []},
        {"id": "9001", "chat_id": chat, "author_id": author, "date": date, "text": text, "params": params}
    ], "users": []})
}

#[test]
fn a_command_event_reads_as_bitrix24_sends_it() {
    let event = event();
    assert_eq!(event.command, "dnd");
    assert!(event.typed);
    assert_eq!(
        (event.bot_id, event.message_id, event.chat_id),
        (456, 9001, 77)
    );
    assert_eq!(event.user_id.get(), 7);
    assert_eq!(event.member_id.as_str(), "a223c6b3710f85df22e9377d6c4f7553");
    assert_eq!(event.language.as_deref(), Some("de"));
    assert_eq!(event.user_dialog(), "chat77");
    assert_eq!(event.messages_params()["FIRST_ID"], 9000);
    let private = CommandEvent::parse(&form("7", "textarea")).expect("event");
    assert_eq!(
        private.user_dialog(),
        "456",
        "the user's private chat is the bot's id to them"
    );
    let pressed = CommandEvent::parse(&form("chat77", "keyboard")).expect("event");
    assert!(!pressed.typed);
}

#[test]
fn anything_else_is_refused_naming_what_is_missing() {
    let mut other = form("chat77", "textarea");
    other[0].1 = "ONIMBOTV2MESSAGEADD".to_owned();
    assert_eq!(CommandEvent::parse(&other), Err(EventError::NotACommand));
    for (key, missing) in [
        ("data[bot][auth][member_id]", "member_id"),
        ("auth[application_token]", "application_token"),
        ("data[user][id]", "user"),
        ("data[message][id]", "message"),
    ] {
        let lacking: Vec<_> = form("chat77", "textarea")
            .into_iter()
            .filter(|(k, _)| k != key)
            .collect();
        assert_eq!(
            CommandEvent::parse(&lacking),
            Err(EventError::Missing(missing)),
            "{key}"
        );
    }
}

#[test]
fn only_the_users_own_fresh_message_with_the_command_proves_it() {
    let event = event();
    let genuine = read(7, 77, "Heads down\n/dnd 1h", NOW - 5, json!([]));
    assert_eq!(confirm(&event, &genuine, NOW), Ok("/dnd 1h".to_owned()));
    let cases = [
        (read(8, 77, "/dnd 1h", NOW, json!([])), NotProven::NotTheirs),
        (read(7, 78, "/dnd 1h", NOW, json!([])), NotProven::NotTheirs),
        (
            read(7, 77, "/dnd 1h", NOW, json!({"FORWARD_ID": "55"})),
            NotProven::NotTheirs,
        ),
        (
            read(7, 77, "/dnd 1h", NOW - FRESH - 1, json!([])),
            NotProven::Stale,
        ),
        (
            read(7, 77, "/dndx 1h", NOW, json!([])),
            NotProven::NoCommand,
        ),
        (
            read(7, 77, "please /dnd 1h", NOW, json!([])),
            NotProven::NoCommand,
        ),
        (json!({"messages": []}), NotProven::NoMessage),
        (json!({"error": "ACCESS_DENIED"}), NotProven::NoMessage),
    ];
    for (answer, why) in cases {
        assert_eq!(confirm(&event, &answer, NOW), Err(why), "{answer}");
    }
    let pressed = CommandEvent::parse(&form("chat77", "menu")).expect("event");
    assert_eq!(confirm(&pressed, &genuine, NOW), Err(NotProven::NotTyped));
    // Answers go to the event's dialog: it must be the message's chat or the user's own.
    let private = CommandEvent::parse(&form("7", "textarea")).expect("event");
    assert_eq!(confirm(&private, &genuine, NOW), Ok("/dnd 1h".to_owned()));
    for elsewhere in ["42", "chat78", "CHAT77", "sg3"] {
        let forged = CommandEvent::parse(&form(elsewhere, "textarea")).expect("event");
        assert_eq!(
            confirm(&forged, &genuine, NOW),
            Err(NotProven::NotTheirs),
            "{elsewhere}"
        );
    }
}

#[test]
fn a_join_event_names_the_chat_to_greet() {
    let joined = pairs(&[
        ("event", "ONIMBOTV2JOINCHAT"),
        (
            "auth[application_token]",
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        ),
        ("data[bot][id]", "456"),
        (
            "data[bot][auth][member_id]",
            "a223c6b3710f85df22e9377d6c4f7553",
        ),
        ("data[dialogId]", "chat5"),
        ("data[chat][id]", "5"),
        ("data[user][id]", "27"),
        ("data[language]", "de"),
    ]);
    let Ok(BotEvent::Joined(event)) = BotEvent::parse(&joined) else {
        panic!("a join event");
    };
    assert_eq!((event.bot_id, event.dialog_id.as_str()), (456, "chat5"));
    assert_eq!(event.language.as_deref(), Some("de"));
    assert_eq!(
        CommandEvent::parse(&joined),
        Err(EventError::NotACommand),
        "not a command"
    );
    for not_a_group in ["27", "chat", "chat5x", "sg3"] {
        let mut private = joined.clone();
        for (key, value) in &mut private {
            if key == "data[dialogId]" {
                *value = not_a_group.to_owned();
            }
        }
        assert!(BotEvent::parse(&private).is_err(), "{not_a_group}");
    }
    assert_eq!(
        send_params(456, "chat5", "Hi"),
        json!({"botId": 456, "dialogId": "chat5", "fields": {"message": "Hi"}})
    );
}

#[test]
fn the_bots_looks_go_as_bitrix24_reads_them() {
    let looks = Looks {
        name: "Status",
        work_position: "From any chat",
        avatar_png: b"\x89PNG",
    };
    let update = update_params(456, &looks, "https://app.example/bot");
    assert_eq!(
        update["fields"]["properties"],
        json!({"name": "Status", "workPosition": "From any chat", "avatar": "iVBORw=="})
    );
    assert_eq!(update["fields"]["webhookUrl"], "https://app.example/bot");
    let register = register_params("status", &looks, "https://app.example/bot");
    assert_eq!(register["fields"]["eventMode"], "webhook");
    assert_eq!(
        register["fields"]["properties"],
        update["fields"]["properties"]
    );
}
