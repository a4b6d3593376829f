//! Statuses that set themselves at scale: 1,000 users who opted in, 10 on each of 100 portals,
//! at Bitrix24's real limits (burst 50, 2 per second per portal, on the emulator and in the
//! app). Every user has a meeting starting at the same minute and lasting two minutes; half of
//! them pause their working day a little after it. Reports the requests each portal received per
//! minute (the shared reads and the changes apart), how late the meetings' starts and ends and
//! the pauses landed, and checks that no portal's limit was exceeded.

use std::time::{Duration, Instant};

use b24_status::domain::{MemberId, Status};
use b24_status::emulator::{Call, Emulator, Server, UserSpec};
use serde_json::json;

use super::app::{free_port, post_form, session_in, start_app};
use super::{CLIENT_ID, register};

pub const PORTALS: usize = 100;
/// Users on a portal who opted in (its administrator, user 1, did not).
pub const OPTED_IN: u64 = 10;
/// How long each meeting lasts.
const MEETING: i64 = 120;

/// How late a change landed after its moment, over the users it was due for.
#[derive(Default)]
pub struct Late {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub missing: usize,
}

/// What the run came to.
pub struct Automated {
    pub users: usize,
    pub minutes: f64,
    pub reads_per_portal_minute: f64,
    pub changes_per_portal_minute: f64,
    pub start: Late,
    pub end: Late,
    pub pause: Late,
    pub over_limit: usize,
}

/// The next whole minute at least `lead` seconds ahead, as unix seconds.
fn minute_after(lead: i64) -> i64 {
    let now = b24_status::clock::unix_now() + lead;
    now - now.rem_euclid(60) + 60
}

/// Milliseconds since the Unix epoch, on the wall clock the app and the emulator go by.
fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Waits until wall-clock `at` (unix seconds), to the millisecond.
async fn until(at: i64) {
    let wait = at * 1000 - unix_ms();
    tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
}

/// Polls every user's status from `at` until each shows `status` (or `deadline` seconds pass):
/// how late each was.
async fn watch(
    emulator: &Emulator,
    users: &[(MemberId, u64)],
    status: Status,
    at: i64,
    deadline: u64,
) -> Late {
    // Lateness is counted from the moment itself, however late this watch began.
    let behind = u64::try_from(unix_ms() - at * 1000).unwrap_or(0);
    let started = Instant::now() - Duration::from_millis(behind);
    let mut seen: Vec<Option<Duration>> = vec![None; users.len()];
    while started.elapsed() < Duration::from_secs(deadline) {
        for (slot, (member, user)) in seen.iter_mut().zip(users) {
            if slot.is_none() && emulator.user_status(member, *user) == Some(status) {
                *slot = Some(started.elapsed());
            }
        }
        if seen.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut late: Vec<Duration> = seen.iter().flatten().copied().collect();
    late.sort();
    let at =
        |q: f64| late.get(((late.len() as f64 * q) as usize).min(late.len().saturating_sub(1)));
    Late {
        p50: at(0.5).copied().unwrap_or_default(),
        p99: at(0.99).copied().unwrap_or_default(),
        max: late.last().copied().unwrap_or_default(),
        missing: seen.iter().filter(|s| s.is_none()).count(),
    }
}

pub async fn run(emulator: &Emulator, http: &reqwest::Client, dir: &std::path::Path) -> Automated {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    register(emulator, &url);
    let limits = [("RATE_LIMIT_BURST", "50"), ("RATE_LIMIT_PER_SECOND", "2")];
    let database = format!("sqlite://{}", dir.join("automation.db").display());
    let (app, _) = start_app(emulator, dir, &database, port, http, &limits).await;
    let at = minute_after(150);
    let mut users: Vec<(MemberId, u64)> = Vec::new();
    for n in 0..PORTALS {
        let portal = emulator
            .add_portal(UserSpec::new("Auto", &format!("Admin{n}"), true))
            .await
            .expect("portal");
        let member = portal.member_id.clone();
        let install = emulator.begin_install(&member, CLIENT_ID, 1, "en");
        assert_eq!(
            post_form(http, &format!("{url}/install"), &install)
                .await
                .status(),
            200
        );
        emulator.finish_install(&member, CLIENT_ID);
        for i in 0..OPTED_IN {
            let user =
                emulator.add_user(&member, UserSpec::new(&format!("User{i}"), "Auto", false));
            assert!(emulator.change_working_day(&member, user, "timeman.open"));
            let (_, events) = emulator.add_meeting(&member, CLIENT_ID, user, (at, at + MEETING));
            for (handler, event) in events {
                post_form(http, &handler, &event).await;
            }
            let post = emulator.frame_post(&member, CLIENT_ID, user, "DEFAULT", "en", "");
            let page = post_form(http, &format!("{url}/app"), &post).await;
            let session = session_in(&page.text().await.expect("page"));
            let switches = json!({"meetings": {"enabled": true, "status": "dnd"},
                "working_day": {"enabled": true}});
            let saved = http
                .put(format!("{url}/api/automation"))
                .bearer_auth(&session)
                .json(&switches)
                .send()
                .await
                .expect("saved");
            assert_eq!(saved.status(), 200, "automation");
            users.push((member.clone(), user));
        }
    }
    // Counted from a minute after the last save, when every portal is in its steady rhythm.
    until(b24_status::clock::unix_now() + 60).await;
    assert!(
        b24_status::clock::unix_now() < at,
        "the setup took longer than the lead time"
    );
    let calls_from = emulator.calls().len();
    let counted_from = Instant::now();
    until(at).await;
    let start = watch(emulator, &users, Status::Dnd, at, 90).await;
    until(at + MEETING).await;
    let end = watch(emulator, &users, Status::Online, at + MEETING, 90).await;
    let pause_at = b24_status::clock::unix_now() + 5;
    until(pause_at).await;
    let paused: Vec<(MemberId, u64)> = users.iter().step_by(2).cloned().collect();
    for (member, user) in &paused {
        assert!(emulator.change_working_day(member, *user, "timeman.pause"));
    }
    let pause = watch(emulator, &paused, Status::Break, pause_at, 120).await;
    let minutes = counted_from.elapsed().as_secs_f64() / 60.0;
    app.stop();
    let calls = emulator.calls();
    let window: Vec<&Call> = calls[calls_from..]
        .iter()
        .filter(|c| matches!(c.server, Server::Portal(_)))
        .collect();
    // The shared reads go with the administrator's pair; every change with the user's own.
    let reads = window.iter().filter(|c| c.user_id == Some(1)).count();
    let changes = window.len() - reads;
    let per_portal_minute = |n: usize| n as f64 / PORTALS as f64 / minutes;
    Automated {
        users: users.len(),
        minutes,
        reads_per_portal_minute: per_portal_minute(reads),
        changes_per_portal_minute: per_portal_minute(changes),
        start,
        end,
        pause,
        over_limit: calls
            .iter()
            .filter(|c| c.error.as_deref() == Some("QUERY_LIMIT_EXCEEDED"))
            .count(),
    }
}
