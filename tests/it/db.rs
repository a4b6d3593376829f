//! Test databases. The suite runs once per backend: as `it` on an SQLite file in the test's
//! own folder, and as `it_postgres` on a fresh PostgreSQL database per test, created on the
//! server of `TEST_POSTGRES_URL` and dropped when the test ends.

use std::io::Write;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool, SqlitePool};
use tempfile::TempDir;

/// Whether this test binary is the PostgreSQL variant of the suite.
pub fn on_postgres() -> bool {
    env!("CARGO_CRATE_NAME") == "it_postgres"
}

/// The PostgreSQL server tests create their databases on. Without one, the PostgreSQL variant
/// is skipped with one line, unless `CI=true`, where a missing server is a failure.
pub fn postgres_server() -> String {
    if let Ok(url) = std::env::var("TEST_POSTGRES_URL") {
        return url;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL variant of the suite cannot run"
    );
    // Written past the test's captured output, so it is the one line a laptop run shows; the
    // process ends at once, so no test of this variant reports a pass it did not earn. Other
    // tests arriving meanwhile wait here for the end.
    static SKIP: Once = Once::new();
    SKIP.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nskipped: the PostgreSQL variant of the suite (set TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres to run it)"
        );
        std::process::exit(0);
    });
    unreachable!("the process ended above")
}

/// A database of the test's own, dropped with it.
pub struct TestDb {
    /// What the app's `DATABASE_URL` is set to.
    pub url: String,
    /// PostgreSQL: the server and the database's name, for the drop.
    pub created: Option<(String, String)>,
    /// The test's folder (the SQLite file, logs).
    pub dir: TempDir,
}

impl TestDb {
    /// A new empty database of this variant's backend.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        if !on_postgres() {
            let url = format!("sqlite://{}", dir.path().join("app.db").display());
            return Self {
                url,
                created: None,
                dir,
            };
        }
        let (url, server, name) = create_postgres_database().await;
        Self {
            url,
            created: Some((server, name)),
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every byte the database keeps of its tables, text and ciphertexts alike: what someone
    /// with its files would read (SQLite: the files themselves, write-ahead log included).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        let Raw::Postgres(pool) = self.raw().await else {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(self.dir()).expect("read dir") {
                all.extend(std::fs::read(entry.expect("entry").path()).expect("read file"));
            }
            return all;
        };
        let mut out = Vec::new();
        for sql in [
            "SELECT convert_to(t::text, 'UTF8') || COALESCE(t.access_token, ''::bytea)
                 || COALESCE(t.refresh_token, ''::bytea) FROM accounts t",
            "SELECT convert_to(t::text, 'UTF8') || COALESCE(t.application_token, ''::bytea)
                 FROM portals t",
        ] {
            let rows: Vec<(Vec<u8>,)> = sqlx::query_as(sql).fetch_all(&pool).await.expect("bytes");
            rows.into_iter().for_each(|(bytes,)| out.extend(bytes));
        }
        pool.close().await;
        out
    }

    /// A raw connection to the database, past the store.
    pub async fn raw(&self) -> Raw {
        if on_postgres() {
            Raw::Postgres(PgPool::connect(&self.url).await.expect("raw connection"))
        } else {
            Raw::Sqlite(
                SqlitePool::connect(&self.url)
                    .await
                    .expect("raw connection"),
            )
        }
    }
}

/// Creates an empty database on the test server: `(url, server, name)`.
pub async fn create_postgres_database() -> (String, String, String) {
    let server = postgres_server();
    let name = format!("b24_test_{}", b24_status::store::crypto::random_hex(8));
    let mut admin = PgConnection::connect(&server)
        .await
        .expect("the PostgreSQL server of TEST_POSTGRES_URL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.expect("close");
    let mut url = url::Url::parse(&server).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), server, name)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.created.take() else {
            return;
        };
        // The test's runtime may be gone or busy dropping: the drop runs on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await.expect("server");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .expect("drop the test database");
            });
        });
        let _ = dropped.join();
    }
}

/// A raw connection pool to a test database.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    /// Runs a statement that reads the same on both backends.
    pub async fn execute(&self, sql: &str) -> u64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
            Raw::Postgres(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
        }
        .expect("statement")
    }

    /// The one integer a query answers.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let (n,): (i64,) = match self {
            Raw::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
        }
        .expect("query");
        n
    }

    /// Every row of `table` as text, in a stable order.
    pub async fn rows(&self, table: &str) -> Vec<String> {
        let rows: Vec<(String,)> = match self {
            Raw::Sqlite(pool) => {
                let columns: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(pool)
                .await
                .expect("columns");
                let quoted: Vec<String> =
                    columns.iter().map(|(c,)| format!("quote({c})")).collect();
                let select = format!(
                    "SELECT {} AS r FROM {table} ORDER BY r",
                    quoted.join(" || '|' || ")
                );
                sqlx::query_as(sqlx::AssertSqlSafe(select))
                    .fetch_all(pool)
                    .await
            }
            Raw::Postgres(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text AS r FROM {table} t ORDER BY r"
                )))
                .fetch_all(pool)
                .await
            }
        }
        .expect("rows");
        rows.into_iter().map(|(row,)| row).collect()
    }

    /// Holds the accounts against writers for `hold`: SQLite's write lock, or PostgreSQL's row
    /// locks on every account.
    pub async fn lock_accounts_for(&self, hold: Duration) {
        match self {
            Raw::Sqlite(pool) => {
                let mut writer = pool.acquire().await.expect("connection");
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut *writer)
                    .await
                    .expect("write lock");
                tokio::time::sleep(hold).await;
                sqlx::query("ROLLBACK")
                    .execute(&mut *writer)
                    .await
                    .expect("released");
            }
            Raw::Postgres(pool) => {
                let mut tx = pool.begin().await.expect("transaction");
                sqlx::query("SELECT 1 FROM accounts FOR UPDATE")
                    .execute(&mut *tx)
                    .await
                    .expect("row locks");
                tokio::time::sleep(hold).await;
                tx.rollback().await.expect("released");
            }
        }
    }

    pub async fn close(self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}
