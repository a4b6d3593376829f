//! Pages for people: the error page every handler of the portal-facing routes returns, in the
//! user's language, with what they can do about it. Internal details go to the log only.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::i18n::{Lang, Text};

/// What went wrong, as a person should hear it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The request could not be read.
    BadRequest,
    /// The body is not a form.
    UnsupportedMediaType,
    /// Bitrix24 did not confirm the token, or it belongs elsewhere.
    NotVerified,
    /// A non-administrator tried to install.
    AdminOnly,
    /// Bitrix24 did not answer.
    Unavailable,
    /// The portal has not installed the app.
    NotInstalled,
    /// The OAuth `state` is unknown, used or expired.
    SignInState,
    /// The OAuth server refused the code.
    SignInRefused,
    /// Not a portal address.
    BadDomain,
    /// The app could not bind its placements and events.
    BindingsFailed,
    /// The portal's token for this user was refused.
    TokenRejected,
    /// The page's session is missing, forged or expired.
    SessionExpired,
    /// The portal's rate limit: try again in this many seconds.
    RateLimited(u64),
    /// The portal has not granted a scope the app needs: the administrator can fix it.
    MissingScope,
    /// The administrator restricted the user's access to the app.
    AccessDenied,
    /// The administrator must approve the app's access first.
    ConfirmationRequired,
    /// An uninstall of the portal awaits confirmation.
    BeingRemoved,
    /// The operator paused the portal.
    Paused,
    /// The app's trial or paid period on the portal ended.
    PaymentRequired,
    /// Bitrix24 refused for a reason without a better sentence.
    Refused,
    /// Our fault.
    Internal,
    /// The database does not answer (a restart, a failover): a moment later it will.
    DatabaseDown,
    /// The portal holds as many accounts as the app keeps for one.
    AccountsFull,
}

impl Problem {
    fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::SignInState | Self::BadDomain | Self::SignInRefused => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotVerified
            | Self::AdminOnly
            | Self::TokenRejected
            | Self::MissingScope
            | Self::AccessDenied
            | Self::ConfirmationRequired => StatusCode::FORBIDDEN,
            Self::SessionExpired => StatusCode::UNAUTHORIZED,
            Self::NotInstalled => StatusCode::NOT_FOUND,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BeingRemoved | Self::Paused => StatusCode::SERVICE_UNAVAILABLE,
            Self::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            Self::Unavailable | Self::BindingsFailed | Self::Refused => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::AccountsFull => StatusCode::INSUFFICIENT_STORAGE,
            Self::DatabaseDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn words(self, t: &'static Text) -> (&'static str, String) {
        let (title, body) = match self {
            Self::RateLimited(seconds) => {
                return (
                    t.busy_title,
                    t.busy_body.replace("{seconds}", &seconds.to_string()),
                );
            }
            Self::MissingScope => (t.scope_title, t.api_scope),
            Self::AccessDenied => (t.access_title, t.api_access_denied),
            Self::ConfirmationRequired => (t.confirm_title, t.api_confirm),
            Self::BeingRemoved => (t.removing_title, t.removing_body),
            Self::Paused => (t.paused_title, t.paused_body),
            Self::PaymentRequired => (t.payment_title, t.payment_body),
            Self::Refused => (t.refused_title, t.api_refused),
            Self::BadRequest | Self::UnsupportedMediaType => {
                (t.bad_request_title, t.bad_request_body)
            }
            Self::NotVerified => (t.not_verified_title, t.not_verified_body),
            Self::AdminOnly => (t.not_verified_title, t.admin_only_body),
            Self::Unavailable => (t.unavailable_title, t.unavailable_body),
            Self::NotInstalled => (t.not_installed_title, t.not_installed_body),
            Self::SignInState => (t.sign_in_failed_title, t.sign_in_state_body),
            Self::SignInRefused => (t.sign_in_failed_title, t.sign_in_refused_body),
            Self::BadDomain => (t.sign_in_failed_title, t.bad_domain_body),
            Self::BindingsFailed => (t.unavailable_title, t.bindings_failed_body),
            Self::TokenRejected => (t.not_verified_title, t.token_rejected_body),
            Self::SessionExpired => (t.not_verified_title, t.api_session),
            Self::Internal | Self::DatabaseDown => (t.unavailable_title, t.internal_body),
            Self::AccountsFull => (t.unavailable_title, t.accounts_full_body),
        };
        (title, body.to_owned())
    }
}

/// An error answered with a readable page.
#[derive(Debug)]
pub struct PageError {
    problem: Problem,
    lang: Lang,
    retry_link: Option<String>,
}

impl PageError {
    /// `problem`, told in `lang`.
    pub fn new(problem: Problem, lang: Lang) -> Self {
        Self {
            problem,
            lang,
            retry_link: None,
        }
    }

    /// Adds a link that starts over.
    pub fn with_retry(mut self, link: String) -> Self {
        self.retry_link = Some(link);
        self
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    lang: &'a str,
    t: &'static Text,
    css: &'a str,
    title: &'a str,
    body: &'a str,
    retry_link: Option<&'a str>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = self.lang.text();
        let (title, body) = self.problem.words(t);
        let page = MessagePage {
            lang: self.lang.code(),
            t,
            css: super::assets::url("app.css"),
            title,
            body: &body,
            retry_link: self.retry_link.as_deref(),
        };
        let mut response = (self.problem.status(), page).into_response();
        if let Problem::RateLimited(seconds) = self.problem
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        // Error pages run no script and show nothing private, so any portal may frame them.
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'",
            ),
        );
        response
    }
}
