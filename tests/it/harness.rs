//! The shared test harness: starts the emulator with one portal and the app against it, each
//! on a random loopback port with a database in its own temporary folder.

use std::net::SocketAddr;
use std::time::Duration;

use b24_status::bitrix::types::MemberId;
use b24_status::config::{Cli, Config};
use b24_status::emulator::{AppSpec, Emulator, PortalInfo, UserSpec};
use b24_status::{AppState, bitrix};
use clap::Parser;
use tempfile::TempDir;

/// The app's credentials in every test.
pub const CLIENT_ID: &str = "app.test.b24status";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// base64 of 32 bytes.
pub const APP_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const SCOPE: &str = "im,placement,user_brief";

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
}

/// A running app.
pub struct TestApp {
    pub bitrix: Bitrix,
    pub address: SocketAddr,
    pub state: AppState,
    pub http: reqwest::Client,
    _dir: TempDir,
}

/// Configuration as an operator would give it, pointing at the emulator.
pub fn config_for(bitrix: &Bitrix, public_url: &str, db_url: &str) -> Config {
    let oauth = bitrix.emulator.oauth_url();
    Config::from_cli(Cli::parse_from([
        "b24-status",
        &format!("--b24-client-id={CLIENT_ID}"),
        &format!("--b24-client-secret={CLIENT_SECRET}"),
        &format!("--app-secret={APP_SECRET}"),
        &format!("--b24-oauth-url={oauth}"),
        &format!("--public-url={public_url}"),
        &format!("--database-url={db_url}"),
        "--b24-allow-http=true",
    ]))
    .expect("test configuration is valid")
}

impl TestApp {
    pub async fn spawn() -> Self {
        let bitrix = Bitrix::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("app.db");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let config = config_for(
            &bitrix,
            &format!("http://{address}"),
            &format!("sqlite://{}", db_path.display()),
        );
        let (router, state) = b24_status::build(config).await.expect("app builds");
        tokio::spawn(b24_status::serve(listener, router, std::future::pending()));
        Self {
            bitrix,
            address,
            state,
            http: client(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// An HTTP client that, like a browser's fetch with `redirect: manual`, shows redirects.
pub fn client() -> reqwest::Client {
    bitrix::http_client(Duration::from_secs(10)).expect("client")
}
