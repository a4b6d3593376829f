//! When the scheduler first looks at a saved schedule, and a save that crosses a look: a save
//! with no rule running waits for its next boundary, and one made while a look changes the
//! status is looked at again from that look's moment.

use b24_status::domain::Status;
use b24_status::store::ScheduleState;
use serde_json::json;

use super::harness::TestApp;
use super::schedules::{advance_to, employee_with, next_eight_utc, run, schedule_put};

#[tokio::test]
async fn a_save_is_looked_at_from_its_next_boundary_and_again_at_once_after_a_look_it_crossed() {
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "break").await;
    let user = b24_status::domain::UserId::new(user).expect("user");
    let (eight, day) = next_eight_utc(&app);
    let rule = json!({"days": [day], "from": "08:00", "to": "10:00", "status": "dnd"});
    let saved = json!({"time_zone": "UTC", "rules": [rule]});
    // Saved with no rule running: nothing to look at before 08:00.
    advance_to(&app, eight - 3600);
    assert_eq!(schedule_put(&app, &session, &saved).await.0, 200);
    let stored = || async { app.store.schedule(app.member(), user).await.expect("read") };
    assert_eq!(stored().await.expect("saved").next_at, Some(eight));

    // A look starts the rule at 08:00; while it is under way the user moves the rule to
    // 10:00. The save cannot know the window the look applies, so the look, finishing, leaves
    // the new rules to be looked at again from its own moment: the window it started ends
    // and what came before is back until 10:00.
    advance_to(&app, eight);
    let claimed = app
        .store
        .claim_due_schedules(eight, 64, "look", eight + 60)
        .await
        .expect("claimed");
    assert_eq!(claimed.len(), 1);
    advance_to(&app, eight + 5);
    let later = json!({"days": [day], "from": "10:00", "to": "11:00", "status": "dnd"});
    let moved = json!({"time_zone": "UTC", "rules": [later]});
    assert_eq!(schedule_put(&app, &session, &moved).await.0, 200);
    assert_eq!(stored().await.expect("moved").next_at, Some(eight + 7200));
    let started = ScheduleState {
        active_until: Some(eight + 7200),
        before: Some(Status::Break),
        next_at: Some(eight + 7200),
        missed_at: None,
    };
    app.store
        .finish_schedule(&claimed[0], "look", started, eight)
        .await
        .expect("finished");
    assert_eq!(stored().await.expect("kept").next_at, Some(eight));
    assert_eq!(
        run(&app).await.applied,
        1,
        "the window the look started ends"
    );
    let after = stored().await.expect("kept");
    assert_eq!(
        (after.active_until, after.next_at),
        (None, Some(eight + 7200))
    );
}
