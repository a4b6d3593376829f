//! Portals as stored: one row per portal that ever installed the app, keyed by `member_id`,
//! with its `application_token` encrypted.

use url::Url;

use super::accounts::upsert_account;
use super::{
    AccountRecord, Period, Portal, PortalRecord, PortalState, Store, StoreError, app_token_context,
    on_pool,
};
use bitrix24::domain::{ApplicationToken, Licence, MemberId, PortalDomain};

impl Portal {
    /// Whether calls may be made for it: installed, not being removed, not paused, its paid
    /// period not ended (the same rule as an account version's `usable`).
    pub fn in_use(&self) -> bool {
        self.record.state == PortalState::Active
            && self.removing_since.is_none()
            && self.paused_at.is_none()
            && self.period.ended_at.is_none()
    }
}

/// The columns of a [`PortalRow`], for every query that reads one.
macro_rules! portal_columns {
    () => {
        "member_id, domain, client_endpoint, server_endpoint, application_token, key_id, scope,
         licence, state, app_version, removing_since, paused_at, created_at, updated_at,
         payment_expired, paid_until, licence_read_at, payment_required_at, payment_probed_at"
    };
}
pub(super) use portal_columns;

/// A `portals` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct PortalRow {
    pub(super) member_id: String,
    pub(super) domain: String,
    pub(super) client_endpoint: String,
    pub(super) server_endpoint: String,
    pub(super) application_token: Option<Vec<u8>>,
    pub(super) key_id: Option<String>,
    pub(super) scope: String,
    pub(super) licence: Option<String>,
    pub(super) state: String,
    pub(super) app_version: Option<i64>,
    pub(super) removing_since: Option<i64>,
    pub(super) paused_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) payment_expired: Option<bool>,
    pub(super) paid_until: Option<i64>,
    pub(super) licence_read_at: Option<i64>,
    pub(super) payment_required_at: Option<i64>,
    pub(super) payment_probed_at: Option<i64>,
}

/// A portal's values as they are written.
struct SealedPortal<'a> {
    record: &'a PortalRecord,
    application_token: Option<Vec<u8>>,
    key_id: &'a str,
    now: i64,
}

/// Writes a [`SealedPortal`] through `$executor` (a transaction, on either backend).
macro_rules! upsert_portal {
    ($executor:expr, $sealed:expr) => {
        sqlx::query(
            "INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint,
                 application_token, key_id, scope, licence, state, app_version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             ON CONFLICT (member_id) DO UPDATE SET
                 domain = excluded.domain, client_endpoint = excluded.client_endpoint,
                 server_endpoint = excluded.server_endpoint,
                 application_token = excluded.application_token, key_id = excluded.key_id,
                 scope = excluded.scope, licence = excluded.licence, state = excluded.state,
                 app_version = excluded.app_version, removing_since = NULL,
                 removing_clean = FALSE, updated_at = excluded.updated_at",
        )
        .bind($sealed.record.member_id.as_str())
        .bind($sealed.record.domain.as_str())
        .bind($sealed.record.client_endpoint.as_str())
        .bind($sealed.record.server_endpoint.as_str())
        .bind(&$sealed.application_token)
        .bind($sealed.key_id)
        .bind(&$sealed.record.scope)
        .bind($sealed.record.licence.as_ref().map(Licence::as_str))
        .bind($sealed.record.state.as_str())
        .bind($sealed.record.app_version)
        .bind($sealed.now)
        .execute($executor)
        .await
        .map(|done| done.rows_affected())
    };
}

impl Store {
    /// Creates or replaces a portal's record.
    pub async fn upsert_portal(&self, portal: &PortalRecord, now: i64) -> Result<(), StoreError> {
        let sealed = self.seal_portal(portal, now);
        on_pool!(&self.db, |pool| upsert_portal!(pool, sealed))?;
        self.cache.forget_portal(&portal.member_id);
        Ok(())
    }

    /// Writes a portal and one of its accounts in one transaction (an install).
    pub async fn upsert_portal_and_account(
        &self,
        portal: &PortalRecord,
        account: &AccountRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let member_id = &portal.member_id;
        let (portal, account) = (
            self.seal_portal(portal, now),
            self.seal_account(account, now),
        );
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            upsert_portal!(&mut *tx, portal)?;
            upsert_account!(&mut *tx, account)?;
            tx.commit().await?;
        });
        self.cache.forget_portal(member_id);
        Ok(())
    }

    fn seal_portal<'a>(&'a self, record: &'a PortalRecord, now: i64) -> SealedPortal<'a> {
        SealedPortal {
            application_token: record.application_token.as_ref().map(|token| {
                self.keys
                    .seal(&app_token_context(&record.member_id), token.expose())
            }),
            key_id: self.keys.current_id(),
            record,
            now,
        }
    }

    /// The portal with this id, if it ever installed the app.
    pub async fn portal(&self, member_id: &MemberId) -> Result<Option<Portal>, StoreError> {
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, PortalRow>(concat!(
                "SELECT ",
                portal_columns!(),
                " FROM portals WHERE member_id = $1"
            ))
            .bind(member_id.as_str())
            .fetch_optional(pool)
            .await
        })?;
        row.map(|row| self.portal_from_row(row)).transpose()
    }

    fn portal_from_row(&self, row: PortalRow) -> Result<Portal, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("portal {what}"));
        let member_id = MemberId::parse(&row.member_id).map_err(|_| corrupt("id"))?;
        let application_token = match (row.application_token, row.key_id) {
            (Some(sealed), Some(key_id)) => {
                let plain = self
                    .keys
                    .open(&key_id, &app_token_context(&member_id), &sealed)?;
                Some(ApplicationToken::parse(&plain).map_err(|_| corrupt("token"))?)
            }
            _ => None,
        };
        let url = |raw: &str, what: &str| Url::parse(raw).map_err(|_| corrupt(what));
        Ok(Portal {
            record: PortalRecord {
                domain: PortalDomain::parse(&row.domain).map_err(|_| corrupt("domain"))?,
                client_endpoint: url(&row.client_endpoint, "client_endpoint")?,
                server_endpoint: url(&row.server_endpoint, "server_endpoint")?,
                application_token,
                scope: row.scope,
                licence: row.licence.and_then(|l| Licence::parse(&l).ok()),
                state: PortalState::parse(&row.state)?,
                app_version: row.app_version,
                member_id,
            },
            removing_since: row.removing_since,
            paused_at: row.paused_at,
            period: Period {
                expired: row.payment_expired,
                paid_until: row.paid_until,
                ended_at: row.payment_required_at,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Marks a portal uninstalled and forgets every token of every account it had; with
    /// `clean`, deletes the portal and its accounts outright. With `unchanged_since`, only if the
    /// portal's row was last written then (a reinstall meanwhile wins); returns whether it was
    /// done.
    pub async fn uninstall_portal(
        &self,
        member_id: &MemberId,
        clean: bool,
        now: i64,
        unchanged_since: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = self
            .uninstall_unless_changed(member_id, clean, now, unchanged_since)
            .await;
        self.cache.forget_portal(member_id);
        done
    }

    async fn uninstall_unless_changed(
        &self,
        member_id: &MemberId,
        clean: bool,
        now: i64,
        unchanged_since: Option<i64>,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let portal = if clean {
                sqlx::query(
                    "DELETE FROM portals WHERE member_id = $1 AND ($2 IS NULL OR updated_at = $2)",
                )
                .bind(member_id.as_str())
                .bind(unchanged_since)
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query(
                    "UPDATE portals SET state = 'deleted', removing_since = NULL, removing_clean = FALSE,
                         updated_at = $2
                     WHERE member_id = $1 AND ($3 IS NULL OR updated_at = $3)",
                )
                .bind(member_id.as_str())
                .bind(now)
                .bind(unchanged_since)
                .execute(&mut *tx)
                .await?
            };
            if portal.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            // Nothing is applied on an uninstalled portal's behalf any more.
            for jobs in [
                "DELETE FROM timers WHERE member_id = $1",
                "DELETE FROM schedules WHERE member_id = $1",
                "DELETE FROM team_cache WHERE member_id = $1",
                "DELETE FROM automation WHERE member_id = $1",
                "DELETE FROM automation_portals WHERE member_id = $1",
                "DELETE FROM bots WHERE member_id = $1",
                "DELETE FROM bot_messages WHERE member_id = $1",
                "DELETE FROM bot_greetings WHERE member_id = $1",
            ] {
                sqlx::query(jobs)
                    .bind(member_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            if !clean {
                sqlx::query(
                    "UPDATE accounts SET access_token = NULL, refresh_token = NULL, expires_at = NULL,
                         token_generation = token_generation + 1, updated_at = $2
                     WHERE member_id = $1",
                )
                .bind(member_id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The portal currently at `domain`.
    pub async fn portal_by_domain(
        &self,
        domain: &PortalDomain,
    ) -> Result<Option<Portal>, StoreError> {
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, PortalRow>(concat!(
                "SELECT ",
                portal_columns!(),
                " FROM portals WHERE domain = $1 ORDER BY updated_at DESC, member_id LIMIT 1"
            ))
            .bind(domain.as_str())
            .fetch_optional(pool)
            .await
        })?;
        row.map(|row| self.portal_from_row(row)).transpose()
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
        on_pool!(&self.db, |pool| {
            sqlx::query("UPDATE portals SET domain = $2, client_endpoint = $3, updated_at = $4 WHERE member_id = $1")
            .bind(member_id.as_str())
            .bind(domain.as_str())
            .bind(client_endpoint.as_str())
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        self.cache.forget_portal(member_id);
        Ok(())
    }
}
