//! The commands that change: `reauth`, `suspend` / `resume`, `purge`, `rekey`, `backup`,
//! `migrate-store`. Running instances notice each within a second: their cached accounts are
//! checked against the database's generation and state that often.

use std::path::Path;

use serde_json::json;

use super::table::{Table, print_json, say};
use super::{Failure, now};
use crate::config::{Secrets, keyring};
use crate::store::{KeyCounts, Store};
use bitrix24::domain::{MemberId, UserId};

/// `reauth PORTAL [USER]`.
pub async fn reauth(store: &Store, member: &MemberId, user: Option<u64>) -> Result<(), Failure> {
    let user = user
        .map(|id| UserId::new(id).map_err(|_| Failure::Usage(format!("{id} is not a user id"))))
        .transpose()?;
    if let Some(user) = user
        && !store.has_account(member, user).await?
    {
        return Err(Failure::Usage(format!(
            "user {user} has no account on {member}: `b24-status accounts {member}` lists them"
        )));
    }
    let changed = store.force_reauth(member, user, now()).await?;
    say(&format!(
        "b24-status reauth: {changed} account(s) of {member} will sign in again on their next visit; their tokens are forgotten"
    ));
    Ok(())
}

/// `suspend PORTAL` (`paused`) and `resume PORTAL`.
pub async fn pause(store: &Store, member: &MemberId, paused: bool) -> Result<(), Failure> {
    store.set_paused(member, paused, now()).await?;
    say(&if paused {
        format!(
            "b24-status suspend: {member} is paused: no call is made for it, its users are told so, and its tokens are still kept alive; `b24-status resume {member}` lifts it"
        )
    } else {
        format!("b24-status resume: {member} is no longer paused")
    });
    Ok(())
}

/// `purge PORTAL --yes`.
pub async fn purge(store: &Store, member: &MemberId, yes: bool) -> Result<(), Failure> {
    if !yes {
        return Err(Failure::Usage(format!(
            "this deletes everything held about {member} and cannot be undone: add --yes (`b24-status export {member}` first keeps a copy)"
        )));
    }
    let purged = store.purge_portal(member).await?;
    say(&format!(
        "b24-status purge: deleted {member}: {} portal, {} account(s) with their timed statuses and schedules, {} logged call(s)",
        purged.portals, purged.accounts, purged.calls
    ));
    Ok(())
}

/// `rekey`: counts per key id before and after.
pub async fn rekey(store: &Store, json: bool) -> Result<(), Failure> {
    let before = store.key_counts().await?;
    let done = store.rekey().await?;
    let after = store.key_counts().await?;
    let current = store.current_key_id().to_owned();
    if json {
        print_json(&json!({
            "current_key_id": current,
            "before": counts_json(&before),
            "after": counts_json(&after),
            "rewritten": done.rewritten,
            "changed_meanwhile": done.changed_meanwhile,
            "unreadable": done.unreadable,
        }));
    } else {
        let mut table = Table::new(&["KEY ID", "BEFORE", "AFTER"]);
        let mut ids: Vec<&String> = before.iter().chain(&after).map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        let count = |counts: &KeyCounts, id: &str| {
            counts
                .iter()
                .find(|(k, _)| k == id)
                .map_or(0, |(_, n)| *n)
                .to_string()
        };
        for id in ids {
            let name = if *id == current {
                format!("{id} (current)")
            } else {
                id.clone()
            };
            table.row(vec![name, count(&before, id), count(&after, id)]);
        }
        table.print();
        say(&format!(
            "rewritten: {}, rewritten by the app meanwhile: {}, unreadable: {}",
            done.rewritten, done.changed_meanwhile, done.unreadable
        ));
    }
    if done.unreadable > 0 {
        return Err(Failure::Failed(format!(
            "{} value(s) are under a key neither APP_SECRET nor APP_SECRET_PREVIOUS opens: set APP_SECRET_PREVIOUS to the secret they were written with and run rekey again",
            done.unreadable
        )));
    }
    if after.iter().all(|(id, _)| *id == current) && !json {
        say("every secret is under the current key: APP_SECRET_PREVIOUS can be removed");
    }
    Ok(())
}

fn counts_json(counts: &KeyCounts) -> serde_json::Value {
    counts
        .iter()
        .map(|(id, n)| (id.clone(), json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `backup FILE`.
pub async fn backup(store: &Store, file: &Path) -> Result<(), Failure> {
    if file.exists() {
        return Err(Failure::Usage(format!(
            "{} exists already: name a new file",
            file.display()
        )));
    }
    match store.backup_into(file).await? {
        Some(()) => {
            say(&format!(
                "b24-status backup: a consistent copy of the database is in {}; keep APP_SECRET with it (apart), or its tokens cannot be read",
                file.display()
            ));
            Ok(())
        }
        None => Err(Failure::Usage(
            "the database is PostgreSQL: back it up with pg_dump -Fc (see docs/operating.md, Backups and upgrades)".into(),
        )),
    }
}

pub async fn migrate(secrets: &Secrets) -> Result<(), Failure> {
    let keys = keyring(secrets, "migrate")?;
    let store = Store::open(secrets.database_url(), keys).await?;
    store.close().await;
    say("b24-status migrate: the database holds every migration of this version");
    Ok(())
}

/// `migrate-store`, to `TARGET_DATABASE_URL`.
pub async fn migrate_store(secrets: &Secrets) -> Result<(), Failure> {
    let to = secrets.target_database_url.as_deref().ok_or_else(|| {
        Failure::Usage(
            "set TARGET_DATABASE_URL (or TARGET_DATABASE_URL_FILE) to the empty database to copy into"
                .to_owned(),
        )
    })?;
    let keys = keyring(secrets, "migrate-store")?;
    let copied = crate::migrate_store(secrets.database_url(), to, keys).await?;
    say(&format!(
        "b24-status: copied portals: {}, accounts: {}, sign-ins under way: {}, timed statuses: {}; counts and a sample decryption match",
        copied.portals, copied.accounts, copied.oauth_states, copied.timers
    ));
    Ok(())
}
