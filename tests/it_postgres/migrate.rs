//! `b24-status migrate-store`: an installation moves from SQLite to PostgreSQL and back with
//! every token readable, refuses a target that holds data, and copies nothing it cannot check.

use b24_status::domain::{MemberId, Status};
use b24_status::store::{Keyring, MasterKey, Store, Timer};

use super::db::TestDb;
use super::harness::{APP_SECRET, uid};
use super::service::binary;
use super::store::{account, keyring, portal};

/// Three portals of four users each, and two sign-ins under way.
async fn installation(url: &str) -> Vec<(MemberId, u64)> {
    let store = Store::open(url, keyring()).await.expect("source opens");
    let mut users = Vec::new();
    for p in 0..3 {
        let member = MemberId::parse(&format!("{p:032x}")).expect("member");
        let admin = account(
            &member,
            1,
            &format!("access-{p}-1"),
            &format!("refresh-{p}-1"),
        );
        store
            .upsert_portal_and_account(&portal(&member), &admin, 100)
            .await
            .expect("portal");
        users.push((member.clone(), 1));
        for user in 2..=4 {
            let record = account(
                &member,
                user,
                &format!("access-{p}-{user}"),
                &format!("refresh-{p}-{user}"),
            );
            store.upsert_account(&record, 100).await.expect("account");
            users.push((member.clone(), user));
        }
    }
    let member = &users[0].0;
    let timer = Timer {
        member_id: member.clone(),
        user_id: uid(2),
        status: Status::Dnd,
        until: 4_000_000_000,
        then: Status::Away,
    };
    store.set_timer(&timer, 100).await.expect("timer");
    let mut schedule = b24_status::schedule::Schedule::empty("Europe/Berlin").expect("zone");
    let rule = b24_status::schedule::RuleShape::new(&["mon"], "09:00", "11:00", "dnd");
    schedule
        .add(rule.checked(1).expect("rule"))
        .expect("schedule");
    store
        .save_schedule(member, uid(2), &schedule, 100)
        .await
        .expect("schedule");
    let switches = b24_status::automation::Settings {
        meetings: true,
        meeting_status: Status::Away,
        working_day: false,
    };
    store
        .save_automation(member, uid(3), &switches, 100)
        .await
        .expect("automation");
    for state in [b"state-hash-one".as_slice(), b"state-hash-two"] {
        assert!(
            store
                .put_oauth_state(state, member, 4_000_000_000, 100)
                .await
                .expect("state")
        );
    }
    store.close().await;
    users
}

/// Every user's refresh token reads back as written.
async fn assert_holds(url: &str, users: &[(MemberId, u64)]) {
    let store = Store::open(url, keyring()).await.expect("store opens");
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        (
            counts.portals,
            counts.accounts,
            counts.oauth_states,
            counts.timers,
            counts.schedules,
            counts.automation
        ),
        (3, 12, 2, 1, 1, 1)
    );
    let switches = store
        .automation(&users[0].0, uid(3))
        .await
        .expect("read")
        .expect("the switches were copied");
    assert_eq!(switches.settings.meeting_status, Status::Away);
    let kept = store
        .schedule(&users[0].0, uid(2))
        .await
        .expect("read")
        .expect("the schedule was copied");
    assert_eq!(kept.schedule.zone_name, "Europe/Berlin");
    assert_eq!(kept.schedule.rules.len(), 1);
    for (member, user) in users {
        let account = store
            .account(member, uid(*user))
            .await
            .expect("read")
            .expect("kept");
        let tokens = account.tokens.expect("tokens");
        let p = u64::from_str_radix(member.as_str(), 16).expect("hex");
        assert_eq!(tokens.refresh.expose(), format!("refresh-{p}-{user}"));
    }
    let portal = store
        .portal(&users[0].0)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        portal.record.application_token.expect("token").expose(),
        "APPTOKEN-raw-0001"
    );
    store.close().await;
}

/// Runs `migrate-store` from `from` to `to` with `secret`: (exit code, stdout + stderr).
fn migrate(from: &str, to: &str, secret: &str) -> (Option<i32>, String) {
    let out = binary()
        .arg("migrate-store")
        .env("DATABASE_URL", from)
        .env("TARGET_DATABASE_URL", to)
        .env("APP_SECRET", secret)
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test]
async fn an_installation_moves_from_sqlite_to_postgres_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite://{}", dir.path().join("app.db").display());
    let users = installation(&sqlite).await;
    let postgres = TestDb::new().await;

    let (code, said) = migrate(&sqlite, &postgres.url, APP_SECRET);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("copied portals: 3, accounts: 12, sign-ins under way: 2, timed statuses: 1"),
        "{said}"
    );
    assert_holds(&postgres.url, &users).await;

    let (code, said) = migrate(&sqlite, &postgres.url, APP_SECRET);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("not empty"), "{said}");
    assert_holds(&postgres.url, &users).await;

    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (code, said) = migrate(&postgres.url, &back, APP_SECRET);
    assert_eq!(code, Some(0), "{said}");
    assert_holds(&back, &users).await;
}

#[tokio::test]
async fn a_copy_with_the_wrong_app_secret_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite://{}", dir.path().join("app.db").display());
    installation(&sqlite).await;
    let postgres = TestDb::new().await;
    let other = MasterKey::generate().to_base64();

    let (code, said) = migrate(&sqlite, &postgres.url, &other);
    assert_eq!(code, Some(1), "{said}");
    let target = Store::open(&postgres.url, Keyring::new(&MasterKey::generate(), None))
        .await
        .expect("target opens");
    let counts = target.counts().await.expect("counts");
    assert_eq!((counts.portals, counts.accounts), (0, 0), "nothing copied");
    target.close().await;

    let (code, said) = migrate(&sqlite, &postgres.url, "");
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("APP_SECRET"), "{said}");
}
