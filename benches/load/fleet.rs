//! The portals the throughput phases load: installed through the emulator (so install runs
//! the app's real checks), then pointed at the fixed-answer upstream while the app is
//! stopped, then opened by every user with frame POSTs whose tokens the upstream reads.

use std::sync::Arc;

use b24_status::domain::MemberId;
use b24_status::emulator::{Emulator, FormPost, UserSpec};
use sqlx::{Connection, PgConnection, SqliteConnection};

use super::CLIENT_ID;
use super::app::{App, post_form, session_in};
use super::drive::Target;
use super::roles::token_of;

/// Portals in the fleet, and users who open the app on each.
pub const PORTALS: usize = 32;
pub const USERS_PER_PORTAL: u64 = 32;

/// The fleet's portals, and a frame POST of each to copy.
pub struct Fleet {
    pub members: Vec<MemberId>,
    templates: Vec<FormPost>,
}

/// Installs `PORTALS` portals through `app`.
pub async fn install(emulator: &Emulator, http: &reqwest::Client, app: &App) -> Fleet {
    let mut fleet = Fleet {
        members: Vec::new(),
        templates: Vec::new(),
    };
    for _ in 0..PORTALS {
        let portal = emulator
            .add_portal(UserSpec::new("Bench", "Admin", true))
            .await
            .expect("portal");
        let member = portal.member_id.clone();
        let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
        let installed = post_form(http, &format!("{}/install", app.url), &install).await;
        assert_eq!(installed.status(), 200, "install");
        emulator.finish_install(&member, CLIENT_ID);
        fleet
            .templates
            .push(emulator.frame_post(&member, CLIENT_ID, 1, "DEFAULT", "en", ""));
        fleet.members.push(member);
    }
    fleet
}

impl Fleet {
    /// Points each fleet portal's REST endpoint at an address of its own on the upstream (the
    /// app must be stopped: it reads the endpoint once per portal).
    pub async fn point_at(&self, database_url: &str, upstreams: &[String]) {
        let cases: String = self
            .members
            .iter()
            .zip(upstreams.iter().cycle())
            .map(|(m, url)| format!(" WHEN '{}' THEN '{url}/rest/'", m.as_str()))
            .collect();
        let update = format!(
            "UPDATE portals SET client_endpoint = CASE member_id{cases} ELSE client_endpoint END"
        );
        let update = sqlx::AssertSqlSafe(update);
        if database_url.starts_with("postgres") {
            let mut db = PgConnection::connect(database_url).await.expect("database");
            sqlx::query(update).execute(&mut db).await.expect("update");
        } else {
            let mut db = SqliteConnection::connect(database_url)
                .await
                .expect("database");
            sqlx::query(update).execute(&mut db).await.expect("update");
        }
    }

    /// One frame POST per user, each with a pair of its own (what the portal sends while the
    /// user's token lives: the same pair on every open). The emulator's OAuth server takes each
    /// pair as issued, so the app's confirmation (`app.info`) passes as at a real portal.
    pub fn frames(&self, emulator: &Emulator) -> Vec<FormPost> {
        let mut frames = Vec::new();
        for user in 1..=USERS_PER_PORTAL {
            for (template, member) in self.templates.iter().zip(&self.members) {
                let (access, refresh) = (token_of(user), token_of(user));
                emulator.adopt_tokens(member, CLIENT_ID, user, (access.clone(), refresh.clone()));
                frames.push(
                    template
                        .with("AUTH_ID", &access)
                        .with("REFRESH_ID", &refresh),
                );
            }
        }
        frames
    }

    /// Opens the app once for each of `frames`; the sessions the pages carry.
    pub async fn open(http: &reqwest::Client, app: &App, frames: &[FormPost]) -> Vec<String> {
        let mut sessions = Vec::new();
        for frame in frames {
            let page = post_form(http, &format!("{}/app", app.url), frame).await;
            assert_eq!(page.status(), 200, "the app opens for a fleet user");
            sessions.push(session_in(&page.text().await.expect("page")));
        }
        sessions
    }
}

/// `PUT /api/status` through `app` for every session in turn.
pub fn put_target(app: &App, sessions: Vec<String>) -> Target {
    Target::Put {
        url: format!("{}/api/status", app.url),
        bearers: Arc::new(sessions),
    }
}
