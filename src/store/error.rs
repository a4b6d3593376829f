//! Why the store failed, and which failures a moment's wait may cure.

use std::path::PathBuf;

use super::crypto;

/// The most accounts one portal may hold: more than any portal has users, and a bound on
/// what a portal that makes up users could fill the database with.
pub const MAX_ACCOUNTS_PER_PORTAL: i64 = 100_000;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database's folder or file (or a backup's file) could not be created.
    #[error("cannot create {path}: {source}")]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `DATABASE_URL` names neither backend, or does not parse.
    #[error("DATABASE_URL is not a valid sqlite:// or postgres:// URL: {0}")]
    BadUrl(String),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A portal holds as many accounts as one may ([`MAX_ACCOUNTS_PER_PORTAL`]); a new user's
    /// pair was not stored.
    #[error("the portal holds {0} accounts already, as many as one may")]
    AccountsFull(i64),
    /// The database's schema is one this binary cannot use, or is not there yet.
    #[error("{0}")]
    Schema(String),
    /// An operator command named a database that does not exist.
    #[error("no database at {0}: check DATABASE_URL (operator commands never create one)")]
    Missing(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored token did not decrypt.
    #[error(transparent)]
    Decrypt(#[from] crypto::DecryptError),
    /// A stored value no longer parses.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// `migrate-store` was pointed at a database that already holds data.
    #[error("the target database is not empty ({0}); migrate-store only fills an empty one")]
    TargetNotEmpty(String),
    /// `migrate-store` read back something other than what it wrote.
    #[error("the copy does not match its source: {0}")]
    CopyMismatch(String),
}

impl StoreError {
    /// Whether the database could not be reached or was busy (a restart, a failover, a lock
    /// held too long), so the same request may well succeed a moment later.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLite: busy (5) and locked (6), with their extended codes.
            sqlx::Error::Database(error)
                if error
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some() =>
            {
                error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6))
            }
            // PostgreSQL: connection exceptions (08…), the server shutting down or starting
            // (57P…), a lock wait past lock_timeout (55P03).
            sqlx::Error::Database(error) => error.code().is_some_and(|code| {
                code.starts_with("08") || code.starts_with("57P") || code == "55P03"
            }),
            _ => false,
        }
    }
}
