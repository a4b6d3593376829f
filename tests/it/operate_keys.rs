//! The operator's commands about keys, health and copies: `rekey` while an instance runs,
//! `check`, `backup`, `healthcheck`.

use std::net::SocketAddr;

use b24_status::store::{Keyring, MasterKey, Store};
use serde_json::json;

use super::db::on_postgres;
use super::harness::{APP_SECRET, CLIENT_ID, CLIENT_SECRET, TestApp, client, session_in, uid};
use super::operate::operator;

const NEW_SECRET: &str = "bmV3LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc=";

fn key_id(secret: &str) -> String {
    let key = MasterKey::from_base64(secret).expect("key");
    Keyring::new(&key, None).current_id().to_owned()
}

/// A session opened by `user` at the instance on `address`.
async fn session_at(app: &TestApp, address: SocketAddr, user: u64) -> String {
    let post = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, user, "DEFAULT", "en", "");
    let page = client()
        .post(format!("http://{address}/app?{}", post.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(post.body())
        .send()
        .await
        .expect("app answers");
    assert_eq!(page.status(), 200);
    session_in(&page.text().await.expect("page"))
}

async fn put_at(address: SocketAddr, session: &str, status: &str) -> u16 {
    client()
        .put(format!("http://{address}/api/status"))
        .bearer_auth(session)
        .json(&json!({"status": status}))
        .send()
        .await
        .expect("app answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn rekey_moves_every_secret_to_the_new_key_while_an_instance_refreshes() {
    let app = TestApp::installed(&[]).await;
    let _first = app.session_of(app.bitrix.employee).await;
    let (old, new) = (key_id(APP_SECRET), key_id(NEW_SECRET));
    // The instance restarted for the rotation: the new secret, the old one still readable.
    let rotated = [
        format!("APP_SECRET={NEW_SECRET}"),
        format!("APP_SECRET_PREVIOUS={APP_SECRET}"),
    ];
    let rotated: Vec<&str> = rotated.iter().map(String::as_str).collect();
    let (address, _state) = app.second_instance(&rotated).await;
    // A refresh at the restarted instance seals the admin's new pair under the new key.
    let admin = session_at(&app, address, 1).await;
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    assert_eq!(put_at(address, &admin, "dnd").await, 200);
    // The admin's next call refreshes while the rekey runs.
    app.bitrix.emulator.expire_access_tokens(app.member(), 1);
    let env = [
        ("APP_SECRET", NEW_SECRET),
        ("APP_SECRET_PREVIOUS", APP_SECRET),
    ];
    let (ran, put) = tokio::join!(
        operator(&app, &["rekey", "--json"], &env),
        put_at(address, &admin, "away")
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert_eq!(put, 200, "the instance's refresh was not disturbed");
    let report = ran.json();
    assert_eq!(report["current_key_id"], new.as_str());
    assert_eq!(
        (&report["before"][&old], &report["before"][&new]),
        (&json!(2), &json!(1)),
        "the employee and the portal under the old key, the admin under the new: {report}"
    );
    assert_eq!(report["after"][&new], 3, "{report}");
    assert!(report["after"].get(&old).is_none(), "{report}");
    assert_eq!(report["rewritten"], 2, "{report}");
    assert_eq!(report["unreadable"], 0, "{report}");

    // Without the old secret, everything still opens; the instance keeps working.
    let only_new = Keyring::new(&MasterKey::from_base64(NEW_SECRET).expect("key"), None);
    let store = Store::open(&app.db.url, only_new).await.expect("opens");
    for user in [1, app.bitrix.employee] {
        let account = store
            .account(app.member(), uid(user))
            .await
            .expect("decrypts under the new key alone")
            .expect("kept");
        assert!(account.tokens.is_some());
    }
    assert!(
        store
            .portal(app.member())
            .await
            .expect("decrypts")
            .is_some()
    );
    store.close().await;
    assert_eq!(put_at(address, &admin, "online").await, 200);

    let again = operator(&app, &["rekey"], &[("APP_SECRET", NEW_SECRET)]).await;
    assert_eq!(again.code, Some(0), "{}", again.err);
    assert!(
        again.out.contains("APP_SECRET_PREVIOUS can be removed"),
        "{}",
        again.out
    );

    let lost = "bG9zdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
    let unreadable = operator(&app, &["rekey"], &[("APP_SECRET", lost)]).await;
    assert_eq!(unreadable.code, Some(1));
    assert!(
        unreadable.err.contains("APP_SECRET_PREVIOUS"),
        "{}",
        unreadable.err
    );
}

#[tokio::test]
async fn check_says_what_is_in_order_and_what_to_fix() {
    let app = TestApp::installed(&[]).await;
    let oauth = app.bitrix.emulator.oauth_urls();
    let public = format!("http://{}", app.address);
    let good = [
        ("B24_CLIENT_ID", CLIENT_ID),
        ("B24_CLIENT_SECRET", CLIENT_SECRET),
        ("B24_OAUTH_URL", oauth.as_str()),
        ("PUBLIC_URL", public.as_str()),
        ("B24_ALLOW_HTTP", "true"),
    ];
    let ran = operator(&app, &["check"], &good).await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.out, ran.err);
    assert!(
        ran.out.contains("everything checked is in order"),
        "{}",
        ran.out
    );
    assert_eq!(ran.out.matches("\nok ").count(), 5, "{}", ran.out);

    let mut broken = good;
    broken[2].1 = "http://127.0.0.1:9";
    broken[3].1 = "http://127.0.0.1:9";
    let ran = operator(&app, &["check", "--json"], &broken).await;
    assert_eq!(ran.code, Some(1));
    let found = ran.json();
    let failed: Vec<&str> = found
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["ok"] == false)
        .filter_map(|f| f["check"].as_str())
        .collect();
    assert_eq!(failed, ["OAuth server", "PUBLIC_URL"], "{found}");
    assert!(ran.out.contains("start the app"), "{}", ran.out);

    let mut plain = good;
    plain[4].1 = "false";
    let ran = operator(&app, &["check"], &plain).await;
    assert_eq!(ran.code, Some(1));
    assert!(ran.out.contains("must be an https"), "{}", ran.out);
}

#[tokio::test]
async fn backup_copies_a_running_sqlite_database_and_points_postgres_to_pg_dump() {
    let app = TestApp::installed(&[]).await;
    let file = app.db.dir().join("backup.db");
    let path = file.to_string_lossy().into_owned();
    let ran = operator(&app, &["backup", &path], &[]).await;
    if on_postgres() {
        assert_eq!(ran.code, Some(2));
        assert!(ran.err.contains("pg_dump"), "{}", ran.err);
        return;
    }
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    // Whatever the umask: the copy and the database itself are their owner's alone.
    use std::os::unix::fs::PermissionsExt;
    for private in [file.clone(), app.db.dir().join("app.db")] {
        let mode = std::fs::metadata(&private)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", private.display());
    }
    let keys = Keyring::new(&MasterKey::from_base64(APP_SECRET).expect("key"), None);
    let copy = Store::open(&format!("sqlite://{path}"), keys)
        .await
        .expect("the copy opens");
    let portal = copy.portal(app.member()).await.expect("reads");
    assert!(portal.is_some_and(|p| p.record.application_token.is_some()));
    copy.close().await;
    let again = operator(&app, &["backup", &path], &[]).await;
    assert_eq!(again.code, Some(2), "an existing file is never overwritten");
}

#[tokio::test]
async fn healthcheck_asks_the_running_app() {
    let app = TestApp::spawn().await;
    let listen = app.address.to_string();
    let up = operator(&app, &["healthcheck"], &[("LISTEN_ADDR", &listen)]).await;
    assert_eq!(up.code, Some(0), "{}", up.err);
    let any = format!("0.0.0.0:{}", app.address.port());
    let wildcard = operator(&app, &["healthcheck"], &[("LISTEN_ADDR", &any)]).await;
    assert_eq!(wildcard.code, Some(0), "{}", wildcard.err);
    let down = operator(&app, &["healthcheck"], &[("LISTEN_ADDR", "127.0.0.1:9")]).await;
    assert_eq!(down.code, Some(1));
}
