//! The keep-alive: old pairs refreshed before Bitrix24 forgets them, fresh ones left alone,
//! and instances sharing a database splitting the work.

use b24_status::clock::unix_now;
use b24_status::domain::{AccessToken, RefreshToken};
use b24_status::store::{AccountRecord, Tokens};
use b24_status::tokens::keepalive::{KeepaliveSettings, Report};

use super::harness::{CLIENT_ID, TestApp, uid};

#[tokio::test]
async fn keepalive_refreshes_old_tokens_and_leaves_fresh_ones_alone() {
    let app = TestApp::installed(&[]).await;
    let store = &app.store;
    let employee = app.bitrix.employee;
    let pair = app
        .bitrix
        .emulator
        .issue_tokens(app.member(), CLIENT_ID, employee);
    let tokens = Tokens {
        access: AccessToken::parse(&pair.access).expect("token"),
        refresh: RefreshToken::parse(&pair.refresh).expect("token"),
        expires_at: pair.expires_at,
    };
    let old = unix_now() - 21 * 24 * 3600;
    let record = AccountRecord {
        member_id: app.member().clone(),
        user_id: uid(employee),
        is_admin: false,
        is_installer: false,
        tokens,
    };
    store
        .upsert_account(&record, old)
        .await
        .expect("stored 21 days ago");
    let admin_before = app.account(uid(1)).await.expect("exists");
    let employee_before = app.account(uid(employee)).await.expect("exists");

    let settings = KeepaliveSettings {
        min_per_second: 1000.0,
        ..KeepaliveSettings::default()
    };
    let report = app.state.tokens.keep_alive(&settings, unix_now()).await;
    assert_eq!(
        report,
        Report {
            refreshed: 1,
            failed: 0
        }
    );
    let employee_after = app.account(uid(employee)).await.expect("exists");
    assert_ne!(employee_after.generation, employee_before.generation);
    assert!(employee_after.refreshed_at > employee_before.refreshed_at);
    let admin_after = app.account(uid(1)).await.expect("exists");
    assert_eq!(
        admin_after.generation, admin_before.generation,
        "the fresh token was left alone"
    );
    assert_eq!(app.bitrix.emulator.refresh_count(), 1);

    // A second pass right away finds nothing to do.
    assert_eq!(
        app.state.tokens.keep_alive(&settings, unix_now()).await,
        Report::default()
    );
}

#[tokio::test]
async fn two_instances_split_the_keepalive_and_refresh_each_stale_account_once() {
    let app = TestApp::installed(&[]).await;
    let (_, second) = app.second_instance(&[]).await;
    let emulator = &app.bitrix.emulator;
    let old = unix_now() - 21 * 24 * 3600;
    let mut stale = Vec::new();
    for i in 0..12 {
        let user = emulator.add_user(
            app.member(),
            b24_status::emulator::UserSpec::new(&format!("Stale{i}"), "User", false),
        );
        let pair = emulator.issue_tokens(app.member(), CLIENT_ID, user);
        let record = AccountRecord {
            member_id: app.member().clone(),
            user_id: uid(user),
            is_admin: false,
            is_installer: false,
            tokens: Tokens {
                access: AccessToken::parse(&pair.access).expect("token"),
                refresh: RefreshToken::parse(&pair.refresh).expect("token"),
                expires_at: pair.expires_at,
            },
        };
        let store = &app.store;
        store
            .upsert_account(&record, old)
            .await
            .expect("stored 21 days ago");
        stale.push(user);
    }
    let settings = KeepaliveSettings {
        min_per_second: 1000.0,
        concurrency: 2,
        ..KeepaliveSettings::default()
    };
    let refreshes = emulator.refresh_count();

    let (first, other) = tokio::join!(
        app.state.tokens.keep_alive(&settings, unix_now()),
        second.tokens.keep_alive(&settings, unix_now()),
    );
    assert_eq!(first.failed + other.failed, 0, "{first:?} {other:?}");
    assert_eq!(first.refreshed + other.refreshed, 12, "{first:?} {other:?}");
    assert_eq!(
        emulator.refresh_count(),
        refreshes + 12,
        "no account refreshed twice"
    );
    for user in stale {
        let account = app.account(uid(user)).await.expect("kept");
        assert!(account.refreshed_at > Some(old), "user {user} refreshed");
    }
}
