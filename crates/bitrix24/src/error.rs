//! What Bitrix24 answered when a call failed: one typed error for REST and OAuth calls, with every
//! error code of `docs/bitrix24.md` ("OAuth", "Calling REST methods") and unknown codes kept
//! verbatim.

use std::time::Duration;

use reqwest::StatusCode;

macro_rules! error_codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("`", $code, "`")]
                $variant,
            )*
            /// A code this build does not know, kept as Bitrix24 sent it.
            Other(String),
        }

        impl $name {
            /// Maps the `error` field of an answer; codes are matched exactly, as sent.
            pub fn parse(code: &str) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The code as Bitrix24 writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }
        }
    };
}

error_codes!(
    /// Error codes of the REST API (`docs/bitrix24.md`, "Calling REST methods", "Status methods",
    /// "Placements", "Events").
    ErrorCode {
        ExpiredToken => "expired_token",
        InvalidToken => "invalid_token",
        NoAuthFound => "NO_AUTH_FOUND",
        ErrorOauth => "ERROR_OAUTH",
        ApplicationNotFound => "APPLICATION_NOT_FOUND",
        NotInstalled => "NOT_INSTALLED",
        AuthorizationError => "authorization_error",
        MethodConfirmWaiting => "METHOD_CONFIRM_WAITING",
        MethodConfirmDenied => "METHOD_CONFIRM_DENIED",
        InsufficientScope => "insufficient_scope",
        AccessDenied => "ACCESS_DENIED",
        InvalidCredentials => "INVALID_CREDENTIALS",
        UserAccessError => "user_access_error",
        WrongAuthType => "WRONG_AUTH_TYPE",
        InvalidRequest => "INVALID_REQUEST",
        BatchLengthExceeded => "ERROR_BATCH_LENGTH_EXCEEDED",
        MethodNotFound => "ERROR_METHOD_NOT_FOUND",
        BatchMethodNotAllowed => "ERROR_BATCH_METHOD_NOT_ALLOWED",
        OperationTimeLimit => "OPERATION_TIME_LIMIT",
        InternalServerError => "INTERNAL_SERVER_ERROR",
        UnexpectedAnswer => "ERROR_UNEXPECTED_ANSWER",
        QueryLimitExceeded => "QUERY_LIMIT_EXCEEDED",
        OverloadLimit => "OVERLOAD_LIMIT",
        PortalDeleted => "PORTAL_DELETED",
        StatusError => "STATUS_ERROR",
        ErrorArgument => "ERROR_ARGUMENT",
        PlacementNotFound => "ERROR_PLACEMENT_NOT_FOUND",
        WrongHandlerUrl => "ERROR_WRONG_HANDLER_URL",
        UnsupportedProtocol => "ERROR_UNSUPPORTED_PROTOCOL",
        PlacementMaxCount => "ERROR_PLACEMENT_MAX_COUNT",
        EmptyHandlerUrl => "EMPTY_ERROR_HANDLER_URL",
        EventNotFound => "ERROR_EVENT_NOT_FOUND",
        HandlerAlreadyExists => "ERROR_HANDLER_ALREADY_EXIST",
        PlacementAlreadyBound => "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED",
        HandlerNotFound => "ERROR_HANDLER_NOT_FOUND",
        PaymentRequired => "PAYMENT_REQUIRED",
    }
);

impl ErrorCode {
    /// The token is not (or no longer) usable: refreshing may help, re-authorising will.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Self::ExpiredToken
                | Self::InvalidToken
                | Self::NoAuthFound
                | Self::ErrorOauth
                | Self::AuthorizationError
        )
    }

    /// The app is gone from the portal (uninstalled, portal deleted).
    pub fn is_app_gone(&self) -> bool {
        matches!(
            self,
            Self::ApplicationNotFound | Self::NotInstalled | Self::PortalDeleted
        )
    }

    /// A binding that already exists. The placement code is not in the docs (UNCONFIRMED), so
    /// any unknown code naming an existing binding counts too.
    pub fn is_already_bound(&self) -> bool {
        match self {
            Self::HandlerAlreadyExists | Self::PlacementAlreadyBound => true,
            Self::Other(code) => code.contains("ALREADY"),
            _ => false,
        }
    }

    /// The portal asks us to slow down.
    pub fn is_rate_limit(&self) -> bool {
        matches!(
            self,
            Self::QueryLimitExceeded | Self::OperationTimeLimit | Self::OverloadLimit
        )
    }
}

error_codes!(
    /// Error codes of the OAuth server (`docs/bitrix24.md`, "OAuth").
    OAuthErrorCode {
        InvalidRequest => "invalid_request",
        InvalidClient => "invalid_client",
        InvalidGrant => "invalid_grant",
        BadVerificationCode => "bad_verification_code",
        InsufficientScope => "insufficient_scope",
        InvalidScope => "invalid_scope",
        PaymentRequired => "PAYMENT_REQUIRED",
        WrongClient => "wrong_client",
        ExpiredToken => "expired_token",
        InvalidToken => "invalid_token",
    }
);

impl Error {
    /// Bitrix24 refuses the app because its trial or paid period on the portal ended: the
    /// OAuth server's `PAYMENT_REQUIRED`, or the same code from the portal, should its REST
    /// ever answer so (`docs/bitrix24.md`, "Paid apps").
    pub fn is_payment_required(&self) -> bool {
        matches!(
            self,
            Self::OAuth {
                code: OAuthErrorCode::PaymentRequired,
                ..
            } | Self::Api {
                code: ErrorCode::PaymentRequired,
                ..
            }
        )
    }
}

impl OAuthErrorCode {
    /// The grant (code or refresh token) is dead: only a new authorisation helps.
    pub fn is_dead_grant(&self) -> bool {
        matches!(self, Self::InvalidGrant | Self::BadVerificationCode)
    }
}

/// What a failed call means for the person it was made for, whatever Bitrix24's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The portal has not granted a scope the app needs (or lacks the method).
    MissingScope,
    /// The administrator restricted the user's access.
    AccessDenied,
    /// The administrator must approve the app's access first.
    ConfirmationRequired,
    /// The app is gone from the portal.
    AppGone,
    /// The user's token is no longer accepted.
    AuthRefused,
    /// Not a status Bitrix24 accepts.
    InvalidStatus,
    /// Bitrix24 is down, slow or failing.
    Unavailable,
    /// Any other refusal.
    Refused,
}

/// A failed call to Bitrix24, as precise as the answer allows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The portal answered with a REST error envelope.
    #[error("Bitrix24 answered {status} {}: {description}", code.as_str())]
    Api {
        /// HTTP status of the answer.
        status: StatusCode,
        /// The `error` field.
        code: ErrorCode,
        /// The `error_description` field (Bitrix24's text, for logs only).
        description: String,
        /// When the portal says it may be called again (`Retry-After` or `operating_reset_at`).
        retry_after: Option<Duration>,
    },
    /// The OAuth server refused (even when it said so with HTTP 200).
    #[error("the OAuth server refused: {}", code.as_str())]
    OAuth {
        /// The `error` field.
        code: OAuthErrorCode,
        /// The `error_description` field.
        description: String,
    },
    /// The portal was renamed: it answered a redirect that we do not follow blindly
    /// (`docs/bitrix24.md`, "Renamed portals").
    #[error("the portal moved to {location}")]
    Moved {
        /// The `Location` header.
        location: String,
    },
    /// No answer in time.
    #[error("Bitrix24 did not answer in time")]
    Timeout,
    /// No connection could be made, or it broke.
    #[error("Bitrix24 could not be reached: {0}")]
    Unreachable(String),
    /// An answer that is neither a result nor an error envelope.
    #[error("Bitrix24 gave an unexpected answer (HTTP {status}): {detail}")]
    Unexpected {
        /// HTTP status of the answer.
        status: StatusCode,
        /// What was wrong with it.
        detail: String,
    },
    /// A request we refused to send (an endpoint outside policy, a malformed method name).
    #[error("refused to call Bitrix24: {0}")]
    Refused(String),
}

impl Error {
    /// The REST error code, if the portal answered with one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The token was refused in a way a newer token cures (expired, killed by a rotation, or a
    /// 401 with a code this build does not know); not, say, `METHOD_CONFIRM_WAITING`, which
    /// also comes with 401.
    pub fn is_auth_refusal(&self) -> bool {
        matches!(self, Self::Api { status, code, .. }
            if code.is_auth_failure()
                || (status.as_u16() == 401 && matches!(code, ErrorCode::Other(_))))
    }

    /// What the failure means for the user.
    pub fn category(&self) -> Category {
        let Self::Api { code, status, .. } = self else {
            return Category::Unavailable;
        };
        match code {
            ErrorCode::InsufficientScope | ErrorCode::MethodNotFound => Category::MissingScope,
            ErrorCode::AccessDenied
            | ErrorCode::UserAccessError
            | ErrorCode::InvalidCredentials => Category::AccessDenied,
            ErrorCode::MethodConfirmWaiting | ErrorCode::MethodConfirmDenied => {
                Category::ConfirmationRequired
            }
            code if code.is_app_gone() => Category::AppGone,
            code if code.is_auth_failure() => Category::AuthRefused,
            ErrorCode::StatusError => Category::InvalidStatus,
            _ if status.is_server_error() => Category::Unavailable,
            _ => Category::Refused,
        }
    }

    /// Whether the same call may succeed later without anything changing on our side.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => code.is_rate_limit() || status.is_server_error(),
            Self::Unexpected { status, .. } => status.is_server_error(),
            Self::Timeout | Self::Unreachable(_) => true,
            _ => false,
        }
    }

    /// A short label for metrics; unknown codes are folded into `other` so a portal cannot
    /// grow our label set.
    pub fn outcome(&self) -> &str {
        match self {
            Self::Api {
                code: ErrorCode::Other(_),
                ..
            }
            | Self::OAuth {
                code: OAuthErrorCode::Other(_),
                ..
            } => "other",
            Self::Api { code, .. } => code.as_str(),
            Self::OAuth { code, .. } => code.as_str(),
            Self::Moved { .. } => "moved",
            Self::Timeout => "timeout",
            Self::Unreachable(_) => "unreachable",
            Self::Unexpected { .. } => "unexpected",
            Self::Refused(_) => "refused",
        }
    }

    pub(crate) fn from_transport(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            return Self::Timeout;
        }
        // Without the URL: `app.info` carries a token in its query string (`docs/bitrix24.md`,
        // "OAuth").
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Unreachable(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_unknown_are_kept() {
        for code in [
            "expired_token",
            "QUERY_LIMIT_EXCEEDED",
            "STATUS_ERROR",
            "PORTAL_DELETED",
        ] {
            let parsed = ErrorCode::parse(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code} unknown");
            assert_eq!(parsed.as_str(), code);
        }
        assert_eq!(
            ErrorCode::parse("SOMETHING_NEW"),
            ErrorCode::Other("SOMETHING_NEW".into())
        );
        assert_eq!(
            OAuthErrorCode::parse("wrong_client"),
            OAuthErrorCode::WrongClient
        );
        assert!(OAuthErrorCode::parse("invalid_grant").is_dead_grant());
    }

    #[test]
    fn only_refusals_a_newer_token_cures_count_as_auth_refusals() {
        let api = |status: u16, code: &str| Error::Api {
            status: StatusCode::from_u16(status).expect("status"),
            code: ErrorCode::parse(code),
            description: String::new(),
            retry_after: None,
        };
        assert!(api(401, "expired_token").is_auth_refusal());
        assert!(api(401, "SOMETHING_NEW").is_auth_refusal());
        assert!(!api(401, "METHOD_CONFIRM_WAITING").is_auth_refusal());
        assert!(!api(403, "insufficient_scope").is_auth_refusal());
    }

    #[test]
    fn classes_of_codes() {
        assert!(ErrorCode::ExpiredToken.is_auth_failure());
        assert!(ErrorCode::QueryLimitExceeded.is_rate_limit());
        assert!(ErrorCode::OperationTimeLimit.is_rate_limit());
        assert!(!ErrorCode::StatusError.is_rate_limit());
        assert!(ErrorCode::NotInstalled.is_app_gone());
    }
}
