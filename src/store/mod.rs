//! All SQL lives here, behind a small typed API: handlers and the token manager see portals
//! and accounts, never rows. Tokens are encrypted on the way in and decrypted on the way out
//! (see [`crypto`]), so no raw token ever reaches the database file.

mod accounts;
mod calls;
pub mod crypto;
mod portals;
mod removal;
mod states;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use url::Url;

use crate::domain::{
    AccessToken, ApplicationToken, Licence, MemberId, PortalDomain, RefreshToken, UserId,
};
pub use calls::{AccountVersion, CallTarget};
pub use crypto::{Keyring, MasterKey};

/// How long a statement waits for a lock held by another connection or process before it
/// fails as busy; the token manager's refresh lease is derived from it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database folder could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `DATABASE_URL` is not an SQLite URL.
    #[error("DATABASE_URL is not a valid SQLite URL: {0}")]
    BadUrl(sqlx::Error),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored token did not decrypt.
    #[error(transparent)]
    Decrypt(#[from] crypto::DecryptError),
    /// A stored value no longer parses.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Where a portal is in its life with the app (the account states the Bitrix24 SDKs use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalState {
    /// Install started, not finished.
    New,
    /// Installed and usable.
    Active,
    /// Uninstalled: tokens are gone.
    Deleted,
}

impl PortalState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "new" => Ok(Self::New),
            "active" => Ok(Self::Active),
            "deleted" => Ok(Self::Deleted),
            other => Err(StoreError::Corrupt(format!("portal state {other:?}"))),
        }
    }
}

/// Whether an account's tokens still work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    /// Tokens are believed valid.
    Active,
    /// The refresh token was refused: the user must open the app again.
    NeedsReauth,
}

impl AccountState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "active" => Ok(Self::Active),
            "needs_reauth" => Ok(Self::NeedsReauth),
            other => Err(StoreError::Corrupt(format!("account state {other:?}"))),
        }
    }
}

/// A portal as written: everything but the timestamps, which the store keeps.
#[derive(Clone, Debug)]
pub struct PortalRecord {
    /// Stable id.
    pub member_id: MemberId,
    /// Current domain.
    pub domain: PortalDomain,
    /// `https://<portal>/rest/`, from a trusted source only.
    pub client_endpoint: Url,
    /// The OAuth server's REST endpoint.
    pub server_endpoint: Url,
    /// The secret that authenticates this portal's events.
    pub application_token: Option<ApplicationToken>,
    /// Granted scopes, comma-separated.
    pub scope: String,
    /// Licence letter.
    pub licence: Option<Licence>,
    /// Lifecycle state.
    pub state: PortalState,
    /// Installed app version.
    pub app_version: Option<i64>,
}

/// A stored portal.
#[derive(Clone, Debug)]
pub struct Portal {
    /// What was written.
    pub record: PortalRecord,
    /// Unix seconds since an unconfirmed uninstall suspended the portal.
    pub removing_since: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An access/refresh pair and the access token's expiry.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Access token.
    pub access: AccessToken,
    /// Refresh token (single use).
    pub refresh: RefreshToken,
    /// Unix seconds after which `access` is expired.
    pub expires_at: i64,
}

/// An account as written.
#[derive(Clone, Debug)]
pub struct AccountRecord {
    /// The portal.
    pub member_id: MemberId,
    /// The user.
    pub user_id: UserId,
    /// Whether the user is a portal administrator.
    pub is_admin: bool,
    /// Whether this user installed the app.
    pub is_installer: bool,
    /// The user's tokens.
    pub tokens: Tokens,
}

/// A stored account.
#[derive(Clone, Debug)]
pub struct Account {
    /// The portal.
    pub member_id: MemberId,
    /// The user.
    pub user_id: UserId,
    /// Whether the user is a portal administrator.
    pub is_admin: bool,
    /// Whether this user installed the app.
    pub is_installer: bool,
    /// `None` once the portal uninstalled the app.
    pub tokens: Option<Tokens>,
    /// Changes with every write of the tokens; the compare-and-swap key for rotations.
    pub generation: i64,
    /// Unix seconds of the last refresh (or first store).
    pub refreshed_at: Option<i64>,
    /// Whether the tokens still work.
    pub state: AccountState,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    keys: std::sync::Arc<Keyring>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `url` and applies the migrations.
    pub async fn open(url: &str, keys: Keyring) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::BadUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // The hot path reads a handful of rows per request (and is cached above the store);
            // a small page cache per connection keeps memory flat with a million accounts.
            .pragma("cache_size", "-1024");
        let file = options.get_filename();
        let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
        if !in_memory && let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: folder.to_owned(),
                source,
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            keys: std::sync::Arc::new(keys),
        })
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite integers are signed; a `UserId` always fits one, as its constructor checks.
pub(crate) fn user_id_to_sql(user_id: UserId) -> i64 {
    i64::try_from(user_id.get()).unwrap_or(i64::MAX)
}

/// A user id as stored, checked again on the way out.
pub(crate) fn user_id_from_sql(raw: i64) -> Result<UserId, StoreError> {
    u64::try_from(raw)
        .ok()
        .and_then(|id| UserId::new(id).ok())
        .ok_or_else(|| StoreError::Corrupt("account user".into()))
}

pub(crate) fn token_context(field: &str, member_id: &MemberId, user_id: UserId) -> String {
    format!("b24-status/v1/accounts/{field}/{member_id}/{user_id}")
}

pub(crate) fn app_token_context(member_id: &MemberId) -> String {
    format!("b24-status/v1/portals/application_token/{member_id}")
}
