//! A PostgreSQL server that restarts under load, on a cluster of the test's own: calls fail
//! cleanly with 503 while it is down, succeed again once it is back, and no token is lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::cluster::put;
use super::db::TestDb;
use super::harness::{Bitrix, CLIENT_ID, client, session_in};
use super::process::{AppProcess, free_port};

/// A PostgreSQL cluster in a temporary folder, run by Debian's server binaries (as the
/// `postgres` user when the test runs as root, which the server refuses to be).
struct OwnCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_root: bool,
    _dir: tempfile::TempDir,
}

impl OwnCluster {
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let as_root = output(Command::new("id").arg("-u")).trim() == "0";
        if as_root {
            let owned = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(owned.success());
        }
        let cluster = Self {
            data: dir.path().join("data"),
            port: free_port(),
            bin,
            as_root,
            _dir: dir,
        };
        let data = cluster.data.display().to_string();
        cluster.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        cluster.pg_ctl("start");
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, action: &str) {
        let folder = self.data.parent().expect("folder").display().to_string();
        let options = format!("-p {} -k {folder} -c listen_addresses=127.0.0.1", self.port);
        let data = self.data.display().to_string();
        let log = format!("{folder}/server.log");
        match action {
            "start" => self.run(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
            ),
            _ => self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let out = command
            .args(args)
            .current_dir(Path::new("/"))
            .output()
            .expect("server binary runs");
        assert!(
            out.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

fn output(command: &mut Command) -> String {
    String::from_utf8_lossy(&command.output().expect("runs").stdout).into_owned()
}

#[tokio::test]
async fn a_database_restart_under_load_answers_503_meanwhile_and_loses_no_token() {
    let Some(server) = OwnCluster::start() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no PostgreSQL server binaries under /usr/lib/postgresql"
        );
        eprintln!("skipped: no PostgreSQL server binaries to restart (apt install postgresql)");
        return;
    };
    let bitrix = Bitrix::start().await;
    let db = TestDb {
        url: server.url(),
        created: None,
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let app = AppProcess::start(&bitrix, &db, free_port(), "app", &[]).await;
    let http = client();
    let member = bitrix.member().clone();
    let install = bitrix.emulator.begin_install(&member, CLIENT_ID, 1, "en");
    let post = |path: &str, form: &b24_status::emulator::FormPost| {
        http.post(format!("{}{path}?{}", app.url, form.query_string()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.body())
            .send()
    };
    assert_eq!(
        post("/install", &install).await.expect("install").status(),
        200
    );
    bitrix.emulator.finish_install(&member, CLIENT_ID);
    let frame =
        bitrix
            .emulator
            .frame_post(&member, CLIENT_ID, bitrix.employee, "DEFAULT", "en", "");
    let page = post("/app", &frame)
        .await
        .expect("open")
        .text()
        .await
        .expect("page");
    let session = session_in(&page);

    // Load from four clients until told to stop; every answer is kept.
    let running = Arc::new(AtomicBool::new(true));
    let mut load = tokio::task::JoinSet::new();
    for n in 0..4 {
        let (http, url, session, running) = (
            http.clone(),
            app.url.clone(),
            session.clone(),
            running.clone(),
        );
        load.spawn(async move {
            let mut statuses = Vec::new();
            while running.load(Ordering::Relaxed) {
                let status = ["dnd", "away"][(statuses.len() + n) % 2];
                statuses.push(put(&http, &url, &session, status).await);
                // Paces each client to a few calls a second, within the portal's limit.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            statuses
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.pg_ctl("stop");
    // The app notices within a second (cached pairs are checked against the store that often);
    // a check then waits up to 3 s for a connection, so an outage shorter than both could end
    // before any request gives up.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during_outage = bitrix.emulator.calls().len();
    server.pg_ctl("start");
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::Relaxed);
    let mut statuses = Vec::new();
    while let Some(done) = load.join_next().await {
        statuses.extend(done.expect("task"));
    }

    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "every answer a success or a clean 503: {statuses:?}"
    );
    assert!(statuses.contains(&503), "the outage was seen: {statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "and it ended: {statuses:?}");
    assert!(
        bitrix.emulator.calls().len() > during_outage,
        "calls resumed"
    );
    // The pair survived: after an expiry the token refreshes and the next change succeeds.
    bitrix
        .emulator
        .expire_access_tokens(&member, bitrix.employee);
    let refreshes = bitrix.emulator.refresh_count();
    assert_eq!(put(&http, &app.url, &session, "online").await, 200);
    assert_eq!(bitrix.emulator.refresh_count(), refreshes + 1);
    let raw = db.raw().await;
    let lost = raw
        .scalar("SELECT COUNT(*) FROM accounts WHERE state != 'active' OR refresh_token IS NULL")
        .await;
    raw.close().await;
    assert_eq!(lost, 0, "no account lost its tokens");
}
