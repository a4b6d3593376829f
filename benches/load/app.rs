//! The app as its own process (the release build), and the requests that set a portal up.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use b24_status::emulator::{Emulator, FormPost};

use super::{APP_SECRET, CLIENT_ID, CLIENT_SECRET};

pub struct App {
    child: Child,
    pub url: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl App {
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }

    /// CPU time the process has used (user and system), from `/proc` (in clock ticks of
    /// 10 ms, Linux's `USER_HZ`).
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which ends with the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        Duration::from_millis(ticks * 10)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmHWM:")
    }

    /// Resident memory now.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmRSS:")
    }
}

/// Seconds of CPU all `apps` use per second over 10 s.
pub async fn quiet_cpu(apps: &[App]) -> f64 {
    const OVER: Duration = Duration::from_secs(10);
    let before: Duration = apps.iter().map(App::cpu_time).sum();
    tokio::time::sleep(OVER).await;
    let after: Duration = apps.iter().map(App::cpu_time).sum();
    (after - before).as_secs_f64() / OVER.as_secs_f64()
}

/// A figure in kiB from `/proc/<pid>/status`.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Starts the app binary with `env` over the harness's settings; returns it and how long it
/// took until `/readyz` answered.
pub async fn start_app(
    emulator: &Emulator,
    dir: &Path,
    database_url: &str,
    port: u16,
    http: &reqwest::Client,
    env: &[(&str, &str)],
) -> (App, Duration) {
    let url = format!("http://127.0.0.1:{port}");
    // Its log goes to a file, as journald or a container runtime would take it: writing
    // lines costs what it costs in production.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("app-{port}.log")))
        .expect("log file");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_b24-status"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("B24_CLIENT_ID", CLIENT_ID),
            ("B24_CLIENT_SECRET", CLIENT_SECRET),
            ("APP_SECRET", APP_SECRET),
            ("B24_ALLOW_HTTP", "true"),
            ("RATE_LIMIT_BURST", "100000000"),
            ("RATE_LIMIT_PER_SECOND", "100000000"),
            // Production defaults: what an operator runs.
            ("RUST_LOG", "info"),
        ])
        .env("B24_OAUTH_URL", emulator.oauth_urls())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &url)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the app starts");
    let app = App { child, url };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{}/readyz", app.url)).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not come up");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (app, started.elapsed())
}

pub async fn post_form(http: &reqwest::Client, url: &str, post: &FormPost) -> reqwest::Response {
    http.post(format!("{url}?{}", post.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(post.body())
        .send()
        .await
        .expect("answer")
}

pub fn session_in(page: &str) -> String {
    let start = page
        .find(r#"<meta name="b24-session" content=""#)
        .expect("session")
        + 34;
    page[start..start + page[start..].find('"').expect("end")].to_owned()
}
