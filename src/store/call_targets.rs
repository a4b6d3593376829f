//! What the token manager reads on every call: an account with its portal's endpoints, and
//! the cheap version that tells a cached copy it is stale.

use url::Url;

use super::accounts::AccountRow;
use super::{Account, Store, StoreError, on_pool, user_id_from_sql, user_id_to_sql};
use bitrix24::domain::{MemberId, UserId};

/// An account with what a call needs of its portal.
#[derive(Clone, Debug)]
pub struct CallTarget {
    pub account: Account,
    /// The portal's REST endpoint.
    pub endpoint: Url,
    /// The REST endpoint of the OAuth server that issued the portal's tokens.
    pub server: Url,
    /// Whether an unconfirmed uninstall suspended the portal.
    pub suspended: bool,
    /// Whether the operator paused the portal.
    pub paused: bool,
    /// Whether the portal's paid period ended (the OAuth server answers `PAYMENT_REQUIRED`).
    pub period_ended: bool,
    /// Whether the account has a timed status (running or missed).
    pub has_timer: bool,
    /// Whether the user saved a schedule (or its time zone).
    pub has_schedule: bool,
    /// Whether the user saved switches for automatic statuses.
    pub has_automation: bool,
}

/// The cheap fingerprint of an account that tells a cached copy it is stale: read once a
/// second at most per account, with no decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountVersion {
    /// Grows with every new pair, so a copy taken before a rotation is known stale.
    pub generation: i64,
    /// Whether the account and its portal are usable: account active, portal active, not
    /// suspended, not paused, its paid period not ended.
    pub usable: bool,
    /// Whether the account has a timed status (running or missed).
    pub has_timer: bool,
    /// Whether the user saved a schedule (or its time zone).
    pub has_schedule: bool,
    /// Whether the user saved switches for automatic statuses.
    pub has_automation: bool,
}

/// An account row with what a call needs of its portal.
#[derive(sqlx::FromRow)]
struct CallRow {
    #[sqlx(flatten)]
    account: AccountRow,
    client_endpoint: String,
    server_endpoint: String,
    removing_since: Option<i64>,
    paused_at: Option<i64>,
    payment_required_at: Option<i64>,
    has_timer: bool,
    has_schedule: bool,
    has_automation: bool,
}

/// The columns of an [`AccountVersion`] and the tables they come from, for one account and
/// for many: generation, whether account and portal are usable, has a timer, a schedule,
/// automation switches.
macro_rules! version_of_accounts {
    () => {
        "a.token_generation,
         a.state = 'active' AND p.state = 'active' AND p.removing_since IS NULL
             AND p.paused_at IS NULL AND p.payment_required_at IS NULL,
         EXISTS (SELECT 1 FROM timers t
             WHERE t.member_id = a.member_id AND t.user_id = a.user_id),
         EXISTS (SELECT 1 FROM schedules s
             WHERE s.member_id = a.member_id AND s.user_id = a.user_id),
         EXISTS (SELECT 1 FROM automation x
             WHERE x.member_id = a.member_id AND x.user_id = a.user_id)
         FROM accounts a JOIN portals p ON p.member_id = a.member_id"
    };
}

impl Store {
    /// An account with its portal's endpoints, in one query: what every call on a user's
    /// behalf needs. `None` if the account is unknown or its portal uninstalled the app.
    pub async fn account_for_call(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<CallTarget>, StoreError> {
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, CallRow>(
            "SELECT a.member_id, a.user_id, a.is_admin, a.is_installer, a.access_token,
                    a.refresh_token, a.key_id, a.token_generation, a.expires_at, a.refreshed_at,
                    a.state, a.created_at, a.updated_at, p.client_endpoint, p.server_endpoint,
                    p.removing_since, p.paused_at, p.payment_required_at, EXISTS (SELECT 1 FROM timers t
                        WHERE t.member_id = a.member_id AND t.user_id = a.user_id) AS has_timer,
                    EXISTS (SELECT 1 FROM schedules s
                        WHERE s.member_id = a.member_id AND s.user_id = a.user_id) AS has_schedule,
                    EXISTS (SELECT 1 FROM automation x
                        WHERE x.member_id = a.member_id AND x.user_id = a.user_id) AS has_automation
             FROM accounts a JOIN portals p ON p.member_id = a.member_id
             WHERE a.member_id = $1 AND a.user_id = $2 AND p.state != 'deleted'",
        )
        .bind(member_id.as_str())
        .bind(user_id_to_sql(user_id))
        .fetch_optional(pool)
        .await
        })?;
        let Some(row) = row else { return Ok(None) };
        let url = |raw: &str, what: &str| {
            Url::parse(raw).map_err(|_| StoreError::Corrupt(format!("portal {what}")))
        };
        Ok(Some(CallTarget {
            endpoint: url(&row.client_endpoint, "client_endpoint")?,
            server: url(&row.server_endpoint, "server_endpoint")?,
            suspended: row.removing_since.is_some(),
            paused: row.paused_at.is_some(),
            period_ended: row.payment_required_at.is_some(),
            has_timer: row.has_timer,
            has_schedule: row.has_schedule,
            has_automation: row.has_automation,
            account: self.account_from_row(row.account)?,
        }))
    }

    /// The account's [`AccountVersion`], or `None` when it or its portal is gone.
    pub async fn account_version(
        &self,
        member_id: &MemberId,
        user_id: UserId,
    ) -> Result<Option<AccountVersion>, StoreError> {
        let row: Option<(i64, bool, bool, bool, bool)> =
            on_pool!(&self.db, |pool| sqlx::query_as(concat!(
                "SELECT ",
                version_of_accounts!(),
                " WHERE a.member_id = $1 AND a.user_id = $2"
            ))
            .bind(member_id.as_str())
            .bind(user_id_to_sql(user_id))
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(
            |(generation, usable, has_timer, has_schedule, has_automation)| AccountVersion {
                generation,
                usable,
                has_timer,
                has_schedule,
                has_automation,
            },
        ))
    }

    /// The [`AccountVersion`]s of many accounts in one query (at most `VERSIONS_AT_ONCE`
    /// are asked for at a time); an account missing from the answer is gone.
    pub async fn account_versions(
        &self,
        accounts: &[(MemberId, UserId)],
    ) -> Result<Vec<((MemberId, UserId), AccountVersion)>, StoreError> {
        let mut versions = Vec::with_capacity(accounts.len());
        for chunk in accounts.chunks(VERSIONS_AT_ONCE) {
            let rows: Vec<(String, i64, i64, bool, bool, bool, bool)> =
                on_pool!(&self.db, |pool| {
                    let mut query = sqlx::QueryBuilder::new(concat!(
                        "SELECT a.member_id, a.user_id, ",
                        version_of_accounts!(),
                        " WHERE (a.member_id, a.user_id) IN (VALUES "
                    ));
                    let mut keys = query.separated(", ");
                    for (member_id, user_id) in chunk {
                        keys.push("(")
                            .push_bind_unseparated(member_id.as_str())
                            .push_unseparated(", ")
                            .push_bind_unseparated(user_id_to_sql(*user_id))
                            .push_unseparated(")");
                    }
                    query.push(")");
                    // Not kept prepared: each number of accounts would be a statement of its own.
                    query
                        .build_query_as()
                        .persistent(false)
                        .fetch_all(pool)
                        .await
                })?;
            for (member, user, generation, usable, has_timer, has_schedule, has_automation) in rows
            {
                let key = (
                    MemberId::parse(&member)
                        .map_err(|_| StoreError::Corrupt("account member_id".into()))?,
                    user_id_from_sql(user)?,
                );
                let version = AccountVersion {
                    generation,
                    usable,
                    has_timer,
                    has_schedule,
                    has_automation,
                };
                versions.push((key, version));
            }
        }
        Ok(versions)
    }
}

/// Accounts whose versions one statement asks for (two parameters each).
pub const VERSIONS_AT_ONCE: usize = 500;
