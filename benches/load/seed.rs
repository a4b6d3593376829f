//! The scale phase's database: 100,000 portals and 1,000,000 accounts, written straight into
//! the SQLite file (or, for the wave on PostgreSQL, into its database).

use std::path::Path;

/// 100,000 portals with 10 accounts each, ciphertext-sized blobs in the token columns.
pub async fn seed(db: &Path) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint, application_token,
             key_id, scope, licence, state, app_version, created_at, updated_at)
         SELECT printf('%032x', i), 'p' || i || '.bitrix24.com', 'https://p' || i || '.bitrix24.com/rest/',
             'https://oauth.bitrix.info/rest/', randomblob(60), 'seed', 'im,placement,user_brief', 'P',
             'active', 1, 1700000000, 1700000000 FROM n",
    )
    .execute(&pool)
    .await
    .expect("portals");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
         INSERT INTO accounts (member_id, user_id, is_admin, is_installer, access_token, refresh_token,
             key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at)
         SELECT printf('%032x', i / 10 + 1), i % 10 + 1, i % 10 = 0, i % 10 = 0, randomblob(92), randomblob(92),
             'seed', 1, 1900000000, 1700000000 + i, 'active', 1700000000, 1700000000 FROM n",
    )
    .execute(&pool)
    .await
    .expect("accounts");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("checkpoint");
    pool.close().await;
}

/// The same portals and accounts in a PostgreSQL database the app has migrated.
pub async fn seed_postgres(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("db");
    sqlx::query(
        "INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint, application_token,
             key_id, scope, licence, state, app_version, created_at, updated_at)
         SELECT lpad(to_hex(i), 32, '0'), 'p' || i || '.bitrix24.com', 'https://p' || i || '.bitrix24.com/rest/',
             'https://oauth.bitrix.info/rest/', decode(md5(i::text) || md5(i::text) || md5(i::text) || substr(md5(i::text), 1, 24), 'hex'),
             'seed', 'im,placement,user_brief', 'P', 'active', 1, 1700000000, 1700000000
         FROM generate_series(1, 100000) AS i",
    )
    .execute(&pool)
    .await
    .expect("portals");
    sqlx::query(
        "INSERT INTO accounts (member_id, user_id, is_admin, is_installer, access_token, refresh_token,
             key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at)
         SELECT lpad(to_hex(i / 10 + 1), 32, '0'), i % 10 + 1, i % 10 = 0, i % 10 = 0,
             decode(repeat(md5(i::text), 6) || substr(md5(i::text), 1, 8), 'hex'),
             decode(repeat(md5(i::text), 6) || substr(md5(i::text), 1, 8), 'hex'),
             'seed', 1, 1900000000, 1700000000 + i, 'active', 1700000000, 1700000000
         FROM generate_series(0, 999999) AS i",
    )
    .execute(&pool)
    .await
    .expect("accounts");
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
    pool.close().await;
}

/// Analyses the database as PostgreSQL's autovacuum would have after a setup's writes, when the
/// server runs without it (this machine's does): plans the app's connections keep are then
/// made for tables of the size they have, as on a server with the default settings
/// (`docs/operating.md`). Says whether it did.
pub async fn analyze_without_autovacuum(url: &str) -> bool {
    let pool = sqlx::PgPool::connect(url).await.expect("db");
    let (autovacuum,): (String,) = sqlx::query_as("SHOW autovacuum")
        .fetch_one(&pool)
        .await
        .expect("setting");
    let analysed = autovacuum != "on";
    if analysed {
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
    }
    pool.close().await;
    analysed
}

pub fn file_size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}
