//! Statuses that set themselves in a real browser: a meeting in the emulated calendar sets Do
//! not disturb, and the page inside the portal says why — the reason line the screenshot keeps.

use std::time::Duration;

use b24_status::domain::Status;
use fantoccini::Locator;

use super::automation::{automation_put, meeting, run, status_of, switches};
use super::browser::{browser, browser_available, screenshot_dir, start_driver};
use super::harness::{CLIENT_ID, TestApp};
use super::schedules::advance_to;

#[tokio::test]
async fn the_page_says_a_meeting_holds_the_status_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::installed_with_portal_js().await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    assert_eq!(
        automation_put(&app, &session, &switches("dnd", false))
            .await
            .0,
        200
    );
    let start = app.state.clock.now() + 60;
    meeting(&app, user, start, start + 3600).await;
    advance_to(&app, start);
    run(&app).await;
    assert_eq!(status_of(&app, user), Status::Dnd);

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().expect("profiles");
    let client = browser(&driver, true, profiles.path(), (900, 1400)).await;
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
    let reason = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("b24s-reason"))
        .await
        .expect("the reason line");
    let text = reason.text().await.expect("text");
    assert!(
        text.starts_with("Do not disturb — in a meeting until"),
        "{text}"
    );
    let card = client
        .find(Locator::Css(".b24s-automation"))
        .await
        .expect("the automatic status card");
    let words = card.text().await.expect("text");
    assert!(
        words.contains("When my calendar shows me busy in a meeting"),
        "{words}"
    );
    let switches_png = card.screenshot().await.expect("screenshot");
    std::fs::write(
        screenshot_dir().join("automatic-status-card.png"),
        switches_png,
    )
    .expect("screenshot saved");
    let head = client
        .find(Locator::Css(".b24s-card"))
        .await
        .expect("the status card");
    let png = head.screenshot().await.expect("screenshot");
    client.close().await.expect("close");
    std::fs::write(screenshot_dir().join("automatic-status.png"), png).expect("screenshot saved");
}
