//! Why a use case did not do what was asked: one type for every use case, which `http`
//! turns into an answer in one place (`http/refusal.rs`).

use crate::store::StoreError;
use crate::tokens::CallError;

/// Why a use case did not do what was asked, in the terms a page or an answer needs.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request lacks something Bitrix24 always sends.
    #[error("the request is incomplete")]
    BadRequest,
    /// The portal has not installed the app.
    #[error("the app is not installed on this portal")]
    NotInstalled,
    /// An uninstall of the portal awaits confirmation.
    #[error("the app is being removed from this portal")]
    BeingRemoved,
    /// The operator paused the portal.
    #[error("the app is paused on this portal")]
    Paused,
    /// The app's trial or paid period on the portal ended.
    #[error("the app's paid period on this portal ended")]
    PaymentRequired,
    /// The OAuth server did not confirm the token.
    #[error("Bitrix24 did not confirm the request")]
    NotVerified,
    /// The request names an OAuth server off the allowlist; nothing was sent to it.
    #[error("the request names an OAuth server this app does not use")]
    OffList,
    /// The portal did not accept the token.
    #[error("the portal refused the token")]
    TokenRejected,
    /// Only an administrator may do this.
    #[error("an administrator is required")]
    AdminOnly,
    /// Bitrix24 did not answer.
    #[error("Bitrix24 did not answer")]
    Unavailable,
    /// The app's event handlers could not be bound.
    #[error("the app's handlers could not be bound")]
    BindingsFailed,
    /// Too many failed checks for this portal or from this address.
    #[error("too many failed checks; retry in {0} s")]
    Budget(u64),
    /// The sign-in's state is unknown, used or expired.
    #[error("the sign-in state is unknown or expired")]
    SignInState,
    /// The OAuth server refused the sign-in.
    #[error("the OAuth server refused the sign-in")]
    SignInRefused,
    /// Too many sign-ins are under way for one portal.
    #[error("too many sign-ins under way")]
    TooManySignIns,
    /// Not the address of an installed portal.
    #[error("not a portal address")]
    BadDomain,
    /// A call on the user's behalf failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// The portal holds as many accounts as the app keeps for one; a new user's pair was not
    /// stored.
    #[error("the portal holds as many accounts as one may")]
    AccountsFull,
    /// The portal has not granted a scope the team board needs (named as Bitrix24 names it).
    #[error("the portal has not granted the {0} scope")]
    ScopeMissing(&'static str),
    /// The team board is for the portal's employees; the viewer is not one (extranet, guest).
    #[error("the viewer is not one of the portal's employees")]
    EmployeesOnly,
    /// The portal's REST lacks a method the team board needs (an older on-premise portal).
    #[error("the portal's REST has no method {0}")]
    MethodMissing(&'static str),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AccountsFull(_) => Self::AccountsFull,
            other => Self::Store(other),
        }
    }
}
