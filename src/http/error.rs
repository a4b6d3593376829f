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
pub type NoStoreJson<T = Value> =
    Result<([(header::HeaderName, &'static str); 1], axum::Json<T>), ApiError>;

/// `body` as JSON that no cache keeps.
pub fn no_store<T>(body: T) -> NoStoreJson<T> {
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    /// More fields for the body, naming what is at fault.
    detail: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    /// The answer for `code`, with its sentence in the user's language.
    pub fn new(code: Code, lang: Lang) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.message(lang.text())),
            retry_after: None,
            detail: None,
        }
    }

    /// Names what is at fault in the body (`key`: `value`).
    fn naming(mut self, key: &str, value: Value) -> Self {
        self.detail
            .get_or_insert_with(Box::default)
            .insert(key.to_owned(), value);
        self
    }

    fn saying(mut self, message: String) -> Self {
        self.message = Cow::Owned(message);
        self
    }

    /// A schedule the contract refuses: the sentence, and the rule and field at fault.
    pub fn invalid_schedule(lang: Lang, invalid: &Invalid) -> Self {
        let mut error = Self::new(Code::InvalidSchedule, lang)
            .saying(super::words::schedule_problem(lang.text(), invalid));
        if let Some(rule) = invalid.rule {
            error = error.naming("rule", json!(rule));
        }
        error = error.naming("field", json!(invalid.field));
        if let ScheduleProblem::Overlap { other, .. } = invalid.problem {
            error = error.naming("overlaps", json!(other));
        }
        error
    }

    /// Automation switches the contract refuses: the sentence and the field at fault.
    pub fn invalid_automation(lang: Lang, field: &'static str) -> Self {
        Self::new(Code::InvalidAutomation, lang)
            .saying(lang.text().api_bad_automation.replace("{field}", field))
            .naming("field", json!(field))
    }

    /// The team board's query names no department, a search too long, or no page.
    pub fn invalid_query(lang: Lang, field: &str) -> Self {
        Self::new(Code::InvalidQuery, lang)
            .saying(lang.text().api_bad_query.replace("{field}", field))
            .naming("field", json!(field))
    }

    /// What a use case's refusal means for the caller (`refusal.rs` gives the code), with the
    /// scope, method or viewer at fault named where the team board refused.
    pub fn failed(refusal: impl Into<Refusal>, lang: Lang) -> Self {
        let refusal = refusal.into();
        let t = lang.text();
        let meaning = super::refusal::meaning(&refusal);
        let error = Self {
            retry_after: meaning.retry_after,
            ..Self::new(meaning.code, lang)
        };
        match refusal {
            Refusal::ScopeMissing(scope) => error
                .saying(t.team_scope.replace("{scope}", scope))
                .naming("scope", json!(scope)),
            Refusal::MethodMissing(method) => error
                .saying(t.team_method.replace("{method}", method))
                .naming("method", json!(method)),
            Refusal::EmployeesOnly => error.naming("viewer", json!("not an employee")),
            _ => error,
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
            let seconds = super::refusal::whole_secs(retry_after).to_string();
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
