//! When the scheduler first looks at a saved schedule, and a save that crosses a look: a save
//! with no rule running waits for its next boundary, and one made while a look changes the
//! status is looked at again from that look's moment. Looks recorded together (one
//! transaction for a group) each keep their own state.

use b24_status::domain::{Status, UserId};
use b24_status::emulator::UserSpec;
use b24_status::store::{SavedSchedule, ScheduleFinish, ScheduleState};
use serde_json::json;

use super::harness::TestApp;
use super::schedules::{advance_to, employee_with, next_eight_utc, run, schedule_put};

#[tokio::test]
async fn a_save_is_looked_at_from_its_next_boundary_and_again_at_once_after_a_look_it_crossed() {
    let app = TestApp::installed(&[]).await;
    let (user, session) = employee_with(&app, "break").await;
    let user = UserId::new(user).expect("user");
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
    let finish = ScheduleFinish {
        claimed: claimed[0].clone(),
        owner: "look".into(),
        state: started,
        claimed_at: eight,
    };
    app.store
        .finish_schedules(&[finish])
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

#[tokio::test]
async fn looks_recorded_together_keep_their_own_state_and_leave_a_claim_taken_since() {
    let app = TestApp::installed(&[]).await;
    let eight = three_due_at_eight(&app).await;
    // One look's claim runs out and another process claims that schedule again.
    let store = &app.store;
    let claim = |at, limit, owner, until| async move {
        let claimed = store.claim_due_schedules(at, limit, owner, until);
        claimed.await.expect("claimed")
    };
    let mut looked = claim(eight, 1, "look", eight + 1).await;
    looked.extend(claim(eight, 64, "look", eight + 600).await);
    assert_eq!(looked.len(), 3);
    let taken = claim(eight + 2, 64, "other", eight + 600).await;
    assert_eq!(taken.len(), 1, "only the claim that ran out");
    app.store
        .finish_schedules(&started_until_ten(&looked, eight))
        .await
        .expect("finished");
    for claimed in &looked {
        let stored = app.store.schedule(app.member(), claimed.user_id).await;
        let stored = stored.expect("read").expect("saved");
        let expected = if claimed.user_id == taken[0].user_id {
            (None, None, Some(eight))
        } else {
            (Some(eight + 7200), Some(Status::Online), Some(eight + 7200))
        };
        assert_eq!(
            (stored.active_until, stored.before, stored.next_at),
            expected,
            "user {}",
            claimed.user_id
        );
    }
    assert!(
        claim(eight + 2, 64, "third", eight + 600).await.is_empty(),
        "the one taken stays claimed; the others are due at 10:00"
    );
}

/// Three users of the app's portal, each with a rule from 08:00 to 10:00 UTC today saved; the
/// clocks at 08:00, which is answered.
pub async fn three_due_at_eight(app: &TestApp) -> i64 {
    let (eight, day) = next_eight_utc(app);
    let rule = json!({"days": [day], "from": "08:00", "to": "10:00", "status": "dnd"});
    let saved = json!({"time_zone": "UTC", "rules": [rule]});
    let mut users = vec![app.bitrix.employee];
    for name in ["Vera", "Ivan"] {
        let spec = UserSpec::new(name, "Seller", false);
        users.push(app.bitrix.emulator.add_user(app.member(), spec));
    }
    for &user in &users {
        let session = app.session_of(user).await;
        assert_eq!(schedule_put(app, &session, &saved).await.0, 200);
    }
    advance_to(app, eight);
    eight
}

/// What looks by `"look"` at 08:00 that started the rule of [`three_due_at_eight`] record.
pub fn started_until_ten(looked: &[SavedSchedule], eight: i64) -> Vec<ScheduleFinish> {
    let started = ScheduleState {
        active_until: Some(eight + 7200),
        before: Some(Status::Online),
        next_at: Some(eight + 7200),
        missed_at: None,
    };
    looked
        .iter()
        .map(|claimed| ScheduleFinish {
            claimed: claimed.clone(),
            owner: "look".into(),
            state: started,
            claimed_at: eight,
        })
        .collect()
}
