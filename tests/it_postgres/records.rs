//! The scheduler's records where rows lock one by one: a schedule row another writer holds (an
//! uninstall deleting its portal's rows, a user's save) costs only its own record, not those
//! of the looks recorded in the same group.

use std::time::{Duration, Instant};

use b24_status::domain::UserId;
use sqlx::{Connection, PgConnection};

use crate::harness::TestApp;
use crate::schedule_saves::{started_until_ten, three_due_at_eight};

#[tokio::test]
async fn a_row_another_writer_holds_delays_only_its_own_record_in_a_group() {
    let app = TestApp::installed(&[]).await;
    let eight = three_due_at_eight(&app).await;
    let looked = app
        .store
        .claim_due_schedules(eight, 64, "look", eight + 600)
        .await
        .expect("claimed");
    assert_eq!(looked.len(), 3);
    let mut users: Vec<UserId> = looked.iter().map(|claimed| claimed.user_id).collect();
    users.sort();

    // Another writer holds the row in the middle of the group's order.
    let mut other = PgConnection::connect(&app.db.url).await.expect("connect");
    let mut held = other.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM schedules WHERE user_id = $1 FOR UPDATE")
        .bind(i64::try_from(users[1].get()).expect("id"))
        .execute(&mut *held)
        .await
        .expect("locked");
    let finishes = started_until_ten(&looked, eight);
    let writer = app.store.clone();
    let writing = tokio::spawn(async move { writer.finish_schedules(&finishes).await });

    let (store, member) = (&app.store, app.member());
    let next_at = |user: UserId| async move {
        let stored = store.schedule(member, user).await;
        stored.expect("read").expect("saved").next_at
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while next_at(users[0]).await != Some(eight + 7200)
        || next_at(users[2]).await != Some(eight + 7200)
    {
        assert!(
            Instant::now() < deadline,
            "the rows nobody else holds are recorded while the other is held"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(next_at(users[1]).await, Some(eight), "the held row waits");
    held.commit().await.expect("released");
    writing.await.expect("task").expect("recorded");
    assert_eq!(next_at(users[1]).await, Some(eight + 7200));
}
