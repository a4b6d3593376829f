//! The emulator's state and its rules: issuing and revoking tokens, installs, faults. Every
//! rule cites the `docs/bitrix24.md` section it reproduces; the data lives in `model.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

pub use super::model::*;
use bitrix24::domain::MemberId;

/// The language ids a portal's users may have, as Bitrix24 spells them (`docs/bitrix24.md`,
/// "Languages").
pub const LANGUAGES: [&str; 20] = [
    "ru", "id", "ms", "de", "en", "la", "fr", "in", "it", "pl", "br", "vn", "tr", "kz", "ua", "ar",
    "th", "sc", "tc", "ja",
];

/// Everything the emulator knows.
#[derive(Debug)]
pub struct World {
    pub clock: bitrix24::clock::Clock,
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
            clock: bitrix24::clock::Clock::default(),
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
        self.clock.now()
    }

    /// Issues a new pair for `user` of `member` to app `client_id`.
    pub fn issue(&mut self, member_id: &MemberId, user_id: u64, client_id: &str) -> Issued {
        self.issue_as(member_id, user_id, client_id, token(), token())
    }

    /// Issues the pair `access`/`refresh` as the OAuth server would have.
    pub fn issue_as(
        &mut self,
        member_id: &MemberId,
        user_id: u64,
        client_id: &str,
        access: String,
        refresh: String,
    ) -> Issued {
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
                    paid_until: None,
                });
            install.version = app.version;
            install.scope = app.scope;
        }
    }

    /// The frame POST for `user_id` opening the app at `placement` (`docs/bitrix24.md`,
    /// "Installation"), with a fresh token pair, as the portal issues on every render.
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
