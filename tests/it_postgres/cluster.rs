//! Several app processes (the real binary) on one PostgreSQL database, in front of one
//! emulated Bitrix24: what a vendor runs behind a load balancer.

use b24_status::emulator::FormPost;
use serde_json::json;

use super::db::TestDb;
use super::harness::{Bitrix, CLIENT_ID, client, session_in};
use super::process::{AppProcess, free_port};

pub struct Cluster {
    pub bitrix: Bitrix,
    pub db: TestDb,
    pub apps: Vec<AppProcess>,
    pub http: reqwest::Client,
}

impl Cluster {
    /// `count` instances with the environment `extra`, on one new database.
    pub async fn start(count: usize, extra: &[(&str, &str)]) -> Self {
        let bitrix = Bitrix::start().await;
        let db = TestDb::new().await;
        let mut apps = Vec::new();
        for i in 0..count {
            let name = format!("instance-{i}");
            apps.push(AppProcess::start(&bitrix, &db, free_port(), &name, extra).await);
        }
        Self {
            bitrix,
            db,
            apps,
            http: client(),
        }
    }

    /// POSTs a portal form to `path` of instance `i`.
    pub async fn post_form(&self, i: usize, path: &str, post: &FormPost) -> reqwest::Response {
        self.http
            .post(format!(
                "{}{path}?{}",
                self.apps[i].url,
                post.query_string()
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(post.body())
            .send()
            .await
            .expect("the instance answers")
    }

    /// The admin installs the app through instance `i`.
    pub async fn install_through(&self, i: usize) {
        let member = self.bitrix.member();
        let post = self
            .bitrix
            .emulator
            .begin_install(member, CLIENT_ID, 1, "en");
        assert_eq!(self.post_form(i, "/install", &post).await.status(), 200);
        self.bitrix.emulator.finish_install(member, CLIENT_ID);
    }

    /// `user` opens the app through instance `i`; the page's session.
    pub async fn session_from(&self, i: usize, user: u64) -> String {
        let post = self.bitrix.emulator.frame_post(
            self.bitrix.member(),
            CLIENT_ID,
            user,
            "DEFAULT",
            "en",
            "",
        );
        let page = self.post_form(i, "/app", &post).await;
        assert_eq!(page.status(), 200);
        session_in(&page.text().await.expect("page"))
    }

    /// `PUT /api/status` on instance `i`; the HTTP status.
    pub async fn put(&self, i: usize, session: &str, status: &str) -> u16 {
        put(&self.http, &self.apps[i].url, session, status).await
    }

    /// `count` status changes sent at once with `session`, spread over the instances in turn;
    /// their HTTP statuses.
    pub async fn puts_at_once(&self, session: &str, count: usize) -> Vec<u16> {
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..count {
            let url = self.apps[n % self.apps.len()].url.clone();
            let (http, session) = (self.http.clone(), session.to_owned());
            calls.spawn(async move { put(&http, &url, &session, ["dnd", "away"][n % 2]).await });
        }
        let mut statuses = Vec::new();
        while let Some(status) = calls.join_next().await {
            statuses.push(status.expect("task"));
        }
        statuses
    }

    /// Calls that reached the portal (not the OAuth server) and the portal refused as over its
    /// limit.
    pub fn refusals_by_the_portal(&self) -> usize {
        self.bitrix
            .emulator
            .calls()
            .iter()
            .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
            .count()
    }

    /// Calls that reached the portal.
    pub fn portal_calls(&self) -> usize {
        self.bitrix
            .emulator
            .calls()
            .iter()
            .filter(|c| matches!(c.server, b24_status::emulator::Server::Portal(_)))
            .count()
    }
}

/// `PUT /api/status` at the instance `url`; the HTTP status.
pub async fn put(http: &reqwest::Client, url: &str, session: &str, status: &str) -> u16 {
    http.put(format!("{url}/api/status"))
        .bearer_auth(session)
        .json(&json!({"status": status}))
        .send()
        .await
        .expect("the instance answers")
        .status()
        .as_u16()
}
