//! Demo mode: with no credentials configured, the app runs against the built-in emulator — an
//! OAuth server and one portal with an administrator and a few employees — on loopback.

use crate::config::Config;
use crate::emulator::{AppSpec, Emulator, PortalInfo, UserSpec};

/// The scopes the app asks for (README "Registering the app").
pub const SCOPE: &str = "im,placement,user_brief";

/// The running demo Bitrix24.
#[derive(Debug)]
pub struct Demo {
    /// The emulator.
    pub emulator: Emulator,
    /// Its one portal.
    pub portal: PortalInfo,
}

/// Starts the emulator, registers the app with `config`'s generated credentials and points
/// `config` at it.
pub async fn start(config: &mut Config) -> std::io::Result<Demo> {
    let emulator = Emulator::start().await?;
    let callback = config
        .public_url
        .join("oauth/callback")
        .ok()
        .map(String::from);
    emulator.register_app(AppSpec {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.expose().to_owned(),
        redirect_uri: callback,
        install_url: Some(config.url_for("install")),
        app_url: Some(config.url_for("app")),
        scope: SCOPE.to_owned(),
        version: 1,
    });
    let portal = emulator
        .add_portal(UserSpec::new("Anna", "Admin", true))
        .await?;
    for (name, last_name) in [
        ("Boris", "Ivanov"),
        ("Clara", "Schmidt"),
        ("Dmitri", "Petrov"),
    ] {
        emulator.add_user(&portal.member_id, UserSpec::new(name, last_name, false));
    }
    config.oauth_url = emulator.oauth_url();
    config.allow_http = true;
    Ok(Demo { emulator, portal })
}
