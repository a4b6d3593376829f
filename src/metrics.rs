//! Prometheus metrics, served on their own listener (`METRICS_ADDR`) so they never share a
//! port with the portal-facing routes: HTTP requests and Bitrix24 calls with their latencies,
//! token refreshes, keep-alive and scheduler outcomes, rate-limiter waits, accounts by state
//! and the age of the oldest refresh, the build.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]: `prometheus-client` writes OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// How a refresh ended.
#[derive(Clone, Copy, Debug)]
pub enum Refresh {
    /// A new pair was stored.
    Ok,
    /// The OAuth server failed or refused.
    Failed,
    /// Another caller or process rotated first; its pair was used.
    LostRace,
}

/// Our answers: from a cached status call (~1 ms) to a slow portal near the 30 s timeout.
fn http_buckets() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// Bitrix24's answers: tens of milliseconds to `BITRIX_TIMEOUT`.
fn call_buckets() -> Histogram {
    Histogram::new([
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
    ])
}

/// The app's metrics. Share one per process.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    http_latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    calls: Family<CallLabels, Counter>,
    call_latency: Family<CallLabels, Histogram, fn() -> Histogram>,
    refreshes: Family<OutcomeLabels, Counter>,
    keepalive: Family<OutcomeLabels, Counter>,
    scheduler: Family<OutcomeLabels, Counter>,
    limiter_waits: Counter,
    accounts: Family<StateLabels, Gauge>,
    oldest_refresh: Gauge,
    call_log_dropped: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("b24_status");
        let metrics = Self {
            http: Family::default(),
            http_latency: Family::new_with_constructor(http_buckets),
            calls: Family::default(),
            call_latency: Family::new_with_constructor(call_buckets),
            refreshes: Family::default(),
            keepalive: Family::default(),
            scheduler: Family::default(),
            limiter_waits: Counter::default(),
            accounts: Family::default(),
            oldest_refresh: Gauge::default(),
            call_log_dropped: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            metrics.http.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method, route and status",
            Unit::Seconds,
            metrics.http_latency.clone(),
        );
        registry.register(
            "bitrix_calls",
            "Calls to Bitrix24, by method and outcome",
            metrics.calls.clone(),
        );
        registry.register_with_unit(
            "bitrix_call_duration",
            "Time a call to Bitrix24 took, by method and outcome",
            Unit::Seconds,
            metrics.call_latency.clone(),
        );
        registry.register(
            "token_refreshes",
            "Token refreshes, by outcome (ok, failed, lost_race)",
            metrics.refreshes.clone(),
        );
        registry.register(
            "keepalive_refreshes",
            "Background refreshes of ageing tokens, by outcome (ok, failed)",
            metrics.keepalive.clone(),
        );
        registry.register(
            "scheduled_changes",
            "Timed statuses and schedule changes the scheduler carried out, by outcome (applied, deferred, missed, dropped)",
            metrics.scheduler.clone(),
        );
        registry.register(
            "rate_limiter_waits",
            "Calls that waited for a portal's rate limit",
            metrics.limiter_waits.clone(),
        );
        registry.register(
            "accounts",
            "Stored accounts, by state",
            metrics.accounts.clone(),
        );
        registry.register_with_unit(
            "oldest_refresh_age",
            "Age of the oldest refresh among usable accounts; alert well before KEEPALIVE_DAYS",
            Unit::Seconds,
            metrics.oldest_refresh.clone(),
        );
        registry.register(
            "call_log_dropped",
            "Call log records dropped because the writer fell behind",
            metrics.call_log_dropped.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// One request answered after `elapsed`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = HttpLabels {
            method: method_label(method).to_owned(),
            route: route.to_owned(),
            status,
        };
        self.http_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.http.get_or_create(&labels).inc();
    }

    /// One call to Bitrix24 ended with `outcome` (`ok`, an error code, `timeout`, …).
    pub fn bitrix_call(&self, method: &str, outcome: &str, elapsed: Duration) {
        let labels = CallLabels {
            method: method.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.call_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.calls.get_or_create(&labels).inc();
    }

    /// One refresh ended.
    pub fn refresh(&self, outcome: Refresh) {
        let outcome = match outcome {
            Refresh::Ok => "ok",
            Refresh::Failed => "failed",
            Refresh::LostRace => "lost_race",
        };
        count(&self.refreshes, outcome);
    }

    /// One keep-alive refresh ended.
    pub fn keepalive(&self, refreshed: bool) {
        count(&self.keepalive, if refreshed { "ok" } else { "failed" });
    }

    /// The scheduler carried out (or put off) one change.
    pub fn scheduled(&self, outcome: &str) {
        count(&self.scheduler, outcome);
    }

    /// One call waited for the rate limiter.
    pub fn limiter_wait(&self) {
        self.limiter_waits.inc();
    }

    /// The number of accounts in `state`, as of now.
    pub fn set_accounts(&self, state: &str, count: i64) {
        self.accounts
            .get_or_create(&StateLabels {
                state: state.to_owned(),
            })
            .set(count);
    }

    /// The age of the oldest refresh among usable accounts, in seconds (0: none).
    pub fn set_oldest_refresh_age(&self, seconds: i64) {
        self.oldest_refresh.set(seconds.max(0));
    }

    /// The call log's dropped records so far.
    pub fn set_call_log_dropped(&self, dropped: u64) {
        self.call_log_dropped
            .set(i64::try_from(dropped).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

fn count(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
    family
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// The method as a label: anyone may send any method, and a series per made-up one would
/// grow memory without bound, so methods outside the standard set are one label, `other`.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered() {
        let metrics = Metrics::new();
        metrics.http_request("PUT", "/api/status", 200, Duration::from_millis(3));
        metrics.bitrix_call(bitrix24::status::SET, "ok", Duration::from_millis(40));
        metrics.refresh(Refresh::LostRace);
        metrics.keepalive(true);
        metrics.scheduled("applied");
        metrics.limiter_wait();
        metrics.set_accounts("active", 3);
        metrics.set_oldest_refresh_age(86_400);
        let text = metrics.render();
        for line in [
            r#"b24_status_http_requests_total{method="PUT",route="/api/status",status="200"} 1"#,
            r#"b24_status_http_request_duration_seconds_bucket{le="0.005",method="PUT",route="/api/status",status="200"} 1"#,
            r#"b24_status_http_request_duration_seconds_bucket{le="0.0025",method="PUT",route="/api/status",status="200"} 0"#,
            r#"b24_status_token_refreshes_total{outcome="lost_race"} 1"#,
            r#"b24_status_keepalive_refreshes_total{outcome="ok"} 1"#,
            r#"b24_status_scheduled_changes_total{outcome="applied"} 1"#,
            "b24_status_rate_limiter_waits_total 1",
            r#"b24_status_accounts{state="active"} 3"#,
            "b24_status_oldest_refresh_age_seconds 86400",
            "# TYPE b24_status_bitrix_call_duration_seconds histogram",
            "# UNIT b24_status_bitrix_call_duration_seconds seconds",
            concat!(
                r#"b24_status_build_info{version=""#,
                env!("CARGO_PKG_VERSION"),
                r#""} 1"#
            ),
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let call = format!(
            r#"b24_status_bitrix_calls_total{{method="{}",outcome="ok"}} 1"#,
            bitrix24::status::SET
        );
        assert!(text.contains(&call), "{text}");
        assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with EOF");
    }
}
