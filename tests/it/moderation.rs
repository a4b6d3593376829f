//! What Bitrix24 Market moderation checks (`docs/bitrix24.md`, "Market moderation"), in headless
//! Chromium inside the emulated portal: after installation the frame moves on to the app by
//! itself; no scroll bars in the frame at 1280 px and wider; no JavaScript error or failed load
//! in the console on any page; no link or asset that answers 404. Also the keyboard: the four
//! statuses are one radio group the arrow keys move through and choose from. It saves the
//! the screenshots README.md and docs/users.md show: light, dark, a narrow sidebar and the team board.

use std::time::{Duration, Instant};

use axum::http::Method;
use b24_status::domain::Status;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::browser::{browser_available, browser_with, screenshot_dir, start_driver};
use super::demo::in_app_frame;
use super::harness::{CLIENT_ID, TestApp};

/// ChromeDriver's console log (`goog:loggingPrefs`), read and emptied.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// The console's errors since the last look: script errors, CSP refusals, failed loads. A
/// probe logged first proves the log is read at all.
async fn console_errors(client: &Client) -> Vec<String> {
    client
        .execute("console.error('b24s-probe');", Vec::new())
        .await
        .expect("probe");
    let log = client.issue_cmd(BrowserLog).await.expect("the console log");
    let errors: Vec<String> = log
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
        // The emulated portal's own page asks for a favicon it has not got; not the app's.
        .filter(|message| !message.contains("favicon.ico"))
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("b24s-probe")),
        "the console log was not read: {log}"
    );
    errors
        .into_iter()
        .filter(|e| !e.contains("b24s-probe"))
        .collect()
}

/// Inside the frame: whether its document scrolls either way.
async fn scrolls(client: &Client) -> (bool, bool, Value) {
    let sizes = client
        .execute(
            "var e = document.documentElement; \
             return [e.scrollWidth, e.clientWidth, e.scrollHeight, e.clientHeight];",
            Vec::new(),
        )
        .await
        .expect("sizes");
    let n = |i: usize| sizes[i].as_f64().unwrap_or(0.0);
    (n(0) > n(1) + 1.0, n(2) > n(3) + 1.0, sizes)
}

/// Waits until the portal has fitted the frame to the page (`BX24.fitWindow`) and the frame's
/// document no longer scrolls; fails with the sizes if it still does.
async fn fits(client: &Client, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (across, down, sizes) = scrolls(client).await;
        if !across && !down {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the frame has scroll bars: {sizes}"
        );
        // Polls until the portal has resized the frame.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every link, stylesheet, script and image of the frame's page answers, none with 404.
async fn no_missing_links(app: &TestApp, client: &Client, what: &str) {
    let urls = client
        .execute(
            "return Array.from(document.querySelectorAll('a[href],link[href],script[src],img[src]'))\
             .map(function (e) { return e.href || e.src; });",
            Vec::new(),
        )
        .await
        .expect("links");
    let urls: Vec<String> = urls
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    assert!(urls.len() >= 3, "{what}: {urls:?}");
    for url in urls {
        let status = app.http.get(&url).send().await.expect("answers").status();
        assert_ne!(status.as_u16(), 404, "{what}: {url}");
        assert!(status.is_success(), "{what}: {url} answers {status}");
    }
}

/// Saves the app's frame, as the portal shows it, to `path`.
async fn frame_screenshot(client: &Client, path: &std::path::Path) {
    let png = client
        .find(Locator::Id("app-frame"))
        .await
        .expect("frame")
        .screenshot()
        .await
        .expect("screenshot");
    std::fs::write(path, png).expect("saved");
}

async fn wait_for_status(app: &TestApp, user: u64, status: Status) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.bitrix.emulator.user_status(app.member(), user) != Some(status) {
        assert!(
            Instant::now() < deadline,
            "the status never became {status:?}"
        );
        // Polls until the page's script has applied the choice.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_app_passes_what_bitrix24_market_moderation_checks_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::with_portal_js().await;
    b24_status::demo::add_team(&app.bitrix.emulator, app.member());
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().expect("profiles");
    let shots = screenshot_dir();
    let client = browser_with(
        &driver,
        true,
        &profiles.path().join("light"),
        (1280, 1000),
        &[],
    )
    .await;

    // The administrator's first open installs the app; the frame then shows the app by itself.
    let portal_page = format!(
        "http://{}/?app={CLIENT_ID}&user=1&lang=en",
        app.bitrix.portal.domain
    );
    client.goto(&portal_page).await.expect("portal page");
    in_app_frame(&client, "#b24s-form").await;
    assert!(app.bitrix.emulator.is_installed(app.member(), CLIENT_ID));
    fits(&client, "status page at 1280 px").await;
    no_missing_links(&app, &client, "status page").await;

    // The radio group: the current status holds the focus; arrows move it and choose.
    let online = client
        .find(Locator::Css(r#"[role="radiogroup"] [aria-checked="true"]"#))
        .await
        .expect("the chosen status");
    assert_eq!(
        online.attr("value").await.expect("value").as_deref(),
        Some("online")
    );
    assert_eq!(
        online.attr("tabindex").await.expect("tabindex").as_deref(),
        Some("0")
    );
    online.send_keys("\u{E014}").await.expect("arrow right");
    wait_for_status(&app, 1, Status::Dnd).await;
    let focused = client
        .execute("return document.activeElement.value;", Vec::new())
        .await
        .expect("focus");
    assert_eq!(focused, "dnd");
    let dnd = client
        .find(Locator::Css(r#"button[value="dnd"]"#))
        .await
        .expect("dnd");
    assert_eq!(
        dnd.attr("aria-checked").await.expect("attr").as_deref(),
        Some("true")
    );
    dnd.send_keys("\u{E010}").await.expect("end");
    wait_for_status(&app, 1, Status::Break).await;

    // The team board, opened with its tab; the page fits at 1280 px and at 1600 px.
    client
        .find(Locator::Id("b24s-tab-team"))
        .await
        .expect("team tab")
        .click()
        .await
        .expect("click");
    client.enter_parent_frame().await.expect("back");
    in_app_frame(&client, "#b24s-team-list").await;
    let rows = client
        .find_all(Locator::Css("#b24s-team-list .b24s-member"))
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        2,
        "Anna and Boris, the administrator's department"
    );
    fits(&client, "team board at 1280 px").await;
    no_missing_links(&app, &client, "team board").await;
    // Another department, chosen in the picker.
    client
        .find(Locator::Id("b24s-team-department"))
        .await
        .expect("picker")
        .select_by_label("Sales")
        .await
        .expect("Sales");
    client
        .find(Locator::Css(r#"#b24s-team-filter button[name="page"]"#))
        .await
        .expect("show")
        .click()
        .await
        .expect("click");
    client.enter_parent_frame().await.expect("back");
    in_app_frame(&client, r#".b24s-member .b24s-absent"#).await;
    let sales = client
        .find(Locator::Id("b24s-team-list"))
        .await
        .expect("list")
        .text()
        .await
        .expect("text");
    assert!(
        sales.contains("Elena Sokolova") && sales.contains("On vacation"),
        "{sales}"
    );
    assert!(
        sales.contains("Greta Lind") && sales.contains("Do not disturb"),
        "{sales}"
    );
    fits(&client, "Sales at 1280 px").await;
    // The page's script refreshes the board (every 30 s, and when it becomes visible): once the
    // shared read is old, a change made in the messenger shows without a reload.
    let hugo = client
        .execute(
            "return Array.from(document.querySelectorAll('.b24s-member'))\
             .find(function (e) { return e.textContent.indexOf('Hugo Moreau') >= 0; })\
             .getAttribute('data-id');",
            Vec::new(),
        )
        .await
        .expect("Hugo's id");
    let hugo: u64 = hugo.as_str().and_then(|id| id.parse().ok()).expect("an id");
    app.bitrix
        .emulator
        .set_user_status(app.member(), hugo, Status::Break);
    app.state.clock.advance(Duration::from_secs(31));
    client
        .execute(
            "document.dispatchEvent(new Event('visibilitychange'));",
            Vec::new(),
        )
        .await
        .expect("visible again");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = client
            .find(Locator::Css(&format!(r#".b24s-member[data-id="{hugo}"]"#)))
            .await
            .expect("Hugo's row")
            .text()
            .await
            .unwrap_or_default();
        if row.contains("On a break") {
            assert!(row.contains("Hugo Moreau"), "{row}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the board never refreshed: {row}"
        );
        // Polls until the script has re-read the board.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.enter_parent_frame().await.expect("back");
    frame_screenshot(&client, &shots.join("team-board.png")).await;
    client.set_window_size(1600, 1000).await.expect("wider");
    in_app_frame(&client, "#b24s-team-list").await;
    fits(&client, "team board at 1600 px").await;
    client.enter_parent_frame().await.expect("back");

    // A narrow sidebar: the page still fits across.
    client
        .execute(
            "document.getElementById('app-frame').style.width = '380px';",
            Vec::new(),
        )
        .await
        .expect("narrow frame");
    client
        .find(Locator::Id("app-frame"))
        .await
        .expect("frame")
        .enter_frame()
        .await
        .expect("into the frame");
    client
        .find(Locator::Css(r#"button[value="status"]"#))
        .await
        .expect("status tab")
        .click()
        .await
        .expect("click");
    client.enter_parent_frame().await.expect("back");
    in_app_frame(&client, "#b24s-form").await;
    fits(&client, "status page in a 380 px sidebar").await;
    client.enter_parent_frame().await.expect("back");
    frame_screenshot(&client, &shots.join("status-page-narrow.png")).await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "the console shows errors: {errors:#?}");
    client.close().await.expect("close");

    // Dark: the system's preference picks the dark theme.
    let client = browser_with(
        &driver,
        true,
        &profiles.path().join("dark"),
        (1280, 1000),
        &["--blink-settings=preferredColorScheme=0"],
    )
    .await;
    let employee = format!(
        "http://{}/?app={CLIENT_ID}&user={}&lang=en",
        app.bitrix.portal.domain, app.bitrix.employee
    );
    client.goto(&employee).await.expect("portal page");
    in_app_frame(&client, "#b24s-form").await;
    let dark = client
        .execute(
            "return [matchMedia('(prefers-color-scheme: dark)').matches, \
             getComputedStyle(document.body).backgroundColor];",
            Vec::new(),
        )
        .await
        .expect("theme");
    assert_eq!(dark[0], true, "{dark}");
    assert_eq!(dark[1], "rgb(20, 24, 28)", "the dark page colour");
    fits(&client, "dark status page").await;
    client.enter_parent_frame().await.expect("back");
    frame_screenshot(&client, &shots.join("status-page-dark.png")).await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "the console shows errors: {errors:#?}");
    client.close().await.expect("close");
}
