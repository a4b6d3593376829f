//! The shared test harness: starts the emulator with one portal and the app against it, each
//! on a random loopback port with a database in its own temporary folder.

use std::net::SocketAddr;
use std::time::Duration;

use b24_status::clock::Clock;
use b24_status::config::{Cli, Config, Secrets};
use b24_status::domain::{MemberId, UserId};
use b24_status::emulator::{AppSpec, Call, Emulator, FormPost, PortalInfo, Server, UserSpec};
use b24_status::store::{Account, Portal, Store};
use b24_status::{AppState, Application, Loops, bitrix};
use clap::Parser;

pub use super::canary::Canary;
use super::db::TestDb;

/// The app's credentials in every test.
pub const CLIENT_ID: &str = "app.test.b24status";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// base64 of 32 bytes.
pub const APP_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const SCOPE: &str = "im,placement,user_brief,department,calendar,timeman";

/// An emulated Bitrix24 with one portal (admin = user 1, employee = user 2) and our app
/// registered.
pub struct Bitrix {
    pub emulator: Emulator,
    pub portal: PortalInfo,
    pub employee: u64,
}

impl Bitrix {
    pub async fn start() -> Self {
        let emulator = Emulator::start().await.expect("emulator starts");
        emulator.register_app(AppSpec {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uri: Some("http://127.0.0.1:9/oauth/callback".into()),
            install_url: None,
            app_url: None,
            scope: SCOPE.into(),
            version: 1,
        });
        let portal = emulator
            .add_portal(UserSpec::new("Anna", "Admin", true))
            .await
            .expect("portal starts");
        let employee =
            emulator.add_user(&portal.member_id, UserSpec::new("Boris", "Ivanov", false));
        Self {
            emulator,
            portal,
            employee,
        }
    }

    /// The same, with our app already installed on the portal.
    pub async fn installed() -> Self {
        let bitrix = Self::start().await;
        bitrix.emulator.install(bitrix.member(), CLIENT_ID);
        bitrix
    }

    pub fn member(&self) -> &MemberId {
        &self.portal.member_id
    }

    /// A fresh access token of `user` for our app, as a portal would issue it.
    pub fn access_token(&self, user: u64) -> String {
        self.emulator
            .issue_tokens(self.member(), CLIENT_ID, user)
            .access
    }
}

/// A running app.
pub struct TestApp {
    pub bitrix: Bitrix,
    pub address: SocketAddr,
    pub state: AppState,
    /// The app's own store: what the tests write through it reaches the app's cache as any
    /// write of the app's would.
    pub store: Store,
    pub http: reqwest::Client,
    pub db: TestDb,
}

/// Configuration as an operator would give it, pointing at the emulator, plus `extra` flags
/// (and `APP_SECRET=…` / `APP_SECRET_PREVIOUS=…` in place of the test's secret).
pub fn config_for(bitrix: &Bitrix, public_url: &str, db_url: &str, extra: &[&str]) -> Config {
    let oauth = bitrix.emulator.oauth_urls();
    let mut args = vec![
        "b24-status".to_owned(),
        format!("--b24-client-id={CLIENT_ID}"),
        format!("--b24-oauth-url={oauth}"),
        format!("--public-url={public_url}"),
        "--b24-allow-http=true".to_owned(),
    ];
    // `APP_SECRET…=…` are the secrets an operator would put in the environment; the rest flags.
    let (secret, flags): (Vec<&str>, Vec<&str>) =
        extra.iter().partition(|a| a.starts_with("APP_SECRET"));
    args.extend(flags.iter().map(|s| (*s).to_owned()));
    let given = |name: &str| {
        secret
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    };
    let secrets = Secrets {
        client_secret: Some(CLIENT_SECRET.into()),
        app_secret: Some(given("APP_SECRET").unwrap_or_else(|| APP_SECRET.into())),
        app_secret_previous: given("APP_SECRET_PREVIOUS"),
        database_url: Some(db_url.into()),
        target_database_url: None,
    };
    Config::load(Cli::parse_from(args), secrets).expect("test configuration is valid")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An app started with extra configuration flags.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        Self::serving(Bitrix::start().await, TestDb::new().await, extra).await
    }

    /// An installed app whose pages load the emulated portal's Bitrix24 library, as in the
    /// demo, so the portal can fit its frame to the page.
    pub async fn installed_with_portal_js() -> Self {
        let app = Self::with_portal_js().await;
        assert_eq!(app.install().await.status(), 200);
        app
    }

    /// The same, not installed yet: the portal's page runs the install in its frame.
    pub async fn with_portal_js() -> Self {
        let bitrix = Bitrix::start().await;
        let js = format!("--b24-js-url=http://{}/bx24.js", bitrix.portal.domain);
        Self::serving(bitrix, TestDb::new().await, &[js.as_str()]).await
    }

    /// The app `application` is, built on `bitrix` and `db`.
    pub fn around(bitrix: Bitrix, db: TestDb, application: &Application) -> Self {
        Self {
            address: application.address().expect("address"),
            state: application.state().clone(),
            store: application.store().clone(),
            http: client(),
            bitrix,
            db,
        }
    }

    /// An app on `bitrix` and `db`, serving.
    async fn serving(bitrix: Bitrix, db: TestDb, extra: &[&str]) -> Self {
        // The tests apply due work by hand (`Jobs::apply_due`), so the loops stay off here;
        // `application.rs` runs them.
        let (_, application) = built(&bitrix, &db.url, extra, Loops::Manual).await;
        let app = Self::around(bitrix, db, &application);
        tokio::spawn(application.run_until(std::future::pending()));
        app
    }

    /// An app whose portal has already installed it (the admin's install POST went through).
    pub async fn installed(extra: &[&str]) -> Self {
        let app = Self::spawn_with(extra).await;
        assert_eq!(app.install().await.status(), 200);
        app
    }

    /// A second instance of the app over the same database file.
    pub async fn second_instance(&self, extra: &[&str]) -> (SocketAddr, AppState) {
        let (address, application) = built(&self.bitrix, &self.db.url, extra, Loops::Manual).await;
        let state = application.state().clone();
        tokio::spawn(application.run_until(std::future::pending()));
        (address, state)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn member(&self) -> &MemberId {
        self.bitrix.member()
    }

    /// POSTs a portal form (query string + form body) to `path`.
    pub async fn post_form(&self, path: &str, post: &FormPost) -> reqwest::Response {
        let query = post.query_string();
        let url = if query.is_empty() {
            self.url(path)
        } else {
            format!("{}?{query}", self.url(path))
        };
        self.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(post.body())
            .send()
            .await
            .expect("app answers")
    }

    /// The admin installs the app from the portal (the install POST of protocol doc §1.2),
    /// and the page's `installFinish` is played at the emulator.
    pub async fn install(&self) -> reqwest::Response {
        let post = self
            .bitrix
            .emulator
            .begin_install(self.member(), CLIENT_ID, 1, "en");
        let response = self.post_form("/install", &post).await;
        if response.status() == 200 {
            self.bitrix
                .emulator
                .finish_install(self.member(), CLIENT_ID);
        }
        response
    }

    /// A user opens the app inside the portal (the frame POST of protocol doc §1.2).
    pub async fn open_app_as(&self, user: u64, lang: &str) -> reqwest::Response {
        let post =
            self.bitrix
                .emulator
                .frame_post(self.member(), CLIENT_ID, user, "DEFAULT", lang, "");
        self.post_form("/app", &post).await
    }

    /// Opens the app as `user` and returns the page's session token.
    pub async fn session_of(&self, user: u64) -> String {
        let page = self.open_app_as(user, "en").await;
        assert_eq!(page.status(), 200);
        session_in(&page.text().await.expect("page"))
    }

    /// `GET /api/status` with a session token.
    pub async fn api_get(&self, session: &str) -> reqwest::Response {
        self.http
            .get(self.url("/api/status"))
            .bearer_auth(session)
            .send()
            .await
            .expect("app answers")
    }

    /// `PUT /api/status` with a session token and a JSON body.
    pub async fn api_put(&self, session: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .put(self.url("/api/status"))
            .bearer_auth(session)
            .json(&body)
            .send()
            .await
            .expect("app answers")
    }

    /// `PUT /api/status` with `status`; its HTTP status.
    pub async fn set_status(&self, session: &str, status: &str) -> u16 {
        self.api_put(session, serde_json::json!({"status": status}))
            .await
            .status()
            .as_u16()
    }

    /// Every row of every table, as text: equal snapshots mean nothing was written.
    pub async fn snapshot(&self) -> String {
        let raw = self.db.raw().await;
        let mut out = String::new();
        for table in ["portals", "accounts", "oauth_states"] {
            let rows = raw.rows(table).await;
            out.push_str(&format!("{table}: {} rows\n", rows.len()));
            for row in rows {
                out.push_str(&row);
                out.push('\n');
            }
        }
        raw.close().await;
        out
    }

    /// The stored account of `user` on the test portal.
    pub async fn account(&self, user: UserId) -> Option<Account> {
        self.store
            .account(self.member(), user)
            .await
            .expect("the store answers")
    }

    /// The stored record of the test portal.
    pub async fn portal(&self) -> Option<Portal> {
        self.store
            .portal(self.member())
            .await
            .expect("the store answers")
    }

    /// Number of rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let raw = self.db.raw().await;
        let n = raw.scalar(&format!("SELECT COUNT(*) FROM {table}")).await;
        raw.close().await;
        n
    }

    /// Calls made to the portal (not to the OAuth server).
    pub fn portal_calls(&self) -> Vec<Call> {
        self.bitrix
            .emulator
            .calls()
            .into_iter()
            .filter(|c| matches!(c.server, Server::Portal(_)))
            .collect()
    }
}

/// The app as `main.rs` builds it, on a free port, registered with the emulator as the vendor
/// account would have it; not serving yet.
pub async fn built(
    bitrix: &Bitrix,
    db_url: &str,
    extra: &[&str],
    loops: Loops,
) -> (SocketAddr, Application) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    // The app's redirect URI in the vendor account points at this instance.
    bitrix.emulator.register_app(AppSpec {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: Some(format!("http://{address}/oauth/callback")),
        install_url: Some(format!("http://{address}/install")),
        app_url: Some(format!("http://{address}/app")),
        scope: SCOPE.into(),
        version: 1,
    });
    let config = config_for(bitrix, &format!("http://{address}"), db_url, extra);
    let app = Application::build_on(config, listener, Clock::default(), loops)
        .await
        .expect("app builds");
    (address, app)
}

/// Asserts a page's status and that it says `text`; returns the page for more checks.
pub async fn assert_page(response: reqwest::Response, status: u16, text: &str) -> String {
    assert_eq!(
        response.status(),
        status,
        "status of the page saying {text:?}"
    );
    let page = response.text().await.expect("a page");
    assert!(
        page.contains(text),
        "the page does not say {text:?}:\n{page}"
    );
    page
}

/// A user id the way tests write them.
pub fn uid(id: u64) -> UserId {
    UserId::new(id).expect("a positive user id")
}

/// The session token in a status page's `<meta name="b24-session">`.
pub fn session_in(page: &str) -> String {
    let start = page
        .find(r#"<meta name="b24-session" content=""#)
        .expect("session meta tag")
        + 34;
    let end = page[start..].find('"').expect("end of content") + start;
    page[start..end].to_owned()
}

/// An HTTP client that, like a browser's fetch with `redirect: manual`, shows redirects.
pub fn client() -> reqwest::Client {
    bitrix::http_client(Duration::from_secs(10), false, b24_status::USER_AGENT).expect("client")
}
