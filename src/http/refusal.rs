//! A use case's refusal, or a failed call, as the page a person sees.

use super::error::ApiError;
use super::page::{PageError, Problem};
use crate::i18n::Lang;
use crate::portals::Refusal;
use crate::tokens::CallError;

/// The page for a use case's refusal.
pub fn refused(refusal: Refusal, lang: Lang) -> PageError {
    let problem = match refusal {
        Refusal::BadRequest => Problem::BadRequest,
        Refusal::NotInstalled => Problem::NotInstalled,
        Refusal::BeingRemoved => Problem::BeingRemoved,
        Refusal::Paused => Problem::Paused,
        Refusal::PaymentRequired => Problem::PaymentRequired,
        Refusal::NotVerified | Refusal::OffList => Problem::NotVerified,
        Refusal::TokenRejected => Problem::TokenRejected,
        Refusal::AdminOnly => Problem::AdminOnly,
        Refusal::EmployeesOnly => Problem::AccessDenied,
        Refusal::Unavailable => Problem::Unavailable,
        Refusal::BindingsFailed => Problem::BindingsFailed,
        Refusal::Budget(seconds) => Problem::RateLimited(seconds),
        Refusal::SignInState => Problem::SignInState,
        Refusal::SignInRefused => Problem::SignInRefused,
        Refusal::TooManySignIns => Problem::RateLimited(60),
        Refusal::BadDomain => Problem::BadDomain,
        Refusal::ScopeMissing(_) => Problem::MissingScope,
        Refusal::MethodMissing(_) => Problem::Refused,
        Refusal::Call(error) => return call_failed(&error, lang),
        Refusal::AccountsFull => Problem::AccountsFull,
        Refusal::Store(error) if error.is_unavailable() => {
            tracing::warn!(%error, "the database is unavailable");
            Problem::DatabaseDown
        }
        Refusal::Store(error) => return PageError::internal(lang, &error),
    };
    PageError::new(problem, lang)
}

/// The page for a failed call on a user's behalf: a refused token asks them to reopen the app,
/// anything else keeps its category.
pub fn call_failed(error: &CallError, lang: Lang) -> PageError {
    tracing::warn!(%error, "a call to Bitrix24 failed");
    let problem = if error.is_auth_refusal() {
        Problem::TokenRejected
    } else {
        ApiError::from_call(error, lang).problem()
    };
    PageError::new(problem, lang)
}
