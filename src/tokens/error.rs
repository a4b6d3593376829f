//! What a call on a user's behalf can come to, and how it may be repeated.

use std::time::Duration;

use crate::store::StoreError;
use bitrix24 as bitrix;

/// Why a call on behalf of a user did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The portal has not installed the app, or uninstalled it.
    #[error("the app is not installed on this portal")]
    NotInstalled,
    /// An uninstall of the portal awaits confirmation: no call is made with its tokens.
    #[error("the app is being removed from this portal")]
    BeingRemoved,
    /// The operator paused the portal (`b24-status suspend`): no call is made for it.
    #[error("the app is paused on this portal")]
    Paused,
    /// The app's trial or paid period on the portal ended: Bitrix24 issues no tokens until it
    /// is paid for, so no call is made for the portal meanwhile.
    #[error("the app's paid period on this portal ended")]
    PaymentRequired,
    /// The user's tokens are gone or refused: they must open the app again.
    #[error("the user must open the app again")]
    NeedsReauth,
    /// The portal's rate limit did not free up in time.
    #[error("the portal's rate limit is exhausted; retry in {retry_after:?}")]
    RateLimited {
        /// When a slot frees up.
        retry_after: Duration,
    },
    /// Another instance is refreshing this account and did not finish in time.
    #[error("a token refresh by another instance did not finish in time")]
    RefreshBusy,
    /// Bitrix24 failed or refused.
    #[error(transparent)]
    Bitrix(#[from] bitrix::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug of ours, already logged.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// How a call may be repeated after a failure whose effect is unknown (timeout, 5xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Repeating has the same effect as calling once (reads, setting a status).
    Safe,
    /// Must not be repeated blindly.
    Never,
}

impl CallError {
    /// A refusal a newer token can cure; not, say, `METHOD_CONFIRM_WAITING`, also sent with
    /// 401.
    pub fn is_auth_refusal(&self) -> bool {
        matches!(self, Self::Bitrix(error) if error.is_auth_refusal())
    }

    /// The portal refused a command inside a `batch` with `code` (HTTP 400, as it would alone).
    pub fn refused(code: bitrix::ErrorCode) -> Self {
        Self::Bitrix(bitrix::Error::Api {
            status: reqwest::StatusCode::BAD_REQUEST,
            code,
            description: String::new(),
            retry_after: None,
        })
    }
}
