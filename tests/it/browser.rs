//! A real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) opens the app
//! the way a portal does — a form POST submitted into an iframe — and a person's click on
//! "Do not disturb" changes the status at Bitrix24, with and without JavaScript.
//!
//! Without a browser on the machine this test says so loudly and passes, except in CI
//! (`CI=true`), where a missing browser fails it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use b24_status::domain::Status;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::harness::{CLIENT_ID, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver, stopped on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn browser_available() -> bool {
    let found = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing: .ci/run must install chromium and chromium-driver"
        );
        eprintln!(
            "\n**********************************************************************\n\
             BROWSER TEST SKIPPED: {CHROMIUM} or {CHROMEDRIVER} not found.\n\
             Install them with: apt-get install chromium chromium-driver\n\
             **********************************************************************\n"
        );
    }
    found
}

pub async fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let http = super::harness::client();
    while http
        .get(format!("{}/status", driver.url))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not come up");
        // Polls until chromedriver answers.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

pub async fn browser(
    driver: &Driver,
    javascript: bool,
    profile: &Path,
    size: (u32, u32),
) -> Client {
    browser_with(driver, javascript, profile, size, &[]).await
}

/// [`browser`], with more Chromium flags.
pub async fn browser_with(
    driver: &Driver,
    javascript: bool,
    profile: &Path,
    size: (u32, u32),
    flags: &[&str],
) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        format!("--window-size={},{}", size.0, size.1),
        format!("--user-data-dir={}", profile.display()),
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false".to_owned());
    }
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    // The console, for the moderation checks (`moderation.rs`).
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": args}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Opens the app as `user` in the portal page, clicks "Do not disturb" in the frame and waits
/// until the page shows it chosen. Returns the PNG of the framed page.
async fn click_do_not_disturb(
    app: &TestApp,
    client: &Client,
    user: u64,
    lang: &str,
    javascript: bool,
) -> Vec<u8> {
    let portal_page = format!(
        "http://{}/?app={CLIENT_ID}&user={user}&lang={lang}",
        app.bitrix.portal.domain
    );
    client.goto(&portal_page).await.expect("portal page");
    if !javascript {
        // The portal's own auto-submit is a script too: press its button instead.
        client
            .find(Locator::Id("open-app-button"))
            .await
            .expect("open button")
            .click()
            .await
            .expect("click");
    }
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("app-frame"))
        .await
        .expect("frame");
    let frame = client.find(Locator::Id("app-frame")).await.expect("frame");
    frame.enter_frame().await.expect("into the frame");
    let dnd = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(r#"button[value="dnd"]"#))
        .await
        .expect("the status page in the frame");
    assert_eq!(
        dnd.attr("aria-checked").await.expect("attr").as_deref(),
        Some("false")
    );
    dnd.click().await.expect("click Do not disturb");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let chosen = client
            .find(Locator::Css(r#"button[value="dnd"]"#))
            .await
            .ok();
        let pressed = match &chosen {
            Some(button) => button.attr("aria-checked").await.ok().flatten(),
            None => None,
        };
        let message = match client.find(Locator::Id("b24s-message")).await {
            Ok(line) => line.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if pressed.as_deref() == Some("true") && !message.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed Do not disturb chosen"
        );
        // Polls until the page shows the choice.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .enter_parent_frame()
        .await
        .expect("back to the portal");
    // The page itself, as the portal frames it.
    client
        .find(Locator::Id("app-frame"))
        .await
        .expect("frame")
        .screenshot()
        .await
        .expect("screenshot")
}

#[tokio::test]
async fn a_person_sets_do_not_disturb_in_a_real_browser_with_and_without_javascript() {
    if !browser_available() {
        return;
    }
    let app = TestApp::installed(&[]).await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().expect("profiles");
    let shots = screenshot_dir();

    for (lang, user) in [("en", 1), ("ru", app.bitrix.employee)] {
        let client = browser(
            &driver,
            true,
            &profiles.path().join(format!("js-{lang}")),
            (900, 1000),
        )
        .await;
        let png = click_do_not_disturb(&app, &client, user, lang, true).await;
        client.close().await.expect("close");
        assert_eq!(
            app.bitrix.emulator.user_status(app.member(), user),
            Some(Status::Dnd),
            "{lang}"
        );
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(shots.join(format!("status-page-{lang}.png")), png)
            .expect("screenshot saved");
    }
    let api_sets = app
        .portal_calls()
        .into_iter()
        .filter(|c| c.method == "im.user.status.set")
        .count();
    assert_eq!(api_sets, 2, "the script used the JSON API");

    // Without JavaScript the buttons are a plain form that posts to /app/status.
    let third = app.bitrix.emulator.add_user(
        app.member(),
        b24_status::emulator::UserSpec::new("Clara", "Schmidt", false),
    );
    let client = browser(&driver, false, &profiles.path().join("no-js"), (900, 1000)).await;
    let png = click_do_not_disturb(&app, &client, third, "en", false).await;
    client.close().await.expect("close");
    assert_eq!(
        app.bitrix.emulator.user_status(app.member(), third),
        Some(Status::Dnd)
    );
    std::fs::write(shots.join("status-page-no-js.png"), png).expect("screenshot saved");
    let batches = app
        .portal_calls()
        .into_iter()
        .filter(|c| c.method == "batch" && c.user_id == Some(third))
        .count();
    assert_eq!(
        batches, 2,
        "opening the page, then the form's set-and-read batch"
    );
}

#[tokio::test]
async fn a_running_timer_and_a_schedule_show_on_the_page_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::installed_with_portal_js().await;
    let (user, session) = super::schedules::employee_with(&app, "away").await;
    let until = jiff::Timestamp::from_second(app.state.clock.now() + 5400)
        .expect("time")
        .to_string();
    let timed = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    let schedule = json!({"time_zone": "Europe/Berlin", "rules": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "13:00", "to": "13:45", "status": "break"},
    ]});
    let saved = super::schedules::schedule_put(&app, &session, &schedule).await;
    assert_eq!(saved.0, 200);

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().expect("profiles");
    let client = browser(&driver, true, profiles.path(), (900, 1500)).await;
    let portal_page = format!(
        "http://{}/?app={CLIENT_ID}&user={user}&lang=en",
        app.bitrix.portal.domain
    );
    client.goto(&portal_page).await.expect("portal page");
    let frame = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("app-frame"))
        .await
        .expect("frame");
    frame.enter_frame().await.expect("into the frame");
    let running = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("b24s-running"))
        .await
        .expect("the running timer");
    let text = running.text().await.expect("text");
    assert!(
        text.contains("Do not disturb until") && text.contains("then Away"),
        "{text}"
    );
    let rules = client
        .find(Locator::Css(".b24s-rules"))
        .await
        .expect("rules")
        .text()
        .await
        .expect("text");
    assert!(
        rules.contains("Do not disturb · Mon–Fri · 09:00–11:00"),
        "{rules}"
    );
    assert!(
        rules.contains("On a break · every day · 13:00–13:45"),
        "{rules}"
    );
    client.enter_parent_frame().await.expect("back");
    // The page asks the portal to fit the frame to it (`BX24.fitWindow`); the screenshot waits
    // for that, so it shows the whole page.
    let frame = client.find(Locator::Id("app-frame")).await.expect("frame");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let height = frame.css_value("height").await.unwrap_or_default();
        let px: f64 = height.trim_end_matches("px").parse().unwrap_or(0.0);
        if px > 700.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the frame never grew: {height}");
        // Polls until the portal has resized the frame.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let png = frame.screenshot().await.expect("screenshot");
    client.close().await.expect("close");
    std::fs::write(screenshot_dir().join("focus-time.png"), png).expect("screenshot saved");
}
