//! The layers every route gets, assembled in one place: request ids, a tracing span per
//! request, one INFO line and the latency histogram per answer, a caught panic answered 500, a
//! body-size limit and a timeout.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids unique across processes without asking the kernel for randomness per request (a
/// UUID v4 costs a `getrandom` call): this process's random prefix and a counter.
#[derive(Clone)]
struct Ids {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Ids {
    fn new() -> Self {
        Self {
            prefix: format!("{:012x}", rand::random::<u64>() >> 16).into(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n:x}", self.prefix);
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// Logs one line per answer (status and latency; the method, the route pattern and the request
/// id are the span's) and counts it. Never the path or the query: they may carry codes and states.
async fn observe(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.http_request(method.as_str(), &route, status, elapsed);
    // The method and the route are on the request's span, which the line carries.
    tracing::info!(
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "answered"
    );
    response
}

/// A handler that panicked: logged, and answered like any other failure of ours.
fn panicked(detail: Box<dyn Any + Send + 'static>) -> Response {
    let detail = detail
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| detail.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(detail, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({
            "error": "internal",
            "message": "Something went wrong on our side. Please try again in a minute."
        })),
    )
        .into_response()
}

/// Wraps `router` in the common layers.
pub fn apply(
    router: Router,
    metrics: Arc<Metrics>,
    body_limit: usize,
    timeout: Duration,
) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Only the route pattern and method: paths and query strings may carry codes and states.
        // Handlers of signed-in users fill in who (see `api::record`).
        tracing::info_span!(
            "request",
            method = crate::metrics::method_label(request.method().as_str()),
            route,
            request_id,
            member_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
        )
    });
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, Ids::new()))
            .layer(trace)
            .layer(axum::middleware::from_fn_with_state(metrics, observe))
            .layer(CatchPanicLayer::custom(panicked))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                timeout,
            ))
            .layer(DefaultBodyLimit::max(body_limit))
            .layer(RequestBodyLimitLayer::new(body_limit)),
    )
}
