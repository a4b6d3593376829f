//! SQLite: how the file is opened.

use std::str::FromStr;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::schema::Opening;
use super::{BUSY_TIMEOUT, PoolSettings, StoreError};

/// Connections when `DATABASE_MAX_CONNECTIONS` is not set: SQLite writes one at a time anyway.
const DEFAULT_CONNECTIONS: u32 = 4;

/// Opens the file at `url`: to migrate, creating it (and its folder) if needed; an existing
/// one as it is, read-only when asked.
pub(super) async fn open(
    url: &str,
    settings: PoolSettings,
    opening: Opening,
) -> Result<SqlitePool, StoreError> {
    let read_only = opening == Opening::Existing { read_only: true };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| StoreError::BadUrl(error.to_string()))?
        .create_if_missing(opening == Opening::Migrate)
        .read_only(read_only)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        // The hot path reads a handful of rows per request (and is cached above the store);
        // a small page cache per connection keeps memory flat with a million accounts.
        .pragma("cache_size", "-1024");
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
    if opening != Opening::Migrate {
        if !in_memory && !file.exists() {
            return Err(StoreError::Missing(file.display().to_string()));
        }
        let pool = pool_options(settings).connect_with(options).await?;
        return Ok(pool);
    }
    if !in_memory && let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
            path: folder.to_owned(),
            source,
        })?;
    }
    if !in_memory && !file.exists() {
        create_private(file).map_err(|source| StoreError::Folder {
            path: file.to_owned(),
            source,
        })?;
    }
    let pool = pool_options(settings).connect_with(options).await?;
    Ok(pool)
}

/// The pool: its connections live in this process, so none is checked before use (sqlx would
/// send each a ping through its worker thread before every statement; it still checks each as
/// it comes back).
fn pool_options(settings: PoolSettings) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(settings.max_connections.unwrap_or(DEFAULT_CONNECTIONS))
        .test_before_acquire(false)
}

/// Creates the empty file `path` readable and writable by its owner only (0600), whatever the
/// umask: it will hold sealed tokens and the application tokens' ciphertexts. SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
pub(super) fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}
