//! The emulator's request and answer plumbing: parameters from query, form or JSON, REST error
//! answers, the access-token check every server makes, and injected faults.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::context::{Shared, lock};
use super::php_form;
use super::world::{AccessRec, Call, FaultKind, Server, World};

/// A REST failure: HTTP status, code, description.
pub(super) type Failure = (u16, &'static str, String);

pub(super) fn fail(status: u16, code: &'static str, description: impl Into<String>) -> Failure {
    (status, code, description.into())
}

/// What a method answered: its result and, for a list method, the paging Bitrix24 hoists out
/// of it (`total`, `next`).
#[derive(Debug)]
pub(super) struct Answered {
    pub result: Value,
    pub total: Option<usize>,
    pub next: Option<usize>,
}

impl From<Value> for Answered {
    fn from(result: Value) -> Self {
        let total = result.as_array().map(Vec::len);
        Self {
            result,
            total,
            next: None,
        }
    }
}

/// The `time` block of every successful answer, as the docs show it (`docs/bitrix24.md`, "Calling
/// REST methods"): unix seconds with fractions, the same instants as dates, and the time the
/// method ran, counted against the portal's operating limit.
pub(super) fn time_block(now_ms: i64) -> Value {
    // Precision past milliseconds is noise here: integers of ms convert to f64 exactly.
    #[expect(
        clippy::cast_precision_loss,
        reason = "unix milliseconds fit f64 exactly"
    )]
    let start = now_ms as f64 / 1000.0;
    let date = iso_date(now_ms.div_euclid(1000));
    json!({
        "start": start,
        "finish": start,
        "duration": 0.0,
        "processing": 0.0,
        "date_start": date,
        "date_finish": date,
        "operating": 0,
    })
}

/// Unix seconds as Bitrix24 writes dates: `2024-08-05T07:05:03+00:00`.
pub(super) fn iso_date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|at| at.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default()
}

pub(super) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split([',', ' ']).any(|s| s.trim() == wanted)
}

pub(super) fn insufficient_scope() -> Failure {
    fail(
        403,
        "insufficient_scope",
        "The request requires higher privileges than provided by the access token",
    )
}

pub(super) fn not_found() -> Failure {
    fail(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
}

pub(super) fn error_response(status: u16, code: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

/// Query string and body (JSON or form) merged into one object, body winning.
pub(super) fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut merged = Map::new();
    let query = uri.query().unwrap_or_default();
    if let Value::Object(map) = php_form::parse(query.as_bytes()) {
        merged.extend(map);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice(body) {
            merged.extend(map);
        }
    } else if !body.is_empty()
        && let Value::Object(map) = php_form::parse(body)
    {
        merged.extend(map);
    }
    Value::Object(merged)
}

/// A parameter by name, case-insensitively, as PHP's REST layer reads them.
pub(super) fn param<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub(super) fn param_str(params: &Value, name: &str) -> Option<String> {
    match param(params, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "Y".into() } else { "N".into() }),
        _ => None,
    }
}

pub(super) fn tail(token: &str) -> String {
    token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// Counts the request's arrival, then applies injected latency and faults: `Ok` with how long
/// to hold the answer back, or `Err` with the answer to send instead (recorded in the call log
/// as `call` says).
pub(super) async fn disturb(
    shared: &Shared,
    server: &Server,
    method: &str,
    token_endpoint: bool,
    call: Injected,
) -> Result<Option<std::time::Duration>, Response> {
    let (latency, fault) = {
        let mut world = lock(shared);
        *world.arrivals.entry(method.to_owned()).or_default() += 1;
        (world.latency, world.take_fault(server, method))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = fault else {
        return Ok(None);
    };
    let response = match fault {
        FaultKind::Delay(delay) => {
            tokio::time::sleep(delay).await;
            return Ok(None);
        }
        FaultKind::SlowAnswer(delay) => return Ok(Some(delay)),
        FaultKind::Error { status, code } => error_response(status, &code, "injected fault"),
        FaultKind::ErrorWith200 { code } if token_endpoint => {
            error_response(200, &code, "injected fault")
        }
        FaultKind::ErrorWith200 { code } => error_response(400, &code, "injected fault"),
        FaultKind::Reset => {
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            });
            (StatusCode::OK, axum::body::Body::from_stream(broken)).into_response()
        }
    };
    if let Injected::Log {
        token_tail,
        carried_client_secret,
    } = call
    {
        record(
            shared,
            Call {
                server: server.clone(),
                method: method.to_owned(),
                user_id: None,
                token_tail,
                status: response.status().as_u16(),
                error: Some("injected".into()),
                carried_client_secret,
            },
        );
    }
    Err(response)
}

/// Whether an injected answer goes into the call log, and with what.
pub(super) enum Injected {
    /// Not logged.
    Unlogged,
    /// Logged with the token's tail and whether a client secret was sent.
    Log {
        token_tail: Option<String>,
        carried_client_secret: bool,
    },
}

/// Sends `response` after the delay a fault asked for.
pub(super) async fn late(response: Response, delay: Option<std::time::Duration>) -> Response {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn record(shared: &Shared, call: Call) {
    lock(shared).calls.push(call);
}

/// Checks an access token: `Ok` with its record, or the REST error a portal would answer.
pub(super) fn check_access(world: &World, token: Option<&str>) -> Result<AccessRec, Failure> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(401, "NO_AUTH_FOUND", "Wrong authorization data"))?;
    let rec = world
        .access
        .get(token)
        .ok_or_else(|| fail(401, "NO_AUTH_FOUND", "Wrong authorization data"))?;
    if rec.revoked {
        return Err(fail(
            401,
            "invalid_token",
            "Unable to get application by token",
        ));
    }
    if rec.expires_at <= world.now() {
        return Err(fail(
            401,
            "expired_token",
            "The access token provided has expired.",
        ));
    }
    Ok(rec.clone())
}
