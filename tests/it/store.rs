//! The encrypted store: round trips, no raw token in the file, ciphertexts bound to their row,
//! compare-and-swap rotations, uninstall, key rotation.

use b24_status::domain::{
    AccessToken, ApplicationToken, Licence, MemberId, PortalDomain, RefreshToken,
};
use b24_status::store::{
    AccountRecord, AccountState, Keyring, MasterKey, PortalRecord, PortalState, Store, StoreError,
    Tokens,
};
use url::Url;

use super::db::TestDb;
use super::harness::APP_SECRET;
use super::harness::uid;

const MEMBER: &str = "0123456789abcdef0123456789abcdef";

pub(crate) fn keyring() -> Keyring {
    Keyring::new(&MasterKey::from_base64(APP_SECRET).expect("key"), None)
}

async fn open(db: &TestDb, keys: Keyring) -> Store {
    Store::open(&db.url, keys).await.expect("store opens")
}

pub(crate) fn portal(member: &MemberId) -> PortalRecord {
    PortalRecord {
        member_id: member.clone(),
        domain: PortalDomain::parse("acme.bitrix24.com").expect("domain"),
        client_endpoint: Url::parse("https://acme.bitrix24.com/rest/").expect("url"),
        server_endpoint: Url::parse("https://oauth.bitrix.info/rest/").expect("url"),
        application_token: Some(ApplicationToken::parse("APPTOKEN-raw-0001").expect("token")),
        scope: "im,placement".into(),
        licence: Some(Licence::parse("P").expect("licence")),
        state: PortalState::Active,
        app_version: Some(1),
    }
}

fn tokens(access: &str, refresh: &str) -> Tokens {
    Tokens {
        access: AccessToken::parse(access).expect("access"),
        refresh: RefreshToken::parse(refresh).expect("refresh"),
        expires_at: 1_900_000_000,
    }
}

pub(crate) fn account(member: &MemberId, user: u64, access: &str, refresh: &str) -> AccountRecord {
    AccountRecord {
        member_id: member.clone(),
        user_id: uid(user),
        is_admin: user == 1,
        is_installer: user == 1,
        tokens: tokens(access, refresh),
    }
}

/// A store holding the test portal and its administrator (user 1) with this pair.
async fn seeded(db: &TestDb, access: &str, refresh: &str) -> (Store, MemberId) {
    let store = open(db, keyring()).await;
    let member = MemberId::parse(MEMBER).expect("member");
    store
        .upsert_portal_and_account(&portal(&member), &account(&member, 1, access, refresh), 1)
        .await
        .expect("seeded");
    (store, member)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn tokens_round_trip_and_never_reach_the_file_in_clear() {
    let db = TestDb::new().await;
    let store = open(&db, keyring()).await;
    let member = MemberId::parse(MEMBER).expect("member");
    let admin = account(
        &member,
        1,
        "ACCESS-raw-token-0001",
        "REFRESH-raw-token-0001",
    );
    store
        .upsert_portal_and_account(&portal(&member), &admin, 100)
        .await
        .expect("written");

    let stored = store.portal(&member).await.expect("read").expect("exists");
    assert_eq!(
        stored.record.application_token.expect("token").expose(),
        "APPTOKEN-raw-0001"
    );
    assert_eq!(stored.record.state, PortalState::Active);
    let read = store
        .account(&member, uid(1))
        .await
        .expect("read")
        .expect("exists");
    let got = read.tokens.expect("tokens");
    assert_eq!(got.access.expose(), "ACCESS-raw-token-0001");
    assert_eq!(got.refresh.expose(), "REFRESH-raw-token-0001");
    assert!(read.is_admin && read.is_installer);
    assert_eq!(read.state, AccountState::Active);

    // Everything stored (SQLite: the main file and the write-ahead log), before and after a
    // checkpoint.
    for stage in ["open", "closed"] {
        let bytes = db.stored_bytes().await;
        assert!(
            contains(&bytes, MEMBER),
            "{stage}: sanity: the member id is stored in clear"
        );
        for secret in [
            "ACCESS-raw-token-0001",
            "REFRESH-raw-token-0001",
            "APPTOKEN-raw-0001",
        ] {
            assert!(
                !contains(&bytes, secret),
                "{stage}: {secret} found in the database files"
            );
        }
        store.close().await;
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_account_fails_to_decrypt() {
    let db = TestDb::new().await;
    let (store, member) = seeded(&db, "admin-access", "admin-refresh").await;
    store
        .upsert_account(&account(&member, 2, "user-access", "user-refresh"), 1)
        .await
        .expect("b");

    // An attacker with write access to the file copies the admin's ciphertexts to user 2.
    let raw = db.raw().await;
    raw.execute(
        "UPDATE accounts SET access_token = (SELECT access_token FROM accounts WHERE user_id = 1),
             refresh_token = (SELECT refresh_token FROM accounts WHERE user_id = 1)
         WHERE user_id = 2",
    )
    .await;
    raw.close().await;

    let err = store
        .account(&member, uid(2))
        .await
        .expect_err("must not decrypt");
    assert!(matches!(err, StoreError::Decrypt(_)), "{err:?}");
    assert!(
        store
            .account(&member, uid(1))
            .await
            .expect("admin still reads")
            .is_some()
    );
}

#[tokio::test]
async fn rotation_is_a_compare_and_swap_on_the_generation() {
    let db = TestDb::new().await;
    let (store, member) = seeded(&db, "a0", "r0").await;
    let seen = store
        .account(&member, uid(1))
        .await
        .expect("read")
        .expect("exists");

    assert!(
        store
            .rotate_tokens(&member, uid(1), seen.generation, &tokens("a1", "r1"), 2)
            .await
            .expect("cas")
    );
    // A second process that read the same generation loses the race and changes nothing.
    assert!(
        !store
            .rotate_tokens(&member, uid(1), seen.generation, &tokens("a2", "r2"), 3)
            .await
            .expect("cas")
    );
    assert!(
        !store
            .mark_needs_reauth(&member, uid(1), seen.generation, 3)
            .await
            .expect("cas")
    );
    let now = store
        .account(&member, uid(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(now.tokens.expect("tokens").refresh.expose(), "r1");
    assert_eq!(now.state, AccountState::Active);
    assert_eq!(now.refreshed_at, Some(2));

    assert!(
        store
            .mark_needs_reauth(&member, uid(1), now.generation, 4)
            .await
            .expect("cas")
    );
    let marked = store
        .account(&member, uid(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(marked.state, AccountState::NeedsReauth);
    assert!(
        marked.tokens.is_some(),
        "needs-reauth keeps the row and its tokens"
    );
}

#[tokio::test]
async fn uninstall_forgets_tokens_and_clean_uninstall_forgets_everything() {
    let db = TestDb::new().await;
    let (store, member) = seeded(&db, "a", "r").await;
    store
        .upsert_account(&account(&member, 2, "b", "s"), 1)
        .await
        .expect("w");

    store
        .uninstall_portal(&member, false, 5, None)
        .await
        .expect("uninstall");
    assert_eq!(
        store
            .portal(&member)
            .await
            .expect("read")
            .expect("kept")
            .record
            .state,
        PortalState::Deleted
    );
    for user in [1, 2] {
        let acc = store
            .account(&member, uid(user))
            .await
            .expect("read")
            .expect("kept");
        assert!(acc.tokens.is_none(), "user {user} still has tokens");
    }

    store
        .uninstall_portal(&member, true, 6, None)
        .await
        .expect("clean uninstall");
    assert!(store.portal(&member).await.expect("read").is_none());
    assert!(
        store
            .account(&member, uid(1))
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn rotating_app_secret_keeps_old_rows_readable() {
    let db = TestDb::new().await;
    let member = MemberId::parse(MEMBER).expect("member");
    {
        let store = open(&db, keyring()).await;
        store
            .upsert_portal_and_account(&portal(&member), &account(&member, 1, "a", "r"), 1)
            .await
            .expect("w");
        store.close().await;
    }
    let new_key = MasterKey::generate();
    let old_key = MasterKey::from_base64(APP_SECRET).expect("key");
    let forgetful = open(&db, Keyring::new(&new_key, None)).await;
    assert!(matches!(
        forgetful.account(&member, uid(1)).await,
        Err(StoreError::Decrypt(_))
    ));
    forgetful.close().await;

    let rotating = open(&db, Keyring::new(&new_key, Some(&old_key))).await;
    let acc = rotating
        .account(&member, uid(1))
        .await
        .expect("old key opens")
        .expect("exists");
    // The next write re-encrypts with the new key, after which the old one is not needed.
    assert!(
        rotating
            .rotate_tokens(&member, uid(1), acc.generation, &tokens("a2", "r2"), 2)
            .await
            .expect("cas")
    );
    rotating.close().await;
    let fresh = open(&db, Keyring::new(&new_key, None)).await;
    let acc = fresh
        .account(&member, uid(1))
        .await
        .expect("new key opens")
        .expect("exists");
    assert_eq!(acc.tokens.expect("tokens").access.expose(), "a2");
}

#[tokio::test]
async fn an_uninstall_checked_against_a_stale_row_changes_nothing() {
    let db = TestDb::new().await;
    let (store, member) = seeded(&db, "a", "r").await;
    let seen = store.portal(&member).await.expect("read").expect("portal");
    // A reinstall writes the row while the uninstall is being confirmed.
    store
        .upsert_portal(&portal(&member), seen.updated_at + 1)
        .await
        .expect("reinstalled");
    let done = store
        .uninstall_portal(&member, true, seen.updated_at + 2, Some(seen.updated_at))
        .await
        .expect("asked");
    assert!(!done, "the reinstall wins");
    let kept = store.portal(&member).await.expect("read").expect("kept");
    assert_eq!(kept.record.state, PortalState::Active);
    assert!(
        store
            .account(&member, uid(1))
            .await
            .expect("read")
            .expect("kept")
            .tokens
            .is_some()
    );
    assert!(
        store
            .uninstall_portal(&member, false, seen.updated_at + 3, Some(kept.updated_at))
            .await
            .expect("asked"),
        "against the current row it is done"
    );
}
