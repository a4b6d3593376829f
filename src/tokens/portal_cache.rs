//! Portal rows as a page open reads them, kept for at most [`cache::CHECK_AFTER`]: a busy
//! portal's opens read and decrypt its row once a second instead of once per open. This process
//! forgets a portal at once whenever it changes one (install, event, uninstall, suspension) or
//! finds one of its accounts unusable (a pause or uninstall another process made, seen by a
//! call or the background check); otherwise another process's change reaches this copy when
//! the entry expires, within the second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::cache::CHECK_AFTER;
use crate::store::{Portal, StoreError};
use bitrix24::domain::MemberId;

/// Most portals kept; past it, expired entries go, then all.
const CAPACITY: usize = 10_000;

/// Portals by member id, each with when it was read.
#[derive(Default)]
pub(super) struct PortalCache {
    entries: Mutex<HashMap<MemberId, (Portal, Instant)>>,
}

impl PortalCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, (Portal, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, member_id: &MemberId) -> Option<Portal> {
        self.entries()
            .get(member_id)
            .filter(|(_, read)| read.elapsed() < CHECK_AFTER)
            .map(|(portal, _)| portal.clone())
    }

    fn put(&self, portal: &Portal, read: Instant) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, read)| read.elapsed() < CHECK_AFTER);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(portal.record.member_id.clone(), (portal.clone(), read));
    }

    pub fn forget(&self, member_id: &MemberId) {
        self.entries().remove(member_id);
    }
}

impl super::TokenManager {
    /// The portal's row, as read from the store less than a second ago.
    pub async fn recent_portal(&self, member_id: &MemberId) -> Result<Option<Portal>, StoreError> {
        if let Some(portal) = self.portals.get(member_id) {
            return Ok(Some(portal));
        }
        let read = Instant::now();
        let portal = self.store.portal(member_id).await?;
        // Only a portal in use is kept: a paused, suspended or removed one is read again on
        // every open, so its return is seen at once.
        if let Some(portal) = portal.as_ref().filter(|portal| portal.in_use()) {
            self.portals.put(portal, read);
        }
        Ok(portal)
    }
}
