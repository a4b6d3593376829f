//! PostgreSQL: how the pool is opened (TLS as the URL's `sslmode` asks, through rustls), and
//! what only several instances need: the rate-limit buckets they share.

mod limits;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::schema::Opening;
use super::{BUSY_TIMEOUT, Db, PoolSettings, Store, StoreError};
pub use limits::{Places, SharedBuckets, Want};

/// Connections when `DATABASE_MAX_CONNECTIONS` is not set.
const DEFAULT_CONNECTIONS: u32 = 10;

/// The longest a statement waits for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection idle this long is checked before use: a restart takes longer.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Connects to the server at `url`; an operator command that only reads gets read-only
/// transactions. (sqlx's migrator holds an advisory lock while it runs, so instances starting
/// together migrate once.)
pub(super) async fn open(
    url: &str,
    settings: PoolSettings,
    opening: Opening,
) -> Result<PgPool, StoreError> {
    let read_only = if opening == (Opening::Existing { read_only: true }) {
        "on"
    } else {
        "off"
    };
    let options = PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::BadUrl(error.to_string()))?
        // A statement stuck behind a lock fails like SQLite's busy one, after the same time.
        .options([
            (
                "lock_timeout",
                format!("{}ms", BUSY_TIMEOUT.as_millis()).as_str(),
            ),
            ("default_transaction_read_only", read_only),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections.unwrap_or(DEFAULT_CONNECTIONS))
        // A server that restarted leaves dead connections in the pool; one idle for a while is
        // checked before use, and sqlx checks each as it comes back (a failed one is closed),
        // so a restart fails at most the statements on connections in use at that second. A
        // check before every statement was a round trip more on every query.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IDLE_AFTER {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        // While the server is down, a request waits this long for a connection, then answers
        // "try again" rather than hanging.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok(pool)
}

impl Store {
    /// The rate-limit buckets every instance on this database shares — each request drains in
    /// `per_request`, and a bucket that empties more than `full_after` from now is full — or
    /// `None` on SQLite, where each process counts alone.
    pub fn shared_buckets(
        &self,
        per_request: Duration,
        full_after: Duration,
    ) -> Option<SharedBuckets> {
        match &self.db {
            Db::Postgres(pool) => Some(SharedBuckets::new(pool.clone(), per_request, full_after)),
            Db::Sqlite(_) => None,
        }
    }
}
