//! The app as a separate process (the real binary) configured against an in-test emulator:
//! for crash tests and for reading its logs.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use b24_status::emulator::AppSpec;

use super::db::TestDb;
use super::harness::{APP_SECRET, Bitrix, CLIENT_ID, CLIENT_SECRET, SCOPE};
use super::service::binary;

/// A running app process.
pub struct AppProcess {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl AppProcess {
    /// Starts the binary on `port` with the database `db`, logging to `<db's folder>/<name>.log`.
    pub async fn start(
        bitrix: &Bitrix,
        db: &TestDb,
        port: u16,
        name: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut env: Vec<(&str, &str)> = vec![
            ("B24_CLIENT_SECRET", CLIENT_SECRET),
            ("APP_SECRET", APP_SECRET),
            ("DATABASE_URL", &db.url),
        ];
        env.extend(extra.iter().copied());
        Self::start_in(bitrix, db.dir(), port, name, &env).await
    }

    /// Starts the binary in `dir` with only the emulator's addresses, the client id and the
    /// logging set; `env` gives the rest (secrets, database), as an operator would.
    pub async fn start_in(
        bitrix: &Bitrix,
        dir: &std::path::Path,
        port: u16,
        name: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let url = format!("http://127.0.0.1:{port}");
        bitrix.emulator.register_app(AppSpec {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uri: Some(format!("{url}/oauth/callback")),
            install_url: Some(format!("{url}/install")),
            app_url: Some(format!("{url}/app")),
            scope: SCOPE.into(),
            version: 1,
        });
        let log = dir.join(format!("{name}.log"));
        let child = binary()
            .current_dir(dir)
            .envs([
                ("B24_CLIENT_ID", CLIENT_ID),
                ("B24_ALLOW_HTTP", "true"),
                ("LOG_FORMAT", "json"),
                ("RUST_LOG", "debug"),
                ("SHUTDOWN_DELAY", "0"),
            ])
            .env("B24_OAUTH_URL", bitrix.emulator.oauth_urls())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &url)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .expect("the app starts");
        let process = Self { child, url, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = super::harness::client();
        while http
            .get(format!("{}/readyz", process.url))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the app did not come up");
            // Polls until the process answers.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = self.child.wait();
    }
}

impl AppProcess {
    /// SIGTERM, then wait without blocking the test's runtime (whose emulator the process may
    /// still be talking to while it shuts down).
    pub async fn stop_async(&mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            // Polls the exit while the emulator keeps answering on this runtime.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
