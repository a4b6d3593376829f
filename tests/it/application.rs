//! The app as `main.rs` runs it ([`Application`]): the background loops on their own — a timed
//! status ends with no test applying it — the metrics listener, and a shutdown that drains and
//! flushes the call log before `run_until` returns.

use std::time::{Duration, Instant};

use b24_status::Loops;
use b24_status::domain::Status;
use serde_json::json;

use super::db::TestDb;
use super::harness::{Bitrix, TestApp, built, client};

#[tokio::test]
async fn the_loops_run_by_themselves_and_a_shutdown_drains_and_flushes() {
    let bitrix = Bitrix::start().await;
    let db = TestDb::new().await;
    let extra = ["--metrics-addr=127.0.0.1:0", "--shutdown-delay=0"];
    let (_, application) = built(&bitrix, &db.url, &extra, Loops::Run).await;
    let metrics = application.metrics_address().expect("a metrics listener");
    let app = TestApp::around(bitrix, db, &application);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    assert_eq!(app.install().await.status(), 200);
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let clock = app.state.clock.clone();
    let until = jiff::Timestamp::from_second(clock.now() + 60)
        .expect("time")
        .to_string();
    let set = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(set.status(), 200);

    // The scheduler's loop, not the test, restores the status once the clock passes the end.
    clock.advance(Duration::from_secs(61));
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.bitrix.emulator.user_status(app.member(), user) != Some(Status::Online) {
        assert!(
            Instant::now() < deadline,
            "the timer was not ended by the loop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scraped = client()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    assert!(
        scraped.contains(r#"b24_status_scheduled_changes_total{outcome="applied"} 1"#),
        "{scraped}"
    );

    let _ = stop.send(());
    running
        .await
        .expect("joined")
        .expect("the app stops cleanly");
    assert!(
        app.count("call_log").await >= 3,
        "the calls were flushed to the log"
    );
    assert!(
        client()
            .get(format!("http://{}/healthz", app.address))
            .send()
            .await
            .is_err(),
        "the listener is closed"
    );
}
