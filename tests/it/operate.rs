//! The operator's commands, run as the real binary against the database of a running app:
//! what they print, what they change, and that running instances notice within a second.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{APP_SECRET, CLIENT_SECRET, TestApp, uid};
use super::service::binary;

/// What a command printed and how it ended.
pub struct Ran {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl Ran {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("{e}: {}", self.out))
    }
}

/// Runs `b24-status ARGS` with the app's database and secret, plus `env`.
pub async fn operator(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = binary();
    command
        .current_dir(app.db.dir())
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .env("APP_SECRET", APP_SECRET)
        .envs(env.iter().copied());
    // The command may call back into this test's app and emulator, which run on this thread.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("the binary runs");
    Ran {
        code: output.status.code(),
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Repeats `PUT /api/status` until it answers `status`, for up to 5 s (each instance checks
/// its cached account against the database once a second).
async fn put_until(app: &TestApp, session: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = app.api_put(session, json!({"status": "dnd"})).await;
        let code = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        if code == status {
            return body;
        }
        assert!(Instant::now() < deadline, "still {code}: {body}");
        // Waits for the instance's once-a-second look at the database.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn portals_and_accounts_list_what_is_stored() {
    let app = TestApp::installed(&[]).await;
    let _employee = app.session_of(app.bitrix.employee).await;
    let domain = app.bitrix.portal.domain.as_str();

    let listed = operator(&app, &["portals", "--json"], &[]).await;
    assert_eq!(listed.code, Some(0), "{}", listed.err);
    let portals = listed.json();
    let portal = &portals[0];
    assert_eq!(portal["domain"], domain);
    assert_eq!(portal["member_id"], app.member().as_str());
    assert_eq!(portal["state"], "active");
    assert_eq!(portal["users"], 2);
    let key = app.store.current_key_id().to_owned();
    assert_eq!(portal["key_ids"], key.as_str());

    let table = operator(&app, &["portals"], &[]).await;
    let lines: Vec<&str> = table.out.lines().collect();
    assert!(lines[0].starts_with("DOMAIN"), "{}", table.out);
    assert!(
        lines[1].contains(domain) && lines[1].contains(&key),
        "{}",
        table.out
    );

    let accounts = operator(&app, &["accounts", domain], &[]).await;
    assert_eq!(accounts.code, Some(0), "{}", accounts.err);
    assert!(accounts.out.contains("installer"), "{}", accounts.out);
    let by_id = operator(&app, &["accounts", app.member().as_str(), "--json"], &[]).await;
    let users: Vec<u64> = by_id
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["user_id"].as_u64())
        .collect();
    assert_eq!(users, [1, app.bitrix.employee]);

    let unknown = operator(&app, &["accounts", "nowhere.example"], &[]).await;
    assert_eq!(unknown.code, Some(2));
    assert!(
        unknown.err.contains("b24-status portals"),
        "{}",
        unknown.err
    );
}

#[tokio::test]
async fn suspend_resume_and_reauth_reach_the_running_app_within_a_second() {
    let app = TestApp::installed(&[]).await;
    let admin = app.session_of(1).await;
    let employee = app.session_of(app.bitrix.employee).await;
    let domain = app.bitrix.portal.domain.as_str();
    put_until(&app, &admin, 200).await;

    let paused = operator(&app, &["suspend", domain], &[]).await;
    assert_eq!(paused.code, Some(0), "{}", paused.err);
    let body = put_until(&app, &admin, 503).await;
    assert_eq!(body["error"], "paused", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("paused"))
    );
    let page = app.open_app_as(app.bitrix.employee, "de").await;
    assert_eq!(page.status(), 503);
    assert!(page.text().await.expect("page").contains("pausiert"));
    let listed = operator(&app, &["portals"], &[]).await;
    assert!(listed.out.contains("paused"), "{}", listed.out);

    let resumed = operator(&app, &["resume", domain], &[]).await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.err);
    put_until(&app, &admin, 200).await;

    let user = app.bitrix.employee.to_string();
    let reauth = operator(&app, &["reauth", domain, &user], &[]).await;
    assert_eq!(reauth.code, Some(0), "{}", reauth.err);
    assert!(reauth.out.contains("1 account"), "{}", reauth.out);
    let body = put_until(&app, &employee, 401).await;
    assert_eq!(body["error"], "reauth_required", "{body}");
    put_until(&app, &admin, 200).await;
    let account = app.account(uid(app.bitrix.employee)).await.expect("kept");
    assert!(account.tokens.is_none(), "the tokens are forgotten");
    let accounts = operator(&app, &["accounts", domain, "--json"], &[])
        .await
        .json();
    let states: Vec<&str> = accounts
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["state"].as_str())
        .collect();
    assert_eq!(states, ["active", "needs_reauth"]);
    // Opening the app again signs the user in again.
    let again = app.session_of(app.bitrix.employee).await;
    put_until(&app, &again, 200).await;

    let nobody = operator(&app, &["reauth", domain, "999"], &[]).await;
    assert_eq!(nobody.code, Some(2), "{}", nobody.err);
}

#[tokio::test]
async fn export_holds_everything_but_secrets_and_purge_needs_yes() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    put_until(&app, &session, 200).await;
    let domain = app.bitrix.portal.domain.as_str();
    let account = app.account(uid(app.bitrix.employee)).await.expect("stored");
    let tokens = account.tokens.expect("tokens");
    let portal = app.portal().await.expect("stored");
    let application_token = portal.record.application_token.expect("token");

    let deadline = Instant::now() + Duration::from_secs(5);
    let export = loop {
        let export = operator(&app, &["export", domain], &[]).await;
        assert_eq!(export.code, Some(0), "{}", export.err);
        let calls = export.json()["bitrix24_calls"]
            .as_array()
            .map_or(0, Vec::len);
        if calls > 0 {
            break export;
        }
        assert!(Instant::now() < deadline, "no call was logged");
        // The call log is written in batches, off the request's path.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let document = export.json();
    assert_eq!(document["portal"]["domain"], domain);
    assert_eq!(document["accounts"].as_array().map(Vec::len), Some(2));
    for secret in [
        tokens.access.expose(),
        tokens.refresh.expose(),
        application_token.expose(),
        CLIENT_SECRET,
        APP_SECRET,
    ] {
        assert!(!export.out.contains(secret), "a secret in the export");
    }

    let refused = operator(&app, &["purge", domain], &[]).await;
    assert_eq!(refused.code, Some(2));
    assert!(refused.err.contains("--yes"), "{}", refused.err);
    assert!(
        app.portal().await.is_some(),
        "nothing deleted without --yes"
    );

    let purged = operator(&app, &["purge", domain, "--yes"], &[]).await;
    assert_eq!(purged.code, Some(0), "{}", purged.err);
    assert!(purged.out.contains("2 account(s)"), "{}", purged.out);
    for table in ["portals", "accounts", "call_log", "oauth_states", "timers"] {
        assert_eq!(app.count(table).await, 0, "{table} keeps rows");
    }
    // The running instance forgets the purged portal within a second.
    put_until(&app, &session, 404).await;
}

#[tokio::test]
async fn calls_lists_the_log_without_secrets_and_old_records_go() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    put_until(&app, &session, 200).await;
    let domain = app.bitrix.portal.domain.as_str();
    let logged = |since: &'static str| {
        let app = &app;
        async move {
            let ran = operator(app, &["calls", domain, "--since", since, "--json"], &[]).await;
            assert_eq!(ran.code, Some(0), "{}", ran.err);
            (ran.json(), ran.out)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let (calls, text) = loop {
        let (calls, text) = logged("1h").await;
        if text.contains("im.user.status.set") {
            break (calls, text);
        }
        assert!(
            Instant::now() < deadline,
            "the status call was not logged: {text}"
        );
        // The writer stores in batches.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let set = calls
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["method"] == "im.user.status.set")
        .expect("logged");
    assert_eq!(set["user_id"], app.bitrix.employee);
    assert_eq!(set["http_status"], 200);
    assert!(set["error_code"].is_null());
    assert!(
        set["request"].as_str().is_some_and(|r| r.contains("dnd")),
        "{set}"
    );
    for method in ["app.info", "batch"] {
        assert!(text.contains(method), "{method} missing: {text}");
    }
    let account = app.account(uid(app.bitrix.employee)).await.expect("stored");
    let tokens = account.tokens.expect("tokens");
    let issued = app.bitrix.emulator.issued_secrets();
    assert!(!issued.is_empty());
    for secret in issued.iter().map(String::as_str).chain([
        tokens.access.expose(),
        tokens.refresh.expose(),
        CLIENT_SECRET,
    ]) {
        assert!(!text.contains(secret), "a token in the call log");
    }
    let table = operator(&app, &["calls", domain], &[]).await;
    assert!(table.out.starts_with("TIME"), "{}", table.out);

    // Three days and a minute later, a new call; then the retention's pruning.
    let before = app.count("call_log").await;
    app.state
        .clock
        .advance(Duration::from_secs(3 * 86_400 + 60));
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.count("call_log").await == before {
        assert!(Instant::now() < deadline, "the new call was not logged");
        // The writer stores in batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pruned = app.state.call_log.prune().await.expect("pruned");
    assert_eq!(pruned, u64::try_from(before).expect("count"));
    let (left, _) = logged("10d").await;
    let methods: Vec<&str> = left
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["method"].as_str())
        .collect();
    assert!(methods.contains(&"im.user.status.set"), "{methods:?}");
    assert!(
        !methods.contains(&"app.info"),
        "old records stayed: {methods:?}"
    );

    let bad = operator(&app, &["calls", domain, "--since", "yesterday"], &[]).await;
    assert_eq!(bad.code, Some(2));
    assert!(bad.err.contains("30m"), "{}", bad.err);
}

#[tokio::test]
async fn vendor_fields_follow_public_url_and_one_line_commands_refuse_json() {
    let app = TestApp::installed(&[]).await;
    let public = [("PUBLIC_URL", "https://status.example.com/")];
    let ran = operator(&app, &["vendor-fields", "--json"], &public).await;
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    let fields = ran.json();
    let values: Vec<&str> = fields
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|f| f["value"].as_str())
        .collect();
    for expected in [
        "https://status.example.com/install",
        "https://status.example.com/app",
        "https://status.example.com/events",
        "https://status.example.com/oauth/callback",
        "im,placement,user_brief,department,calendar,timeman,imbot",
    ] {
        assert!(values.contains(&expected), "{expected} in {values:?}");
    }
    let plain = operator(
        &app,
        &["vendor-fields"],
        &[("PUBLIC_URL", "http://x.example")],
    )
    .await;
    assert_eq!(plain.code, Some(2));
    assert!(plain.err.contains("https"), "{}", plain.err);
    let member = app.member().to_string();
    let one_line = operator(&app, &["suspend", &member, "--json"], &[]).await;
    assert_eq!(one_line.code, Some(2));
    assert!(one_line.err.contains("has no table"), "{}", one_line.err);
    let portal = app.portal().await.expect("portal");
    assert!(portal.paused_at.is_none(), "nothing was done");
}
