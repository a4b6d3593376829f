//! TLS to the database, as managed PostgreSQL requires: `sslmode=require` encrypts, and
//! `verify-full` refuses a server whose certificate no trusted authority signed.

use b24_status::store::Store;
use sqlx::PgPool;

use super::db::TestDb;
use super::store::keyring;

#[tokio::test]
async fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    let db = TestDb::new().await;
    let plain = PgPool::connect(&db.url).await.expect("connects");
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&plain)
        .await
        .expect("setting");
    plain.close().await;
    if ssl != "on" {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the test server has ssl = off"
        );
        eprintln!("skipped: the test server has ssl = off");
        return;
    }

    let required = format!("{}?sslmode=require", db.url);
    let store = Store::open(&required, keyring())
        .await
        .expect("opens over TLS");
    store.ping().await.expect("answers");
    store.close().await;
    let pool = PgPool::connect(&required).await.expect("connects");
    let (encrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("connection state");
    pool.close().await;
    assert!(encrypted, "the connection is encrypted");

    // The machine's server has a self-signed certificate: checking it must fail, clearly.
    let verified = format!("{}?sslmode=verify-full", db.url);
    let error = Store::open(&verified, keyring())
        .await
        .expect_err("an unsigned certificate is refused");
    let said = error.to_string().to_lowercase();
    assert!(
        said.contains("certificate") || said.contains("tls"),
        "{said}"
    );
}
