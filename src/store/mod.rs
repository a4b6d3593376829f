//! All SQL lives here, behind a small typed API: handlers and the token manager see portals
//! and accounts, never rows. Tokens are encrypted on the way in and decrypted on the way out
//! (see [`crypto`]), so no raw token ever reaches the database file.

pub mod crypto;
mod removal;
mod states;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};
use url::Url;

use crate::domain::{
    AccessToken, ApplicationToken, Licence, MemberId, PortalDomain, RefreshToken, UserId,
};
pub use crypto::{Keyring, MasterKey};
pub use removal::{AccountVersion, CallTarget};

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
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
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
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
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

    /// Creates or replaces a portal's record.
    pub async fn upsert_portal(&self, portal: &PortalRecord, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.upsert_portal_in(&mut tx, portal, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a portal and one of its accounts in one transaction (an install).
    pub async fn upsert_portal_and_account(
        &self,
        portal: &PortalRecord,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.upsert_portal_in(&mut tx, portal, now).await?;
        self.upsert_account_in(&mut tx, account, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_portal_in(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        portal: &PortalRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let member = portal.member_id.as_str();
        let app_token = portal.application_token.as_ref().map(|t| {
            self.keys
                .seal(&app_token_context(&portal.member_id), t.expose())
        });
        sqlx::query(
            "INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint,
                 application_token, key_id, scope, licence, state, app_version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT (member_id) DO UPDATE SET
                 domain = excluded.domain, client_endpoint = excluded.client_endpoint,
                 server_endpoint = excluded.server_endpoint,
                 application_token = excluded.application_token, key_id = excluded.key_id,
                 scope = excluded.scope, licence = excluded.licence, state = excluded.state,
                 app_version = excluded.app_version, removing_since = NULL, removing_clean = 0,
                 updated_at = excluded.updated_at",
        )
        .bind(member)
        .bind(portal.domain.as_str())
        .bind(portal.client_endpoint.as_str())
        .bind(portal.server_endpoint.as_str())
        .bind(app_token)
        .bind(self.keys.current_id())
        .bind(&portal.scope)
        .bind(portal.licence.as_ref().map(Licence::as_str))
        .bind(portal.state.as_str())
        .bind(portal.app_version)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The portal with this id, if it ever installed the app.
    pub async fn portal(&self, member_id: &MemberId) -> Result<Option<Portal>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, domain, client_endpoint, server_endpoint, application_token,
                    key_id, scope, licence, state, app_version, removing_since, created_at,
                    updated_at
             FROM portals WHERE member_id = ?1",
        )
        .bind(member_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.portal_from_row(&row)).transpose()
    }

    fn portal_from_row(&self, row: &SqliteRow) -> Result<Portal, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("portal {what}"));
        let member_id = MemberId::parse(row.try_get("member_id")?).map_err(|_| corrupt("id"))?;
        let application_token = match row.try_get::<Option<Vec<u8>>, _>("application_token")? {
            Some(sealed) => {
                let key_id: String = row.try_get("key_id")?;
                let plain = self
                    .keys
                    .open(&key_id, &app_token_context(&member_id), &sealed)?;
                Some(ApplicationToken::parse(&plain).map_err(|_| corrupt("token"))?)
            }
            None => None,
        };
        let url = |col: &str| -> Result<Url, StoreError> {
            Url::parse(row.try_get(col)?).map_err(|_| corrupt(col))
        };
        Ok(Portal {
            record: PortalRecord {
                domain: PortalDomain::parse(row.try_get("domain")?)
                    .map_err(|_| corrupt("domain"))?,
                client_endpoint: url("client_endpoint")?,
                server_endpoint: url("server_endpoint")?,
                application_token,
                scope: row.try_get("scope")?,
                licence: row
                    .try_get::<Option<String>, _>("licence")?
                    .and_then(|l| Licence::parse(&l).ok()),
                state: PortalState::parse(row.try_get("state")?)?,
                app_version: row.try_get("app_version")?,
                member_id,
            },
            removing_since: row.try_get("removing_since")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// Marks a portal uninstalled and forgets every token of every account it had; with
    /// `clean`, deletes the portal and its accounts outright.
    pub async fn uninstall_portal(
        &self,
        member_id: &MemberId,
        clean: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if clean {
            sqlx::query("DELETE FROM portals WHERE member_id = ?1")
                .bind(member_id.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE accounts SET access_token = NULL, refresh_token = NULL, expires_at = NULL,
                     token_generation = token_generation + 1, updated_at = ?2
                 WHERE member_id = ?1",
            )
            .bind(member_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE portals SET state = 'deleted', removing_since = NULL, removing_clean = 0,
                     updated_at = ?2
                 WHERE member_id = ?1",
            )
            .bind(member_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates an account or replaces its tokens; the account becomes active again.
    pub async fn upsert_account(
        &self,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        // One statement commits on its own; no transaction round trips needed.
        let mut connection = self.pool.acquire().await?;
        self.upsert_account_in(&mut connection, account, now).await
    }

    async fn upsert_account_in(
        &self,
        connection: &mut SqliteConnection,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let (access, refresh) =
            self.seal_tokens(&account.member_id, account.user_id, &account.tokens);
        sqlx::query(
            "INSERT INTO accounts (member_id, user_id, is_admin, is_installer, access_token,
                 refresh_token, key_id, token_generation, expires_at, refreshed_at, state,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, 'active', ?9, ?9)
             ON CONFLICT (member_id, user_id) DO UPDATE SET
                 is_admin = excluded.is_admin,
                 is_installer = MAX(accounts.is_installer, excluded.is_installer),
                 access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                 key_id = excluded.key_id, token_generation = accounts.token_generation + 1,
                 expires_at = excluded.expires_at, refreshed_at = excluded.refreshed_at,
                 state = 'active', updated_at = excluded.updated_at",
        )
        .bind(account.member_id.as_str())
        .bind(user_id_to_sql(account.user_id))
        .bind(account.is_admin)
        .bind(account.is_installer)
        .bind(access)
        .bind(refresh)
        .bind(self.keys.current_id())
        .bind(account.tokens.expires_at)
        .bind(now)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// The account of `user_id` on `member_id`.
    pub async fn account(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, user_id, is_admin, is_installer, access_token, refresh_token,
                    key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at
             FROM accounts WHERE member_id = ?1 AND user_id = ?2",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.account_from_row(&row)).transpose()
    }

    pub(crate) fn account_from_row(&self, row: &SqliteRow) -> Result<Account, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("account {what}"));
        let member_id =
            MemberId::parse(row.try_get("member_id")?).map_err(|_| corrupt("member"))?;
        let user_id = user_id_from_sql(row.try_get("user_id")?)?;
        let access: Option<Vec<u8>> = row.try_get("access_token")?;
        let refresh: Option<Vec<u8>> = row.try_get("refresh_token")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        let tokens = match (access, refresh, expires_at) {
            (Some(access), Some(refresh), Some(expires_at)) => {
                let key_id: String = row.try_get("key_id")?;
                let open = |field: &str, sealed: &[u8]| {
                    self.keys
                        .open(&key_id, &token_context(field, &member_id, user_id), sealed)
                };
                Some(Tokens {
                    access: AccessToken::parse(&open("access", &access)?)
                        .map_err(|_| corrupt("access token"))?,
                    refresh: RefreshToken::parse(&open("refresh", &refresh)?)
                        .map_err(|_| corrupt("refresh token"))?,
                    expires_at,
                })
            }
            _ => None,
        };
        Ok(Account {
            is_admin: row.try_get("is_admin")?,
            is_installer: row.try_get("is_installer")?,
            tokens,
            generation: row.try_get("token_generation")?,
            refreshed_at: row.try_get("refreshed_at")?,
            state: AccountState::parse(row.try_get("state")?)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            member_id,
            user_id,
        })
    }

    /// Replaces the tokens of an account only if nobody else has since `generation`: the
    /// compare-and-swap that makes a rotation single-flight across processes. Returns whether
    /// this caller's pair was stored.
    pub async fn rotate_tokens(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        generation: i64,
        tokens: &Tokens,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (access, refresh) = self.seal_tokens(member_id, user_id, tokens);
        let done = sqlx::query(
            "UPDATE accounts SET access_token = ?4, refresh_token = ?5, key_id = ?6,
                 token_generation = token_generation + 1, expires_at = ?7, refreshed_at = ?8,
                 state = 'active', refresh_lease_owner = NULL, refresh_lease_until = NULL,
                 updated_at = ?8
             WHERE member_id = ?1 AND user_id = ?2 AND token_generation = ?3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(access)
        .bind(refresh)
        .bind(self.keys.current_id())
        .bind(tokens.expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks an account as needing the user to open the app again, unless its tokens changed
    /// since `generation` (another process may have rotated them meanwhile).
    pub async fn mark_needs_reauth(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        generation: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET state = ?4, refresh_lease_owner = NULL, refresh_lease_until = NULL,
                 updated_at = ?5
             WHERE member_id = ?1 AND user_id = ?2 AND token_generation = ?3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(AccountState::NeedsReauth.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The portal currently at `domain`.
    pub async fn portal_by_domain(
        &self,
        domain: &PortalDomain,
    ) -> Result<Option<Portal>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, domain, client_endpoint, server_endpoint, application_token,
                    key_id, scope, licence, state, app_version, removing_since, created_at,
                    updated_at
             FROM portals WHERE domain = ?1 ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(domain.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.portal_from_row(&row)).transpose()
    }

    /// Takes the refresh lease of an account for `owner` until `until_ms`, if nobody holds an
    /// unexpired one and the tokens are still those of `generation`. Only the lease holder
    /// spends the refresh token, so processes sharing the database refresh once between them.
    pub async fn try_lease(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        generation: i64,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET refresh_lease_owner = ?4, refresh_lease_until = ?6
             WHERE member_id = ?1 AND user_id = ?2 AND token_generation = ?3
               AND (refresh_lease_until IS NULL OR refresh_lease_until < ?5 OR refresh_lease_owner = ?4)",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(owner)
        .bind(now_ms)
        .bind(until_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a lease back early (the refresh failed without spending the token).
    pub async fn release_lease(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        owner: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE member_id = ?1 AND user_id = ?2 AND refresh_lease_owner = ?3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Accounts of active portals whose tokens were last refreshed before `before`, oldest
    /// first: the keep-alive's work list.
    pub async fn stale_accounts(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(MemberId, UserId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.member_id, a.user_id FROM accounts a
             JOIN portals p ON p.member_id = a.member_id
             WHERE a.refresh_token IS NOT NULL AND a.refreshed_at < ?1
               AND a.state = 'active' AND p.state = 'active' AND p.removing_since IS NULL
             ORDER BY a.refreshed_at LIMIT ?2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let member = MemberId::parse(row.try_get("member_id")?)
                    .map_err(|_| StoreError::Corrupt("account member".into()))?;
                Ok((member, user_id_from_sql(row.try_get("user_id")?)?))
            })
            .collect()
    }

    /// How many accounts are in each state (`active`, `needs_reauth`, and `revoked` for those
    /// whose portal uninstalled the app).
    pub async fn account_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN refresh_token IS NULL THEN 'revoked' ELSE state END AS s, COUNT(*)
             FROM accounts GROUP BY s",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Records that a portal now lives at `domain` (a renamed portal; `docs/bitrix24.md`, "Calling
    /// REST methods").
    pub async fn move_portal(
        &self,
        member_id: &MemberId,
        domain: &PortalDomain,
        client_endpoint: &Url,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE portals SET domain = ?2, client_endpoint = ?3, updated_at = ?4 WHERE member_id = ?1")
            .bind(member_id.as_str())
            .bind(domain.as_str())
            .bind(client_endpoint.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn seal_tokens(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        tokens: &Tokens,
    ) -> (Vec<u8>, Vec<u8>) {
        (
            self.keys.seal(
                &token_context("access", member_id, user_id),
                tokens.access.expose(),
            ),
            self.keys.seal(
                &token_context("refresh", member_id, user_id),
                tokens.refresh.expose(),
            ),
        )
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

fn token_context(field: &str, member_id: &MemberId, user_id: UserId) -> String {
    format!("b24-status/v1/accounts/{field}/{member_id}/{user_id}")
}

fn app_token_context(member_id: &MemberId) -> String {
    format!("b24-status/v1/portals/application_token/{member_id}")
}
