//! `migrate-store`: every portal, account and sign-in under way copied from one database to an
//! empty one, on either backend. Rows go as they are — ciphertexts and key ids included, since
//! the key and the associated data do not depend on the backend — in one transaction, so a
//! failure leaves the target empty; then counts and a sample decryption are checked.

use super::accounts::AccountRow;
use super::portals::{PortalRow, portal_columns};
use super::{Store, StoreError, on_pool, user_id_from_sql};
use bitrix24::domain::MemberId;

/// Rows read from the source per round trip.
const PAGE: i64 = 1000;

/// How many rows a store holds, table by table: what `migrate-store` copied and checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub portals: i64,
    pub accounts: i64,
    /// OAuth states of sign-ins under way.
    pub oauth_states: i64,
    /// Timed statuses running.
    pub timers: i64,
    /// Weekly schedules.
    pub schedules: i64,
    /// Users' automatic-status switches.
    pub automation: i64,
}

/// A `portals` row, every column as stored.
#[derive(sqlx::FromRow)]
struct PortalCopy {
    #[sqlx(flatten)]
    row: PortalRow,
    removing_clean: bool,
}

/// An `accounts` row, every column as stored.
#[derive(sqlx::FromRow)]
struct AccountCopy {
    #[sqlx(flatten)]
    row: AccountRow,
    refresh_lease_owner: Option<String>,
    refresh_lease_until: Option<i64>,
    session_epoch: i64,
}

/// A `timers` row, its claim aside (nobody holds one in a database being filled).
#[derive(sqlx::FromRow)]
struct TimerCopy {
    member_id: String,
    user_id: i64,
    status: String,
    until_at: i64,
    then_status: String,
    missed: bool,
    created_at: i64,
}

/// A `schedules` row, its claim aside.
#[derive(sqlx::FromRow)]
struct ScheduleCopy {
    member_id: String,
    user_id: i64,
    rules: String,
    version: i64,
    next_at: Option<i64>,
    active_until: Option<i64>,
    before_status: Option<String>,
    missed_at: Option<i64>,
    updated_at: i64,
}

/// An `oauth_states` row.
#[derive(sqlx::FromRow)]
struct StateCopy {
    state_hash: Vec<u8>,
    member_id: String,
    expires_at: i64,
}

impl Store {
    /// How many rows this store holds.
    pub async fn counts(&self) -> Result<RowCounts, StoreError> {
        let counts: (i64, i64, i64, i64, i64, i64) = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM portals), (SELECT COUNT(*) FROM accounts),
                    (SELECT COUNT(*) FROM oauth_states), (SELECT COUNT(*) FROM timers),
                    (SELECT COUNT(*) FROM schedules), (SELECT COUNT(*) FROM automation)",
            )
            .fetch_one(pool)
            .await
        })?;
        let (portals, accounts, oauth_states, timers, schedules, automation) = counts;
        Ok(RowCounts {
            portals,
            accounts,
            oauth_states,
            timers,
            schedules,
            automation,
        })
    }

    /// Copies every row into `target`, which must be empty, then checks that the target holds
    /// as many rows as this store and decrypts a sample of them to the same tokens.
    pub async fn copy_to(&self, target: &Store) -> Result<RowCounts, StoreError> {
        let before = target.counts().await?;
        if before != RowCounts::default() {
            return Err(StoreError::TargetNotEmpty(format!(
                "{} portals, {} accounts, {} sign-ins under way, {} timers, {} schedules, {} \
                 automation switches",
                before.portals,
                before.accounts,
                before.oauth_states,
                before.timers,
                before.schedules,
                before.automation
            )));
        }
        let expected = self.sample(self).await?;
        on_pool!(&target.db, |pool| {
            let mut tx = pool.begin().await?;
            let mut after = String::new();
            loop {
                let page = self.portal_page(&after).await?;
                for PortalCopy {
                    row,
                    removing_clean,
                } in &page
                {
                    sqlx::query(
                        "INSERT INTO portals (member_id, domain, client_endpoint,
                             server_endpoint, application_token, key_id, scope, licence, state,
                             app_version, removing_since, removing_clean, created_at, updated_at,
                             paused_at, payment_expired, paid_until, licence_read_at,
                             payment_required_at, payment_probed_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                 $16, $17, $18, $19, $20)",
                    )
                    .bind(&row.member_id)
                    .bind(&row.domain)
                    .bind(&row.client_endpoint)
                    .bind(&row.server_endpoint)
                    .bind(&row.application_token)
                    .bind(&row.key_id)
                    .bind(&row.scope)
                    .bind(&row.licence)
                    .bind(&row.state)
                    .bind(row.app_version)
                    .bind(row.removing_since)
                    .bind(removing_clean)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.paused_at)
                    .bind(row.payment_expired)
                    .bind(row.paid_until)
                    .bind(row.licence_read_at)
                    .bind(row.payment_required_at)
                    .bind(row.payment_probed_at)
                    .execute(&mut *tx)
                    .await?;
                }
                match page.last() {
                    Some(last) => after.clone_from(&last.row.member_id),
                    None => break,
                }
            }
            let mut after = (String::new(), 0);
            loop {
                let page = self.account_page(&after).await?;
                for AccountCopy {
                    row,
                    refresh_lease_owner,
                    refresh_lease_until,
                    session_epoch,
                } in &page
                {
                    sqlx::query(
                        "INSERT INTO accounts (member_id, user_id, is_admin, is_installer,
                             access_token, refresh_token, key_id, token_generation, expires_at,
                             refreshed_at, state, refresh_lease_owner, refresh_lease_until,
                             created_at, updated_at, session_epoch)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                             $16)",
                    )
                    .bind(&row.member_id)
                    .bind(row.user_id)
                    .bind(row.is_admin)
                    .bind(row.is_installer)
                    .bind(&row.access_token)
                    .bind(&row.refresh_token)
                    .bind(&row.key_id)
                    .bind(row.token_generation)
                    .bind(row.expires_at)
                    .bind(row.refreshed_at)
                    .bind(&row.state)
                    .bind(refresh_lease_owner)
                    .bind(refresh_lease_until)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(session_epoch)
                    .execute(&mut *tx)
                    .await?;
                }
                match page.last() {
                    Some(last) => after = (last.row.member_id.clone(), last.row.user_id),
                    None => break,
                }
            }
            let mut after = Vec::new();
            loop {
                let page = self.state_page(&after).await?;
                for row in &page {
                    sqlx::query(
                        "INSERT INTO oauth_states (state_hash, member_id, expires_at)
                         VALUES ($1, $2, $3)",
                    )
                    .bind(&row.state_hash)
                    .bind(&row.member_id)
                    .bind(row.expires_at)
                    .execute(&mut *tx)
                    .await?;
                }
                match page.last() {
                    Some(last) => after.clone_from(&last.state_hash),
                    None => break,
                }
            }
            let mut after = (String::new(), 0);
            loop {
                let page = self.timer_page(&after).await?;
                for row in &page {
                    sqlx::query(
                        "INSERT INTO timers (member_id, user_id, status, until_at, then_status,
                             missed, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&row.member_id)
                    .bind(row.user_id)
                    .bind(&row.status)
                    .bind(row.until_at)
                    .bind(&row.then_status)
                    .bind(row.missed)
                    .bind(row.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                match page.last() {
                    Some(last) => after = (last.member_id.clone(), last.user_id),
                    None => break,
                }
            }
            let mut after = (String::new(), 0);
            loop {
                let page = self.schedule_page(&after).await?;
                for row in &page {
                    sqlx::query(
                        "INSERT INTO schedules (member_id, user_id, rules, version, next_at,
                             active_until, before_status, missed_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&row.member_id)
                    .bind(row.user_id)
                    .bind(&row.rules)
                    .bind(row.version)
                    .bind(row.next_at)
                    .bind(row.active_until)
                    .bind(&row.before_status)
                    .bind(row.missed_at)
                    .bind(row.updated_at)
                    .execute(&mut *tx)
                    .await?;
                }
                match page.last() {
                    Some(last) => after = (last.member_id.clone(), last.user_id),
                    None => break,
                }
            }
            tx.commit().await?;
        });
        self.copy_automation_to(target).await?;
        let (copied, source) = (target.counts().await?, self.counts().await?);
        if copied != source {
            return Err(StoreError::CopyMismatch(format!(
                "the source holds {source:?}, the target {copied:?}"
            )));
        }
        if target.sample(self).await? != expected {
            return Err(StoreError::CopyMismatch(
                "a token reads differently in the target".into(),
            ));
        }
        Ok(copied)
    }

    /// The first few portals' and accounts' tokens, decrypted: read from the source before the
    /// copy (a wrong `APP_SECRET` stops it there) and from the target after.
    async fn sample(&self, from: &Store) -> Result<Vec<Option<String>>, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(what.into());
        let mut sample = Vec::new();
        for copy in from.portal_page("").await?.iter().take(3) {
            let member = MemberId::parse(&copy.row.member_id).map_err(|_| corrupt("portal id"))?;
            let portal = self.portal(&member).await?;
            sample.push(portal.and_then(|p| {
                let token = p.record.application_token;
                token.map(|t| t.expose().to_owned())
            }));
        }
        for copy in from.account_page(&(String::new(), 0)).await?.iter().take(3) {
            let row = &copy.row;
            let member = MemberId::parse(&row.member_id).map_err(|_| corrupt("account member"))?;
            let account = self
                .account(&member, user_id_from_sql(row.user_id)?)
                .await?;
            sample.push(account.and_then(|a| a.tokens.map(|t| t.refresh.expose().to_owned())));
        }
        Ok(sample)
    }

    async fn portal_page(&self, after: &str) -> Result<Vec<PortalCopy>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(concat!(
            "SELECT ",
            portal_columns!(),
            ", removing_clean FROM portals WHERE member_id > $1 ORDER BY member_id LIMIT $2"
        ))
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await)?)
    }

    async fn account_page(&self, after: &(String, i64)) -> Result<Vec<AccountCopy>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, is_admin, is_installer, access_token, refresh_token,
                    key_id, token_generation, expires_at, refreshed_at, state,
                    refresh_lease_owner, refresh_lease_until, created_at, updated_at,
                    session_epoch
             FROM accounts WHERE member_id > $1 OR (member_id = $1 AND user_id > $2)
             ORDER BY member_id, user_id LIMIT $3"
        )
        .bind(&after.0)
        .bind(after.1)
        .bind(PAGE)
        .fetch_all(pool)
        .await)?)
    }

    async fn timer_page(&self, after: &(String, i64)) -> Result<Vec<TimerCopy>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, status, until_at, then_status, missed, created_at
             FROM timers
             WHERE member_id > $1 OR (member_id = $1 AND user_id > $2)
             ORDER BY member_id, user_id LIMIT $3"
        )
        .bind(&after.0)
        .bind(after.1)
        .bind(PAGE)
        .fetch_all(pool)
        .await)?)
    }

    async fn schedule_page(&self, after: &(String, i64)) -> Result<Vec<ScheduleCopy>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT member_id, user_id, rules, version, next_at, active_until, before_status,
                    missed_at, updated_at
             FROM schedules
             WHERE member_id > $1 OR (member_id = $1 AND user_id > $2)
             ORDER BY member_id, user_id LIMIT $3"
        )
        .bind(&after.0)
        .bind(after.1)
        .bind(PAGE)
        .fetch_all(pool)
        .await)?)
    }

    async fn state_page(&self, after: &[u8]) -> Result<Vec<StateCopy>, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT state_hash, member_id, expires_at FROM oauth_states
             WHERE state_hash > $1 ORDER BY state_hash LIMIT $2"
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await)?)
    }
}
