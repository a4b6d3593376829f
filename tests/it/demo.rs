//! Out of the box: the binary with no configuration starts a demo portal that a person can
//! click through in a real browser — install as the admin, set a status, switch user, set
//! another — and that keeps working after a restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;

use super::browser::{browser, browser_available, screenshot_dir, start_driver};
use super::harness::session_in;
use super::service::binary;

/// The demo binary, stopped with SIGTERM on drop.
struct Demo {
    child: Child,
    url: String,
    app: String,
    /// The portal of the east region.
    east_url: String,
}

impl Demo {
    /// Starts `cargo run`'s binary in `dir` and reads the URL it says to open.
    fn start(dir: &std::path::Path) -> Self {
        let mut child = binary()
            .current_dir(dir)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("demo.log")).expect("log file"))
            .spawn()
            .expect("demo starts");
        let mut line = String::new();
        let mut east = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("a line");
        stdout.read_line(&mut east).expect("a second line");
        let east_url = east
            .trim()
            .rsplit(' ')
            .next()
            .filter(|url| url.starts_with("http://"))
            .unwrap_or_else(|| panic!("no east portal in {east:?}"))
            .to_owned();
        let url = line
            .strip_prefix("b24-status demo: open ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default();
                panic!("unexpected first line {line:?}; the demo said:\n{log}")
            })
            .to_owned();
        let app = line
            .split("the app listens on ")
            .nth(1)
            .and_then(|rest| rest.trim().strip_suffix(')'))
            .unwrap_or_else(|| panic!("no app address in {line:?}"))
            .to_owned();
        Self {
            child,
            url,
            app,
            east_url,
        }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the app frame shows `css`, following the portal's reloads (the install ends
/// with one), and stays inside the frame.
pub async fn in_app_frame(client: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(frame) = client.find(Locator::Id("app-frame")).await
            && frame.enter_frame().await.is_ok()
        {
            if client.find(Locator::Css(css)).await.is_ok() {
                return;
            }
            let _ = client.enter_parent_frame().await;
        }
        assert!(
            Instant::now() < deadline,
            "the app frame never showed {css}"
        );
        // Polls until the frame shows the app (the install ends with a reload).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks a status in the app frame and waits until the page shows it chosen.
async fn choose(client: &Client, status: &str) {
    let css = format!(r#"button[value="{status}"]"#);
    in_app_frame(client, &css).await;
    client
        .find(Locator::Css(&css))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pressed = match client.find(Locator::Css(&css)).await {
            Ok(button) => button.attr("aria-checked").await.ok().flatten(),
            Err(_) => None,
        };
        let message = match client.find(Locator::Id("b24s-message")).await {
            Ok(line) => line.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if pressed.as_deref() == Some("true") && !message.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{status} was never shown chosen");
        // Polls until the page shows the choice.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .enter_parent_frame()
        .await
        .expect("back to the portal");
}

/// What the demo portal at `url` says about its users (`/demo/state`).
async fn portal_state(url: &str) -> serde_json::Value {
    super::harness::client()
        .get(format!("{url}demo/state"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

/// Waits until the portal's panel shows `status` for the user with id `user`.
async fn panel_shows(client: &Client, user: u64, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let css = format!(r#"#statuses tr[data-user="{user}"] td.status"#);
    loop {
        if let Ok(cell) = client.find(Locator::Css(&css)).await
            && cell.text().await.unwrap_or_default() == status
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the panel never showed {status} for user {user}"
        );
        // Polls until the portal's panel refreshes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_newcomer_installs_sets_statuses_as_two_users_and_the_demo_survives_a_restart() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(dir.path());
    let driver = start_driver().await;
    let profile = tempfile::tempdir().expect("profile");
    let client = browser(&driver, true, profile.path(), (1440, 900)).await;

    // The admin's first open runs the real install inside the frame, then opens the app.
    client.goto(&demo.url).await.expect("the demo portal");
    choose(&client, "dnd").await;
    let session = {
        in_app_frame(&client, "#b24s-form").await;
        let page = client.source().await.expect("frame source");
        client.enter_parent_frame().await.expect("back");
        session_in(&page)
    };

    // Switch to an employee, who uses their own tokens.
    client
        .find(Locator::Id("user-switcher"))
        .await
        .expect("user switcher")
        .select_by_value("2")
        .await
        .expect("switch user");
    choose(&client, "away").await;
    panel_shows(&client, 1, "dnd").await;
    panel_shows(&client, 2, "away").await;
    let calls = client
        .find(Locator::Id("calls"))
        .await
        .expect("calls")
        .text()
        .await
        .expect("text");
    assert!(calls.contains("im.user.status.set"), "{calls}");
    assert!(calls.contains("••••"), "tokens are masked: {calls}");
    client
        .execute("window.scrollTo(0, 0)", Vec::new())
        .await
        .expect("scroll to the top");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join("demo-portal.png"), png).expect("saved");

    // The east portal, whose tokens come from the other OAuth server, installs the same way.
    client.goto(&demo.east_url).await.expect("the east portal");
    choose(&client, "break").await;
    let east = portal_state(&demo.east_url).await;
    assert_eq!(east["users"][0]["status"], "break");
    client.close().await.expect("close");

    // A restart keeps the portal, the install and every token: the admin's page session from
    // before the restart still sets a status through the stored, encrypted tokens.
    let portal_url = demo.url.clone();
    demo.stop();
    let demo = Demo::start(dir.path());
    assert_eq!(demo.url, portal_url, "the same portal comes back");
    let state = portal_state(&demo.url).await;
    assert_eq!(state["users"][0]["status"], "dnd");
    assert_eq!(state["users"][1]["status"], "away");
    let response = super::harness::client()
        .put(format!("{}/api/status", demo.app))
        .bearer_auth(&session)
        .json(&json!({"status": "break"}))
        .send()
        .await
        .expect("API");
    assert_eq!(response.status(), 200);
    let state = portal_state(&demo.url).await;
    assert_eq!(state["users"][0]["status"], "break");

    // "Skip 1 hour" moves the portal's clock and the app's together: a 30-minute timer ends
    // within a second or two, and the status from before it comes back.
    let until = jiff::Timestamp::from_second(b24_status::clock::unix_now() + 1800)
        .expect("time")
        .to_string();
    let timed = super::harness::client()
        .put(format!("{}/api/status", demo.app))
        .bearer_auth(&session)
        .json(&json!({"status": "dnd", "until": until}))
        .send()
        .await
        .expect("API");
    assert_eq!(timed.status(), 200);
    let state = portal_state(&demo.url).await;
    assert_eq!(state["users"][0]["status"], "dnd");
    let skipped = super::harness::client()
        .post(format!("{}demo/skip-hour", demo.url))
        .form(&[("app", "demo"), ("user", "1"), ("lang", "en")])
        .send()
        .await
        .expect("skip");
    assert!(skipped.status().is_redirection(), "{}", skipped.status());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = portal_state(&demo.url).await;
        if state["users"][0]["status"] == "break" {
            break;
        }
        assert!(Instant::now() < deadline, "the timer never ended: {state}");
        // Polls until the app's scheduler (once a second) has restored the status.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    demo.stop();
}

/// Posts one of the demo portal's control forms as the admin.
async fn control(app: &super::harness::TestApp, path: &str) -> reqwest::Response {
    super::harness::client()
        .post(format!("http://{}{path}", app.bitrix.portal.domain))
        .form(&[
            ("app", super::harness::CLIENT_ID),
            ("user", "1"),
            ("lang", "en"),
        ])
        .send()
        .await
        .expect("portal answers")
}

#[tokio::test]
async fn the_portals_uninstall_button_delivers_onappuninstall_to_the_app() {
    let app = super::harness::TestApp::installed(&[]).await;
    let response = control(&app, "/demo/uninstall").await;
    assert_eq!(response.status(), 303);
    let portal = app.portal().await.expect("kept");
    assert_eq!(
        portal.record.state,
        b24_status::store::PortalState::Deleted,
        "the app heard the event"
    );
    assert!(
        !app.bitrix
            .emulator
            .is_installed(app.member(), super::harness::CLIENT_ID)
    );
}

#[tokio::test]
async fn the_portals_expire_button_makes_the_next_call_refresh() {
    let app = super::harness::TestApp::installed(&[]).await;
    let session = app.session_of(1).await;
    assert_eq!(control(&app, "/demo/expire").await.status(), 303);
    let before = app.bitrix.emulator.refresh_count();
    assert_eq!(
        app.api_put(&session, json!({"status": "dnd"}))
            .await
            .status(),
        200
    );
    assert_eq!(app.bitrix.emulator.refresh_count(), before + 1);
}

#[tokio::test]
async fn a_dot_env_copied_from_the_example_starts_the_demo() {
    let dir = tempfile::tempdir().expect("dir");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example");
    std::fs::copy(example, dir.path().join(".env")).expect("copied");
    let demo = Demo::start(dir.path());
    assert!(demo.url.starts_with("http://127.0.0.1:"), "{}", demo.url);
    demo.stop();
}
