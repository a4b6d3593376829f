//! What an operator sees: Prometheus metrics after a flow, and logs that never carry a secret.

use serde_json::json;

use super::db::TestDb;
use super::harness::{APP_SECRET, Bitrix, CLIENT_ID, CLIENT_SECRET, TestApp, session_in};
use super::process::{AppProcess, free_port};

/// Serves `app`'s metrics on a listener of their own, as `METRICS_ADDR` does; their URL.
async fn metrics_of(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/metrics", listener.local_addr().expect("addr"));
    let metrics = b24_status::http::metrics_router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, metrics).await });
    url
}

#[tokio::test]
async fn metrics_count_requests_calls_refreshes_waits_and_accounts() {
    let app = TestApp::spawn_with(&["--rate-limit-burst=3", "--rate-limit-per-second=50"]).await;
    let metrics_url = metrics_of(&app).await;

    assert_eq!(app.install().await.status(), 200);
    let admin = app.session_of(1).await;
    let _employee = app.session_of(app.bitrix.employee).await;
    for status in ["dnd", "away", "break", "online"] {
        assert_eq!(
            app.api_put(&admin, json!({"status": status}))
                .await
                .status(),
            200
        );
    }
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    assert_eq!(
        app.api_put(&admin, json!({"status": "dnd"})).await.status(),
        200
    );
    assert_eq!(
        app.api_put(&admin, json!({"status": "BAD"})).await.status(),
        422
    );

    let scrape = app.http.get(&metrics_url).send().await.expect("scrape");
    assert_eq!(
        scrape.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "the content type names the format the body is in"
    );
    let text = scrape.text().await.expect("text");
    assert!(text.ends_with("# EOF\n"), "{text}");
    for line in [
        r#"b24_status_http_requests_total{method="PUT",route="/api/status",status="200"} 5"#,
        r#"b24_status_http_requests_total{method="PUT",route="/api/status",status="422"} 1"#,
        r#"b24_status_http_requests_total{method="POST",route="/install",status="200"} 1"#,
        r#"b24_status_http_request_duration_seconds_count{method="PUT",route="/api/status",status="200"} 5"#,
        r#"b24_status_http_request_duration_seconds_bucket{le="+Inf",method="PUT",route="/api/status",status="200"} 5"#,
        r#"b24_status_bitrix_call_duration_seconds_count{method="im.user.status.set",outcome="ok"} 5"#,
        "# TYPE b24_status_http_request_duration_seconds histogram",
        concat!(
            r#"b24_status_build_info{version=""#,
            env!("CARGO_PKG_VERSION"),
            r#""} 1"#
        ),
        r#"b24_status_bitrix_calls_total{method="im.user.status.set",outcome="ok"} 5"#,
        r#"b24_status_bitrix_calls_total{method="im.user.status.set",outcome="expired_token"} 1"#,
        // The install's token and each open's, every token confirmed once at the OAuth server,
        // and the install's read of the portal's paid period.
        r#"b24_status_bitrix_calls_total{method="app.info",outcome="ok"} 4"#,
        r#"b24_status_token_refreshes_total{outcome="ok"} 1"#,
        r#"b24_status_accounts{state="active"} 2"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    let waits = text
        .lines()
        .find_map(|l| l.strip_prefix("b24_status_rate_limiter_waits_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("waits counter");
    assert!(waits >= 1, "a burst of 3 made later calls wait: {text}");
    let oldest = oldest_refresh_age(&text);
    assert!(
        oldest < 60,
        "every account was just refreshed or stored: {oldest}"
    );
    app.state
        .clock
        .advance(std::time::Duration::from_secs(86_400));
    let text = app
        .http
        .get(&metrics_url)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let oldest = oldest_refresh_age(&text);
    assert!(
        (86_400..86_400 + 60).contains(&oldest),
        "a day later the oldest refresh is a day old: {oldest}"
    );
}

#[tokio::test]
async fn logs_of_a_full_flow_carry_no_secret() {
    let bitrix = Bitrix::start().await;
    let db = TestDb::new().await;
    let mut app = AppProcess::start(&bitrix, &db, free_port(), "flow", &[]).await;
    let http = super::harness::client();
    let post = |path: &str, form: &b24_status::emulator::FormPost| {
        http.post(format!("{}{path}?{}", app.url, form.query_string()))
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
    let event = bitrix
        .emulator
        .event(bitrix.member(), CLIENT_ID, "ONAPPINSTALL", 1);
    assert_eq!(post("/events", &event).await.expect("event").status(), 200);
    let frame = bitrix.emulator.frame_post(
        bitrix.member(),
        CLIENT_ID,
        bitrix.employee,
        "DEFAULT",
        "en",
        "",
    );
    let page = post("/app", &frame)
        .await
        .expect("open")
        .text()
        .await
        .expect("page");
    let session = session_in(&page);
    let put = |status: &str| {
        http.put(format!("{}/api/status", app.url))
            .bearer_auth(&session)
            .json(&json!({"status": status}))
            .send()
    };
    assert_eq!(put("dnd").await.expect("put").status(), 200);
    bitrix
        .emulator
        .expire_access_tokens(bitrix.member(), bitrix.employee);
    assert_eq!(put("away").await.expect("put").status(), 200);
    let forged = frame
        .form
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "AUTH_ID" {
                    "forged".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let forged = b24_status::emulator::FormPost {
        query: frame.query.clone(),
        form: forged,
    };
    assert_eq!(post("/app", &forged).await.expect("forged").status(), 403);
    let uninstall = bitrix.emulator.uninstall(bitrix.member(), CLIENT_ID, false);
    assert_eq!(
        post("/events", &uninstall)
            .await
            .expect("uninstall")
            .status(),
        200
    );
    app.stop();

    let log = app.log();
    assert!(log.lines().count() > 10, "the flow was logged:\n{log}");
    assert!(log.contains("request_id"), "lines carry the request id");
    assert!(
        log.contains(bitrix.member().as_str()),
        "lines carry the portal"
    );
    let mut secrets = bitrix.emulator.issued_secrets();
    secrets.extend([CLIENT_SECRET.to_owned(), APP_SECRET.to_owned(), session]);
    assert!(secrets.len() > 10);
    for secret in secrets {
        assert!(
            !log.contains(&secret),
            "a secret ({}…) is in the log",
            &secret[..6]
        );
    }
}

/// The oldest refresh's age from a scrape.
fn oldest_refresh_age(scrape: &str) -> i64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix("b24_status_oldest_refresh_age_seconds "))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .expect("oldest refresh gauge")
}

#[tokio::test]
async fn a_thousand_made_up_methods_and_paths_add_no_series() {
    let app = TestApp::installed(&[]).await;
    let metrics_url = metrics_of(&app).await;
    let made_up = |i: usize| {
        let method = reqwest::Method::from_bytes(format!("M{i:04}X").as_bytes()).expect("method");
        let (http, url) = (app.http.clone(), app.url(&format!("/no/such/path/{i}")));
        async move {
            http.request(method, url)
                .send()
                .await
                .expect("answer")
                .status()
        }
    };
    // One of each kind first, so the series they fall into exist.
    made_up(0).await;
    let series = |text: String| text.lines().filter(|l| !l.starts_with('#')).count();
    let scrape = || async {
        let text = app.http.get(&metrics_url).send().await.expect("scrape");
        text.text().await.expect("text")
    };
    let before = scrape().await;
    assert!(
        before.contains(r#"method="other",route="unmatched""#),
        "{before}"
    );
    for batch in 0..10 {
        let mut requests = tokio::task::JoinSet::new();
        for i in 1..=100 {
            requests.spawn(made_up(batch * 100 + i));
        }
        while requests.join_next().await.is_some() {}
    }
    let after = scrape().await;
    assert_eq!(series(after.clone()), series(before), "{after}");
    assert!(!after.contains("M0001X") && !after.contains("/no/such/path"));
}
