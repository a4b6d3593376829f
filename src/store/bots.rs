//! Chat commands: the app's bot on each portal, the command messages already acted on, and
//! the chats it greeted.

use super::{Store, StoreError, on_pool};
use bitrix24::domain::MemberId;

/// How long an acted-on message is remembered, in seconds.
pub const REMEMBER: i64 = 86_400;

/// The most chats of one portal the bot greets in an hour.
pub const GREETINGS_PER_HOUR: i64 = 20;

impl Store {
    /// Records the id of the app's bot on the portal.
    pub async fn save_bot(
        &self,
        member_id: &MemberId,
        bot_id: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let id = i64::try_from(bot_id).map_err(|_| StoreError::Corrupt("bot id".into()))?;
        on_pool!(&self.db, |pool| sqlx::query(
            "INSERT INTO bots (member_id, bot_id, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (member_id) DO UPDATE SET bot_id = excluded.bot_id,
                 updated_at = excluded.updated_at"
        )
        .bind(member_id.as_str())
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Forgets the app's bot on the portal (the portal no longer grants `imbot`): its events
    /// are not the app's any more.
    pub async fn forget_bot(&self, member_id: &MemberId) -> Result<(), StoreError> {
        on_pool!(&self.db, |pool| sqlx::query(
            "DELETE FROM bots WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The id of the app's bot on the portal, if it registered one.
    pub async fn bot(&self, member_id: &MemberId) -> Result<Option<u64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT bot_id FROM bots WHERE member_id = $1"
        )
        .bind(member_id.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(row.and_then(|(id,)| u64::try_from(id).ok()))
    }

    /// Claims a command message for acting on: false if it was acted on already (a replayed
    /// or repeated event), so every message acts once across instances.
    pub async fn first_command(
        &self,
        member_id: &MemberId,
        message_id: u64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let id = i64::try_from(message_id).map_err(|_| StoreError::Corrupt("message id".into()))?;
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "INSERT INTO bot_messages (member_id, message_id, at) VALUES ($1, $2, $3)
             ON CONFLICT (member_id, message_id) DO NOTHING"
        )
        .bind(member_id.as_str())
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Claims greeting the chat `dialog_id`: false if the bot greeted it within a day, or
    /// greeted `GREETINGS_PER_HOUR` chats of the portal in the last hour (a join event proves
    /// nothing, and each greeting spends the portal's requests).
    pub async fn first_greeting(
        &self,
        member_id: &MemberId,
        dialog_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "INSERT INTO bot_greetings (member_id, dialog_id, at)
             SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT)
             WHERE (SELECT COUNT(*) FROM bot_greetings WHERE member_id = $1 AND at > $4) < $5
             ON CONFLICT (member_id, dialog_id) DO NOTHING"
        )
        .bind(member_id.as_str())
        .bind(dialog_id)
        .bind(now)
        .bind(now - 3600)
        .bind(GREETINGS_PER_HOUR)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Forgets acted-on messages and greetings older than a day (`REMEMBER`) at `now`.
    pub async fn prune_bot_messages(&self, now: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        for table in [
            "DELETE FROM bot_messages WHERE at < $1",
            "DELETE FROM bot_greetings WHERE at < $1",
        ] {
            pruned += on_pool!(&self.db, |pool| sqlx::query(table)
                .bind(now - REMEMBER)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
        }
        Ok(pruned)
    }
}
