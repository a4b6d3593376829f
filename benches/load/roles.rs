//! The harness's other processes: this bench binary started again with `BENCH_ROLE` set, so
//! the app, the minimal forwarder, the upstream and the load generator (the harness itself)
//! never share a process.
//!
//! - `upstream`: a fixed-answer Bitrix24 REST endpoint on one port per fleet portal (each portal
//!   its own host, as in production, so a connection pool keyed by host behaves as it would
//!   there). `im.user.status.set` answers `true`;
//!   `batch` answers the status page's batch for the user named by the token's first digits
//!   (the harness mints tokens `u<user>x<hex>`); nothing is stored or checked, so it costs far
//!   less per request than anything it serves (the run prints its own throughput).
//! - `forwarder`: the least any Rust app must do: receive the PUT, forward one
//!   `im.user.status.set` with the same reqwest client as the app (to the portals' hosts in
//!   turn), answer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde_json::{Value, json};

/// A child process of the harness, killed when dropped.
pub struct Process {
    child: Child,
    /// Where it listens (the upstream: one address per fleet portal).
    pub urls: Vec<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts this binary as `role` with `args`; it prints the addresses it listens on.
pub fn spawn(role: &str, args: &[&str]) -> Process {
    let mut child = Command::new(std::env::current_exe().expect("the bench binary"))
        .env("BENCH_ROLE", role)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the role starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the role says where it listens");
    Process {
        child,
        urls: line.split_whitespace().map(str::to_owned).collect(),
    }
}

impl Process {
    /// Its peak resident memory so far.
    pub fn peak_rss_kib(&self) -> u64 {
        crate::app::status_kib(self.child.id(), "VmHWM:")
    }

    /// `im.user.status.set` on each of its addresses (the upstream's portals).
    pub fn status_set_urls(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|url| format!("{url}/rest/im.user.status.set"))
            .collect()
    }

    /// Its first address.
    pub fn url(&self) -> &str {
        self.urls.first().map_or("", String::as_str)
    }
}

/// The upstream, listening as `portals` portals, and the forwarder in front of it.
pub fn upstream_and_forwarder(portals: usize) -> (Process, Process) {
    let upstream = spawn("upstream", &[&portals.to_string()]);
    let forwarder = forwarder(&upstream);
    (upstream, forwarder)
}

/// A forwarder in front of `upstream`'s portals.
pub fn forwarder(upstream: &Process) -> Process {
    let sets = upstream.status_set_urls();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    spawn("forwarder", &sets)
}

/// Runs the role named by `BENCH_ROLE`, if any; `false` when this is the harness itself.
pub fn run_if_asked() -> bool {
    let Ok(role) = std::env::var("BENCH_ROLE") else {
        return false;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().skip(1).collect();
    runtime.block_on(async move {
        let (router, ports) = match role.as_str() {
            "upstream" => (
                Router::new().fallback(upstream),
                args.first().and_then(|n| n.parse().ok()).unwrap_or(1),
            ),
            "forwarder" => (forwarding(args), 1),
            other => panic!("unknown BENCH_ROLE {other}"),
        };
        let mut listeners = Vec::new();
        for _ in 0..ports {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            print!("http://{} ", listener.local_addr().expect("address"));
            listeners.push(listener);
        }
        println!();
        let mut served = tokio::task::JoinSet::new();
        for listener in listeners {
            served.spawn(axum::serve(listener, router.clone()).into_future());
        }
        while served.join_next().await.is_some() {}
    });
    true
}

/// The token of `user` that the upstream reads back: `u<user>x<hex>`.
pub fn token_of(user: u64) -> String {
    format!("u{user}x{}", b24_status::store::crypto::random_hex(16))
}

fn user_of(token: &str) -> Option<u64> {
    token.strip_prefix('u')?.split('x').next()?.parse().ok()
}

const SET_ANSWER: &str = r#"{"result":true,"time":{"start":1,"finish":1,"duration":0.0001,"processing":0.0001,"operating":0,"operating_reset_at":1}}"#;

async fn upstream(uri: Uri, body: Bytes) -> Response {
    let json_answer = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    match uri.path().rsplit('/').next().unwrap_or_default() {
        "im.user.status.set" => json_answer(StatusCode::OK, SET_ANSWER.to_owned()),
        "batch" => {
            let auth = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["auth"].as_str().and_then(user_of));
            match auth {
                Some(user) => json_answer(StatusCode::OK, batch_answer(user)),
                None => json_answer(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"invalid_token","error_description":"The access token provided is invalid."}"#
                        .to_owned(),
                ),
            }
        }
        _ => json_answer(
            StatusCode::NOT_FOUND,
            r#"{"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"}"#
                .to_owned(),
        ),
    }
}

fn batch_answer(user: u64) -> String {
    json!({
        "result": {
            "result": {
                "profile": {"ID": user.to_string(), "ADMIN": user == 1, "NAME": "User",
                    "LAST_NAME": format!("No{user}"), "TIME_ZONE": ""},
                "status": "online",
            },
            "result_error": [],
            "result_total": [],
            "result_next": [],
            "result_time": [],
        },
        "time": {"start": 1, "finish": 1, "duration": 0.0001, "operating": 0, "operating_reset_at": 1},
    })
    .to_string()
}

fn forwarding(upstreams: Vec<String>) -> Router {
    #[derive(Clone)]
    struct Forward {
        http: reqwest::Client,
        upstreams: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
        token: String,
    }
    async fn forward(State(f): State<Forward>, axum::Json(body): axum::Json<Value>) -> Response {
        let status = body["status"].clone();
        let upstream = &f.upstreams[f.next.fetch_add(1, Ordering::Relaxed) % f.upstreams.len()];
        let sent = f
            .http
            .post(upstream)
            .json(&json!({"auth": f.token, "STATUS": status}))
            .send()
            .await;
        let read = match sent {
            Ok(answer) => answer.bytes().await.is_ok(),
            Err(_) => false,
        };
        if read {
            axum::Json(json!({"status": status})).into_response()
        } else {
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
    let state = Forward {
        http: b24_status::bitrix::http_client(
            Duration::from_secs(15),
            false,
            b24_status::USER_AGENT,
        )
        .expect("client"),
        upstreams: Arc::new(upstreams),
        next: Arc::default(),
        token: token_of(1),
    };
    Router::new()
        .route("/api/status", put(forward))
        .with_state(state)
}
