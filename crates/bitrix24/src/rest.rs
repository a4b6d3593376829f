//! The Bitrix24 REST client: `client_endpoint + method`, a JSON body carrying `auth`, and the
//! success and error envelopes of `docs/bitrix24.md`, "Calling REST methods" turned into
//! [`Success`] or [`Error`].

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use super::error::{Error, ErrorCode};
use crate::clock::unix_now;
use crate::domain::{AccessToken, MemberId, UserId};
use crate::observe::{CallRecord, Observers, redact};

/// The largest REST answer read: a `batch` of 50 list pages is well below it.
const REST_ANSWER_LIMIT: usize = 8 * 1024 * 1024;

/// A successful REST answer: the `result` plus the paging fields Bitrix24 hoists out of it.
#[derive(Debug)]
pub struct Success<T> {
    /// The method's result.
    pub result: T,
    /// Offset of the next page, for list methods.
    pub next: Option<u64>,
    /// Total number of items, for list methods.
    pub total: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    result: Option<Value>,
    next: Option<u64>,
    total: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
    time: Option<Timing>,
}

#[derive(Deserialize)]
struct Timing {
    operating_reset_at: Option<u64>,
}

/// Calls REST methods on portals. Cheap to clone; shares one connection pool.
#[derive(Clone, Debug)]
pub struct RestClient {
    http: reqwest::Client,
    allow_http: bool,
    observers: Observers,
}

/// On whose behalf a call is made, for the call log.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The portal.
    pub member_id: &'a MemberId,
    /// The user whose token is used, when it is a stored account's.
    pub user_id: Option<UserId>,
}

/// What came back, for the call log: the status and body, when an answer arrived.
#[derive(Default)]
struct Answer {
    status: Option<StatusCode>,
    body: bytes::Bytes,
}

impl RestClient {
    /// Wraps the app's one HTTP client. With `allow_http` off, endpoints that are not `https`
    /// are refused before anything is sent. Every call is told to `observers`.
    pub fn new(http: reqwest::Client, allow_http: bool, observers: Observers) -> Self {
        Self {
            http,
            allow_http,
            observers,
        }
    }

    /// Calls `method` at `endpoint` (a `client_endpoint` such as `https://x.bitrix24.com/rest/`)
    /// with `params` (a JSON object) and the user's token.
    #[tracing::instrument(level = "debug", skip(self, caller, token, params), fields(endpoint = %endpoint))]
    pub async fn call<T: DeserializeOwned>(
        &self,
        caller: Caller<'_>,
        endpoint: &Url,
        method: &str,
        token: &AccessToken,
        params: Value,
    ) -> Result<Success<T>, Error> {
        let at_ms = self.observers.now_ms();
        let started = Instant::now();
        let request = redact(params.to_string().as_bytes(), &[token.expose()]);
        let mut answer = Answer::default();
        let result = self
            .send(endpoint, method, token, params, &mut answer)
            .await;
        let elapsed = started.elapsed();
        let outcome = result.as_ref().map_or_else(Error::outcome, |_| "ok");
        let record = CallRecord {
            at_ms,
            member_id: caller.member_id.as_str().to_owned(),
            user_id: caller.user_id.map(UserId::get),
            method: method.to_owned(),
            http_status: answer.status.map(|s| s.as_u16()),
            error_code: result.as_ref().err().map(|_| outcome.to_owned()),
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            request,
            response: redact(&answer.body, &[token.expose()]),
        };
        self.observers.called(record, outcome, elapsed);
        result
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &Url,
        method: &str,
        token: &AccessToken,
        params: Value,
        answer: &mut Answer,
    ) -> Result<Success<T>, Error> {
        let url = self.method_url(endpoint, method)?;
        let mut body = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(Error::Refused("parameters must be a JSON object".into())),
        };
        body.insert("auth".into(), Value::String(token.expose().to_owned()));

        let response = self
            .http
            .post(url)
            .header(header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(Error::from_transport)?;
        let status = response.status();
        answer.status = Some(status);
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Err(Error::Moved { location });
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = super::read_capped(response, REST_ANSWER_LIMIT).await?;
        answer.body = bytes.clone();
        parse_envelope(status, &bytes, retry_after)
    }

    fn method_url(&self, endpoint: &Url, method: &str) -> Result<Url, Error> {
        let method_ok = !method.is_empty()
            && method.len() <= 100
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        if !method_ok {
            return Err(Error::Refused(format!(
                "not a REST method name: {method:?}"
            )));
        }
        match endpoint.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => {
                return Err(Error::Refused(format!(
                    "endpoint scheme {other:?} is not allowed (B24_ALLOW_HTTP is off)"
                )));
            }
        }
        if endpoint.cannot_be_a_base() || !endpoint.path().ends_with('/') {
            return Err(Error::Refused(format!("not a REST endpoint: {endpoint}")));
        }
        // Names are checked by the client's resolver; addresses never reach it.
        let literal = match endpoint.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if !self.allow_http && literal.is_some_and(|ip| !super::resolve::is_public(ip)) {
            return Err(Error::Refused(format!(
                "the portal's address {} is not public",
                endpoint.host_str().unwrap_or_default()
            )));
        }
        endpoint
            .join(method)
            .map_err(|e| Error::Refused(format!("bad endpoint: {e}")))
    }
}

pub(crate) fn parse_envelope<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    retry_after: Option<Duration>,
) -> Result<Success<T>, Error> {
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| Error::Unexpected {
        status,
        detail: format!("not a JSON envelope: {e}"),
    })?;
    if let Some(code) = envelope.error {
        let retry_after = retry_after.or_else(|| {
            let reset_at = envelope.time?.operating_reset_at?;
            let now = u64::try_from(unix_now()).ok()?;
            Some(Duration::from_secs(reset_at.saturating_sub(now)))
        });
        return Err(Error::Api {
            status,
            code: ErrorCode::parse(&code),
            description: envelope.error_description.unwrap_or_default(),
            retry_after,
        });
    }
    let Some(result) = envelope.result.filter(|_| status.is_success()) else {
        return Err(Error::Unexpected {
            status,
            detail: "no result and no error".into(),
        });
    };
    let result = serde_json::from_value(result).map_err(|e| Error::Unexpected {
        status,
        detail: format!("result of an unexpected shape: {e}"),
    })?;
    Ok(Success {
        result,
        next: envelope.next,
        total: envelope.total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_envelope_keeps_paging_fields() {
        let body = br#"{"result":["a","b"],"next":50,"total":120,"time":{"start":1.0}}"#;
        let ok: Success<Vec<String>> = parse_envelope(StatusCode::OK, body, None).expect("ok");
        assert_eq!(ok.result, ["a", "b"]);
        assert_eq!((ok.next, ok.total), (Some(50), Some(120)));
    }

    #[test]
    fn error_envelope_becomes_a_typed_error() {
        let body = br#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#;
        let err = parse_envelope::<Value>(
            StatusCode::SERVICE_UNAVAILABLE,
            body,
            Some(Duration::from_secs(2)),
        )
        .expect_err("error");
        match err {
            Error::Api {
                status,
                code,
                retry_after,
                ..
            } => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(code, ErrorCode::QueryLimitExceeded);
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_is_unexpected_not_a_panic() {
        for body in [&b"<html>"[..], b"", b"{}", b"{\"result\":1}"] {
            let err = parse_envelope::<String>(StatusCode::OK, body, None).expect_err("error");
            assert!(matches!(err, Error::Unexpected { .. }), "{err:?}");
        }
    }

    #[test]
    fn method_names_and_schemes_are_checked_before_sending() {
        let http_client =
            crate::http_client(Duration::from_secs(1), false, "test").expect("client");
        let client = RestClient::new(http_client.clone(), false, Observers::default());
        let https = Url::parse("https://acme.bitrix24.com/rest/").expect("url");
        let http = Url::parse("http://acme.bitrix24.com/rest/").expect("url");
        assert_eq!(
            client
                .method_url(&https, "im.user.status.set")
                .expect("ok")
                .as_str(),
            "https://acme.bitrix24.com/rest/im.user.status.set"
        );
        assert!(client.method_url(&https, "../../oauth/token").is_err());
        assert!(client.method_url(&https, "profile?x=1").is_err());
        assert!(client.method_url(&http, "profile").is_err());
        for private in [
            "https://127.0.0.1/rest/",
            "https://10.0.0.7/rest/",
            "https://[::1]/rest/",
        ] {
            let endpoint = Url::parse(private).expect("url");
            assert!(
                client.method_url(&endpoint, "profile").is_err(),
                "{private} accepted"
            );
        }
        assert!(
            RestClient::new(http_client, true, Observers::default())
                .method_url(&http, "profile")
                .is_ok()
        );
    }
}
