//! The rate-limit buckets instances share: places are handed out in order, never twice, and
//! only within the caller's budget.

use std::time::Duration;

use b24_status::domain::MemberId;
use b24_status::store::Store;
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
