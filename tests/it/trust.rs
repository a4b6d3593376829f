//! No key but our own: another vendor's app, an outsider who knows `member_id` and an employee
//! with a copied session, each played against the real app over HTTP. A token is believed only
//! when the OAuth server says it is ours; budgets are keyed so nobody spends another's.

use b24_status::emulator::{AppSpec, FaultKind, FaultTarget, FormPost, Region, Server, UserSpec};
use rand::Rng;

use super::harness::{CLIENT_ID, TestApp, assert_page, uid};
use super::team::{company, team, view};

const OTHER_APP: &str = "app.other.vendor";
const XFF: &str = "--client-ip-header=x-forwarded-for";

/// POSTs `form` to `path` as if from `from` (the proxy's `X-Forwarded-For`).
pub(crate) async fn post_from(app: &TestApp, path: &str, form: &FormPost, from: &str) -> u16 {
    app.http
        .post(format!("{}?{}", app.url(path), form.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", from)
        .body(form.body())
        .send()
        .await
        .expect("app answers")
        .status()
        .as_u16()
}

/// The operator's `reauth` of `user`, written through the app's store: seen at once, with no cache told.
pub(crate) async fn reauth(app: &TestApp, user: u64) {
    app.store
        .force_reauth(app.member(), Some(uid(user)), 0)
        .await
        .expect("reauth");
}

/// Another vendor's app, installed on the test portal: it holds tokens of every employee.
fn other_vendor(app: &TestApp) {
    app.bitrix.emulator.register_app(AppSpec {
        client_id: OTHER_APP.into(),
        client_secret: "their-secret".into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im,placement,user_brief".into(),
        version: 1,
    });
    app.bitrix.emulator.install(app.member(), OTHER_APP);
}

#[tokio::test]
async fn another_apps_token_of_an_employee_opens_nothing_and_keeps_their_pair() {
    let app = TestApp::installed(&[]).await;
    other_vendor(&app);
    let employee = app.bitrix.employee;
    assert_eq!(app.open_app_as(employee, "en").await.status(), 200);
    let before = app.snapshot().await;
    // Their app has the employee's pair; our frame POST's other fields are known to employees.
    let theirs = app
        .bitrix
        .emulator
        .issue_tokens(app.member(), OTHER_APP, employee);
    let ours =
        app.bitrix
            .emulator
            .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
    let forged = ours
        .with("AUTH_ID", &theirs.access)
        .with("REFRESH_ID", &theirs.refresh);
    let response = app.post_form("/app", &forged).await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.expect("page");
    assert!(page.contains("Bitrix24 could not confirm"), "{page}");
    assert!(!page.contains("b24-session"), "no session was issued");
    assert_eq!(app.snapshot().await, before, "their pair replaced nothing");
    let statuses = app
        .portal_calls()
        .iter()
        .filter(|c| c.method == "im.user.status.set")
        .count();
    assert_eq!(statuses, 0, "nothing was set at the portal");
}

#[tokio::test]
async fn a_token_is_confirmed_once_within_its_hour() {
    let app = TestApp::installed(&[]).await;
    let post = app.bitrix.emulator.frame_post(
        app.member(),
        CLIENT_ID,
        app.bitrix.employee,
        "DEFAULT",
        "en",
        "",
    );
    let before = app.bitrix.emulator.arrivals("app.info");
    for _ in 0..3 {
        assert_eq!(app.post_form("/app", &post).await.status(), 200);
    }
    assert_eq!(app.bitrix.emulator.arrivals("app.info"), before + 1);
}

#[tokio::test]
async fn a_working_pair_is_never_replaced_by_one_that_came_through_the_browser() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    assert_eq!(app.open_app_as(employee, "en").await.status(), 200);
    let stored = app.account(uid(employee)).await.expect("account");
    let kept = stored.tokens.expect("a pair");
    // A genuine token of theirs with a refresh token nobody can vouch for.
    let post = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "")
        .with("REFRESH_ID", "junk-refresh-token-junk-refresh-token");
    assert_eq!(app.post_form("/app", &post).await.status(), 200);
    let after = app.account(uid(employee)).await.expect("account");
    let tokens = after.tokens.expect("a pair");
    assert!(tokens.refresh.matches(kept.refresh.expose()));
    assert_eq!(after.generation, stored.generation);
    // Once the stored pair stops working, a confirmed open stores the new one.
    reauth(&app, employee).await;
    assert_eq!(app.open_app_as(employee, "en").await.status(), 200);
    let renewed = app.account(uid(employee)).await.expect("account");
    assert!(
        !renewed
            .tokens
            .expect("a pair")
            .refresh
            .matches(kept.refresh.expose())
    );
}

#[tokio::test]
async fn junk_from_one_network_never_locks_a_portal_out() {
    let app = TestApp::installed(&[XFF]).await;
    let employee = app.bitrix.employee;
    // A colleague at the attacker's office opened the app before.
    let colleague = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    assert_eq!(
        post_from(&app, "/app", &colleague, "203.0.113.80").await,
        200
    );
    let before = app.bitrix.emulator.arrivals("app.info");
    let mut statuses = Vec::new();
    for i in 0..60 {
        let junk = colleague.with("AUTH_ID", &format!("junk-token-{i:04}-junk-token"));
        statuses.push(post_from(&app, "/app", &junk, "203.0.113.9").await);
    }
    // The budget refills one check every 5 s of real time: a slow machine may fit one more.
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert!((20..=21).contains(&refused), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 60 - refused);
    assert_eq!(
        app.bitrix.emulator.arrivals("app.info"),
        before + refused,
        "refused checks cost Bitrix24 nothing"
    );
    // The same /64 or /24 is the same network …
    let fresh =
        app.bitrix
            .emulator
            .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
    assert_eq!(post_from(&app, "/app", &fresh, "203.0.113.10").await, 429);
    // … but a token already confirmed is never refused, and every other network is open.
    assert_eq!(
        post_from(&app, "/app", &colleague, "203.0.113.80").await,
        200
    );
    assert_eq!(post_from(&app, "/app", &fresh, "198.51.100.7").await, 200);
}

#[tokio::test]
async fn forged_install_events_cannot_hammer_the_oauth_server_through_us() {
    let app = TestApp::installed(&[XFF]).await;
    let event = app
        .bitrix
        .emulator
        .event(app.member(), CLIENT_ID, "ONAPPINSTALL", 1);
    let before = app.bitrix.emulator.arrivals("app.info");
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..150 {
        let member: String = (0..32)
            .map(|_| char::from_digit(rand::rng().random_range(0..16), 16).unwrap_or('0'))
            .collect();
        let forged = event.with("auth[member_id]", &member);
        let (http, url) = (app.http.clone(), app.url("/events"));
        posts.spawn(async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", "2001:db8:7:7::1")
                .body(forged.body())
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = posts.join_next().await {
        statuses.push(status.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 0);
    let calls = app.bitrix.emulator.arrivals("app.info") - before;
    assert!(calls <= 20, "{calls} calls to the OAuth server");
}

#[tokio::test]
async fn an_employees_update_events_cost_a_few_rebinds_an_hour_and_nobody_elses() {
    let app = TestApp::installed(&[]).await;
    let employee = app.bitrix.employee;
    let mut statuses = Vec::new();
    for version in 2..8 {
        let update = app
            .bitrix
            .emulator
            .update_app(app.member(), CLIENT_ID, version, employee);
        statuses.push(app.post_form("/events", &update).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // The administrator's own update is not refused for the employee's.
    let update = app
        .bitrix
        .emulator
        .update_app(app.member(), CLIENT_ID, 9, 1);
    assert_eq!(app.post_form("/events", &update).await.status(), 200);
}

#[tokio::test]
async fn a_portal_cannot_fill_the_database_with_users() {
    let app = TestApp::installed(&[]).await;
    assert_eq!(
        app.open_app_as(app.bitrix.employee, "en").await.status(),
        200
    );
    // The portal holds as many accounts as one may: the installer, the employee, the rest.
    let raw = app.db.raw().await;
    let last = 1000 + b24_status::store::MAX_ACCOUNTS_PER_PORTAL - 3;
    raw.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
         INSERT INTO accounts (member_id, user_id, state, created_at, updated_at)
         SELECT '{}', i, 'needs_reauth', 0, 0 FROM n",
        app.member()
    ))
    .await;
    raw.close().await;
    let newcomer = app
        .bitrix
        .emulator
        .add_user(app.member(), UserSpec::new("Nina", "New", false));
    let before = app.count("accounts").await;
    let response = app.open_app_as(newcomer, "en").await;
    assert_eq!(response.status(), 507);
    let page = response.text().await.expect("page");
    assert!(page.contains("the most users the app keeps"), "{page}");
    assert_eq!(app.count("accounts").await, before, "no row written");
    // Those who have an account keep using the app.
    assert_eq!(
        app.open_app_as(app.bitrix.employee, "en").await.status(),
        200
    );
}

#[tokio::test]
async fn an_extranet_user_is_told_the_board_is_for_employees_and_never_feeds_it() {
    let app = TestApp::installed(&[]).await;
    company(&app);
    let guest = app
        .bitrix
        .emulator
        .add_user(app.member(), UserSpec::new("Gina", "Guest", false));
    app.bitrix.emulator.set_extranet(app.member(), guest, true);
    let address = app.address.to_string();
    // The guest looks first: their token's smaller directory is read, refused and not kept.
    let guest_session = app.session_of(guest).await;
    let (status, body) = team(&app, &address, &guest_session, "department=all").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "employees_only");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("for the portal's employees")),
        "{body}"
    );
    // An employee then gets the whole company, read with their own token.
    let employee = app.session_of(app.bitrix.employee).await;
    let (status, body) = team(&app, &address, &employee, "department=all").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["pages"].as_u64().is_some_and(|p| p >= 2), "{body}");
    // And the guest, now that an employee's read is cached, still sees none of it.
    let (status, body) = team(&app, &address, &guest_session, "department=all").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.get("members").is_none());
    let page = view(&app, &guest_session, &[("view", "team")]).await;
    assert_page(page, 200, "for the portal&#39;s employees").await;
}

#[tokio::test]
async fn an_outage_of_the_oauth_server_is_no_failed_check() {
    let app = TestApp::installed(&[XFF]).await;
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("app.info".into()),
        },
        FaultKind::Error {
            status: 503,
            code: "SERVICE_UNAVAILABLE".into(),
        },
        30,
    );
    let employee = app.bitrix.employee;
    for _ in 0..30 {
        let post =
            app.bitrix
                .emulator
                .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
        assert_eq!(post_from(&app, "/app", &post, "203.0.113.9").await, 502);
    }
    // Thirty checks Bitrix24 could not answer closed nothing: the office opens the app again.
    let post =
        app.bitrix
            .emulator
            .frame_post(app.member(), CLIENT_ID, employee, "DEFAULT", "en", "");
    assert_eq!(post_from(&app, "/app", &post, "203.0.113.9").await, 200);
}
