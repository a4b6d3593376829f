//! Three instances on one PostgreSQL database act as one app: sessions work anywhere, a burst
//! on an expired token costs one refresh, an uninstall stops them all, the portal's limit holds
//! for all three together, and an instance killed mid-refresh loses no token.

use std::time::{Duration, Instant};

use b24_status::domain::Status;
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server, UserSpec};

use super::cluster::Cluster;
use super::harness::CLIENT_ID;

/// Limits high enough that pacing plays no part.
const UNLIMITED: [(&str, &str); 2] = [
    ("RATE_LIMIT_BURST", "100000"),
    ("RATE_LIMIT_PER_SECOND", "100000"),
];

#[tokio::test]
async fn a_session_issued_by_one_instance_works_on_the_others() {
    let cluster = Cluster::start(3, &[]).await;
    cluster.install_through(0).await;
    let session = cluster.session_from(1, cluster.bitrix.employee).await;
    for i in 0..3 {
        assert_eq!(cluster.put(i, &session, "dnd").await, 200, "instance {i}");
    }
    assert_eq!(
        cluster
            .bitrix
            .emulator
            .user_status(cluster.bitrix.member(), cluster.bitrix.employee),
        Some(Status::Dnd)
    );
}

#[tokio::test]
async fn sixty_calls_on_an_expired_token_over_three_instances_cause_one_refresh() {
    let cluster = Cluster::start(3, &UNLIMITED).await;
    cluster
        .bitrix
        .emulator
        .set_rate_limit(cluster.bitrix.member(), 100_000, 100_000.0);
    cluster.install_through(0).await;
    let employee = cluster.bitrix.employee;
    let session = cluster.session_from(0, employee).await;
    for i in 0..3 {
        assert_eq!(cluster.put(i, &session, "away").await, 200);
    }
    cluster
        .bitrix
        .emulator
        .expire_access_tokens(cluster.bitrix.member(), employee);
    let refreshes = cluster.bitrix.emulator.refresh_count();

    for status in cluster.puts_at_once(&session, 60).await {
        assert_eq!(status, 200);
    }
    assert_eq!(
        cluster.bitrix.emulator.refresh_count(),
        refreshes + 1,
        "one refresh between the three instances"
    );
}

#[tokio::test]
async fn an_uninstall_accepted_by_one_instance_stops_the_others_within_a_second() {
    let cluster = Cluster::start(3, &[]).await;
    cluster.install_through(0).await;
    let session = cluster.session_from(0, cluster.bitrix.employee).await;
    // Every instance holds the employee's pair in memory.
    for i in 0..3 {
        assert_eq!(cluster.put(i, &session, "dnd").await, 200);
    }

    let uninstall = cluster
        .bitrix
        .emulator
        .uninstall(cluster.bitrix.member(), CLIENT_ID, false);
    assert_eq!(
        cluster.post_form(0, "/events", &uninstall).await.status(),
        200
    );
    let calls_after_uninstall = cluster.portal_calls();
    assert_eq!(cluster.put(0, &session, "away").await, 404, "at once");
    // The others check their cached pairs against the database at least once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 1..3 {
        assert_eq!(
            cluster.put(i, &session, "online").await,
            404,
            "instance {i}"
        );
        assert_eq!(cluster.put(i, &session, "break").await, 404, "instance {i}");
    }
    assert_eq!(
        cluster.portal_calls(),
        calls_after_uninstall,
        "no request with the portal's tokens left any instance"
    );
}

#[tokio::test]
async fn three_instances_together_keep_within_the_portals_limit() {
    let limit = [("RATE_LIMIT_BURST", "10"), ("RATE_LIMIT_PER_SECOND", "5")];
    let cluster = Cluster::start(3, &limit).await;
    cluster.install_through(0).await;
    let session = cluster.session_from(1, cluster.bitrix.employee).await;
    // From now on the portal counts as Bitrix24 does, starting from an empty bucket; ours has
    // the install's calls in it still, which only makes it stricter.
    cluster
        .bitrix
        .emulator
        .set_rate_limit(cluster.bitrix.member(), 10, 5.0);

    // Each instance alone would let 10 through at once: 30 together, three times the burst.
    for status in cluster.puts_at_once(&session, 36).await {
        assert_eq!(status, 200, "waited for a slot, not refused");
    }
    assert_eq!(
        cluster.refusals_by_the_portal(),
        0,
        "the portal never refused one of the three"
    );
}

#[tokio::test]
async fn an_instance_killed_during_a_refresh_storm_loses_no_token() {
    // Keeps the refresh lease, which is derived from it, short enough for a test.
    let env = [UNLIMITED[0], UNLIMITED[1], ("BITRIX_TIMEOUT", "2")];
    let mut cluster = Cluster::start(3, &env).await;
    let (emulator, member) = (&cluster.bitrix.emulator, cluster.bitrix.member().clone());
    emulator.set_rate_limit(&member, 100_000, 100_000.0);
    cluster.install_through(0).await;
    let employees: Vec<u64> = (0..2)
        .map(|i| {
            cluster
                .bitrix
                .emulator
                .add_user(&member, UserSpec::new(&format!("E{i}"), "Load", false))
        })
        .collect();
    // The admin works through instance 0 only, each employee through another instance: the
    // admin's refresh can only be instance 0's.
    let users = [(1, 0), (employees[0], 1), (employees[1], 2)];
    let mut sessions = Vec::new();
    for (user, instance) in users {
        sessions.push((user, instance, cluster.session_from(instance, user).await));
    }
    let mut load = tokio::task::JoinSet::new();
    for (user, instance, session) in sessions.clone() {
        let (http, url) = (cluster.http.clone(), cluster.apps[instance].url.clone());
        load.spawn(async move {
            for i in 0..1000 {
                let status = ["online", "dnd", "away", "break"][(i + user as usize) % 4];
                let _ = http
                    .put(format!("{url}/api/status"))
                    .bearer_auth(&session)
                    .json(&serde_json::json!({"status": status}))
                    .send()
                    .await;
            }
        });
    }
    for _round in 0..5 {
        // Lets some calls and refreshes happen between expiries.
        tokio::time::sleep(Duration::from_millis(60)).await;
        for (user, _, _) in &sessions {
            cluster.bitrix.emulator.expire_access_tokens(&member, *user);
        }
    }
    // Refreshes Bitrix24 already answered are stored within milliseconds; then the admin's
    // next refresh is held on its way to the OAuth server and instance 0 dies meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let emulator = &cluster.bitrix.emulator;
    let answered = || {
        emulator
            .calls()
            .iter()
            .filter(|c| c.method == "oauth/token")
            .count()
    };
    emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::Delay(Duration::from_secs(120)),
        1,
    );
    emulator.expire_access_tokens(&member, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator.arrivals("oauth/token") <= answered() {
        assert!(Instant::now() < deadline, "no refresh started");
        // Polls until a refresh request has reached the OAuth server unanswered.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.apps[0].kill();
    load.abort_all();
    while load.join_next().await.is_some() {}

    let raw = cluster.db.raw().await;
    let dead = raw
        .scalar("SELECT COUNT(*) FROM accounts WHERE state != 'active' OR refresh_token IS NULL")
        .await;
    raw.close().await;
    assert_eq!(dead, 0, "no account lost its pair in the crash");
    // Every user carries on through a surviving instance, each after a refresh of its own.
    // The admin's account stays leased to the dead instance until the lease runs out (derived
    // from BITRIX_TIMEOUT): until then its calls answer "busy", never "sign in again".
    for (user, _, session) in &sessions {
        cluster.bitrix.emulator.expire_access_tokens(&member, *user);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            // A call waits up to RATE_LIMIT_MAX_WAIT for another instance's refresh.
            let status = cluster
                .http
                .put(format!("{}/api/status", cluster.apps[1].url))
                .bearer_auth(session)
                .json(&serde_json::json!({"status": "dnd"}))
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .expect("a surviving instance answers")
                .status()
                .as_u16();
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "user {user}: busy at worst, never signed out");
            assert!(Instant::now() < deadline, "user {user} never recovered");
            // Waits for the dead instance's lease to run out.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
