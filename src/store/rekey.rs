//! Finishing a key rotation: every ciphertext still under an older key is decrypted and sealed
//! again under the current one, a page at a time so the work can stop and resume, and each row
//! only if nobody rewrote it meanwhile — so running instances and their compare-and-swap
//! rotations are never disturbed (the generation is left as it is). And the SQLite backup.

use std::path::Path;

use serde::Serialize;

use super::{Db, Store, StoreError, app_token_context, on_pool, token_context, user_id_from_sql};
use bitrix24::domain::MemberId;

/// Rows read per page.
const PAGE: i64 = 200;

/// How many ciphertexts each key id holds.
pub type KeyCounts = Vec<(String, i64)>;

/// What one `rekey` run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rekeyed {
    /// Rows sealed again under the current key.
    pub rewritten: u64,
    /// Rows rewritten by the app meanwhile (already under the current key).
    pub changed_meanwhile: u64,
    /// Rows under a key neither `APP_SECRET` nor `APP_SECRET_PREVIOUS` opens.
    pub unreadable: u64,
}

#[derive(sqlx::FromRow)]
struct SealedAccount {
    member_id: String,
    user_id: i64,
    access_token: Vec<u8>,
    refresh_token: Vec<u8>,
    key_id: String,
    token_generation: i64,
}

#[derive(sqlx::FromRow)]
struct SealedPortal {
    member_id: String,
    application_token: Vec<u8>,
    key_id: String,
}

impl Store {
    /// The id of the key new ciphertexts are written with.
    pub fn current_key_id(&self) -> &str {
        self.keys.current_id()
    }

    /// Ciphertexts per key id, accounts and portals together.
    pub async fn key_counts(&self) -> Result<KeyCounts, StoreError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT key_id, COUNT(*) FROM (
                 SELECT key_id FROM accounts WHERE refresh_token IS NOT NULL
                 UNION ALL SELECT key_id FROM portals WHERE application_token IS NOT NULL
             ) AS sealed WHERE key_id IS NOT NULL GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Seals every ciphertext not under the current key again under it.
    pub async fn rekey(&self) -> Result<Rekeyed, StoreError> {
        let mut done = Rekeyed::default();
        self.rekey_accounts(&mut done).await?;
        self.rekey_portals(&mut done).await?;
        self.cache.forget_all();
        Ok(done)
    }

    async fn rekey_accounts(&self, done: &mut Rekeyed) -> Result<(), StoreError> {
        let current = self.keys.current_id().to_owned();
        let mut after = (String::new(), 0_i64);
        loop {
            let page: Vec<SealedAccount> = on_pool!(&self.db, |pool| {
                sqlx::query_as(
                "SELECT member_id, user_id, access_token, refresh_token, key_id, token_generation
                 FROM accounts
                 WHERE refresh_token IS NOT NULL AND access_token IS NOT NULL
                   AND key_id IS NOT NULL AND key_id != $1
                   AND (member_id > $2 OR (member_id = $2 AND user_id > $3))
                 ORDER BY member_id, user_id LIMIT $4",
            )
            .bind(&current)
            .bind(&after.0)
            .bind(after.1)
            .bind(PAGE)
            .fetch_all(pool)
            .await
            })?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = (last.member_id.clone(), last.user_id);
            for row in page {
                let member = MemberId::parse(&row.member_id)
                    .map_err(|_| StoreError::Corrupt("account member".into()))?;
                let user = user_id_from_sql(row.user_id)?;
                let (access_ctx, refresh_ctx) = (
                    token_context("access", &member, user),
                    token_context("refresh", &member, user),
                );
                let opened = self
                    .keys
                    .open(&row.key_id, &access_ctx, &row.access_token)
                    .and_then(|access| {
                        let refresh =
                            self.keys
                                .open(&row.key_id, &refresh_ctx, &row.refresh_token)?;
                        Ok((access, refresh))
                    });
                let Ok((access, refresh)) = opened else {
                    done.unreadable += 1;
                    continue;
                };
                let (access, refresh) = (
                    self.keys.seal(&access_ctx, &access),
                    self.keys.seal(&refresh_ctx, &refresh),
                );
                let rows = on_pool!(&self.db, |pool| sqlx::query(
                    "UPDATE accounts SET access_token = $5, refresh_token = $6, key_id = $7
                     WHERE member_id = $1 AND user_id = $2 AND token_generation = $3
                       AND key_id = $4",
                )
                .bind(&row.member_id)
                .bind(row.user_id)
                .bind(row.token_generation)
                .bind(&row.key_id)
                .bind(access)
                .bind(refresh)
                .bind(&current)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()))?;
                count(done, rows);
            }
        }
    }

    async fn rekey_portals(&self, done: &mut Rekeyed) -> Result<(), StoreError> {
        let current = self.keys.current_id().to_owned();
        let mut after = String::new();
        loop {
            let page: Vec<SealedPortal> = on_pool!(&self.db, |pool| sqlx::query_as(
                "SELECT member_id, application_token, key_id FROM portals
                 WHERE application_token IS NOT NULL AND key_id IS NOT NULL AND key_id != $1
                   AND member_id > $2
                 ORDER BY member_id LIMIT $3",
            )
            .bind(&current)
            .bind(&after)
            .bind(PAGE)
            .fetch_all(pool)
            .await)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after.clone_from(&last.member_id);
            for row in page {
                let member = MemberId::parse(&row.member_id)
                    .map_err(|_| StoreError::Corrupt("portal id".into()))?;
                let context = app_token_context(&member);
                let Ok(token) = self
                    .keys
                    .open(&row.key_id, &context, &row.application_token)
                else {
                    done.unreadable += 1;
                    continue;
                };
                let sealed = self.keys.seal(&context, &token);
                let rows = on_pool!(&self.db, |pool| sqlx::query(
                    "UPDATE portals SET application_token = $4, key_id = $5
                     WHERE member_id = $1 AND key_id = $2 AND application_token = $3",
                )
                .bind(&row.member_id)
                .bind(&row.key_id)
                .bind(&row.application_token)
                .bind(sealed)
                .bind(&current)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()))?;
                count(done, rows);
            }
        }
    }

    /// A consistent copy of an SQLite database into the new file `path`, while the app runs
    /// (`VACUUM INTO`). `None` on PostgreSQL, whose own tools do this better.
    pub async fn backup_into(&self, path: &Path) -> Result<Option<()>, StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(None);
        };
        // `VACUUM INTO` fills an empty file as it finds it: one only its owner may read.
        super::sqlite::create_private(path).map_err(|source| StoreError::Folder {
            path: path.to_owned(),
            source,
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(pool)
            .await?;
        Ok(Some(()))
    }
}

fn count(done: &mut Rekeyed, rows: u64) {
    if rows == 1 {
        done.rewritten += 1;
    } else {
        done.changed_meanwhile += 1;
    }
}
