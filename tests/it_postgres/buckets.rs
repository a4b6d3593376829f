//! The rate-limit buckets instances share: places are handed out in order, never twice, and
//! only within the caller's budget.

use std::time::Duration;

use b24_status::domain::MemberId;
use b24_status::store::{Store, Want};
use b24_status::tokens::limiter::Limiter;

use super::db::TestDb;
use super::store::keyring;

const NOW: i64 = 1_800_000_000_000_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn a_batch_takes_consecutive_places_and_none_past_the_budget() {
    let db = TestDb::new().await;
    let store = Store::open(&db.url, keyring()).await.expect("opens");
    // One place every 100 ms; full once it empties more than 300 ms from now.
    let buckets = store
        .shared_buckets(ms(100), ms(300))
        .expect("shared on PostgreSQL");
    let member = MemberId::parse(&"a".repeat(32)).expect("member");

    let places = buckets
        .reserve(&member, Some(NOW), ms(1000), 6)
        .await
        .expect("reserved");
    assert_eq!(places.granted, 6);
    let waits: Vec<Duration> = (0..6).map(|i| places.wait(i)).collect();
    assert_eq!(waits, [ms(0), ms(0), ms(0), ms(100), ms(200), ms(300)]);

    // The next place would wait 400 ms: past a 250 ms budget nothing is taken...
    let refused = buckets
        .reserve(&member, Some(NOW), ms(250), 5)
        .await
        .expect("answered");
    assert_eq!(refused.granted, 0);
    assert_eq!(refused.wait(0), ms(400), "when a place frees up");
    // ...and with 650 ms, the places up to that wait are.
    let some = buckets
        .reserve(&member, Some(NOW), ms(650), 5)
        .await
        .expect("reserved");
    assert_eq!(some.granted, 3);
    assert_eq!((some.wait(0), some.wait(2)), (ms(400), ms(600)));
    store.close().await;
}

#[tokio::test]
async fn two_instances_reserving_at_once_never_share_a_place() {
    let db = TestDb::new().await;
    let stores = [
        Store::open(&db.url, keyring()).await.expect("first"),
        Store::open(&db.url, keyring()).await.expect("second"),
    ];
    let member = MemberId::parse(&"b".repeat(32)).expect("member");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let buckets = stores[i % 2]
            .shared_buckets(ms(100), ms(100))
            .expect("shared");
        let member = member.clone();
        tasks.spawn(async move {
            let places = buckets
                .reserve(&member, Some(NOW), Duration::from_secs(60), 1)
                .await
                .expect("reserved");
            assert_eq!(places.granted, 1);
            places.wait(0)
        });
    }
    let mut waits = Vec::new();
    while let Some(wait) = tasks.join_next().await {
        waits.push(wait.expect("task"));
    }
    waits.sort();
    // Full after one place: the first leaves at once, each later one 100 ms after the one
    // before, and no two are the same.
    let expected: Vec<Duration> = (0..40).map(|i| ms(100 * i)).collect();
    assert_eq!(waits, expected);
    for store in stores {
        store.close().await;
    }
}

#[tokio::test]
async fn calls_take_leased_places_while_the_bucket_has_room_and_stay_within_it() {
    let db = TestDb::new().await;
    let store = Store::open(&db.url, keyring()).await.expect("opens");
    // Room for every call: after the first few, most calls take a place leased ahead.
    let roomy = Limiter::new(1_000_000, 1_000_000.0).shared(&store);
    let member = MemberId::parse(&"c".repeat(32)).expect("member");
    for _ in 0..200 {
        assert_eq!(roomy.acquire(&member, ms(1000)).await, Ok(false));
    }
    let statements = roomy.shared_statements().expect("shared");
    assert!(statements <= 20, "{statements} statements for 200 calls");
    // Near the limit nothing is leased: four at once (the margins keep the fifth place of a
    // burst of five a little back), then one a second, as before.
    let tight = Limiter::new(5, 1.0).shared(&store);
    let other = MemberId::parse(&"d".repeat(32)).expect("member");
    let mut waited = 0;
    for _ in 0..7 {
        if tight.acquire(&other, ms(0)).await.is_err() {
            waited += 1;
        }
    }
    assert_eq!(
        waited, 3,
        "three calls past the four are refused a place at once"
    );
    store.close().await;
}

#[tokio::test]
async fn one_statement_reserves_for_several_portals_each_as_alone() {
    let db = TestDb::new().await;
    let store = Store::open(&db.url, keyring()).await.expect("opens");
    let buckets = store.shared_buckets(ms(100), ms(300)).expect("shared");
    let [e, f, g] = ["1", "2", "3"].map(|c| MemberId::parse(&c.repeat(32)).expect("member"));
    // `f` has taken four places already: its next one waits 200 ms.
    let earlier = buckets.reserve(&f, Some(NOW), ms(1000), 4).await;
    assert_eq!(earlier.expect("reserved").granted, 4);
    let want = |member_id: &MemberId, max_wait, count| Want {
        member_id: member_id.clone(),
        max_wait,
        count,
    };
    // Not in the order of the ids: each answer is still its own portal's.
    let wants = [
        want(&g, ms(0), 5),
        want(&e, ms(1000), 2),
        want(&f, ms(250), 3),
    ];
    let places = buckets
        .reserve_many(&wants, Some(NOW))
        .await
        .expect("reserved");
    let seen: Vec<(usize, Duration)> = places
        .iter()
        .map(|p| (p.granted, p.wait(p.granted.saturating_sub(1))))
        .collect();
    // `g`: the three that leave at once; `e`: both; `f`: only the one within 250 ms.
    assert_eq!(seen, [(3, ms(0)), (2, ms(0)), (1, ms(200))]);
    let after = buckets.reserve(&f, Some(NOW), ms(1000), 1).await;
    assert_eq!(
        after.expect("reserved").wait(0),
        ms(300),
        "f's bucket moved by one"
    );
    store.close().await;
}

#[tokio::test]
async fn calls_of_many_portals_at_once_share_statements_and_each_portal_its_limit() {
    let db = TestDb::new().await;
    let store = Store::open(&db.url, keyring()).await.expect("opens");
    // Bitrix24's own limits shape: a burst of five, then two a second. Nothing is leased.
    let limiter = std::sync::Arc::new(Limiter::new(5, 2.0).shared(&store));
    let portals: Vec<MemberId> = (0..16)
        .map(|i| MemberId::parse(&format!("{i:032x}")).expect("member"))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..7 {
        for member in &portals {
            let (limiter, member) = (limiter.clone(), member.clone());
            tasks.spawn(async move {
                let outcome = limiter.acquire(&member, ms(0)).await;
                (member, outcome)
            });
        }
    }
    let mut refused = std::collections::HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (member, outcome) = done.expect("task");
        if outcome.is_err() {
            *refused.entry(member).or_insert(0) += 1;
        }
    }
    // Four of each portal's seven leave at once, as when they come one by one.
    assert_eq!(refused.len(), portals.len());
    assert!(refused.values().all(|&n| n == 3), "{refused:?}");
    let statements = limiter.shared_statements().expect("shared");
    assert!(statements <= 8, "{statements} statements for 112 calls");
    store.close().await;
}
