//! Accounts as stored: one row per portal user who authorised the app, with their pair
//! encrypted, the generation that makes rotations compare-and-swap, and the refresh lease.

use sqlx::SqliteConnection;

use super::{
    Account, AccountRecord, AccountState, Store, StoreError, Tokens, token_context,
    user_id_from_sql, user_id_to_sql,
};
use crate::domain::{AccessToken, MemberId, RefreshToken, UserId};

/// An `accounts` row as stored (the lease columns aside).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    member_id: String,
    user_id: i64,
    is_admin: bool,
    is_installer: bool,
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
    key_id: Option<String>,
    token_generation: i64,
    expires_at: Option<i64>,
    refreshed_at: Option<i64>,
    state: String,
    created_at: i64,
    updated_at: i64,
}

impl Store {
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

    pub(super) async fn upsert_account_in(
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
        let row = sqlx::query_as::<_, AccountRow>(
            "SELECT member_id, user_id, is_admin, is_installer, access_token, refresh_token,
                    key_id, token_generation, expires_at, refreshed_at, state, created_at, updated_at
             FROM accounts WHERE member_id = ?1 AND user_id = ?2",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(&self.pool)
        .await?;
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
        let rows: Vec<(String, i64)> = sqlx::query_as(
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
        rows.into_iter()
            .map(|(member, user)| {
                let member = MemberId::parse(&member)
                    .map_err(|_| StoreError::Corrupt("account member".into()))?;
                Ok((member, user_id_from_sql(user)?))
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
