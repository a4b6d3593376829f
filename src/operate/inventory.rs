//! The commands that read: `portals`, `accounts`, `export`, `calls`.

use serde_json::{Value, json};

use super::table::{Table, ago, print_json, when};
use super::{Failure, now};
use crate::store::{PortalSummary, Store};
use bitrix24::domain::MemberId;

/// `portals`: one line per portal.
pub async fn portals(store: &Store, json: bool) -> Result<(), Failure> {
    let now = now();
    let portals = store.portal_summaries(now).await?;
    if json {
        print_json(&portals);
        return Ok(());
    }
    let mut table = Table::new(&[
        "DOMAIN",
        "MEMBER ID",
        "STATE",
        "LICENCE",
        "USERS",
        "OLDEST REFRESH",
        "KEY IDS",
    ]);
    for portal in portals {
        let licence = licence(&portal);
        let state = match (portal.paused_at, portal.removing_since) {
            (_, Some(_)) => "removing".to_owned(),
            (Some(_), None) => "paused".to_owned(),
            (None, None) => portal.state,
        };
        table.row(vec![
            portal.domain,
            portal.member_id,
            state,
            licence,
            portal.users.to_string(),
            ago(now, portal.oldest_refresh),
            portal.key_ids.unwrap_or_else(|| "-".into()),
        ]);
    }
    table.print();
    Ok(())
}

/// The paid period in a few words: `P, 28 days left`, `S, expired 3 days ago (grace)`,
/// `T, payment required`, `F`.
fn licence(portal: &PortalSummary) -> String {
    let letter = portal.licence.as_deref().unwrap_or("-");
    let expired = portal.payment_expired == Some(true);
    let state = match (portal.payment_required_at, portal.days_left) {
        (Some(_), _) => "payment required".to_owned(),
        (None, Some(days)) if days < 0 => format!("expired {} days ago (grace)", -days),
        (None, _) if expired => "expired (grace)".to_owned(),
        (None, Some(days)) => format!("{days} days left"),
        (None, None) => return letter.to_owned(),
    };
    format!("{letter}, {state}")
}

/// `accounts PORTAL`: one line per user.
pub async fn accounts(store: &Store, member: &MemberId, json: bool) -> Result<(), Failure> {
    let accounts = store.account_summaries(member).await?;
    if json {
        print_json(&accounts);
        return Ok(());
    }
    let mut table = Table::new(&["USER", "ROLE", "STATE", "LAST REFRESH", "NEEDS RE-AUTH"]);
    for account in accounts {
        let role = match (account.is_installer, account.is_admin) {
            (true, _) => "installer",
            (false, true) => "admin",
            (false, false) => "employee",
        };
        let needs_reauth = if account.state == "active" {
            "no"
        } else {
            "yes"
        };
        table.row(vec![
            account.user_id.to_string(),
            role.to_owned(),
            account.state,
            when(account.refreshed_at),
            needs_reauth.to_owned(),
        ]);
    }
    table.print();
    Ok(())
}

/// `export PORTAL`: everything held about the portal but its secrets, as one JSON document.
pub async fn export(store: &Store, member: &MemberId) -> Result<(), Failure> {
    let portal = store
        .portal(member)
        .await?
        .ok_or_else(|| Failure::Failed("the portal went away meanwhile".into()))?;
    let record = &portal.record;
    let directory = store
        .team_directory(member)
        .await?
        .map(|body| serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)));
    let calls: Vec<Value> = store
        .calls_of(member, 0, u32::MAX)
        .await?
        .into_iter()
        .map(|call| call_json(&call))
        .collect();
    print_json(&json!({
        "exported_at": now(),
        "portal": {
            "member_id": record.member_id.as_str(),
            "domain": record.domain.as_str(),
            "client_endpoint": record.client_endpoint.as_str(),
            "server_endpoint": record.server_endpoint.as_str(),
            "scope": record.scope,
            "licence": record.licence.as_ref().map(|l| l.as_str()),
            "state": record.state.as_str(),
            "app_version": record.app_version,
            "removing_since": portal.removing_since,
            "paused_at": portal.paused_at,
            "payment_expired": portal.period.expired,
            "paid_until": portal.period.paid_until,
            "payment_required_at": portal.period.ended_at,
            "created_at": portal.created_at,
            "updated_at": portal.updated_at,
        },
        "accounts": store.account_summaries(member).await?,
        "timed_statuses": store.timer_summaries(member).await?,
        "schedules": store.schedule_summaries(member).await?,
        "team_directory": directory,
        "bitrix24_calls": calls,
    }));
    Ok(())
}

/// `calls PORTAL --since …`: the portal's calls, oldest first.
pub async fn calls(
    store: &Store,
    member: &MemberId,
    since: &str,
    limit: u32,
    json: bool,
) -> Result<(), Failure> {
    let since_ms = since_ms(since, bitrix24::clock::unix_now_ms())?;
    let calls = store.calls_of(member, since_ms, limit).await?;
    if json {
        print_json(&calls.iter().map(call_json).collect::<Vec<_>>());
        return Ok(());
    }
    let mut table = Table::new(&[
        "TIME", "USER", "METHOD", "HTTP", "ERROR", "MS", "REQUEST", "ANSWER",
    ]);
    for call in calls {
        let time = jiff::Timestamp::from_millisecond(call.at_ms)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        table.row(vec![
            time,
            call.user_id.map_or_else(|| "-".into(), |u| u.to_string()),
            call.method,
            call.http_status
                .map_or_else(|| "-".into(), |s| s.to_string()),
            call.error_code.unwrap_or_else(|| "-".into()),
            call.duration_ms.to_string(),
            shorten(&call.request),
            shorten(&call.response),
        ]);
    }
    table.print();
    Ok(())
}

fn call_json(call: &bitrix24::observe::CallRecord) -> Value {
    json!({
        "at_ms": call.at_ms,
        "user_id": call.user_id,
        "method": call.method,
        "http_status": call.http_status,
        "error_code": call.error_code,
        "duration_ms": call.duration_ms,
        "request": call.request,
        "response": call.response,
    })
}

/// A body cut for a table cell; `--json` prints it whole.
fn shorten(text: &str) -> String {
    const CELL: usize = 60;
    if text.chars().count() <= CELL {
        return text.to_owned();
    }
    let cut: String = text.chars().take(CELL).collect();
    format!("{cut}…")
}

/// `--since`: `30m`, `6h`, `3d` back from `now_ms`, or an RFC 3339 time.
fn since_ms(text: &str, now_ms: i64) -> Result<i64, Failure> {
    let text = text.trim();
    let unit = |suffix: &str, ms: i64| {
        text.strip_suffix(suffix)
            .and_then(|n| n.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(|n| now_ms.saturating_sub(n.saturating_mul(ms)))
    };
    unit("min", 60_000)
        .or_else(|| unit("m", 60_000))
        .or_else(|| unit("h", 3_600_000))
        .or_else(|| unit("d", 86_400_000))
        .or_else(|| unit("s", 1000))
        .or_else(|| {
            text.parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond())
        })
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--since {text:?} is neither a duration such as 30m, 6h or 3d nor a time such as 2026-12-04T09:00:00Z"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let now = 1_000_000_000;
        assert_eq!(since_ms("30m", now).ok(), Some(now - 1_800_000));
        assert_eq!(since_ms("6h", now).ok(), Some(now - 21_600_000));
        assert_eq!(since_ms("3d", now).ok(), Some(now - 259_200_000));
        assert_eq!(
            since_ms("2026-12-04T09:00:00Z", now).ok(),
            Some(1_796_374_800_000)
        );
        assert!(since_ms("yesterday", now).is_err());
        assert!(since_ms("-3d", now).is_err());
    }
}
