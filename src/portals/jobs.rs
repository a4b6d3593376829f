//! The use cases that run without a request or outlive one, over the parts they are given; their
//! work lives beside the use cases it belongs to (`background.rs`, `removal.rs`, `licence.rs`,
//! `scheduler.rs`, `schedules.rs`). Here: the struct, and the two status calls they and the
//! page's changes share.

use std::sync::Arc;

use serde_json::Value;

use super::finishes::Finishes;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tokens::{CallError, Repeat, TokenManager};
use bitrix24::batch::{self, BatchAnswer};
use bitrix24::clock::Clock;
use bitrix24::domain::{MemberId, Status, UserId};
use bitrix24::status;

/// The use cases that run without a request, or outlive one: the background pass (keep-alive,
/// removal checks, paid periods), the scheduler, and an uninstall's confirmation. Cheap to
/// clone, so work it starts can hold its own copy.
#[derive(Clone, Debug)]
pub struct Jobs {
    pub(super) store: Store,
    pub(super) tokens: Arc<TokenManager>,
    pub(super) clock: Clock,
    pub(super) metrics: Arc<Metrics>,
    /// Where the scheduler's looks at schedules record what they did.
    pub(super) finishes: Arc<Finishes>,
}

impl Jobs {
    pub(super) fn new(
        store: Store,
        tokens: Arc<TokenManager>,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            finishes: Arc::new(Finishes::new(store.clone())),
            store,
            tokens,
            clock,
            metrics,
        }
    }

    /// Sets `chosen` with the user's own token.
    pub(super) async fn set_status(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
    ) -> Result<(), CallError> {
        let _: Value = self
            .tokens
            .call(
                member_id,
                user_id,
                status::SET,
                status::set_params(chosen),
                Repeat::Safe,
            )
            .await?;
        Ok(())
    }

    /// Sets `chosen` with the user's own token, answering the status it replaced (read and
    /// changed in one `batch` request).
    pub(super) async fn swap_status(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        chosen: Status,
    ) -> Result<Status, CallError> {
        let answer: BatchAnswer = self
            .tokens
            .call(
                member_id,
                user_id,
                batch::METHOD,
                status::swap_batch(chosen),
                Repeat::Safe,
            )
            .await?;
        status::swapped(&answer).map_err(CallError::refused)
    }
}
