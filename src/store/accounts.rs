//! Accounts as stored: one row per portal user who authorised the app, with their pair
//! encrypted, the generation that makes rotations compare-and-swap, and the refresh lease.

use super::{
    Account, AccountRecord, AccountState, MAX_ACCOUNTS_PER_PORTAL, Store, StoreError, Tokens,
    on_pool, token_context, user_id_from_sql, user_id_to_sql,
};
use bitrix24::domain::{AccessToken, MemberId, RefreshToken, UserId};

/// An account's values as they are written.
pub(super) struct SealedAccount<'a> {
    pub member_id: &'a str,
    pub user_id: i64,
    pub is_admin: bool,
    pub is_installer: bool,
    pub access: Vec<u8>,
    pub refresh: Vec<u8>,
    pub key_id: &'a str,
    pub expires_at: i64,
    pub now: i64,
}

/// Writes a [`SealedAccount`] through `$executor` (a pool or a transaction, on either backend).
macro_rules! upsert_account {
    ($executor:expr, $sealed:expr) => {
        sqlx::query(
            "INSERT INTO accounts (member_id, user_id, is_admin, is_installer, access_token,
                 refresh_token, key_id, token_generation, expires_at, refreshed_at, state,
                 created_at, updated_at, session_epoch)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, 'active', $9, $9, $10)
             ON CONFLICT (member_id, user_id) DO UPDATE SET
                 is_admin = excluded.is_admin,
                 is_installer = accounts.is_installer OR excluded.is_installer,
                 access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                 key_id = excluded.key_id, token_generation = accounts.token_generation + 1,
                 expires_at = excluded.expires_at, refreshed_at = excluded.refreshed_at,
                 state = 'active', updated_at = excluded.updated_at,
                 session_epoch = excluded.session_epoch",
        )
        .bind($sealed.member_id)
        .bind($sealed.user_id)
        .bind($sealed.is_admin)
        .bind($sealed.is_installer)
        .bind(&$sealed.access)
        .bind(&$sealed.refresh)
        .bind($sealed.key_id)
        .bind($sealed.expires_at)
        .bind($sealed.now)
        .bind($crate::store::sessions::new_epoch())
        .execute($executor)
        .await
        .map(|done| done.rows_affected())
    };
}
pub(super) use upsert_account;

/// An `accounts` row as stored (the lease columns aside).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub(super) member_id: String,
    pub(super) user_id: i64,
    pub(super) is_admin: bool,
    pub(super) is_installer: bool,
    pub(super) access_token: Option<Vec<u8>>,
    pub(super) refresh_token: Option<Vec<u8>>,
    pub(super) key_id: Option<String>,
    pub(super) token_generation: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) refreshed_at: Option<i64>,
    pub(super) state: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl Store {
    /// Creates an account or replaces its tokens; the account becomes active again. A new
    /// account beyond [`MAX_ACCOUNTS_PER_PORTAL`] is refused, with a log line.
    pub async fn upsert_account(
        &self,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let member_id = &account.member_id;
        if !self.has_account(member_id, account.user_id).await? {
            let count = self.account_count(member_id).await?;
            if count >= MAX_ACCOUNTS_PER_PORTAL {
                tracing::warn!(%member_id, count, "a portal holds as many accounts as one may; a new user's pair was not stored");
                return Err(StoreError::AccountsFull(count));
            }
        }
        // One statement commits on its own; no transaction round trips needed.
        let sealed = self.seal_account(account, now);
        on_pool!(&self.db, |pool| upsert_account!(pool, sealed))?;
        self.cache.forget_account(member_id, account.user_id);
        Ok(())
    }

    /// An account's row values, its tokens sealed, for [`upsert_account!`].
    pub(super) fn seal_account<'a>(
        &'a self,
        account: &'a AccountRecord,
        now: i64,
    ) -> SealedAccount<'a> {
        let (access, refresh) =
            self.seal_tokens(&account.member_id, account.user_id, &account.tokens);
        SealedAccount {
            member_id: account.member_id.as_str(),
            user_id: user_id_to_sql(account.user_id),
            is_admin: account.is_admin,
            is_installer: account.is_installer,
            access,
            refresh,
            key_id: self.keys.current_id(),
            expires_at: account.tokens.expires_at,
            now,
        }
    }

    /// The account of `user_id` on `member_id`.
    pub async fn account(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<Account>, StoreError> {
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AccountRow>(
            "SELECT member_id, user_id, is_admin, is_installer, access_token, refresh_token,
                    key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at
             FROM accounts WHERE member_id = $1 AND user_id = $2",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
            .await
        })?;
        row.map(|row| self.account_from_row(row)).transpose()
    }

    pub(crate) fn account_from_row(&self, row: AccountRow) -> Result<Account, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("account {what}"));
        let member_id = MemberId::parse(&row.member_id).map_err(|_| corrupt("member"))?;
        let user_id = user_id_from_sql(row.user_id)?;
        let tokens = match (
            row.access_token,
            row.refresh_token,
            row.expires_at,
            row.key_id,
        ) {
            (Some(access), Some(refresh), Some(expires_at), Some(key_id)) => {
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
            is_admin: row.is_admin,
            is_installer: row.is_installer,
            tokens,
            generation: row.token_generation,
            refreshed_at: row.refreshed_at,
            state: AccountState::parse(&row.state)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
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
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE accounts SET access_token = $4, refresh_token = $5, key_id = $6,
                 token_generation = token_generation + 1, expires_at = $7, refreshed_at = $8,
                 state = 'active', refresh_lease_owner = NULL, refresh_lease_until = NULL,
                 updated_at = $8
             WHERE member_id = $1 AND user_id = $2 AND token_generation = $3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(access)
        .bind(refresh)
        .bind(self.keys.current_id())
        .bind(tokens.expires_at)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if done == 1 {
            self.cache
                .rotated(&(member_id.clone(), user_id), generation, tokens);
        }
        Ok(done == 1)
    }

    /// Writes whether the user is an administrator, as the portal just said.
    pub async fn set_admin(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        is_admin: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE accounts SET is_admin = $3, updated_at = $4
             WHERE member_id = $1 AND user_id = $2",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(is_admin)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.cache.forget_account(member_id, user_id);
        Ok(())
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
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
            "UPDATE accounts SET state = $4, refresh_lease_owner = NULL, refresh_lease_until = NULL,
                 updated_at = $5
             WHERE member_id = $1 AND user_id = $2 AND token_generation = $3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(AccountState::NeedsReauth.as_str())
        .bind(now)
        .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        self.cache.forget_account(member_id, user_id);
        Ok(done == 1)
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
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
            "UPDATE accounts SET refresh_lease_owner = $4, refresh_lease_until = $6
             WHERE member_id = $1 AND user_id = $2 AND token_generation = $3
               AND (refresh_lease_until IS NULL OR refresh_lease_until < $5 OR refresh_lease_owner = $4)",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(generation)
        .bind(owner)
        .bind(now_ms)
        .bind(until_ms)
        .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Gives a lease back early (the refresh failed without spending the token).
    pub async fn release_lease(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        owner: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE accounts SET refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE member_id = $1 AND user_id = $2 AND refresh_lease_owner = $3",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .bind(owner)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// How many accounts are in each state (`active`, `needs_reauth`, and `revoked` for those
    /// whose portal uninstalled the app).
    pub async fn account_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT CASE WHEN refresh_token IS NULL AND state = 'active' THEN 'revoked'
                    ELSE state END AS s, COUNT(*)
             FROM accounts GROUP BY s",
            )
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Unix seconds of the oldest refresh among accounts whose tokens are in use: the one the
    /// keep-alive must reach before its refresh token dies.
    pub async fn oldest_refresh(&self) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>,) = on_pool!(&self.db, |pool| {
            sqlx::query_as(
            "SELECT MIN(a.refreshed_at) FROM accounts a JOIN portals p ON p.member_id = a.member_id
             WHERE a.refresh_token IS NOT NULL AND a.state = 'active' AND p.state = 'active'",
        )
        .fetch_one(pool)
        .await
        })?;
        Ok(row.0)
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
