//! The call log as stored (`call_log`): what the client observed (`portals/call_log.rs`), written in batches and
//! deleted once older than the retention.

use super::{Store, StoreError, on_pool};
use bitrix24::domain::MemberId;
use bitrix24::observe::CallRecord;

/// A `call_log` row as stored.
#[derive(sqlx::FromRow)]
struct CallRow {
    at_ms: i64,
    member_id: String,
    user_id: Option<i64>,
    method: String,
    http_status: Option<i32>,
    error_code: Option<String>,
    duration_ms: i64,
    request: String,
    response: String,
}

impl From<CallRow> for CallRecord {
    fn from(row: CallRow) -> Self {
        Self {
            at_ms: row.at_ms,
            member_id: row.member_id,
            user_id: row.user_id.and_then(|id| u64::try_from(id).ok()),
            method: row.method,
            http_status: row.http_status.and_then(|s| u16::try_from(s).ok()),
            error_code: row.error_code,
            duration_ms: row.duration_ms,
            request: row.request,
            response: row.response,
        }
    }
}

impl Store {
    /// Writes `records` in one statement: one round trip to the database however many
    /// (the writer's batches stay under both backends' limits on bound values).
    pub async fn insert_calls(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        on_pool!(&self.db, |pool| {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO call_log (at_ms, member_id, user_id, method, http_status,
                     error_code, duration_ms, request, response) ",
            );
            insert.push_values(records, |mut row, record| {
                row.push_bind(record.at_ms)
                    .push_bind(&record.member_id)
                    .push_bind(record.user_id.and_then(|id| i64::try_from(id).ok()))
                    .push_bind(&record.method)
                    .push_bind(record.http_status.map(i32::from))
                    .push_bind(&record.error_code)
                    .push_bind(record.duration_ms)
                    .push_bind(&record.request)
                    .push_bind(&record.response);
            });
            // Not kept prepared: every batch size is a statement of its own, and a cache of
            // them (up to 100 per connection, each with up to 9,000 parameters) grew the
            // process by a hundred megabytes under load.
            insert
                .build()
                .persistent(false)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Deletes the calls made before `before_ms`; returns how many.
    pub async fn prune_calls(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = on_pool!(&self.db, |pool| sqlx::query(
            "DELETE FROM call_log WHERE at_ms < $1"
        )
        .bind(before_ms)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }

    /// A portal's calls since `since_ms`, oldest first, at most `limit`.
    pub async fn calls_of(
        &self,
        member_id: &MemberId,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let rows: Vec<CallRow> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT at_ms, member_id, user_id, method, http_status, error_code, duration_ms,
                    request, response
             FROM call_log WHERE member_id = $1 AND at_ms >= $2
             ORDER BY at_ms, id LIMIT $3",
        )
        .bind(member_id.as_str())
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(CallRecord::from).collect())
    }
}
