//! The JSON API's errors: `{"error": "<code>", "message": "<sentence in the user's language>"}`
//! with the status code that says what the caller can do. Which type to use where:
//! [`ApiError`] for `/api/*`, [`super::page::PageError`] for pages shown in the portal.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::code::Code;
use crate::i18n::Lang;
use crate::portals::Refusal;
use crate::schedule::{Invalid, Problem as ScheduleProblem};

/// A JSON answer that no cache keeps, or the error instead.
pub type NoStoreJson =
    Result<([(header::HeaderName, &'static str); 1], axum::Json<Value>), ApiError>;

#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    /// More fields for the body, naming what is at fault.
    detail: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    fn new(code: Code, message: &'static str) -> Self {
        Self {
            code,
            message: Cow::Borrowed(message),
            retry_after: None,
            detail: None,
        }
    }

    /// A schedule the contract refuses: the sentence, and the rule and field at fault.
    pub fn invalid_schedule(lang: Lang, invalid: &Invalid) -> Self {
        let mut detail = Map::new();
        if let Some(rule) = invalid.rule {
            detail.insert("rule".into(), json!(rule));
        }
        detail.insert("field".into(), json!(invalid.field));
        if let ScheduleProblem::Overlap { other, .. } = invalid.problem {
            detail.insert("overlaps".into(), json!(other));
        }
        Self {
            code: Code::InvalidSchedule,
            message: Cow::Owned(super::words::schedule_problem(lang.text(), invalid)),
            retry_after: None,
            detail: Some(Box::new(detail)),
        }
    }

    /// An error whose body also names what is at fault (`key`: `value`).
    pub fn with_detail(code: Code, message: String, key: &str, value: &str) -> Self {
        let mut detail = Map::new();
        detail.insert(key.to_owned(), json!(value));
        Self {
            code,
            message: Cow::Owned(message),
            retry_after: None,
            detail: Some(Box::new(detail)),
        }
    }

    /// The team board's query names no department, a search too long, or no page.
    pub fn invalid_query(lang: Lang, field: &str) -> Self {
        Self::with_detail(
            Code::InvalidQuery,
            lang.text().api_bad_query.replace("{field}", field),
            "field",
            field,
        )
    }

    /// The body was not JSON of the expected shape.
    pub fn bad_request(lang: Lang) -> Self {
        Self::new(Code::BadRequest, lang.text().api_bad_request)
    }

    /// The body was not declared as JSON.
    pub fn unsupported_media_type(lang: Lang) -> Self {
        Self::new(Code::UnsupportedMediaType, lang.text().api_unsupported)
    }

    /// Not one of the four statuses.
    pub fn invalid_status(lang: Lang) -> Self {
        Self::new(Code::InvalidStatus, lang.text().api_bad_status)
    }

    /// `until` is not RFC 3339 with an offset, in the future, at most a week ahead.
    pub fn invalid_until(lang: Lang) -> Self {
        Self::new(Code::InvalidUntil, lang.text().api_bad_until)
    }

    /// No valid session.
    pub fn invalid_session(lang: Lang) -> Self {
        Self::new(Code::InvalidSession, lang.text().api_session)
    }

    /// [`ApiError::refused`] for anything a use case answers.
    pub fn failed(refusal: impl Into<Refusal>, lang: Lang) -> Self {
        Self::refused(&refusal.into(), lang)
    }

    /// What a use case's refusal means for the caller (`refusal.rs` gives the code), with the
    /// scope, method or viewer at fault named where the team board refused.
    pub fn refused(refusal: &Refusal, lang: Lang) -> Self {
        let t = lang.text();
        let meaning = super::refusal::meaning(refusal);
        let (message, detail) = match refusal {
            Refusal::ScopeMissing(scope) => (
                Cow::Owned(t.team_scope.replace("{scope}", scope)),
                Some(("scope", *scope)),
            ),
            Refusal::MethodMissing(method) => (
                Cow::Owned(t.team_method.replace("{method}", method)),
                Some(("method", *method)),
            ),
            Refusal::EmployeesOnly => (
                Cow::Borrowed(meaning.code.message(t)),
                Some(("viewer", "not an employee")),
            ),
            _ => (Cow::Borrowed(meaning.code.message(t)), None),
        };
        Self {
            code: meaning.code,
            message,
            retry_after: meaning.retry_after,
            detail: detail.map(|(key, value)| {
                let mut fields = Map::new();
                fields.insert(key.to_owned(), json!(value));
                Box::new(fields)
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.code.as_str(), "message": self.message});
        if let (Some(detail), Some(fields)) = (self.detail, body.as_object_mut()) {
            fields.extend(*detail);
        }
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(retry_after) = self.retry_after {
            let seconds = retry_after.as_secs_f64().ceil().max(1.0).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
