//! The service around the routes: probes, request ids, start-up and shutdown of the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::harness::{APP_SECRET, TestApp};

#[tokio::test]
async fn health_and_readiness_answer_over_http() {
    let app = TestApp::spawn().await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.expect("body"), r#"{"status":"ready"}"#);
    assert!(
        app.bitrix.emulator.calls().is_empty(),
        "probes never call Bitrix24"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.store.close().await;
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_request_id_sent_by_the_caller_is_kept() {
    let app = TestApp::spawn().await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.headers()["x-request-id"], "trace-me-42");
}

/// The app's binary with none of its configuration in the environment.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_b24-status"));
    for var in [
        "B24_CLIENT_ID",
        "B24_CLIENT_SECRET",
        "B24_OAUTH_URL",
        "PUBLIC_URL",
        "LISTEN_ADDR",
        "DATABASE_URL",
        "APP_SECRET",
        "APP_SECRET_PREVIOUS",
        "APP_SECRET_FILE",
        "B24_CLIENT_SECRET_FILE",
        "DATABASE_URL_FILE",
        "SHUTDOWN_DELAY",
        "CALL_LOG_DAYS",
        "B24_ALLOW_HTTP",
        "LOG_FORMAT",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "warn");
    command
}

/// Runs the binary with `env` in an empty folder and returns its exit code and stderr.
fn refused_start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = binary()
        .current_dir(dir.path())
        .envs(env.iter().copied())
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_stops_the_start_with_one_clear_line() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("B24_CLIENT_ID", "app.1")], "B24_CLIENT_SECRET is not"),
        (
            &[
                ("B24_CLIENT_ID", "app.1"),
                ("B24_CLIENT_SECRET", "s"),
                ("APP_SECRET", "c2hvcnQ="),
            ],
            "APP_SECRET decodes to 5 bytes",
        ),
        (
            &[("B24_CLIENT_ID", "app.1"), ("B24_CLIENT_SECRET", "s")],
            "APP_SECRET is required",
        ),
        (
            &[
                ("APP_SECRET", APP_SECRET),
                ("DATABASE_URL", "sqlite:///dev/null/nested/app.db"),
            ],
            "cannot create /dev/null/nested",
        ),
        (
            &[
                ("B24_CLIENT_ID", "app.1"),
                ("B24_CLIENT_SECRET", "s"),
                ("APP_SECRET", APP_SECRET),
                ("PUBLIC_URL", "https://status.example.com"),
                ("DATABASE_URL", "mysql://127.0.0.1/app"),
            ],
            "DATABASE_URL is not a valid sqlite:// or postgres:// URL",
        ),
        (
            &[
                ("B24_CLIENT_ID", "app.1"),
                ("B24_CLIENT_SECRET", "s"),
                ("APP_SECRET", APP_SECRET),
                ("PUBLIC_URL", "https://status.example.com"),
                ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/app"),
            ],
            "database error",
        ),
    ];
    for (env, expected) in cases {
        let (code, stderr) = refused_start(env);
        assert_ne!(code, Some(0), "{env:?} started");
        assert!(code.is_some(), "{env:?} was killed by a signal (a panic?)");
        assert_eq!(stderr.lines().count(), 1, "{env:?}: {stderr}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn cargo_run_with_no_configuration_starts_a_demo_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = binary()
        .current_dir(dir.path())
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log.reopen().expect("log file")))
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let url = line
        .split("the app listens on ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status = runtime.block_on(async {
        let client = super::harness::client();
        client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .expect("healthz")
            .status()
    });
    assert_eq!(status, 200);
    assert!(dir.path().join("data/b24-status.db").exists());
    assert!(dir.path().join("data/secret.key").exists());

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        // Polls until the process exits.
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    // Logs that are not a terminal's carry no colour codes (journald, Docker, files).
    let logged = std::fs::read_to_string(log.path()).expect("the log");
    assert!(logged.contains("DEMO MODE"), "{logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "colour codes in a log file: {logged:?}"
    );
}
