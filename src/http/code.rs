//! Every code a refusal or a refused request is answered with, with its HTTP status, the page
//! problem of the same meaning and its sentence (`docs/api.md`), in one table: a code added here
//! does not compile until it has all three. (`/events` also says what became of an event —
//! `still_installed`, `unknown_portal`, `wrong_application_token` — in `events.rs`.)

use axum::http::StatusCode;

use super::page::Problem;
use crate::i18n::Text;

/// An API error's `error` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The body is not the JSON expected.
    BadRequest,
    /// Not `Content-Type: application/json`.
    UnsupportedMediaType,
    /// Not one of the four statuses.
    InvalidStatus,
    /// `until` is not a time within the next week.
    InvalidUntil,
    /// A schedule the contract refuses.
    InvalidSchedule,
    /// Automation switches the contract refuses.
    InvalidAutomation,
    /// The team board's query is malformed.
    InvalidQuery,
    /// No valid session.
    InvalidSession,
    /// Bitrix24 no longer accepts the user's tokens.
    ReauthRequired,
    /// The portal uninstalled the app.
    NotInstalled,
    /// The portal's rate limit did not free up in time.
    RateLimited,
    /// An uninstall awaits confirmation.
    BeingRemoved,
    /// The operator paused the portal.
    Paused,
    /// The app's paid period on the portal ended.
    PaymentRequired,
    /// Another instance's refresh did not finish in time.
    Busy,
    /// The database does not answer.
    DatabaseUnavailable,
    /// Our fault.
    Internal,
    /// The portal has not granted a scope.
    InsufficientScope,
    /// The administrator restricted the user's access.
    AccessDenied,
    /// The administrator must approve the app's access first.
    ConfirmationRequired,
    /// The viewer is not one of the portal's employees.
    EmployeesOnly,
    /// The portal's REST lacks a method.
    MethodUnavailable,
    /// Bitrix24 is down, slow or failing.
    BitrixUnavailable,
    /// Bitrix24 refused for another reason.
    BitrixRefused,
    /// The OAuth server did not confirm a token, or it belongs elsewhere.
    NotVerified,
    /// The request names an OAuth server this app does not use.
    UnknownOAuthServer,
    /// Only an administrator may do this.
    AdminRequired,
    /// The app's placements and events could not be bound.
    BindingsFailed,
    /// A sign-in's state is unknown, used or expired.
    SignInState,
    /// The OAuth server refused a sign-in.
    SignInRefused,
    /// Not the address of an installed portal.
    BadDomain,
    /// The portal holds as many accounts as the app keeps for one.
    AccountsFull,
}

impl Code {
    /// The code as the body's `error` field spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidStatus => "invalid_status",
            Self::InvalidUntil => "invalid_until",
            Self::InvalidSchedule => "invalid_schedule",
            Self::InvalidAutomation => "invalid_automation",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidSession => "invalid_session",
            Self::ReauthRequired => "reauth_required",
            Self::NotInstalled => "not_installed",
            Self::RateLimited => "rate_limited",
            Self::BeingRemoved => "being_removed",
            Self::Paused => "paused",
            Self::PaymentRequired => "payment_required",
            Self::Busy => "busy",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::Internal => "internal",
            Self::InsufficientScope => "insufficient_scope",
            Self::AccessDenied => "access_denied",
            Self::ConfirmationRequired => "confirmation_required",
            Self::EmployeesOnly => "employees_only",
            Self::MethodUnavailable => "method_unavailable",
            Self::BitrixUnavailable => "bitrix_unavailable",
            Self::BitrixRefused => "bitrix_refused",
            Self::NotVerified => "not_verified",
            Self::UnknownOAuthServer => "unknown_oauth_server",
            Self::AdminRequired => "admin_required",
            Self::BindingsFailed => "bindings_failed",
            Self::SignInState => "sign_in_state",
            Self::SignInRefused => "sign_in_refused",
            Self::BadDomain => "bad_domain",
            Self::AccountsFull => "accounts_full",
        }
    }

    /// The HTTP status that says what the caller can do.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::SignInState | Self::SignInRefused | Self::BadDomain => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidStatus
            | Self::InvalidUntil
            | Self::InvalidSchedule
            | Self::InvalidAutomation
            | Self::InvalidQuery => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidSession | Self::ReauthRequired => StatusCode::UNAUTHORIZED,
            Self::NotInstalled => StatusCode::NOT_FOUND,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            Self::BeingRemoved | Self::Paused | Self::Busy | Self::DatabaseUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InsufficientScope
            | Self::AccessDenied
            | Self::ConfirmationRequired
            | Self::EmployeesOnly
            | Self::NotVerified
            | Self::UnknownOAuthServer
            | Self::AdminRequired => StatusCode::FORBIDDEN,
            Self::MethodUnavailable => StatusCode::NOT_IMPLEMENTED,
            Self::BitrixUnavailable | Self::BitrixRefused | Self::BindingsFailed => {
                StatusCode::BAD_GATEWAY
            }
            Self::AccountsFull => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    /// The page problem of the same meaning, for pages: a missing scope stays an
    /// administrator's matter and a rate limit a wait (`wait_secs`), never "Bitrix24 is not
    /// answering".
    pub fn problem(self, wait_secs: u64) -> Problem {
        match self {
            Self::BadRequest
            | Self::UnsupportedMediaType
            | Self::InvalidStatus
            | Self::InvalidUntil
            | Self::InvalidSchedule
            | Self::InvalidAutomation
            | Self::InvalidQuery => Problem::BadRequest,
            Self::InvalidSession | Self::ReauthRequired => Problem::TokenRejected,
            Self::NotInstalled => Problem::NotInstalled,
            Self::RateLimited => Problem::RateLimited(wait_secs),
            Self::BeingRemoved => Problem::BeingRemoved,
            Self::Paused => Problem::Paused,
            Self::PaymentRequired => Problem::PaymentRequired,
            Self::Busy | Self::BitrixUnavailable => Problem::Unavailable,
            Self::DatabaseUnavailable => Problem::DatabaseDown,
            Self::Internal => Problem::Internal,
            Self::InsufficientScope => Problem::MissingScope,
            Self::AccessDenied | Self::EmployeesOnly => Problem::AccessDenied,
            Self::ConfirmationRequired => Problem::ConfirmationRequired,
            Self::MethodUnavailable | Self::BitrixRefused => Problem::Refused,
            Self::NotVerified | Self::UnknownOAuthServer => Problem::NotVerified,
            Self::AdminRequired => Problem::AdminOnly,
            Self::BindingsFailed => Problem::BindingsFailed,
            Self::SignInState => Problem::SignInState,
            Self::SignInRefused => Problem::SignInRefused,
            Self::BadDomain => Problem::BadDomain,
            Self::AccountsFull => Problem::AccountsFull,
        }
    }

    /// The sentence a person reads, in their language.
    pub fn message(self, t: &'static Text) -> &'static str {
        match self {
            Self::BadRequest => t.api_bad_request,
            Self::UnsupportedMediaType => t.api_unsupported,
            Self::InvalidStatus => t.api_bad_status,
            Self::InvalidUntil => t.api_bad_until,
            Self::InvalidSchedule | Self::InvalidAutomation | Self::InvalidQuery => {
                t.bad_request_body
            }
            Self::InvalidSession => t.api_session,
            Self::ReauthRequired => t.api_reauth,
            Self::NotInstalled => t.not_installed_body,
            Self::RateLimited => t.api_rate_limited,
            Self::BeingRemoved => t.removing_body,
            Self::Paused => t.paused_body,
            Self::PaymentRequired => t.payment_body,
            Self::Busy | Self::BitrixUnavailable => t.api_unavailable,
            Self::DatabaseUnavailable | Self::Internal => t.internal_body,
            Self::InsufficientScope => t.api_scope,
            Self::AccessDenied => t.api_access_denied,
            Self::ConfirmationRequired => t.api_confirm,
            Self::EmployeesOnly => t.team_employees_only,
            Self::MethodUnavailable | Self::BitrixRefused => t.api_refused,
            Self::NotVerified | Self::UnknownOAuthServer => t.not_verified_body,
            Self::AdminRequired => t.admin_only_body,
            Self::BindingsFailed => t.bindings_failed_body,
            Self::SignInState => t.sign_in_state_body,
            Self::SignInRefused => t.sign_in_refused_body,
            Self::BadDomain => t.bad_domain_body,
            Self::AccountsFull => t.accounts_full_body,
        }
    }
}
