//! What of the emulator survives a restart of the demo.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::model::{AccessRec, AppReg, Portal, RefreshRec};
use super::world::World;
use bitrix24::domain::MemberId;

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
