//! The app's background work, one loop per process: every keep-alive interval, refresh the
//! tokens that are getting old, check the portals that may be gone (suspended ones, and those
//! whose every pair is refused — a lost `ONAPPUNINSTALL`), look at paid periods (`licence.rs`),
//! and sweep expired sign-in states.
//! A refresh token found dead wakes the loop early for the portal check alone.

use std::sync::Arc;

use crate::tokens::TokenManager;
use crate::tokens::keepalive::{self, KeepaliveSettings};

/// What one full pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// The keep-alive's refreshes.
    pub keepalive: keepalive::Report,
    /// Portals found uninstalled and removed.
    pub removed: usize,
    /// What the look at paid periods did.
    pub periods: super::licence::Looked,
    /// Expired sign-in states deleted.
    pub states_swept: u64,
}

/// One full pass at the manager's clock.
pub async fn pass(tokens: &Arc<TokenManager>, settings: &KeepaliveSettings) -> Pass {
    let now = tokens.clock().now();
    let keepalive = keepalive::run_once(tokens, settings, now).await;
    let removed = reconcile(tokens).await;
    let periods = super::licence::pass(tokens).await;
    let states_swept = tokens
        .store()
        .sweep_oauth_states(now)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "sweeping sign-in states failed");
            0
        });
    Pass {
        keepalive,
        removed,
        periods,
        states_swept,
    }
}

async fn reconcile(tokens: &TokenManager) -> usize {
    super::removal::reconcile(tokens)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "checking portals that may be gone failed");
            0
        })
}

/// Runs passes forever, each starting the keep-alive interval plus a random part of it after
/// the last one started; a pass whose keep-alive had that much work runs until the next is due,
/// so a backlog is worked off at the keep-alive's pace without a pause.
pub async fn run(tokens: Arc<TokenManager>, settings: KeepaliveSettings) {
    let reauth_seen = tokens.reauth_seen();
    let mut next = tokio::time::Instant::now() + settings.interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {
                let started = tokio::time::Instant::now();
                let done = pass(&tokens, &settings).await;
                if done != Pass::default() {
                    tracing::info!(
                        refreshed = done.keepalive.refreshed,
                        failed = done.keepalive.failed,
                        removed = done.removed,
                        periods_resumed = done.periods.resumed,
                        periods_ended = done.periods.still_ended,
                        states_swept = done.states_swept,
                        "background pass"
                    );
                }
                next = started
                    + settings.interval
                    + keepalive::jitter(settings.interval / 2);
            }
            () = reauth_seen.notified() => {
                let removed = reconcile(&tokens).await;
                if removed > 0 {
                    tracing::info!(removed, "portals found uninstalled");
                }
            }
        }
    }
}
