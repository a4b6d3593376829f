//! What the token manager reads on every call, and the rows of an uninstall that is not yet
//! confirmed: a suspended portal keeps its tokens but no call is made with them until a
//! background check deletes or resumes it.

use url::Url;

use super::accounts::AccountRow;
use super::{Account, PortalState, Store, StoreError, user_id_from_sql, user_id_to_sql};
use crate::domain::{MemberId, UserId};

/// An account with what a call needs of its portal.
#[derive(Clone, Debug)]
pub struct CallTarget {
    /// The account.
    pub account: Account,
    /// The portal's REST endpoint.
    pub endpoint: Url,
    /// The REST endpoint of the OAuth server that issued the portal's tokens.
    pub server: Url,
    /// Whether an unconfirmed uninstall suspended the portal.
    pub suspended: bool,
}

/// The cheap fingerprint of an account that tells a cached copy it is stale: read once a
/// second at most per account, with no decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountVersion {
    /// The token generation.
    pub generation: i64,
    /// Whether the account and its portal are usable: account active, portal active and not
    /// suspended.
    pub usable: bool,
}

/// An account row with what a call needs of its portal.
#[derive(sqlx::FromRow)]
struct CallRow {
    #[sqlx(flatten)]
    account: AccountRow,
    client_endpoint: String,
    server_endpoint: String,
    removing_since: Option<i64>,
}

impl Store {
    /// An account with its portal's endpoints, in one query: what every call on a user's
    /// behalf needs. `None` if the account is unknown or its portal uninstalled the app.
    pub async fn account_for_call(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<CallTarget>, StoreError> {
        let row = sqlx::query_as::<_, CallRow>(
            "SELECT a.member_id, a.user_id, a.is_admin, a.is_installer, a.access_token,
                    a.refresh_token, a.key_id, a.token_generation, a.expires_at, a.refreshed_at,
                    a.state, a.created_at, a.updated_at, p.client_endpoint, p.server_endpoint,
                    p.removing_since
             FROM accounts a JOIN portals p ON p.member_id = a.member_id
             WHERE a.member_id = ?1 AND a.user_id = ?2 AND p.state != 'deleted'",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let url = |raw: &str, what: &str| {
            Url::parse(raw).map_err(|_| StoreError::Corrupt(format!("portal {what}")))
        };
        Ok(Some(CallTarget {
            endpoint: url(&row.client_endpoint, "client_endpoint")?,
            server: url(&row.server_endpoint, "server_endpoint")?,
            suspended: row.removing_since.is_some(),
            account: self.account_from_row(row.account)?,
        }))
    }

    /// The account's [`AccountVersion`], or `None` when it or its portal is gone.
    pub async fn account_version(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<AccountVersion>, StoreError> {
        let row: Option<(i64, bool)> = sqlx::query_as(
            "SELECT a.token_generation,
                    a.state = 'active' AND p.state = 'active' AND p.removing_since IS NULL
             FROM accounts a JOIN portals p ON p.member_id = a.member_id
             WHERE a.member_id = ?1 AND a.user_id = ?2",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(generation, usable)| AccountVersion { generation, usable }))
    }

    /// Suspends a portal whose uninstall could not be confirmed yet; `clean` is kept for when
    /// it is.
    pub async fn suspend_portal(
        &self,
        member_id: &MemberId,
        clean: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE portals SET removing_since = COALESCE(removing_since, ?2),
                 removing_clean = MAX(removing_clean, ?3), updated_at = ?2
             WHERE member_id = ?1 AND state != 'deleted'",
        )
        .bind(member_id.as_str())
        .bind(now)
        .bind(clean)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lifts a suspension: the app turned out to be still installed.
    pub async fn resume_portal(&self, member_id: &MemberId, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE portals SET removing_since = NULL, removing_clean = 0, updated_at = ?2
             WHERE member_id = ?1",
        )
        .bind(member_id.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a suspended portal's uninstall asked for its data to be deleted.
    pub async fn removal_is_clean(&self, member_id: &MemberId) -> Result<bool, StoreError> {
        let row: Option<(bool,)> =
            sqlx::query_as("SELECT removing_clean = 1 FROM portals WHERE member_id = ?1")
                .bind(member_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some_and(|(clean,)| clean))
    }

    /// Up to `limit` users of a portal whose stored pairs can show whether the app is still
    /// installed: active accounts first, most recently refreshed first.
    pub async fn probe_candidates(
        &self,
        member_id: &MemberId,
        limit: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT user_id FROM accounts
             WHERE member_id = ?1 AND refresh_token IS NOT NULL
             ORDER BY state = 'active' DESC, refreshed_at DESC LIMIT ?2",
        )
        .bind(member_id.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|(id,)| user_id_from_sql(id)).collect()
    }

    /// Portals whose removal should be checked: suspended ones, and installed ones whose every
    /// stored pair was refused (a lost `ONAPPUNINSTALL` looks like that).
    pub async fn portals_to_reconcile(&self) -> Result<Vec<MemberId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT p.member_id FROM portals p
             WHERE p.state = ?1 AND (p.removing_since IS NOT NULL OR (
                 EXISTS (SELECT 1 FROM accounts a
                         WHERE a.member_id = p.member_id AND a.refresh_token IS NOT NULL)
                 AND NOT EXISTS (SELECT 1 FROM accounts a
                                 WHERE a.member_id = p.member_id AND a.state = 'active'
                                   AND a.refresh_token IS NOT NULL)))",
        )
        .bind(PortalState::Active.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(member,)| {
                MemberId::parse(&member).map_err(|_| StoreError::Corrupt("portal id".into()))
            })
            .collect()
    }
}
