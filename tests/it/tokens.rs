//! The token manager: lazy refresh, single flight within and across processes, needs-reauth,
//! and the rate limiter (the keep-alive is `keepalive.rs`).

use std::sync::Arc;
use std::time::Duration;

use b24_status::clock::unix_now;
use b24_status::domain::{AccessToken, RefreshToken};
use b24_status::emulator::{FaultKind, FaultTarget, Region, Server};
use b24_status::store::Checked;
use b24_status::store::{AccountRecord, AccountState, Tokens};
use b24_status::tokens::{CallError, Repeat, TokenManager};
use serde_json::{Value, json};

use super::harness::{CLIENT_ID, TestApp, uid};

const FAST: &[&str] = &["--rate-limit-burst=5000", "--rate-limit-per-second=5000"];

async fn status_get(manager: &TokenManager, app: &TestApp, user: u64) -> Result<Value, CallError> {
    manager
        .call::<Value>(
            app.member(),
            uid(user),
            "im.user.status.get",
            json!({}),
            Repeat::Safe,
        )
        .await
}

#[tokio::test]
async fn two_hundred_concurrent_calls_with_an_expired_token_refresh_once() {
    let app = TestApp::installed(FAST).await;
    app.bitrix
        .emulator
        .set_rate_limit(app.member(), 100_000, 100_000.0);
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    let refreshes_before = app.bitrix.emulator.refresh_count();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let manager = app.state.tokens.clone();
        let member = app.member().clone();
        calls.spawn(async move {
            manager
                .call::<Value>(
                    &member,
                    uid(1),
                    "im.user.status.get",
                    json!({}),
                    Repeat::Safe,
                )
                .await
        });
    }
    while let Some(result) = calls.join_next().await {
        result.expect("task").expect("every call succeeds");
    }
    assert_eq!(app.bitrix.emulator.refresh_count() - refreshes_before, 1);
}

#[tokio::test]
async fn two_instances_over_one_database_rotate_once_and_nobody_is_locked_out() {
    let app = TestApp::installed(FAST).await;
    app.bitrix
        .emulator
        .set_rate_limit(app.member(), 100_000, 100_000.0);
    let (_, second) = app.second_instance(FAST).await;
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..100 {
        let manager = if i % 2 == 0 {
            app.state.tokens.clone()
        } else {
            second.tokens.clone()
        };
        let member = app.member().clone();
        calls.spawn(async move {
            manager
                .call::<Value>(
                    &member,
                    uid(1),
                    "im.user.status.get",
                    json!({}),
                    Repeat::Safe,
                )
                .await
        });
    }
    while let Some(result) = calls.join_next().await {
        result.expect("task").expect("every call succeeds");
    }
    let refresh_calls = app
        .bitrix
        .emulator
        .calls()
        .into_iter()
        .filter(|c| c.method == "oauth/token")
        .count();
    assert_eq!(
        app.bitrix.emulator.refresh_count(),
        1,
        "one successful rotation"
    );
    assert_eq!(
        refresh_calls, 1,
        "and no second attempt that burned the token"
    );
    let account = app.account(uid(1)).await.expect("exists");
    assert_eq!(account.state, AccountState::Active);
}

#[tokio::test]
async fn a_batch_of_accounts_is_checked_in_one_go_and_a_pair_another_instance_rotated_dropped() {
    let app = TestApp::installed(FAST).await;
    let (_, second) = app.second_instance(FAST).await;
    assert_eq!(app.open_app_as(2, "en").await.status(), 200);
    for user in [1, 2] {
        status_get(&app.state.tokens, &app, user)
            .await
            .expect("the pair is cached");
    }
    // User 2's entry is not asked about, user 3 has none.
    let accounts = [
        (app.member().clone(), uid(1)),
        (app.member().clone(), uid(3)),
    ];
    let check = |older_than| app.store.check_cached_accounts(&accounts, older_than);
    let unchanged = check(Duration::ZERO).await.expect("checked");
    let one = Checked {
        confirmed: 1,
        dropped: 0,
    };
    assert_eq!(unchanged, one, "only the entries asked about are checked");
    second
        .tokens
        .refresh_now(app.member(), uid(1))
        .await
        .expect("the other instance rotates the pair");
    let recent = check(Duration::from_secs(60)).await.expect("checked");
    assert_eq!(
        recent,
        Checked::default(),
        "an entry checked just now waits"
    );
    let rotated = check(Duration::ZERO).await.expect("checked");
    let dropped = Checked {
        confirmed: 0,
        dropped: 1,
    };
    assert_eq!(rotated, dropped);
}

#[tokio::test]
async fn the_background_check_confirms_pairs_in_use_and_drops_one_another_instance_rotated() {
    let app = TestApp::installed(FAST).await;
    let (_, second) = app.second_instance(FAST).await;
    let tokens = &app.state.tokens;
    status_get(tokens, &app, 1)
        .await
        .expect("the pair is cached");
    let unchanged = app
        .store
        .check_cached(Duration::ZERO)
        .await
        .expect("checked");
    assert_eq!(
        unchanged,
        Checked {
            confirmed: 1,
            dropped: 0
        }
    );
    second
        .tokens
        .refresh_now(app.member(), uid(1))
        .await
        .expect("the other instance rotates the pair");
    let rotated = app
        .store
        .check_cached(Duration::ZERO)
        .await
        .expect("checked");
    assert_eq!(
        rotated,
        Checked {
            confirmed: 0,
            dropped: 1
        }
    );
    let calls_before = app.bitrix.emulator.calls().len();
    status_get(tokens, &app, 1)
        .await
        .expect("the new pair works");
    let refused: Vec<_> = app.bitrix.emulator.calls()[calls_before..]
        .iter()
        .filter(|call| call.status != 200)
        .map(|call| call.method.clone())
        .collect();
    assert!(
        refused.is_empty(),
        "the dead pair was not tried: {refused:?}"
    );
    assert_eq!(app.bitrix.emulator.refresh_count(), 1, "no second rotation");
}

#[tokio::test]
async fn a_stored_expiry_in_the_past_refreshes_before_calling() {
    let app = TestApp::installed(&[]).await;
    let store = &app.store;
    let account = app.account(uid(1)).await.expect("exists");
    let mut tokens = account.tokens.expect("tokens");
    tokens.expires_at = unix_now() - 10;
    assert!(
        store
            .rotate_tokens(
                app.member(),
                uid(1),
                account.generation,
                &tokens,
                unix_now()
            )
            .await
            .expect("cas")
    );
    // Written through the app's store, which keeps its cache true itself.
    status_get(&app.state.tokens, &app, 1).await.expect("call");
    assert_eq!(app.bitrix.emulator.refresh_count(), 1);
    let calls = app.portal_calls();
    assert!(
        calls.iter().all(|c| c.status != 401),
        "no call was made with the expired token: {calls:?}"
    );
}

#[tokio::test]
async fn a_dead_refresh_token_marks_the_account_needs_reauth_and_keeps_it() {
    let app = TestApp::installed(&[]).await;
    let store = &app.store;
    let account = app.account(uid(1)).await.expect("exists");
    let dead = Tokens {
        access: AccessToken::parse("dead-access").expect("token"),
        refresh: RefreshToken::parse("dead-refresh").expect("token"),
        expires_at: unix_now() + 3600,
    };
    assert!(
        store
            .rotate_tokens(app.member(), uid(1), account.generation, &dead, unix_now())
            .await
            .expect("cas")
    );
    let error = status_get(&app.state.tokens, &app, 1)
        .await
        .expect_err("cannot work");
    assert!(matches!(error, CallError::NeedsReauth), "{error:?}");
    let account = app.account(uid(1)).await.expect("kept");
    assert_eq!(account.state, AccountState::NeedsReauth);
    assert!(matches!(
        status_get(&app.state.tokens, &app, 1).await,
        Err(CallError::NeedsReauth)
    ));

    // Opening the app again stores a fresh pair and the account works again.
    let fresh = app.bitrix.emulator.issue_tokens(app.member(), CLIENT_ID, 1);
    store
        .upsert_account(
            &AccountRecord {
                member_id: app.member().clone(),
                user_id: uid(1),
                is_admin: true,
                is_installer: true,
                tokens: Tokens {
                    access: AccessToken::parse(&fresh.access).expect("token"),
                    refresh: RefreshToken::parse(&fresh.refresh).expect("token"),
                    expires_at: fresh.expires_at,
                },
            },
            unix_now(),
        )
        .await
        .expect("stored");
    status_get(&app.state.tokens, &app, 1)
        .await
        .expect("works again");
}

#[tokio::test]
async fn the_oauth_server_down_during_a_refresh_keeps_the_old_tokens_and_recovers() {
    let app = TestApp::installed(&[]).await;
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    app.bitrix.emulator.inject(
        FaultTarget {
            server: Some(Server::OAuth(Region::West)),
            method: Some("oauth/token".into()),
        },
        FaultKind::Error {
            status: 503,
            code: "SERVICE_UNAVAILABLE".into(),
        },
        1,
    );
    let before = app.account(uid(1)).await.expect("exists");
    let error = status_get(&app.state.tokens, &app, 1)
        .await
        .expect_err("OAuth server down");
    assert!(
        matches!(error, CallError::Bitrix(ref e) if e.is_transient()),
        "{error:?}"
    );
    let after = app.account(uid(1)).await.expect("exists");
    assert_eq!(after.state, AccountState::Active, "not marked dead");
    assert_eq!(after.generation, before.generation, "old tokens kept");
    status_get(&app.state.tokens, &app, 1)
        .await
        .expect("the next call recovers");
    assert_eq!(app.bitrix.emulator.refresh_count(), 1);
}

#[tokio::test]
async fn thirty_calls_against_a_burst_of_five_all_succeed_without_a_503_reaching_the_caller() {
    let app = TestApp::installed(&["--rate-limit-burst=5", "--rate-limit-per-second=10"]).await;
    app.bitrix.emulator.set_rate_limit(app.member(), 5, 10.0);
    // Lets the install's calls drain from the app's bucket (5 at 10/s), so the burst starts full.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let manager: Arc<TokenManager> = app.state.tokens.clone();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..30 {
        let manager = manager.clone();
        let member = app.member().clone();
        let status = ["online", "dnd", "away", "break"][i % 4];
        calls.spawn(async move {
            manager
                .call::<bool>(
                    &member,
                    uid(1),
                    "im.user.status.set",
                    json!({"STATUS": status}),
                    Repeat::Safe,
                )
                .await
        });
    }
    while let Some(result) = calls.join_next().await {
        assert!(result.expect("task").expect("no 503 reaches the caller"));
    }
    let sets = app
        .portal_calls()
        .into_iter()
        .filter(|c| c.method == "im.user.status.set" && c.status == 200)
        .count();
    assert_eq!(sets, 30);
}

#[tokio::test]
async fn a_rate_limit_that_does_not_free_up_is_reported_with_retry_after() {
    let app = TestApp::installed(&["--rate-limit-max-wait=1"]).await;
    app.bitrix.emulator.set_rate_limit(app.member(), 1, 0.01);
    // Lets the install's last calls finish before the bucket shrinks to one slot.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let manager = &app.state.tokens;
    let _first = status_get(manager, &app, 1).await;
    let error = status_get(manager, &app, 1).await.expect_err("limited");
    assert!(matches!(error, CallError::RateLimited { .. }), "{error:?}");
}
