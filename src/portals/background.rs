//! The app's background work, one loop per process: every keep-alive interval, refresh the
//! tokens that are getting old, check the portals that may be gone (suspended ones, and those
//! whose every pair is refused — a lost `ONAPPUNINSTALL`), look at paid periods (`licence.rs`),
//! and sweep expired sign-in states.
//! A refresh token found dead wakes the loop early for the portal check alone.

use super::Jobs;
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

impl Jobs {
    /// One full pass at the app's clock.
    pub async fn background_pass(&self, settings: &KeepaliveSettings) -> Pass {
        let now = self.clock.now();
        let keepalive = self.tokens.keep_alive(settings, now).await;
        let removed = self.reconcile_logged().await;
        let periods = self.look_at_periods().await;
        let states_swept = self
            .store
            .sweep_oauth_states(now)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "sweeping sign-in states failed");
                0
            });
        if let Err(error) = self.store.prune_bot_messages(now).await {
            tracing::warn!(%error, "forgetting old chat commands failed");
        }
        Pass {
            keepalive,
            removed,
            periods,
            states_swept,
        }
    }

    async fn reconcile_logged(&self) -> usize {
        self.reconcile().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "checking portals that may be gone failed");
            0
        })
    }

    /// Runs passes forever, each starting the keep-alive interval plus a random part of it
    /// after the last one started; a pass whose keep-alive had that much work runs until the
    /// next is due, so a backlog is worked off at the keep-alive's pace without a pause.
    pub async fn run_background(self, settings: KeepaliveSettings) {
        let reauth_seen = self.tokens.reauth_seen();
        let mut next = tokio::time::Instant::now() + settings.interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {
                    let started = tokio::time::Instant::now();
                    let done = self.background_pass(&settings).await;
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
                    let removed = self.reconcile_logged().await;
                    if removed > 0 {
                        tracing::info!(removed, "portals found uninstalled");
                    }
                }
            }
        }
    }
}
