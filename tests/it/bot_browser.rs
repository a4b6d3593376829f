//! A chat command in a real browser: on the emulated portal's page an employee adds the bot to
//! the general chat, types `/dnd 30m` in its box, and sees the bot's greeting, its answer and
//! the status change side by side — the screenshot the README shows.

use std::time::Duration;

use b24_status::domain::Status;
use fantoccini::{Client, Locator};

use super::bot::grant_imbot;
use super::bot_commands::status_of;
use super::browser::{browser, browser_available, screenshot_dir, start_driver};
use super::harness::{CLIENT_ID, TestApp};

/// Clicks `id`, then waits until the portal's page shows `shows` in its chat: the page
/// reloads once the portal has delivered the bot's event and the app has answered.
async fn click(client: &Client, id: &str, shows: &str) -> String {
    client
        .find(Locator::Id(id))
        .await
        .expect("the control")
        .click()
        .await
        .expect("click");
    for _ in 0..200 {
        if let Ok(chat) = client.find(Locator::Id("chat")).await
            && let Ok(text) = chat.text().await
            && text.contains(shows)
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = client
        .find(Locator::Id("chat"))
        .await
        .expect("chat")
        .text()
        .await
        .expect("text");
    panic!("the chat never showed {shows}: {text}");
}

#[tokio::test]
async fn a_command_typed_in_the_portals_chat_sets_the_status_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::installed_with_portal_js().await;
    grant_imbot(&app, 2, "en").await;
    let user = app.bitrix.employee;
    app.session_of(1).await;
    app.session_of(user).await;

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().expect("profiles");
    let client = browser(&driver, false, profiles.path(), (1280, 720)).await;
    let portal_page = format!(
        "http://{}/?app={CLIENT_ID}&user={user}&lang=en",
        app.bitrix.portal.domain
    );
    client.goto(&portal_page).await.expect("portal page");
    let greeted = click(&client, "add-bot", "Commands: /dnd").await;
    assert!(
        greeted.contains("I change your messenger status"),
        "{greeted}"
    );
    client
        .find(Locator::Id("chat-text"))
        .await
        .expect("the chat box")
        .send_keys("/dnd 30m")
        .await
        .expect("typed");
    let chat = click(&client, "chat-send", "Done: Do not disturb until").await;
    assert!(chat.contains("Boris Ivanov: /dnd 30m"), "{chat}");
    assert_eq!(status_of(&app, user), Status::Dnd);
    let row = client
        .find(Locator::Css(&format!(
            "#statuses tr[data-user='{user}'] .status"
        )))
        .await
        .expect("the employee's row")
        .text()
        .await
        .expect("text");
    assert_eq!(row, "dnd");
    let aside = client
        .find(Locator::Css("aside"))
        .await
        .expect("the side panel");
    let png = aside.screenshot().await.expect("screenshot");
    client.close().await.expect("close");
    std::fs::write(screenshot_dir().join("chat-command.png"), png).expect("screenshot saved");
}
