//! Demo mode: with no credentials configured, the app runs against the built-in emulator — an
//! OAuth server and one portal with an administrator and a few employees — on loopback ports
//! next to the app's own (`LISTEN_ADDR` + 1 and + 2, or any free ones if those are taken).
//! The emulator's state is kept in [`EMULATOR_FILE`] and the app's in its SQLite file, so the
//! demo survives a restart.

use std::net::SocketAddr;
use std::path::Path;

use url::Url;

use crate::config::Config;
use crate::emulator::{AppSpec, Emulator, PortalInfo, UserSpec};

/// The scopes the app asks for (README "Registering the app").
pub const SCOPE: &str = "im,placement,user_brief";

/// Where the emulator's state is kept between runs.
pub const EMULATOR_FILE: &str = "data/emulator.json";

/// The running demo Bitrix24.
#[derive(Debug)]
pub struct Demo {
    /// The emulator.
    pub emulator: Emulator,
    /// Its one portal.
    pub portal: PortalInfo,
    /// The portal page to open in a browser.
    pub url: Url,
}

/// Starts (or restores) the emulator, registers the app with `config`'s credentials and
/// points `config` at it. `listen` is the address the app itself is bound to.
pub async fn start(config: &mut Config, listen: SocketAddr) -> std::io::Result<Demo> {
    let next = |offset: u16| {
        let port = if listen.port() == 0 {
            0
        } else {
            listen.port().saturating_add(offset)
        };
        SocketAddr::new(listen.ip(), port)
    };
    config.public_url = Url::parse(&format!("http://{listen}")).map_err(std::io::Error::other)?;
    let (emulator, restored) = Emulator::persistent(Path::new(EMULATOR_FILE), next(1)).await?;
    emulator.register_app(AppSpec {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.expose().to_owned(),
        redirect_uri: Some(config.url_for("oauth/callback")),
        install_url: Some(config.url_for("install")),
        app_url: Some(config.url_for("app")),
        scope: SCOPE.to_owned(),
        version: 1,
    });
    let portal = match emulator.portals().into_iter().next() {
        Some(portal) if restored => portal,
        _ => {
            let portal = emulator
                .add_portal_at(UserSpec::new("Anna", "Admin", true), next(2))
                .await?;
            for (name, last_name) in [
                ("Boris", "Ivanov"),
                ("Clara", "Schmidt"),
                ("Dmitri", "Petrov"),
            ] {
                emulator.add_user(&portal.member_id, UserSpec::new(name, last_name, false));
            }
            portal
        }
    };
    config.oauth_url = emulator.oauth_url();
    config.allow_http = true;
    let portal_url = |path: &str| {
        Url::parse(&format!("http://{}{path}", portal.domain)).map_err(std::io::Error::other)
    };
    config.js_url = portal_url("/bx24.js")?;
    let url = portal_url("/")?;
    Ok(Demo {
        emulator,
        portal,
        url,
    })
}
