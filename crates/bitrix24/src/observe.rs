//! What the clients tell about each call they make, for an app's metrics and the call log
//! Bitrix24 Market asks apps that call the REST API from a server to keep (`docs/bitrix24.md`,
//! "Market moderation"): what was asked, of whom, what came back and how long it took — every
//! token, secret and `auth` value taken out before a record exists.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// The longest body kept, in bytes: enough for any status call, and a `batch` is cut.
const BODY_LIMIT: usize = 4096;

/// What stands where a secret was.
const REDACTED: &str = "***";

/// One call to Bitrix24, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// When it was sent, unix milliseconds.
    pub at_ms: i64,
    /// The portal.
    pub member_id: String,
    /// The user whose token was used, when one was.
    pub user_id: Option<u64>,
    /// The REST method (or `oauth.token`, `app.info` at the OAuth server).
    pub method: String,
    /// The HTTP status of the answer; `None` when none arrived.
    pub http_status: Option<u16>,
    /// The Bitrix24 error code, or how the call failed (`timeout`, …); `None` on success.
    pub error_code: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The request's parameters, secrets removed.
    pub request: String,
    /// The answer's body, secrets removed.
    pub response: String,
}

/// Told of every call a client makes. Implementations must not block: the call waits for them.
pub trait Observer: Send + Sync {
    /// The time a record is stamped with, unix milliseconds.
    fn now_ms(&self) -> i64;

    /// One call made: its record, its outcome's short label (`ok`, an error code, `timeout`…)
    /// and how long it took.
    fn called(&self, record: CallRecord, outcome: &str, elapsed: Duration);
}

/// The observer a client reports to, or none. Cheap to clone.
#[derive(Clone, Default)]
pub struct Observers(Option<Arc<dyn Observer>>);

impl Observers {
    /// Reports to `observer`.
    pub fn to(observer: Arc<dyn Observer>) -> Self {
        Self(Some(observer))
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.0
            .as_ref()
            .map_or_else(crate::clock::unix_now_ms, |o| o.now_ms())
    }

    pub(crate) fn called(&self, record: CallRecord, outcome: &str, elapsed: Duration) {
        if let Some(observer) = &self.0 {
            observer.called(record, outcome, elapsed);
        }
    }
}

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observers(on)"
        } else {
            "Observers(off)"
        })
    }
}

/// What the names of fields holding secrets contain: Bitrix24 spells them `auth`, `AUTH_ID`,
/// `access_token`, `refresh_token`, `REFRESH_ID`, `application_token`, `client_secret`…
const SECRET_NAME_PARTS: [&str; 6] = ["auth", "token", "secret", "password", "refresh_id", "code"];

/// Whether a JSON key or form field holds a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| key.contains(part))
}

/// Whether `body` may name a secret anywhere: any of the name parts in any case, or a `%` that
/// could spell one encoded. Most answers (`{"result":true,…}`) name none and are kept as they
/// are, without being parsed and written again.
fn may_name_a_secret(body: &[u8]) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.contains(&b'%')
        || SECRET_NAME_PARTS
            .iter()
            .any(|part| memchr::memmem::find(&lower, part.as_bytes()).is_some())
}

/// `body` fit for the log: JSON with every secret-named value replaced (also inside the
/// `method?query` strings of a `batch`), then every one of `known` (the call's own token, say)
/// replaced wherever it still appears, then cut to 4 KiB.
pub fn redact(body: &[u8], known: &[&str]) -> String {
    let parsed = if may_name_a_secret(body) {
        serde_json::from_slice::<Value>(body).ok()
    } else {
        None
    };
    let mut text = match parsed {
        Some(mut value) => {
            redact_value(&mut value);
            value.to_string()
        }
        None => String::from_utf8_lossy(body).into_owned(),
    };
    for secret in known.iter().filter(|s| s.len() >= 8) {
        if text.contains(secret) {
            text = text.replace(secret, REDACTED);
        }
    }
    cut(text)
}

fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if is_secret_key(key) && !inner.is_null() {
                    *inner = Value::String(REDACTED.into());
                } else {
                    redact_value(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::String(text) => {
            if let Some((method, query)) = text.split_once('?') {
                *text = format!("{method}?{}", redact_query(query));
            }
        }
        _ => {}
    }
}

/// A query string with the values of secret-named fields replaced.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(&url_decoded(key)) => format!("{key}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn url_decoded(key: &str) -> String {
    url::form_urlencoded::parse(key.as_bytes())
        .next()
        .map_or_else(|| key.to_owned(), |(k, _)| k.into_owned())
}

fn cut(mut text: String) -> String {
    if text.len() <= BODY_LIMIT {
        return text;
    }
    let total = text.len();
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… ({total} bytes in all)"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_bodies_before_they_are_kept() {
        let body = serde_json::json!({
            "auth": "a-token-value-123",
            "STATUS": "dnd",
            "cmd": {"set": "im.user.status.set?STATUS=dnd&auth=another-token-456"},
            "nested": [{"refresh_token": "r-123456789", "AUTH_ID": "x"}],
            "application_token": null,
        });
        let kept = redact(body.to_string().as_bytes(), &["leaked-elsewhere-789"]);
        for secret in [
            "a-token-value-123",
            "another-token-456",
            "r-123456789",
            "\"x\"",
        ] {
            assert!(!kept.contains(secret), "{secret} kept in {kept}");
        }
        assert!(kept.contains("\"STATUS\":\"dnd\""), "{kept}");
        assert!(
            kept.contains("im.user.status.set?STATUS=dnd&auth=***"),
            "{kept}"
        );
        let plain = br#"{"result":true,"time":{"start":1}}"#;
        assert_eq!(redact(plain, &[]).as_bytes(), plain, "kept as it came");
        let encoded = redact(br#"{"cmd":"x?%61uth=tok-12345678"}"#, &[]);
        assert!(!encoded.contains("tok-12345678"), "{encoded}");
        let text = redact(
            b"<html>oops leaked-elsewhere-789</html>",
            &["leaked-elsewhere-789"],
        );
        assert_eq!(text, "<html>oops ***</html>");
        assert_eq!(
            redact_query("grant_type=refresh_token&client_secret=s3&refresh_token=r"),
            "grant_type=refresh_token&client_secret=***&refresh_token=***"
        );
    }

    #[test]
    fn long_bodies_are_cut_on_a_character() {
        let long = "ж".repeat(BODY_LIMIT);
        let kept = redact(long.as_bytes(), &[]);
        assert!(kept.len() < BODY_LIMIT + 40);
        assert!(kept.ends_with(&format!("({} bytes in all)", long.len())));
    }
}
