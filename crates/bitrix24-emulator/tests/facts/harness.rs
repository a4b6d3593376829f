//! An emulated Bitrix24 with one portal (the administrator is user 1, an employee user 2) and
//! one app registered, and a client that shows redirects instead of following them.

use bitrix24::domain::MemberId;
use bitrix24_emulator::{AppSpec, Emulator, PortalInfo, UserSpec};

pub const CLIENT_ID: &str = "app.test.b24status";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
pub const SCOPE: &str = "im,placement,user_brief,department";

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

    /// The same, with the app already installed on the portal.
    pub async fn installed() -> Self {
        let bitrix = Self::start().await;
        bitrix.emulator.install(bitrix.member(), CLIENT_ID);
        bitrix
    }

    pub fn member(&self) -> &MemberId {
        &self.portal.member_id
    }

    /// A fresh access token of `user` for the app, as a portal would issue it.
    pub fn access_token(&self, user: u64) -> String {
        self.emulator
            .issue_tokens(self.member(), CLIENT_ID, user)
            .access
    }
}

/// A client that, like a browser's fetch with `redirect: manual`, shows redirects.
pub fn client() -> reqwest::Client {
    bitrix24_emulator::http_client().expect("client")
}
