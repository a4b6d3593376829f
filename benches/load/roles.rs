//! The harness's other processes: this bench binary started again with `BENCH_ROLE` set, so
//! the app, the minimal forwarder, the upstream and the load generator (the harness itself)
//! never share a process.
//!
//! - `upstream`: a fixed-answer Bitrix24 REST endpoint. `im.user.status.set` answers `true`;
//!   `batch` answers the status page's batch for the user named by the token's first digits
//!   (the harness mints tokens `u<user>x<hex>`); nothing is stored or checked, so it costs far
//!   less per request than anything it serves (the run prints its own throughput).
//! - `forwarder`: the least any Rust app must do: receive the PUT, forward one
//!   `im.user.status.set` with the same reqwest client as the app, answer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
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
    pub url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts this binary as `role` with `args`; it prints the address it listens on.
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
        url: line.trim().to_owned(),
    }
}

/// The upstream, and the forwarder in front of it.
pub fn upstream_and_forwarder() -> (Process, Process) {
    let upstream = spawn("upstream", &[]);
    let set = format!("{}/rest/im.user.status.set", upstream.url);
    let forwarder = spawn("forwarder", &[&set]);
    (upstream, forwarder)
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
        let router = match role.as_str() {
            "upstream" => Router::new().fallback(upstream),
            "forwarder" => forwarder(args.first().cloned().unwrap_or_default()),
            other => panic!("unknown BENCH_ROLE {other}"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("http://{}", listener.local_addr().expect("address"));
        axum::serve(listener, router).await.expect("serve");
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

fn forwarder(upstream: String) -> Router {
    #[derive(Clone)]
    struct Forward {
        http: reqwest::Client,
        upstream: String,
        token: String,
    }
    async fn forward(State(f): State<Forward>, axum::Json(body): axum::Json<Value>) -> Response {
        let status = body["status"].clone();
        let sent = f
            .http
            .post(&f.upstream)
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
        http: b24_status::bitrix::http_client(Duration::from_secs(15), false).expect("client"),
        upstream,
        token: token_of(1),
    };
    Router::new()
        .route("/api/status", put(forward))
        .with_state(state)
}
