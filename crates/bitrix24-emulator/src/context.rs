//! What every listener of the emulator shares: the world, and what each server knows about
//! itself.

use std::sync::{Arc, Mutex, MutexGuard};

use super::world::{Region, World};
use bitrix24::domain::MemberId;

/// The world, shared by every listener.
pub type Shared = Arc<Mutex<World>>;

/// Locks the world; a panic in another handler must not wedge the emulator for good.
pub fn lock(shared: &Shared) -> MutexGuard<'_, World> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One regional OAuth server.
#[derive(Clone)]
pub struct OAuthCtx {
    pub shared: Shared,
    pub region: Region,
}

/// What one portal listener knows about itself.
#[derive(Clone)]
pub struct PortalCtx {
    pub shared: Shared,
    pub member_id: MemberId,
    /// The `host:port` this listener serves; if the portal was renamed since, it redirects.
    pub listen_domain: String,
}
