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
use crate::store::MasterKey;
use bitrix24::domain::{ClientSecret, MemberId, Status};
use bitrix24_emulator::{AppSpec, Emulator, PortalInfo, Region, UserSpec};

/// The scopes the app asks for (README.md, "Vendor quick start").
pub const SCOPE: &str = "im,placement,user_brief,department,calendar,timeman,imbot";

/// Where demo mode keeps its generated master key.
pub const SECRET_FILE: &str = "data/secret.key";

/// Where the emulator's state is kept between runs.
pub const EMULATOR_FILE: &str = "data/emulator.json";

/// The running demo Bitrix24.
#[derive(Debug)]
pub struct Demo {
    pub emulator: Emulator,
    /// The west portal, the one the demo opens.
    pub portal: PortalInfo,
    /// The portal page to open in a browser.
    pub url: Url,
    /// The page of a second portal, whose tokens the east OAuth server issues.
    pub east_url: Url,
}

/// Starts (or restores) the emulator, registers the app with credentials derived from the
/// demo's master key (kept in [`SECRET_FILE`] unless `APP_SECRET` is set), and returns the
/// configuration pointed at it. `listen` is the address the app itself is bound to.
pub async fn start(config: Config, listen: SocketAddr) -> std::io::Result<(Demo, Config)> {
    let mut config = config;
    if !config.app_secret_given {
        config.app_secret = demo_secret(Path::new(SECRET_FILE))?;
    }
    (config.client_id, config.client_secret) = credentials(&config.app_secret)?;
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
    let demo = Demo {
        emulator,
        portal,
        url,
        east_url,
    };
    Ok((demo, config))
}

/// The app's credentials, derived from the demo's master key so they stay the same across
/// restarts and the emulator's saved state keeps matching them.
fn credentials(key: &MasterKey) -> std::io::Result<(String, ClientSecret)> {
    let hex = |purpose: &str| -> String {
        key.derive(purpose)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let client_secret = ClientSecret::parse(&hex("demo-client-secret"))
        .map_err(|_| std::io::Error::other("could not derive a demo secret"))?;
    Ok((
        format!("local.demo{}", &hex("demo-client-id")[..12]),
        client_secret,
    ))
}

/// First name, last name, position, and the status they set (`None`: never set one).
type Person = (&'static str, &'static str, &'static str, Option<Status>);

/// The demo company's departments and the people in each — invented names, positions and a
/// status each (`None`: never set one), so the team board has a real team to show.
const TEAM: [(&str, &[Person]); 3] = [
    (
        "Sales",
        &[
            ("Boris", "Ivanov", "Sales manager", Some(Status::Dnd)),
            ("Elena", "Sokolova", "Account executive", None),
            ("Farid", "Nasser", "Sales manager", Some(Status::Away)),
            ("Greta", "Lind", "Head of sales", Some(Status::Dnd)),
            ("Hugo", "Moreau", "Account executive", None),
            ("Ines", "Duarte", "Sales assistant", Some(Status::Break)),
            ("Jonas", "Weber", "Key account manager", None),
            ("Kira", "Orlova", "Sales manager", Some(Status::Online)),
            ("Liam", "Byrne", "Business developer", Some(Status::Away)),
        ],
    ),
    (
        "Development",
        &[
            ("Clara", "Schmidt", "Developer", Some(Status::Dnd)),
            ("Marek", "Novak", "Team lead", None),
            ("Nadia", "Haddad", "Developer", Some(Status::Dnd)),
            ("Oskar", "Berg", "QA engineer", Some(Status::Break)),
            ("Paula", "Rossi", "Designer", None),
            ("Quentin", "Faure", "Developer", Some(Status::Away)),
            ("Rosa", "Jimenez", "DevOps engineer", None),
            ("Stefan", "Kraus", "Developer", Some(Status::Dnd)),
            ("Tomoko", "Sato", "Product manager", Some(Status::Online)),
            ("Umar", "Aziz", "Developer", None),
        ],
    ),
    (
        "Customer support",
        &[
            ("Dmitri", "Petrov", "Support engineer", None),
            ("Vera", "Kuznetsova", "Head of support", Some(Status::Away)),
            ("Wim", "de Vries", "Support engineer", Some(Status::Break)),
            ("Xenia", "Popova", "Support engineer", None),
            ("Yusuf", "Demir", "Support engineer", Some(Status::Dnd)),
            ("Zoe", "Clarke", "Technical writer", None),
            ("Adam", "Kowalski", "Support engineer", Some(Status::Online)),
            ("Bianca", "Conti", "Support engineer", Some(Status::Away)),
            ("Carlos", "Mendes", "Trainer", None),
        ],
    ),
];

/// Who is on vacation in the demo company, and until when.
const VACATIONS: [(&str, &str); 2] = [
    ("Elena", "2026-12-18T00:00:00+01:00"),
    ("Rosa", "2027-01-08T00:00:00+01:00"),
];

/// A portal of `region` with an administrator called `admin` and the demo team.
async fn add_portal(
    emulator: &Emulator,
    region: Region,
    addr: SocketAddr,
    admin: (&str, &str),
) -> std::io::Result<PortalInfo> {
    let portal = emulator
        .add_portal_at(region, UserSpec::new(admin.0, admin.1, true), addr)
        .await?;
    add_team(emulator, &portal.member_id);
    Ok(portal)
}

/// Adds the demo company to a portal: 28 people in three departments, with their statuses
/// and vacations (the browser tests' screenshots show it too).
pub fn add_team(emulator: &Emulator, member: &MemberId) {
    for (department, people) in TEAM {
        let id = emulator.add_department(member, department);
        for (name, last_name, position, status) in people {
            let spec = UserSpec::new(name, last_name, false).in_department(id, position);
            let user = emulator.add_user(member, spec);
            if let Some(status) = status {
                emulator.set_user_status(member, user, *status);
            }
            if let Some((_, until)) = VACATIONS.iter().find(|(who, _)| who == name) {
                emulator.set_absent(member, user, Some(until));
            }
        }
    }
}

/// Reads the demo master key, creating it (readable by the owner only) on first start.
fn demo_secret(path: &Path) -> std::io::Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_base64(&text).map_err(|e| {
            std::io::Error::other(format!(
                "{} {e}; delete it to have a new one generated",
                path.display()
            ))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_private(path, &key.to_base64()).map_err(|e| {
                std::io::Error::other(format!("cannot write {}: {e}", path.display()))
            })?;
            Ok(key)
        }
        Err(err) => Err(std::io::Error::other(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_secret_is_created_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data/secret.key");
        let first = demo_secret(&path).expect("created");
        let second = demo_secret(&path).expect("read back");
        assert_eq!(first.to_base64(), second.to_base64());
        std::fs::write(&path, "short").expect("write");
        assert!(demo_secret(&path).is_err());
    }

    #[test]
    fn credentials_follow_the_key() {
        let key = MasterKey::generate();
        let (id, secret) = credentials(&key).expect("derived");
        let (again, _) = credentials(&key).expect("derived");
        assert!(id.starts_with("local.demo"));
        assert_eq!(id, again);
        assert_ne!(secret.expose(), "demo");
    }
}
