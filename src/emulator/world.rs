//! The emulator's state: apps, portals, users, tokens, bindings, and the log of what was
//! called. Pure data and rules; the HTTP side lives in `server.rs`. Every rule cites the
//! `docs/bitrix24.md` section it reproduces.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{MemberId, Status};

/// Access tokens live an hour (`docs/bitrix24.md`, "OAuth").
pub const ACCESS_TTL: i64 = 3600;
/// Authorisation codes live 30 seconds (`docs/bitrix24.md`, "OAuth").
pub const CODE_TTL: i64 = 30;

/// A registered app, as in the vendor account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppReg {
    pub secret: String,
    pub redirect_uri: Option<String>,
    pub install_url: Option<String>,
    pub app_url: Option<String>,
    pub scope: String,
    pub version: u32,
}

/// A portal user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub last_name: String,
    pub admin: bool,
    pub status: Option<Status>,
}

/// A placement binding made with `placement.bind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementBinding {
    pub placement: String,
    pub handler: String,
    pub title: String,
    pub options: Value,
    pub lang_all: Value,
}

/// An event binding made with `event.bind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBinding {
    pub event: String,
    pub handler: String,
    pub offline: bool,
}

/// The app's installation on one portal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Install {
    /// `installFinish` happened.
    pub finished: bool,
    pub version: u32,
    pub application_token: String,
    pub scope: String,
    pub placements: Vec<PlacementBinding>,
    pub events: Vec<EventBinding>,
}

/// Which of Bitrix24's two regional OAuth servers issues a portal's tokens
/// (`docs/bitrix24.md`, "OAuth").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Region {
    /// `oauth.bitrix.info`.
    #[default]
    West,
    /// `oauth.bitrix24.tech`.
    East,
}

/// The per-portal leaky bucket (`docs/bitrix24.md`, "Rate limit").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bucket {
    pub burst: f64,
    pub drain_per_sec: f64,
    #[serde(skip)]
    level: f64,
    #[serde(skip, default = "Instant::now")]
    last: Instant,
}

impl Bucket {
    pub fn new(burst: u32, drain_per_sec: f64) -> Self {
        Self {
            burst: f64::from(burst),
            drain_per_sec,
            level: 0.0,
            last: Instant::now(),
        }
    }

    /// Counts one request — a refused one too, the stricter reading of the docs
    /// (`docs/bitrix24.md`, "Rate limit"); `false` means it must be refused with 503.
    pub fn admit(&mut self) -> bool {
        let now = Instant::now();
        let drained = now.duration_since(self.last).as_secs_f64() * self.drain_per_sec;
        self.level = (self.level - drained).max(0.0) + 1.0;
        self.last = now;
        self.level <= self.burst
    }
}

/// A portal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Portal {
    pub member_id: MemberId,
    /// Current `host:port`; a renamed portal's old listener redirects here.
    pub domain: String,
    pub licence: String,
    pub users: BTreeMap<u64, User>,
    pub installs: HashMap<String, Install>,
    pub bucket: Bucket,
    /// Who is "logged in" in the browser for `/oauth/authorize/`.
    pub browser_user: u64,
    /// The OAuth server that issues this portal's tokens.
    #[serde(default)]
    pub region: Region,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: i64,
    /// Killed by a rotation or an uninstall.
    pub revoked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub access: String,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub struct CodeRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: i64,
    pub used: bool,
}

/// Which server a request reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    /// The OAuth server of a region.
    OAuth(Region),
    /// A portal, by its id.
    Portal(MemberId),
}

/// One request the emulator answered.
#[derive(Clone, Debug)]
pub struct Call {
    pub server: Server,
    /// REST method (lowercase) or path for non-REST endpoints.
    pub method: String,
    /// The user whose token was used, when it was a known token.
    pub user_id: Option<u64>,
    /// The last 4 characters of the token used, for telling rotations apart in tests.
    pub token_tail: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    /// The error code of the answer, if any.
    pub error: Option<String>,
    /// Whether any registered client secret appeared anywhere in the request.
    pub carried_client_secret: bool,
}

/// An injected failure.
#[derive(Clone, Debug)]
pub struct Fault {
    pub server: Option<Server>,
    pub method: Option<String>,
    pub kind: FaultKind,
    pub remaining: usize,
}

/// What an injected failure does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this HTTP status and Bitrix24 error code.
    Error { status: u16, code: String },
    /// Wait this long before handling the request at all.
    Delay(Duration),
    /// Handle the request at once (a refresh rotates the pair), but send the answer only
    /// after this long: what a slow network does to a refresh (`docs/bitrix24.md`).
    SlowAnswer(Duration),
    /// Answer a token request with an `error` and HTTP 200, as Bitrix24 sometimes does.
    ErrorWith200 { code: String },
    /// Start answering, then break the connection mid-response.
    Reset,
}

/// A request as the portal's browser sends it: query string and form body (`docs/bitrix24.md`,
/// "Installation").
#[derive(Clone, Debug, Default)]
pub struct FormPost {
    /// Fields that travel in the query string.
    pub query: Vec<(String, String)>,
    /// Fields that travel in the form body.
    pub form: Vec<(String, String)>,
}

impl FormPost {
    /// The query string, encoded.
    pub fn query_string(&self) -> String {
        encode(&self.query)
    }

    /// The form body, encoded.
    pub fn body(&self) -> String {
        encode(&self.form)
    }

    /// The same request with `field` set to `value` wherever it occurs: how tests forge one.
    pub fn with(&self, field: &str, value: &str) -> Self {
        let swap = |pairs: &[(String, String)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if k == field {
                            value.to_owned()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect()
        };
        Self {
            query: swap(&self.query),
            form: swap(&self.form),
        }
    }

    /// A field's value, from either part.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Everything the emulator knows.
#[derive(Debug)]
pub struct World {
    pub clock_offset: i64,
    pub oauth_host: String,
    pub oauth_host_east: String,
    pub apps: HashMap<String, AppReg>,
    pub portals: BTreeMap<MemberId, Portal>,
    pub access: HashMap<String, AccessRec>,
    pub refresh: HashMap<String, RefreshRec>,
    pub codes: HashMap<String, CodeRec>,
    pub calls: Vec<Call>,
    pub faults: Vec<Fault>,
    pub latency: Duration,
    pub refreshes: usize,
    /// Requests that arrived, by method, counted before any fault or delay.
    pub arrivals: HashMap<String, usize>,
}

/// What survives a restart of the demo: everything but the call log, codes and faults.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub oauth_host: String,
    #[serde(default)]
    pub oauth_host_east: String,
    pub apps: HashMap<String, AppReg>,
    pub portals: BTreeMap<MemberId, Portal>,
    pub access: HashMap<String, AccessRec>,
    pub refresh: HashMap<String, RefreshRec>,
    pub refreshes: usize,
}

impl World {
    /// The state worth keeping.
    pub fn saved(&self) -> Saved {
        let now = self.now();
        Saved {
            oauth_host: self.oauth_host.clone(),
            oauth_host_east: self.oauth_host_east.clone(),
            apps: self.apps.clone(),
            portals: self.portals.clone(),
            // Dead tokens are of no further use to anyone.
            access: self
                .access
                .iter()
                .filter(|(_, r)| !r.revoked && r.expires_at > now)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            refresh: self
                .refresh
                .iter()
                .filter(|(_, r)| !r.used)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            refreshes: self.refreshes,
        }
    }

    /// A world from what was kept.
    pub fn restore(saved: Saved) -> Self {
        let mut world = Self::new();
        world.oauth_host = saved.oauth_host;
        world.oauth_host_east = saved.oauth_host_east;
        world.apps = saved.apps;
        world.portals = saved.portals;
        world.access = saved.access;
        world.refresh = saved.refresh;
        world.refreshes = saved.refreshes;
        world
    }
}

/// A freshly issued pair.
#[derive(Clone, Debug)]
pub struct Issued {
    pub access: String,
    pub refresh: String,
    pub expires_at: i64,
}

impl World {
    pub fn new() -> Self {
        Self {
            clock_offset: 0,
            oauth_host: String::new(),
            oauth_host_east: String::new(),
            apps: HashMap::new(),
            portals: BTreeMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            calls: Vec::new(),
            faults: Vec::new(),
            latency: Duration::ZERO,
            refreshes: 0,
            arrivals: HashMap::new(),
        }
    }

    /// The `host:port` of a region's OAuth server.
    pub fn oauth_host_of(&self, region: Region) -> &str {
        match region {
            Region::West => &self.oauth_host,
            Region::East => &self.oauth_host_east,
        }
    }

    /// The OAuth server's REST endpoint that issues `member_id`'s tokens.
    pub fn server_endpoint(&self, member_id: &MemberId) -> String {
        let region = self
            .portals
            .get(member_id)
            .map_or(Region::West, |p| p.region);
        format!("http://{}/rest/", self.oauth_host_of(region))
    }

    /// The region whose OAuth server issues `member_id`'s tokens.
    pub fn region_of(&self, member_id: &MemberId) -> Region {
        self.portals
            .get(member_id)
            .map_or(Region::West, |p| p.region)
    }

    /// Unix seconds on the emulator's clock, which tests may move forward.
    pub fn now(&self) -> i64 {
        crate::clock::unix_now() + self.clock_offset
    }

    /// Issues a new pair for `user` of `member` to app `client_id`.
    pub fn issue(&mut self, member_id: &MemberId, user_id: u64, client_id: &str) -> Issued {
        let access = token();
        let refresh = token();
        let expires_at = self.now() + ACCESS_TTL;
        self.access.insert(
            access.clone(),
            AccessRec {
                member_id: member_id.clone(),
                user_id,
                client_id: client_id.to_owned(),
                expires_at,
                revoked: false,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshRec {
                member_id: member_id.clone(),
                user_id,
                client_id: client_id.to_owned(),
                access: access.clone(),
                used: false,
            },
        );
        Issued {
            access,
            refresh,
            expires_at,
        }
    }

    /// Kills every token of `client_id` on a portal (`docs/bitrix24.md`, "Uninstall").
    pub fn revoke_portal_tokens(&mut self, member_id: &MemberId, client_id: &str) {
        for rec in self.access.values_mut() {
            if rec.member_id == *member_id && rec.client_id == client_id {
                rec.revoked = true;
            }
        }
        for rec in self.refresh.values_mut() {
            if rec.member_id == *member_id && rec.client_id == client_id {
                rec.used = true;
            }
        }
    }

    /// The token answer of `docs/bitrix24.md`, "OAuth" for a pair.
    pub fn token_answer(
        &self,
        member_id: &MemberId,
        user_id: u64,
        issued: &Issued,
        client_id: &str,
    ) -> Value {
        let portal = self.portals.get(member_id);
        let scope = portal
            .and_then(|p| p.installs.get(client_id))
            .map(|i| i.scope.clone())
            .unwrap_or_default();
        json!({
            "access_token": issued.access,
            "refresh_token": issued.refresh,
            "expires": issued.expires_at,
            "expires_in": ACCESS_TTL,
            "scope": scope,
            "domain": self.oauth_host_of(self.region_of(member_id)),
            "server_endpoint": self.server_endpoint(member_id),
            "status": portal.map(|p| p.licence.clone()).unwrap_or_default(),
            "client_endpoint": portal.map(|p| format!("http://{}/rest/", p.domain)).unwrap_or_default(),
            "member_id": member_id.as_str(),
            "user_id": user_id,
        })
    }

    /// Creates the app's installation record, as the portal does when an admin first opens
    /// the app (`docs/bitrix24.md`, "Installation"); `installFinish` has not happened yet.
    pub fn begin_install(&mut self, member_id: &MemberId, client_id: &str) {
        let Some(app) = self.apps.get(client_id).cloned() else {
            return;
        };
        if let Some(portal) = self.portals.get_mut(member_id) {
            let install = portal
                .installs
                .entry(client_id.to_owned())
                .or_insert_with(|| Install {
                    finished: false,
                    version: app.version,
                    application_token: hex32(),
                    scope: app.scope.clone(),
                    placements: Vec::new(),
                    events: Vec::new(),
                });
            install.version = app.version;
            install.scope = app.scope;
        }
    }

    /// The frame POST for `user_id` opening the app at `placement` (`docs/bitrix24.md`,
    /// "Installation"), with a fresh token pair, as the portal issues on every render.
    pub fn frame_post(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        placement: &str,
        lang: &str,
        placement_options: &str,
    ) -> FormPost {
        let issued = self.issue(member_id, user_id, client_id);
        let server_endpoint = self.server_endpoint(member_id);
        let Some(portal) = self.portals.get(member_id) else {
            return FormPost::default();
        };
        let install = portal.installs.get(client_id);
        let pairs = |list: &[(&str, String)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        };
        FormPost {
            query: pairs(&[
                ("DOMAIN", portal.domain.clone()),
                ("PROTOCOL", "0".into()),
                ("LANG", lang.to_owned()),
                ("APP_SID", hex32()),
            ]),
            form: pairs(&[
                ("AUTH_ID", issued.access),
                ("AUTH_EXPIRES", ACCESS_TTL.to_string()),
                ("REFRESH_ID", issued.refresh),
                ("SERVER_ENDPOINT", server_endpoint),
                (
                    "APPLICATION_TOKEN",
                    install
                        .map(|i| i.application_token.clone())
                        .unwrap_or_default(),
                ),
                (
                    "APPLICATION_SCOPE",
                    install.map(|i| i.scope.clone()).unwrap_or_default(),
                ),
                ("member_id", member_id.as_str().to_owned()),
                ("status", portal.licence.clone()),
                ("PLACEMENT", placement.to_owned()),
                ("PLACEMENT_OPTIONS", placement_options.to_owned()),
            ]),
        }
    }

    /// An event POST as the portal sends it (form-encoded, bracketed keys; `docs/bitrix24.md`,
    /// "Events"). `ONAPPINSTALL` and `ONAPPUPDATE` carry a fresh pair of `user_id`'s tokens;
    /// `ONAPPUNINSTALL` carries none.
    pub fn event(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        event: &str,
        user_id: u64,
    ) -> FormPost {
        let with_tokens = event != "ONAPPUNINSTALL";
        let issued = with_tokens.then(|| self.issue(member_id, user_id, client_id));
        let now = self.now();
        let server_endpoint = self.server_endpoint(member_id);
        let Some(portal) = self.portals.get(member_id) else {
            return FormPost::default();
        };
        let install = portal.installs.get(client_id);
        let mut form: Vec<(String, String)> = vec![
            ("event".into(), event.to_owned()),
            ("event_handler_id".into(), "1".into()),
            ("data[LANGUAGE_ID]".into(), "en".into()),
            ("ts".into(), now.to_string()),
            ("auth[domain]".into(), portal.domain.clone()),
            ("auth[server_endpoint]".into(), server_endpoint),
            (
                "auth[client_endpoint]".into(),
                format!("http://{}/rest/", portal.domain),
            ),
            ("auth[member_id]".into(), member_id.as_str().to_owned()),
            (
                "auth[application_token]".into(),
                install
                    .map(|i| i.application_token.clone())
                    .unwrap_or_default(),
            ),
        ];
        if let Some(issued) = issued {
            let version = install.map_or(1, |i| i.version).to_string();
            form.extend([
                ("data[VERSION]".into(), version.clone()),
                ("data[PREVIOUS_VERSION]".into(), version),
                ("data[ACTIVE]".into(), "Y".into()),
                ("data[INSTALLED]".into(), "Y".into()),
                ("auth[access_token]".into(), issued.access),
                ("auth[refresh_token]".into(), issued.refresh),
                ("auth[expires]".into(), issued.expires_at.to_string()),
                ("auth[expires_in]".into(), ACCESS_TTL.to_string()),
                (
                    "auth[scope]".into(),
                    install.map(|i| i.scope.clone()).unwrap_or_default(),
                ),
                ("auth[status]".into(), portal.licence.clone()),
                ("auth[user_id]".into(), user_id.to_string()),
            ]);
        }
        FormPost {
            query: Vec::new(),
            form,
        }
    }

    /// Uninstalls the app: every token dies and the bindings go (`docs/bitrix24.md`, "Uninstall").
    /// Returns the `ONAPPUNINSTALL` event and the handlers it is to be delivered to.
    pub fn uninstall(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        clean: bool,
    ) -> (FormPost, Vec<String>) {
        let mut payload = self.event(member_id, client_id, "ONAPPUNINSTALL", 0);
        payload
            .form
            .push(("data[CLEAN]".into(), u8::from(clean).to_string()));
        self.revoke_portal_tokens(member_id, client_id);
        let install = self
            .portals
            .get_mut(member_id)
            .and_then(|p| p.installs.remove(client_id));
        let handlers = install
            .map(|i| {
                i.events
                    .into_iter()
                    .filter(|e| e.event == "ONAPPUNINSTALL")
                    .map(|e| e.handler)
                    .collect()
            })
            .unwrap_or_default();
        (payload, handlers)
    }

    /// Updates the app to `version` on a portal: Bitrix24 removes the app's event handlers on
    /// every update (`docs/bitrix24.md`, "Events"). Returns the `ONAPPUPDATE` event, which
    /// carries the tokens of `user_id`.
    pub fn update_app(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        version: u32,
        user_id: u64,
    ) -> FormPost {
        let previous = self
            .portals
            .get_mut(member_id)
            .and_then(|p| p.installs.get_mut(client_id))
            .map(|install| {
                install.events.clear();
                std::mem::replace(&mut install.version, version)
            });
        let mut post = self.event(member_id, client_id, "ONAPPUPDATE", user_id);
        if let Some(previous) = previous {
            post = post.with("data[PREVIOUS_VERSION]", &previous.to_string());
        }
        post
    }

    /// Makes every access token of a user expire now (their refresh tokens stay valid).
    pub fn expire_access_tokens(&mut self, member_id: &MemberId, user_id: u64) {
        let now = self.now();
        for rec in self.access.values_mut() {
            if rec.member_id == *member_id && rec.user_id == user_id {
                rec.expires_at = now;
            }
        }
    }

    /// Takes the first matching fault, counting it down.
    pub fn take_fault(&mut self, server: &Server, method: &str) -> Option<FaultKind> {
        let index = self.faults.iter().position(|f| {
            f.remaining > 0
                && f.server.as_ref().is_none_or(|s| s == server)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }

    /// Whether any registered app's secret occurs in `text`.
    pub fn mentions_a_secret(&self, text: &str) -> bool {
        self.apps.values().any(|app| text.contains(&app.secret))
    }
}

/// A random token in the shape Bitrix24 uses (lowercase letters and digits).
pub fn token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect()
}

/// A random 32-hex-character id (`member_id`, `application_token`).
pub fn hex32() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_admits_the_burst_then_refuses_then_drains() {
        let mut bucket = Bucket::new(3, 1000.0);
        bucket.drain_per_sec = 0.0;
        assert!(bucket.admit() && bucket.admit() && bucket.admit());
        assert!(!bucket.admit());
        assert!(!bucket.admit(), "a refused request counts too");
        assert!((bucket.level - 5.0).abs() < f64::EPSILON);
        bucket.drain_per_sec = 1000.0;
        // Long enough for the drain to empty the bucket.
        std::thread::sleep(Duration::from_millis(10));
        assert!(bucket.admit());
    }

    #[test]
    fn faults_count_down_and_match_their_target() {
        let mut world = World::new();
        world.faults.push(Fault {
            server: Some(Server::OAuth(Region::West)),
            method: None,
            kind: FaultKind::Delay(Duration::from_millis(1)),
            remaining: 2,
        });
        let member = MemberId::parse(&hex32()).expect("id");
        assert!(
            world
                .take_fault(&Server::Portal(member), "profile")
                .is_none()
        );
        assert!(
            world
                .take_fault(&Server::OAuth(Region::West), "token")
                .is_some()
        );
        assert!(
            world
                .take_fault(&Server::OAuth(Region::West), "token")
                .is_some()
        );
        assert!(
            world
                .take_fault(&Server::OAuth(Region::West), "token")
                .is_none()
        );
    }
}
