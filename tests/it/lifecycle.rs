//! The app as an operator runs it: secrets from files (the systemd unit in `deploy/` as it is
//! written), one log line per request, draining on SIGTERM, and a panicking handler answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::harness::{APP_SECRET, Bitrix, CLIENT_ID, CLIENT_SECRET, client, session_in};
use super::process::{AppProcess, free_port};

/// Installs the app at `url` and sets the employee's status, as the portal would.
async fn install_and_set(bitrix: &Bitrix, url: &str) -> u16 {
    let http = client();
    let post = |path: &str, form: &b24_status::emulator::FormPost| {
        http.post(format!("{url}{path}?{}", form.query_string()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.body())
            .send()
    };
    let install = bitrix
        .emulator
        .begin_install(bitrix.member(), CLIENT_ID, 1, "en");
    assert_eq!(
        post("/install", &install).await.expect("install").status(),
        200
    );
    bitrix.emulator.finish_install(bitrix.member(), CLIENT_ID);
    let frame = bitrix.emulator.frame_post(
        bitrix.member(),
        CLIENT_ID,
        bitrix.employee,
        "DEFAULT",
        "en",
        "",
    );
    let page = post("/app", &frame).await.expect("open");
    let session = session_in(&page.text().await.expect("page"));
    http.put(format!("{url}/api/status"))
        .bearer_auth(&session)
        .json(&json!({"status": "dnd"}))
        .send()
        .await
        .expect("put")
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_systemd_unit_starts_the_app_with_its_secrets_as_credentials() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/b24-status.service"
    ))
    .expect("the unit");
    let dir = tempfile::tempdir().expect("dir");
    let (credentials, state) = (dir.path().join("credentials"), dir.path().join("state"));
    std::fs::create_dir_all(&credentials).expect("credentials");
    std::fs::create_dir_all(&state).expect("state");
    // systemd copies each LoadCredential= file into $CREDENTIALS_DIRECTORY (%d).
    for line in unit
        .lines()
        .filter_map(|l| l.strip_prefix("LoadCredential="))
    {
        let (name, _) = line.split_once(':').expect("name:path");
        let value = match name {
            "app_secret" => APP_SECRET,
            "b24_client_secret" => CLIENT_SECRET,
            other => panic!("a credential the test does not know: {other}"),
        };
        std::fs::write(credentials.join(name), format!("{value}\n")).expect("credential");
    }
    let env: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .map(|assignment| {
            let (name, value) = assignment.split_once('=').expect("NAME=value");
            let value = value
                .replace("%d", &credentials.to_string_lossy())
                .replace("/var/lib/b24-status", &state.to_string_lossy());
            (name.to_owned(), value)
        })
        .collect();
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"APP_SECRET_FILE") && names.contains(&"B24_CLIENT_SECRET_FILE"));
    assert!(
        !names.contains(&"APP_SECRET"),
        "no secret in the unit itself"
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();

    let bitrix = Bitrix::start().await;
    let app = AppProcess::start_in(&bitrix, &state, free_port(), "unit", &env).await;
    assert_eq!(
        install_and_set(&bitrix, &app.url).await,
        200,
        "{}",
        app.log()
    );
    assert!(
        state.join("b24-status.db").exists(),
        "the database is in the state folder"
    );
    // The client secret came from its credential file: the OAuth server accepted it.
    let calls = bitrix.emulator.calls();
    assert!(calls.iter().any(|c| c.method == "app.info"), "{calls:?}");
}

#[tokio::test]
async fn a_secret_given_both_ways_or_in_a_missing_file_stops_the_start() {
    let bitrix = Bitrix::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let output = super::service::binary()
        .current_dir(dir.path())
        .envs([
            ("B24_CLIENT_ID", CLIENT_ID),
            ("B24_CLIENT_SECRET_FILE", "/nonexistent/b24_client_secret"),
            ("APP_SECRET", APP_SECRET),
        ])
        .env("B24_OAUTH_URL", bitrix.emulator.oauth_urls())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("B24_CLIENT_SECRET_FILE names"), "{said}");
    let flag = super::service::binary()
        .args(["--app-secret", APP_SECRET])
        .output()
        .expect("runs");
    assert_eq!(flag.status.code(), Some(2), "secrets are no flags");
}

#[tokio::test]
async fn every_request_gets_one_info_line_without_its_query() {
    let bitrix = Bitrix::start().await;
    let db = super::db::TestDb::new().await;
    let app = AppProcess::start(&bitrix, &db, free_port(), "lines", &[("RUST_LOG", "info")]).await;
    let answer = client()
        .get(format!("{}/healthz?code=leak-me-0123", app.url))
        .header("x-request-id", "req-line-42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(answer.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = app.log();
        if let Some(line) = log.lines().find(|l| l.contains("req-line-42")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no line for the request: {log}");
        // The log is written as the request ends.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let event: Value = serde_json::from_str(&line).expect("JSON line");
    assert_eq!(event["level"], "INFO", "{line}");
    assert_eq!(event["message"], "answered", "{line}");
    assert_eq!(event["status"], 200, "{line}");
    assert!(event["latency_ms"].as_f64().is_some(), "{line}");
    assert_eq!(event["span"]["route"], "/healthz", "{line}");
    assert_eq!(event["span"]["method"], "GET", "{line}");
    assert!(
        !app.log().contains("leak-me"),
        "a query string reached the log"
    );
}

#[tokio::test]
async fn sigterm_turns_readiness_off_while_still_serving_then_stops() {
    let bitrix = Bitrix::start().await;
    let db = super::db::TestDb::new().await;
    let mut app = AppProcess::start(
        &bitrix,
        &db,
        free_port(),
        "drain",
        &[("SHUTDOWN_DELAY", "3")],
    )
    .await;
    let http = client();
    let ready = http.get(format!("{}/readyz", app.url)).send().await;
    assert_eq!(ready.expect("readyz").status(), 200);
    let pid = app.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let ready = http.get(format!("{}/readyz", app.url)).send().await;
        let ready = ready.expect("still serving");
        if ready.status() == 503 {
            let body: Value = ready.json().await.expect("json");
            assert_eq!(body["status"], "draining");
            break;
        }
        assert!(Instant::now() < deadline, "readiness stayed on");
        // The signal is handled on the app's own time.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = http.get(format!("{}/healthz", app.url)).send().await;
    assert_eq!(
        live.expect("healthz").status(),
        200,
        "still serving while draining"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = app.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the app did not stop");
        // Polls the exit while the emulator keeps answering on this runtime.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}: {}", app.log());
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_and_the_server_goes_on() {
    let metrics = Arc::new(b24_status::metrics::Metrics::new());
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let router =
        b24_status::http::middleware::apply(routes, metrics.clone(), 1024, Duration::from_secs(5));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = client();
    for _ in 0..2 {
        let answer = http
            .get(format!("http://{address}/boom"))
            .send()
            .await
            .expect("answered");
        assert_eq!(answer.status(), 500);
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["error"], "internal");
    }
    let fine = http.get(format!("http://{address}/fine")).send().await;
    assert_eq!(fine.expect("fine").status(), 200);
    assert!(
        metrics.render().contains(
            r#"b24_status_http_requests_total{method="GET",route="/boom",status="500"} 2"#
        )
    );
}

/// A handler with a bug.
async fn boom() -> &'static str {
    panic!("a bug in a handler")
}
