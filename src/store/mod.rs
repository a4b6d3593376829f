//! All SQL lives here, behind a small typed API: handlers and the token manager see portals
//! and accounts, never rows. Tokens are encrypted on the way in and decrypted on the way out
//! (see [`crypto`]), so no raw token ever reaches the database.
//!
//! Two backends: SQLite (the default, one host) and PostgreSQL (several instances). A statement
//! that reads the same on both is written once, in the file of its concern, and run on either
//! pool by `on_pool!`; `sqlite` and `postgres` hold how each is opened and the statements
//! that differ.

mod accounts;
mod automation;
mod bots;
mod cache;
mod cached;
mod call_log;
mod call_targets;
mod claims;
mod copy;
pub mod crypto;
mod error;
mod licence;
mod operations;
mod portals;
mod postgres;
mod presence;
mod rekey;
mod removal;
mod schedules;
mod schema;
mod sessions;
mod sqlite;
mod states;
mod team;
mod timers;

use std::time::Duration;

use sqlx::{PgPool, SqlitePool};
use url::Url;

pub use automation::UserAutomation;
use bitrix24::domain::{
    AccessToken, ApplicationToken, Licence, MemberId, PortalDomain, RefreshToken, UserId,
};
pub use cached::{CHECK_EVERY, Checked};
pub use call_targets::{AccountVersion, CallTarget};
pub use copy::RowCounts;
pub use crypto::{Keyring, MasterKey};
pub use error::{MAX_ACCOUNTS_PER_PORTAL, StoreError};
pub use licence::Period;
pub use operations::{AccountSummary, PortalSummary, Purged, ScheduleSummary, TimerSummary};
pub use postgres::{Places, SharedBuckets, Want};
pub use presence::{DuePortal, Looked};
pub use rekey::{KeyCounts, Rekeyed};
pub use schedules::{SavedSchedule, ScheduleFinish, ScheduleState};
use schema::Opening;
pub use team::TeamRead;
pub use timers::Timer;

/// How long a statement waits for a lock held by another connection or process before it
/// fails as busy; the token manager's refresh lease is derived from it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A database the store runs on: what a statement is sent to.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    /// One file, any number of processes on one host.
    Sqlite(SqlitePool),
    /// One server, any number of instances.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is: the same
/// statement text (`$1`-style parameters, which both understand) and the same binds, checked
/// by the compiler against each driver.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Which backend a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::BadUrl(format!(
                "the scheme {scheme:?} is neither sqlite nor postgres"
            ))),
        }
    }
}

/// How a store is opened.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolSettings {
    /// Most connections the pool holds; `None` for the backend's default.
    pub max_connections: Option<u32>,
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
    /// Bitrix24's id of the portal, which survives a rename.
    pub member_id: MemberId,
    /// Where the portal answers now (it may be renamed).
    pub domain: PortalDomain,
    /// `https://<portal>/rest/`, from a trusted source only.
    pub client_endpoint: Url,
    /// The OAuth server's REST endpoint.
    pub server_endpoint: Url,
    /// The secret that authenticates this portal's events.
    pub application_token: Option<ApplicationToken>,
    /// Granted scopes, comma-separated.
    pub scope: String,
    /// The portal's Bitrix24 plan, as the install or an event named it.
    pub licence: Option<Licence>,
    /// Where the portal stands between install and uninstall.
    pub state: PortalState,
    /// Installed app version.
    pub app_version: Option<i64>,
}

impl PortalRecord {
    /// Whether the portal granted the app `scope`.
    pub fn grants(&self, scope: &str) -> bool {
        bitrix24::domain::grants(&self.scope, scope)
    }
}

/// A stored portal.
#[derive(Clone, Debug)]
pub struct Portal {
    /// What was written.
    pub record: PortalRecord,
    /// Unix seconds since an unconfirmed uninstall suspended the portal.
    pub removing_since: Option<i64>,
    /// Unix seconds since the operator paused the portal (`b24-status suspend`).
    pub paused_at: Option<i64>,
    /// The app's paid period on the portal.
    pub period: Period,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An access/refresh pair and the access token's expiry.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Valid for an hour; sent with every REST call.
    pub access: AccessToken,
    /// Refresh token (single use).
    pub refresh: RefreshToken,
    /// Unix seconds after which `access` is expired.
    pub expires_at: i64,
}

impl Tokens {
    /// A pair Bitrix24 just issued with `expires_in` seconds left (an hour when the number
    /// does not fit).
    pub fn issued(access: AccessToken, refresh: RefreshToken, expires_in: u64, now: i64) -> Self {
        Self {
            access,
            refresh,
            expires_at: now + i64::try_from(expires_in).unwrap_or(3600),
        }
    }
}

/// An account as written.
#[derive(Clone, Debug)]
pub struct AccountRecord {
    pub member_id: MemberId,
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
    pub member_id: MemberId,
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

/// The database, with its cache of the rows every request reads (`cache.rs`). Cheap to clone;
/// clones share the cache, so every write through any of them keeps it true.
#[derive(Clone)]
pub struct Store {
    db: Db,
    keys: std::sync::Arc<Keyring>,
    cache: std::sync::Arc<cache::Caches>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://…`, created if needed, or `postgres://…`) and
    /// applies its backend's migrations.
    pub async fn open(url: &str, keys: Keyring) -> Result<Self, StoreError> {
        Self::open_with(url, keys, PoolSettings::default()).await
    }

    /// [`Store::open`] with pool settings.
    pub async fn open_with(
        url: &str,
        keys: Keyring,
        settings: PoolSettings,
    ) -> Result<Self, StoreError> {
        Self::open_as(url, keys, settings, Opening::Migrate).await
    }

    /// An existing database, for an operator command: nothing is created or migrated, and it
    /// must hold every migration this binary knows.
    pub async fn open_existing(
        url: &str,
        keys: Keyring,
        read_only: bool,
    ) -> Result<Self, StoreError> {
        let opening = Opening::Existing { read_only };
        Self::open_as(url, keys, PoolSettings::default(), opening).await
    }

    async fn open_as(
        url: &str,
        keys: Keyring,
        settings: PoolSettings,
        opening: Opening,
    ) -> Result<Self, StoreError> {
        let db = match Backend::of_url(url)? {
            Backend::Sqlite => Db::Sqlite(sqlite::open(url, settings, opening).await?),
            Backend::Postgres => Db::Postgres(postgres::open(url, settings, opening).await?),
        };
        match opening {
            Opening::Migrate => schema::migrate(&db).await?,
            Opening::Existing { .. } => schema::check(&db).await?,
        }
        Ok(Self {
            db,
            keys: std::sync::Arc::new(keys),
            cache: std::sync::Arc::default(),
        })
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        on_pool!(&self.db, |pool| pool.close().await);
    }
}

/// SQL integers are signed; a `UserId` always fits one, as its constructor checks.
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

/// A portal's member id as stored, checked again on the way out.
pub(crate) fn member_id_from_sql(raw: &str) -> Result<MemberId, StoreError> {
    MemberId::parse(raw).map_err(|_| StoreError::Corrupt("portal member_id".into()))
}

/// What an account's sealed token is bound to (AES-GCM's associated data): a ciphertext moved to
/// another row does not open. Public for tools that write rows the app must read (the bench).
pub fn token_context(field: &str, member_id: &MemberId, user_id: UserId) -> String {
    format!("b24-status/v1/accounts/{field}/{member_id}/{user_id}")
}

/// What a portal's sealed application token is bound to, as [`token_context`] for accounts.
pub fn app_token_context(member_id: &MemberId) -> String {
    format!("b24-status/v1/portals/application_token/{member_id}")
}
