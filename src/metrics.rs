//! Prometheus metrics, served on their own listener (`METRICS_ADDR`) so they never share a
//! port with the portal-facing routes: HTTP requests by route and status, Bitrix24 calls by
//! method and outcome, token refreshes by outcome, rate-limiter waits, accounts by state.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
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

/// The app's metrics. Share one per process.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    refreshes: Family<OutcomeLabels, Counter>,
    limiter_waits: Counter,
    accounts: Family<StateLabels, Gauge>,
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
        let http = Family::<HttpLabels, Counter>::default();
        let calls = Family::<CallLabels, Counter>::default();
        let refreshes = Family::<OutcomeLabels, Counter>::default();
        let limiter_waits = Counter::default();
        let accounts = Family::<StateLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            http.clone(),
        );
        registry.register(
            "bitrix_calls",
            "Calls to Bitrix24, by method and outcome",
            calls.clone(),
        );
        registry.register(
            "token_refreshes",
            "Token refreshes, by outcome (ok, failed, lost_race)",
            refreshes.clone(),
        );
        registry.register(
            "rate_limiter_waits",
            "Calls that waited for a portal's rate limit",
            limiter_waits.clone(),
        );
        registry.register("accounts", "Stored accounts, by state", accounts.clone());
        Self {
            registry,
            http,
            calls,
            refreshes,
            limiter_waits,
            accounts,
        }
    }

    /// One request answered.
    pub fn http_request(&self, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// One call to Bitrix24 ended with `outcome` (`ok`, an error code, `timeout`, …).
    pub fn bitrix_call(&self, method: &str, outcome: &str) {
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One refresh ended.
    pub fn refresh(&self, outcome: Refresh) {
        let outcome = match outcome {
            Refresh::Ok => "ok",
            Refresh::Failed => "failed",
            Refresh::LostRace => "lost_race",
        };
        self.refreshes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
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

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered() {
        let metrics = Metrics::new();
        metrics.http_request("/api/status", 200);
        metrics.bitrix_call(crate::bitrix::status::SET, "ok");
        metrics.refresh(Refresh::LostRace);
        metrics.limiter_wait();
        metrics.set_accounts("active", 3);
        let text = metrics.render();
        assert!(
            text.contains(r#"b24_status_http_requests_total{route="/api/status",status="200"} 1"#),
            "{text}"
        );
        let call = format!(
            r#"b24_status_bitrix_calls_total{{method="{}",outcome="ok"}} 1"#,
            crate::bitrix::status::SET
        );
        assert!(text.contains(&call), "{text}");
        assert!(text.contains(r#"b24_status_token_refreshes_total{outcome="lost_race"} 1"#));
        assert!(text.contains("b24_status_rate_limiter_waits_total 1"));
        assert!(text.contains(r#"b24_status_accounts{state="active"} 3"#));
    }
}
