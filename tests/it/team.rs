//! The team board over real HTTP: the `/api/team` contract, one read of Bitrix24 per portal
//! per 30 seconds whoever looks (two instances included), what the administrator is told when
//! a scope or a method is missing, the page's views without script, and the session a page
//! renews while it stays open.

use std::time::Duration;

use b24_status::domain::Status;
use b24_status::emulator::{AppSpec, UserSpec};
use b24_status::http::session::SessionKey;
use b24_status::store::MasterKey;
use serde_json::{Value, json};

use super::harness::{APP_SECRET, CLIENT_ID, CLIENT_SECRET, TestApp, assert_page, session_in};

/// `GET /api/team?{query}` with `session`: the status and the body.
pub async fn team(app: &TestApp, address: &str, session: &str, query: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("http://{address}/api/team?{query}"))
        .bearer_auth(session)
        .send()
        .await
        .expect("app answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The portal's `batch` requests so far (the board reads in batches only).
fn batches(app: &TestApp) -> usize {
    app.portal_calls()
        .iter()
        .filter(|c| c.method == "batch")
        .count()
}

/// A company of two more departments: Sales (2) with 55 people, Support (3) with 3.
pub fn company(app: &TestApp) -> (u64, u64) {
    let emulator = &app.bitrix.emulator;
    let sales = emulator.add_department(app.member(), "Sales");
    let support = emulator.add_department(app.member(), "Support");
    for n in 0..55 {
        let spec = UserSpec::new("Seller", &format!("No{n:02}"), false)
            .in_department(sales, "Sales manager");
        emulator.add_user(app.member(), spec);
    }
    for (name, status) in [
        ("Vera", Status::Away),
        ("Wim", Status::Break),
        ("Xenia", Status::Dnd),
    ] {
        let spec = UserSpec::new(name, "Helper", false).in_department(support, "Support engineer");
        let user = emulator.add_user(app.member(), spec);
        emulator.set_user_status(app.member(), user, status);
    }
    (sales, support)
}

fn names(body: &Value) -> Vec<String> {
    body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn the_board_keeps_the_contract_the_viewers_department_first() {
    let app = TestApp::installed(&[]).await;
    let (sales, support) = company(&app);
    let boris = app.bitrix.employee;
    let session = app.session_of(boris).await;
    let until = jiff::Timestamp::from_second(app.state.clock.now() + 3600)
        .expect("time")
        .to_string();
    let timed = app
        .api_put(&session, json!({"status": "dnd", "until": until}))
        .await;
    assert_eq!(timed.status(), 200);
    app.bitrix
        .emulator
        .set_absent(app.member(), 1, Some("2026-12-20T00:00:00+01:00"));
    let before = batches(&app);
    let address = app.address.to_string();

    // No department asked: the viewer's own (the root, with Anna and Boris).
    let (status, body) = team(&app, &address, &session, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["members"][1],
        json!({"id": boris, "name": "Boris Ivanov", "position": "", "status": "dnd",
               "until": until, "absent": false})
    );
    assert_eq!(body["members"][0]["name"], "Anna Admin");
    assert_eq!(body["members"][0]["absent"], true);
    assert_eq!(
        (body["page"].clone(), body["pages"].clone()),
        (json!(1), json!(1))
    );
    let departments = body["departments"].as_array().expect("departments");
    assert_eq!(departments.len(), 3);
    assert_eq!(departments[0], json!({"id": 1, "name": "Company"}));
    // 60 people: departments and two pages of employees, then every status — three requests.
    assert_eq!(batches(&app) - before, 3);

    let (_, sales_page) = team(&app, &address, &session, &format!("department={sales}")).await;
    assert_eq!(sales_page["members"].as_array().expect("members").len(), 50);
    assert_eq!(sales_page["pages"], 2);
    let (_, second) = team(
        &app,
        &address,
        &session,
        &format!("department={sales}&page=2"),
    )
    .await;
    assert_eq!(
        names(&second),
        [
            "Seller No50",
            "Seller No51",
            "Seller No52",
            "Seller No53",
            "Seller No54"
        ]
    );
    let (_, helpers) = team(&app, &address, &session, &format!("department={support}")).await;
    let statuses: Vec<&str> = helpers["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["away", "break", "dnd"]);
    let (_, found) = team(&app, &address, &session, "department=all&q=xEnIa").await;
    assert_eq!(names(&found), ["Xenia Helper"]);
    let (_, by_position) = team(&app, &address, &session, "department=all&q=support%20eng").await;
    assert_eq!(by_position["members"].as_array().expect("members").len(), 3);
    let (_, everyone) = team(&app, &address, &session, "department=all&page=2").await;
    assert_eq!(everyone["members"].as_array().expect("members").len(), 10);
    assert_eq!(
        batches(&app) - before,
        3,
        "pages and searches cost Bitrix24 nothing"
    );

    // Bad queries: 422 naming the field, and nothing is called.
    for (query, field) in [
        ("department=sales", "department"),
        ("page=0", "page"),
        ("page=x", "page"),
        (&*format!("q={}", "a".repeat(101)), "q"),
    ] {
        let (status, body) = team(&app, &address, &session, query).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["error"], "invalid_query");
        assert_eq!(body["field"], field);
        assert!(body["message"].as_str().expect("message").contains(field));
    }
    let (status, _) = team(&app, &address, "forged", "").await;
    assert_eq!(status, 401);
    assert_eq!(batches(&app) - before, 3);
}

#[tokio::test]
async fn one_read_serves_every_viewer_on_every_instance_for_30_seconds() {
    let app = TestApp::installed(&[]).await;
    let (second, second_state) = app.second_instance(&[]).await;
    let emulator = &app.bitrix.emulator;
    let third = emulator.add_user(app.member(), UserSpec::new("Clara", "Schmidt", false));
    let mut sessions = Vec::new();
    for user in [1, app.bitrix.employee, third] {
        sessions.push(app.session_of(user).await);
    }
    let addresses = [app.address.to_string(), second.to_string()];
    let before = batches(&app);
    let round = || async {
        let views =
            (0..30).map(|n| team(&app, &addresses[n % 2], &sessions[n % 3], "department=all"));
        for (status, body) in futures_util::future::join_all(views).await {
            assert_eq!(status, 200, "{body}");
        }
    };
    round().await;
    // Three people: the first read is the list, then the statuses of those it found.
    assert_eq!(batches(&app) - before, 2);
    round().await;
    assert_eq!(batches(&app) - before, 2, "a read serves 30 seconds");

    emulator.set_user_status(app.member(), third, Status::Break);
    for clock in [&app.state.clock, &second_state.clock] {
        clock.advance(Duration::from_secs(31));
    }
    round().await;
    // Once the read is old, one request reads the list and the known statuses together.
    assert_eq!(batches(&app) - before, 3);
    let (_, body) = team(&app, &addresses[1], &sessions[0], "department=all").await;
    let clara = body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["id"] == third)
        .cloned()
        .expect("Clara");
    assert_eq!(clara["status"], "break");
    assert_eq!(app.count("team_cache").await, 1);
}

#[tokio::test]
async fn a_scope_the_portal_never_granted_is_named_and_bitrix24_is_not_called() {
    let app = TestApp::spawn().await;
    app.bitrix.emulator.register_app(AppSpec {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: None,
        install_url: None,
        app_url: None,
        scope: "im,placement,user_brief".into(),
        version: 1,
    });
    assert_eq!(app.install().await.status(), 200);
    let session = app.session_of(app.bitrix.employee).await;
    let before = batches(&app);
    let (status, body) = team(&app, &app.address.to_string(), &session, "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "department");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("“department”")
    );
    assert_eq!(batches(&app), before, "nothing was sent");

    let page = view(&app, &session, &[("view", "team")]).await;
    let text = assert_page(page, 200, "“department”").await;
    assert!(text.contains("administrator"), "{text}");
    assert_eq!(
        app.api_put(&session, json!({"status": "away"}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_scope_taken_back_or_a_method_the_portal_lacks_is_said_and_status_still_works() {
    let app = TestApp::installed(&[]).await;
    let session = app.session_of(app.bitrix.employee).await;
    let address = app.address.to_string();
    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, "im,placement,department");
    let (status, body) = team(&app, &address, &session, "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["scope"], "user_brief");

    app.bitrix
        .emulator
        .set_scope(app.member(), CLIENT_ID, super::harness::SCOPE);
    app.bitrix
        .emulator
        .remove_method(app.member(), "im.user.list.get");
    let (status, body) = team(&app, &address, &session, "").await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["error"], "method_unavailable");
    assert_eq!(body["method"], "im.user.list.get");
    let page = view(&app, &session, &[("view", "team")]).await;
    assert_page(page, 200, "“im.user.list.get”").await;
    assert_eq!(
        app.api_put(&session, json!({"status": "dnd"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.bitrix
            .emulator
            .user_status(app.member(), app.bitrix.employee),
        Some(Status::Dnd)
    );
}

/// `POST /app/view` with the page's session and `fields`.
/// `POST /app/view` as the page's forms send it, with `session` and `fields`.
pub(crate) async fn view(
    app: &TestApp,
    session: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("session", session), ("zone", "Europe/Berlin")];
    form.extend_from_slice(fields);
    app.http
        .post(app.url("/app/view"))
        .form(&form)
        .send()
        .await
        .expect("app answers")
}

#[tokio::test]
async fn the_page_shows_both_views_and_pages_through_the_board_without_script() {
    let app = TestApp::installed(&[]).await;
    let (sales, _) = company(&app);
    let page = app.open_app_as(app.bitrix.employee, "en").await;
    let status_page = assert_page(page, 200, r#"value="team""#).await;
    let session = session_in(&status_page);
    let sales = sales.to_string();
    let board = view(
        &app,
        &session,
        &[("view", "team"), ("department", &sales), ("page", "2")],
    )
    .await;
    let board = assert_page(board, 200, "Seller No54").await;
    assert!(!board.contains("Seller No49"), "page 2 holds the last five");
    assert!(board.contains("Page 2 of 2"), "{board}");
    assert!(board.contains(r#"aria-current="page">Team"#));
    let renewed = session_in(&board);
    let own = view(&app, &renewed, &[("view", "team")]).await;
    let own = assert_page(own, 200, "Boris Ivanov").await;
    assert!(own.contains("(you)"));
    let back = view(&app, &renewed, &[("view", "status")]).await;
    assert_page(back, 200, "b24s-form").await;
    for fields in [
        &[("view", "bogus")][..],
        &[("view", "team"), ("page", "0")],
        &[("view", "team"), ("department", "x")],
    ] {
        assert_eq!(
            view(&app, &session, fields).await.status(),
            400,
            "{fields:?}"
        );
    }
    assert_eq!(
        view(&app, "forged", &[("view", "team")]).await.status(),
        401
    );
}

#[tokio::test]
async fn a_session_is_renewed_while_it_is_valid_and_never_after() {
    let app = TestApp::installed(&[]).await;
    let user = app.bitrix.employee;
    let session = app.session_of(user).await;
    let renew = |token: String| {
        let http = app.http.clone();
        let url = app.url("/api/session");
        async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answers");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let (status, body) = renew(session.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["expires_in"],
        b24_status::http::session::SESSION_TTL_SECS
    );
    let fresh = body["session"].as_str().expect("session").to_owned();
    assert_eq!(
        app.api_get(&fresh).await.status(),
        200,
        "the new session works"
    );

    // One that expired (a page closed for the night) gets nothing, nor does a forged one.
    let key = SessionKey::new(
        MasterKey::from_base64(APP_SECRET)
            .expect("key")
            .derive(SessionKey::PURPOSE),
    );
    let hours_ago = b24_status::clock::unix_now() - 3 * 3600;
    let expired = key.begin(
        app.member(),
        super::harness::uid(user),
        b24_status::i18n::Lang::En,
        0,
        hours_ago,
    );
    assert_eq!(renew(expired).await.0, 401);
    assert_eq!(renew(format!("{session}x")).await.0, 401);
}
