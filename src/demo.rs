//! Demo mode: with no credentials configured, the app runs against the built-in emulator —
//! Bitrix24's two regional OAuth servers and a portal of each region, with an administrator
//! and a few employees — on loopback ports next to the app's own (`LISTEN_ADDR` + 1 to + 4,
//! or any free ones if those are taken).
//! The emulator's state is kept in [`EMULATOR_FILE`] and the app's in its SQLite file, so the
//! demo survives a restart.

use std::net::SocketAddr;
use std::path::Path;

use url::Url;

use crate::config::Config;
use crate::emulator::{AppSpec, Emulator, PortalInfo, Region, UserSpec};

/// The scopes the app asks for (README "Registering the app").
pub const SCOPE: &str = "im,placement,user_brief";

/// Where the emulator's state is kept between runs.
pub const EMULATOR_FILE: &str = "data/emulator.json";

/// The running demo Bitrix24.
#[derive(Debug)]
pub struct Demo {
    /// The emulator.
    pub emulator: Emulator,
    /// The west portal, the one the demo opens.
    pub portal: PortalInfo,
    /// The portal page to open in a browser.
    pub url: Url,
    /// The page of a second portal, whose tokens the east OAuth server issues.
    pub east_url: Url,
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
    let (emulator, restored) =
        Emulator::persistent(Path::new(EMULATOR_FILE), next(1), next(3)).await?;
    emulator.register_app(AppSpec {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.expose().to_owned(),
        redirect_uri: Some(config.url_for("oauth/callback")),
        install_url: Some(config.url_for("install")),
        app_url: Some(config.url_for("app")),
        scope: SCOPE.to_owned(),
        version: 1,
    });
    let portals = emulator.portals();
    let of = |region| portals.iter().find(|p| p.region == region).cloned();
    let (portal, east) = match (of(Region::West), of(Region::East)) {
        (Some(west), Some(east)) if restored => (west, east),
        _ => {
            let west = add_portal(&emulator, Region::West, next(2), ("Anna", "Admin")).await?;
            let east = add_portal(&emulator, Region::East, next(4), ("Mei", "Lin")).await?;
            (west, east)
        }
    };
    config.oauth_servers = vec![
        emulator.oauth_url_of(Region::West),
        emulator.oauth_url_of(Region::East),
    ];
    config.allow_http = true;
    let portal_url = |path: &str| {
        Url::parse(&format!("http://{}{path}", portal.domain)).map_err(std::io::Error::other)
    };
    config.js_url = portal_url("/bx24.js")?;
    let url = portal_url("/")?;
    let east_url =
        Url::parse(&format!("http://{}/", east.domain)).map_err(std::io::Error::other)?;
    Ok(Demo {
        emulator,
        portal,
        url,
        east_url,
    })
}

/// A portal of `region` with an administrator called `admin` and three employees.
async fn add_portal(
    emulator: &Emulator,
    region: Region,
    addr: SocketAddr,
    admin: (&str, &str),
) -> std::io::Result<PortalInfo> {
    let portal = emulator
        .add_portal_at(region, UserSpec::new(admin.0, admin.1, true), addr)
        .await?;
    for (name, last_name) in [
        ("Boris", "Ivanov"),
        ("Clara", "Schmidt"),
        ("Dmitri", "Petrov"),
    ] {
        emulator.add_user(&portal.member_id, UserSpec::new(name, last_name, false));
    }
    Ok(portal)
}
