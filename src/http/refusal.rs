//! The one place a refusal becomes an answer: every [`Refusal`] (and every failed call it
//! carries) maps here to a [`Code`], whose table (`code.rs`) gives its HTTP status, its page
//! problem and its sentence. The match is exhaustive, so a new refusal does not compile until it
//! has a code. Pages, the JSON API (`ApiError::failed`) and the event endpoint render from it.

use std::time::Duration;

use super::code::Code;
use super::page::PageError;
use crate::i18n::Lang;
use crate::portals::Refusal;
use crate::tokens::CallError;
use bitrix24::{self as bitrix, Category};

/// What a refusal means for its caller.
#[derive(Clone, Copy, Debug)]
pub struct Meaning {
    pub code: Code,
    /// How long to wait before trying again, when that is known.
    pub retry_after: Option<Duration>,
}

impl Meaning {
    fn of(code: Code) -> Self {
        Self {
            code,
            retry_after: None,
        }
    }

    fn after(code: Code, wait: Duration) -> Self {
        Self {
            code,
            retry_after: Some(wait),
        }
    }

    /// Whole seconds to wait, at least one.
    pub fn wait_secs(&self) -> u64 {
        self.retry_after.map_or(1, whole_secs)
    }
}

/// `wait` in whole seconds, rounded up, at least one (what `Retry-After` and a page say).
pub fn whole_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// What `refusal` means; logged here, once, where it is our fault or Bitrix24's.
pub fn meaning(refusal: &Refusal) -> Meaning {
    match refusal {
        Refusal::BadRequest => Meaning::of(Code::BadRequest),
        Refusal::NotInstalled => Meaning::of(Code::NotInstalled),
        Refusal::BeingRemoved => Meaning::of(Code::BeingRemoved),
        Refusal::Paused => Meaning::of(Code::Paused),
        Refusal::PaymentRequired => Meaning::of(Code::PaymentRequired),
        Refusal::NotVerified => Meaning::of(Code::NotVerified),
        Refusal::OffList => Meaning::of(Code::UnknownOAuthServer),
        Refusal::TokenRejected => Meaning::of(Code::ReauthRequired),
        Refusal::AdminOnly => Meaning::of(Code::AdminRequired),
        Refusal::Unavailable => Meaning::of(Code::BitrixUnavailable),
        Refusal::BindingsFailed => Meaning::of(Code::BindingsFailed),
        Refusal::Budget(seconds) => {
            Meaning::after(Code::RateLimited, Duration::from_secs(*seconds))
        }
        Refusal::SignInState => Meaning::of(Code::SignInState),
        Refusal::SignInRefused => Meaning::of(Code::SignInRefused),
        Refusal::TooManySignIns => Meaning::after(Code::RateLimited, Duration::from_secs(60)),
        Refusal::BadDomain => Meaning::of(Code::BadDomain),
        Refusal::AccountsFull => Meaning::of(Code::AccountsFull),
        Refusal::ScopeMissing(_) => Meaning::of(Code::InsufficientScope),
        Refusal::EmployeesOnly => Meaning::of(Code::EmployeesOnly),
        Refusal::MethodMissing(_) => Meaning::of(Code::MethodUnavailable),
        Refusal::Store(error) => store_failed(error.is_unavailable(), error),
        Refusal::Call(error) => call_failed(error),
    }
}

fn store_failed(unavailable: bool, error: &dyn std::fmt::Display) -> Meaning {
    if unavailable {
        tracing::warn!(%error, "the database is unavailable");
        Meaning::after(Code::DatabaseUnavailable, Duration::from_secs(5))
    } else {
        tracing::error!(%error, "the database failed");
        Meaning::of(Code::Internal)
    }
}

fn call_failed(error: &CallError) -> Meaning {
    match error {
        CallError::NeedsReauth => Meaning::of(Code::ReauthRequired),
        CallError::NotInstalled => Meaning::of(Code::NotInstalled),
        CallError::RateLimited { retry_after } => Meaning::after(Code::RateLimited, *retry_after),
        CallError::BeingRemoved => Meaning::of(Code::BeingRemoved),
        CallError::Paused => Meaning::of(Code::Paused),
        CallError::PaymentRequired => Meaning::of(Code::PaymentRequired),
        CallError::RefreshBusy => Meaning::after(Code::Busy, Duration::from_secs(2)),
        CallError::Store(error) => store_failed(error.is_unavailable(), error),
        CallError::Internal(what) => {
            tracing::error!(what, "a call failed inside the app");
            Meaning::of(Code::Internal)
        }
        CallError::Bitrix(error) => {
            tracing::warn!(%error, "a call to Bitrix24 failed");
            Meaning::of(bitrix_code(error))
        }
    }
}

fn bitrix_code(error: &bitrix::Error) -> Code {
    match error.category() {
        Category::MissingScope => Code::InsufficientScope,
        Category::AccessDenied => Code::AccessDenied,
        Category::ConfirmationRequired => Code::ConfirmationRequired,
        Category::AppGone => Code::NotInstalled,
        Category::AuthRefused => Code::ReauthRequired,
        Category::InvalidStatus => Code::InvalidStatus,
        Category::Unavailable => Code::BitrixUnavailable,
        Category::Refused => Code::BitrixRefused,
    }
}

/// The page for a refusal, in the user's language.
pub fn page(refusal: impl Into<Refusal>, lang: Lang) -> PageError {
    let meaning = meaning(&refusal.into());
    PageError::new(meaning.code.problem(meaning.wait_secs()), lang)
}
