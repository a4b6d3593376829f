#![doc = include_str!("../README.md")]

mod batch;
mod bots;
mod calendar;
mod chat;
pub use bots::Bot;
pub use chat::{Dialog, Message};
mod company;
pub use company::UserSpec;
mod context;
mod control;
mod demo_chat;
mod demo_presence;
mod directory;
pub use control::{FaultTarget, IssuedTokens};
mod methods;
mod model;
mod oauth_server;
mod period;
mod persist;
mod php_form;
mod portal;
mod portal_ui;
mod posts;
mod presence;
mod wire;
mod world;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use context::{OAuthCtx, PortalCtx, Shared, lock};
pub use world::{
    ACCESS_TTL, CODE_TTL, Call, EventBinding, FaultKind, FormPost, Meeting, PlacementBinding,
    Region, Server, WorkDay,
};
use world::{AppReg, Bucket, Department, Portal, User, World};

use bitrix24::domain::MemberId;

/// An app registered with the emulated Bitrix24, as in a vendor account.
#[derive(Clone, Debug)]
pub struct AppSpec {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Where `/oauth/authorize/` sends the browser back; `None` shows the code instead.
    pub redirect_uri: Option<String>,
    /// The installer URL the portal opens (POSTs to) before the install is finished.
    pub install_url: Option<String>,
    /// The app's page (handler) the portal opens (POSTs to) once installed.
    pub app_url: Option<String>,
    /// Scopes the app asks for, comma-separated.
    pub scope: String,
    /// The app's version.
    pub version: u32,
}

/// What a portal is reachable as.
#[derive(Clone, Debug)]
pub struct PortalInfo {
    /// Stable id.
    pub member_id: MemberId,
    /// `127.0.0.1:port`.
    pub domain: String,
    /// `http://127.0.0.1:port/rest/`.
    pub client_endpoint: Url,
    /// Which OAuth server issues its tokens.
    pub region: Region,
}

struct Inner {
    shared: Shared,
    oauth_addr: SocketAddr,
    oauth_addr_east: SocketAddr,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tasks = self
            .tasks
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

/// A running emulated Bitrix24. Cheap to clone; stops when the last clone is dropped.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("oauth", &self.inner.oauth_addr)
            .field("oauth_east", &self.inner.oauth_addr_east)
            .finish()
    }
}

impl Emulator {
    /// Starts both regional OAuth servers on free loopback ports.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(World::new(), loopback_any(), loopback_any()).await
    }

    /// Restores the emulator kept in `file` (ports, portals, users, statuses, live tokens),
    /// or starts an empty one with its OAuth servers at `oauth_addr` (west) and
    /// `oauth_addr_east`, and keeps saving it there (demo mode, so the demo survives a
    /// restart). Returns whether anything was restored.
    pub async fn persistent(
        file: &Path,
        oauth_addr: SocketAddr,
        oauth_addr_east: SocketAddr,
    ) -> std::io::Result<(Self, bool)> {
        let (world, oauth_addr, oauth_addr_east, restored) = match std::fs::read(file) {
            Ok(bytes) => {
                let saved: persist::Saved = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::other(format!(
                        "{} is not a saved emulator ({e}); delete it to start afresh",
                        file.display()
                    ))
                })?;
                let west = saved.oauth_host.parse().unwrap_or(oauth_addr);
                let east = saved.oauth_host_east.parse().unwrap_or(oauth_addr_east);
                (World::restore(saved), west, east, true)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                (World::new(), oauth_addr, oauth_addr_east, false)
            }
            Err(err) => return Err(err),
        };
        let emulator = Self::start_with(world, oauth_addr, oauth_addr_east).await?;
        let task = tokio::spawn(autosave(emulator.inner.shared.clone(), file.to_owned()));
        emulator.push_task(task);
        Ok((emulator, restored))
    }

    async fn start_with(
        mut world: World,
        oauth_addr: SocketAddr,
        oauth_addr_east: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = bind_or_any(oauth_addr).await?;
        let oauth_addr = listener.local_addr()?;
        world.oauth_host = oauth_addr.to_string();
        let listener_east = bind_or_any(oauth_addr_east).await?;
        let oauth_addr_east = listener_east.local_addr()?;
        world.oauth_host_east = oauth_addr_east.to_string();
        let portals: Vec<(MemberId, String)> = world
            .portals
            .values()
            .map(|p| (p.member_id.clone(), p.domain.clone()))
            .collect();
        let shared: Shared = Arc::new(Mutex::new(world));
        let oauth = |region| {
            oauth_server::oauth_router(OAuthCtx {
                shared: shared.clone(),
                region,
            })
        };
        let tasks = vec![
            tokio::spawn(serve(listener, oauth(Region::West))),
            tokio::spawn(serve(listener_east, oauth(Region::East))),
        ];
        let emulator = Self {
            inner: Arc::new(Inner {
                shared,
                oauth_addr,
                oauth_addr_east,
                tasks: Mutex::new(tasks),
            }),
        };
        for (member_id, domain) in portals {
            let addr = domain.parse().unwrap_or_else(|_| loopback_any());
            let (now, task) = emulator.listen_portal(&member_id, addr).await?;
            emulator.push_task(task);
            if now != domain {
                // Its old port is taken: the portal comes back renamed, as a real one can.
                if let Some(portal) = emulator.world().portals.get_mut(&member_id) {
                    portal.domain = now;
                }
            }
        }
        Ok(emulator)
    }

    pub(crate) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        lock(&self.inner.shared)
    }

    /// The west OAuth server's base URL, where portals of [`Region::West`] get their tokens.
    pub fn oauth_url(&self) -> Url {
        self.oauth_url_of(Region::West)
    }

    /// A region's OAuth server's base URL.
    #[expect(clippy::expect_used, reason = "a socket address makes a URL")]
    pub fn oauth_url_of(&self, region: Region) -> Url {
        let addr = match region {
            Region::West => self.inner.oauth_addr,
            Region::East => self.inner.oauth_addr_east,
        };
        Url::parse(&format!("http://{addr}")).expect("a socket address makes a URL")
    }

    /// Both OAuth servers, comma-separated: what `B24_OAUTH_URL` lists.
    pub fn oauth_urls(&self) -> String {
        format!(
            "{},{}",
            self.oauth_url_of(Region::West),
            self.oauth_url_of(Region::East)
        )
    }

    /// Registers an app (as a vendor does in the partner account).
    pub fn register_app(&self, app: AppSpec) {
        self.world().apps.insert(
            app.client_id,
            AppReg {
                secret: app.client_secret,
                redirect_uri: app.redirect_uri,
                install_url: app.install_url,
                app_url: app.app_url,
                scope: app.scope,
                version: app.version,
            },
        );
    }

    /// Starts a west portal on its own free loopback port, with one administrator (user 1).
    pub async fn add_portal(&self, admin: UserSpec) -> std::io::Result<PortalInfo> {
        self.add_portal_at(Region::West, admin, loopback_any())
            .await
    }

    /// Starts a portal of `region` listening at `addr`, with one administrator (user 1).
    #[expect(clippy::expect_used, reason = "hex32 makes a valid member_id")]
    pub async fn add_portal_at(
        &self,
        region: Region,
        admin: UserSpec,
        addr: SocketAddr,
    ) -> std::io::Result<PortalInfo> {
        let member_id = MemberId::parse(&world::hex32()).expect("hex32 makes a valid member_id");
        let (domain, task) = self.listen_portal(&member_id, addr).await?;
        let mut users = BTreeMap::new();
        users.insert(
            1,
            User {
                admin: true,
                ..admin.into_user()
            },
        );
        self.world().portals.insert(
            member_id.clone(),
            Portal {
                member_id: member_id.clone(),
                domain: domain.clone(),
                licence: "P".into(),
                users,
                installs: HashMap::new(),
                bucket: Bucket::new(50, 2.0),
                browser_user: 1,
                region,
                departments: vec![Department {
                    id: 1,
                    name: "Company".into(),
                    parent: None,
                    sort: 500,
                }],
                missing_methods: Vec::new(),
                in_flight: (0, 0),
                bots: Vec::new(),
                messages: Vec::new(),
            },
        );
        self.push_task(task);
        Ok(portal_info(member_id, domain, region))
    }

    async fn listen_portal(
        &self,
        member_id: &MemberId,
        addr: SocketAddr,
    ) -> std::io::Result<(String, JoinHandle<()>)> {
        let listener = bind_or_any(addr).await?;
        let domain = listener.local_addr()?.to_string();
        let router = portal::portal_router(PortalCtx {
            shared: self.inner.shared.clone(),
            member_id: member_id.clone(),
            listen_domain: domain.clone(),
        });
        Ok((domain, tokio::spawn(serve(listener, router))))
    }

    fn push_task(&self, task: JoinHandle<()>) {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// Renames a portal: it moves to a new port, and the old one answers 302 to it
    /// (`docs/bitrix24.md`, "Renamed portals").
    pub async fn rename_portal(&self, member_id: &MemberId) -> std::io::Result<PortalInfo> {
        let (domain, task) = self.listen_portal(member_id, loopback_any()).await?;
        self.push_task(task);
        let mut world = self.world();
        let region = world.region_of(member_id);
        if let Some(portal) = world.portals.get_mut(member_id) {
            portal.domain = domain.clone();
        }
        Ok(portal_info(member_id.clone(), domain, region))
    }
}

/// Binds `addr`, or any free port on its address if that one is taken, so a demo whose usual
/// ports are busy still starts.
async fn bind_or_any(addr: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse && addr.port() != 0 => {
            TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await
        }
        other => other,
    }
}

fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Writes the world to `file` whenever it changed, at most once a second.
async fn autosave(shared: Shared, file: PathBuf) {
    let mut last = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(bytes) = serde_json::to_vec(&lock(&shared).saved()) else {
            continue;
        };
        if bytes == last {
            continue;
        }
        let temporary = file.with_extension("tmp");
        let written = tokio::fs::write(&temporary, &bytes)
            .await
            .and(tokio::fs::rename(&temporary, &file).await);
        match written {
            Ok(()) => last = bytes,
            Err(err) => tracing::warn!(%err, file = %file.display(), "could not save the emulator"),
        }
    }
}

#[expect(clippy::expect_used, reason = "a socket address makes a URL")]
pub(crate) fn portal_info(member_id: MemberId, domain: String, region: Region) -> PortalInfo {
    let client_endpoint =
        Url::parse(&format!("http://{domain}/rest/")).expect("a socket address makes a URL");
    PortalInfo {
        member_id,
        domain,
        client_endpoint,
        region,
    }
}

async fn serve(listener: TcpListener, router: axum::Router) {
    if let Err(err) = axum::serve(listener, router).await {
        tracing::error!(%err, "emulator listener stopped");
    }
}

/// An HTTP client for what the portal sends apps (events), and for tests: the client crate's,
/// so redirects are shown rather than followed and ring is the crypto provider.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    bitrix24::http_client(Duration::from_secs(10), false, "bitrix24-emulator")
}
