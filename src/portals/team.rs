//! The team board's read of a portal's directory, shared by every viewer on every instance: at
//! most one read per portal every [`FRESH_FOR`] seconds, whoever is looking.
//!
//! Each process keeps the last read of each portal in memory. When it is older than
//! [`FRESH_FOR`], the process looks at the database's copy (one small read); when that is old
//! too, it takes the portal's lease there and reads Bitrix24 — with the viewer's own token, in a
//! few `batch` requests for the whole portal (`docs/bitrix24.md`, "Reading colleagues") — while
//! every other viewer, here or on another instance, is answered from the previous read. Callers
//! in one process queue on one lock per portal, so a burst of viewers makes one read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Portals, Refusal};
use crate::tokens::{CallError, Repeat};
use bitrix24::ErrorCode;
use bitrix24::batch::{self, BatchAnswer, MAX_COMMANDS};
use bitrix24::domain::{MemberId, UserId};
use bitrix24::team::{self, Colleague, Department};

/// How long a read serves (seconds).
pub const FRESH_FOR: i64 = 30;
/// How long a process keeps a read nobody asks for again (seconds).
const KEPT_FOR: i64 = 600;
/// How long a process may take to read a portal before another may try (seconds).
const LEASE: i64 = 60;
/// How long a viewer with nothing to show waits for another instance's first read.
const FIRST_READ_WAIT: Duration = Duration::from_secs(5);

/// A portal's directory as read from Bitrix24.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Directory {
    pub departments: Vec<Department>,
    /// Its active employees, with their statuses.
    pub members: Vec<Colleague>,
    /// Unix seconds when it was read.
    #[serde(skip)]
    pub read_at: i64,
}

impl Directory {
    /// Whether this read may be served to `viewer`: one of the employees it lists
    /// (`docs/security.md`, "The team board"). A read cut at the board's limit cannot tell who
    /// is missing from it, so there every viewer is served.
    pub fn serves(&self, viewer: UserId) -> bool {
        self.members.len() >= team::MAX_MEMBERS || self.members.iter().any(|m| m.id == viewer)
    }
}

/// Each portal's last read in this process, and the lock that keeps its reads one at a time.
#[derive(Debug, Default)]
pub struct TeamCache {
    reads: Mutex<HashMap<MemberId, Arc<Directory>>>,
    locks: Mutex<HashMap<MemberId, Arc<tokio::sync::Mutex<()>>>>,
}

impl TeamCache {
    fn get(&self, member_id: &MemberId) -> Option<Arc<Directory>> {
        self.reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(member_id)
            .cloned()
    }

    /// Keeps `directory` as the portal's read, and lets go of reads nobody asked for in
    /// [`KEPT_FOR`] seconds, so memory follows the portals being watched, not every portal
    /// ever watched.
    fn put(&self, member_id: &MemberId, directory: Arc<Directory>) {
        let mut reads = self
            .reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let newest = directory.read_at;
        reads.retain(|_, read| read.read_at > newest - KEPT_FOR);
        reads.insert(member_id.clone(), directory);
    }

    fn lock_of(&self, member_id: &MemberId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(member_id.clone())
            .or_default()
            .clone()
    }

    /// Forgets a portal (an uninstall): its names must not outlive it.
    pub fn forget(&self, member_id: &MemberId) {
        self.reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(member_id);
    }
}

impl Portals {
    /// The portal's directory, read at most [`FRESH_FOR`] seconds ago when Bitrix24 allows;
    /// `viewer`'s token reads it when a read is due.
    pub(super) async fn directory(
        &self,
        member_id: &MemberId,
        viewer: UserId,
    ) -> Result<Arc<Directory>, Refusal> {
        let fresh = |d: &Directory, now: i64| now - d.read_at < FRESH_FOR;
        if let Some(read) = self.team.get(member_id)
            && fresh(&read, self.now())
        {
            return Ok(read);
        }
        let lock = self.team.lock_of(member_id);
        let _one_at_a_time = lock.lock().await;
        let now = self.now();
        let mine = self.team.get(member_id);
        if let Some(read) = &mine
            && fresh(read, now)
        {
            return Ok(read.clone());
        }
        let stored_at = self.store.team_read_at(member_id).await?.unwrap_or(0);
        let newer = stored_at > mine.as_ref().map_or(0, |d| d.read_at);
        if newer && now - stored_at < FRESH_FOR {
            return self.load(member_id).await?.ok_or(Refusal::Unavailable);
        }
        if !self
            .store
            .claim_team_read(member_id, now, now - FRESH_FOR, now + LEASE)
            .await?
        {
            // Another instance is reading, or has just stored its read.
            let stored_at = self.store.team_read_at(member_id).await?.unwrap_or(0);
            if stored_at > mine.as_ref().map_or(0, |d| d.read_at)
                && let Some(read) = self.load(member_id).await?
            {
                return Ok(read);
            }
            return match mine {
                Some(read) => Ok(read),
                None => self.wait_for_read(member_id).await,
            };
        }
        let previous = match mine {
            Some(read) => Some(read),
            None => self.load(member_id).await?,
        };
        match self
            .read_directory(member_id, viewer, previous.as_deref())
            .await
        {
            Ok(mut directory) => {
                directory.read_at = now;
                let body = serde_json::to_string(&directory).map_err(|_| {
                    Refusal::Call(CallError::Internal("the team read does not serialize"))
                })?;
                self.store.save_team_read(member_id, &body, now).await?;
                let directory = Arc::new(directory);
                self.team.put(member_id, directory.clone());
                Ok(directory)
            }
            Err(refusal) => {
                self.store.release_team_read(member_id).await?;
                match (refusal, previous) {
                    // What the administrator must fix is said, not hidden behind an old read.
                    (
                        refusal @ (Refusal::ScopeMissing(_)
                        | Refusal::MethodMissing(_)
                        | Refusal::EmployeesOnly),
                        _,
                    ) => Err(refusal),
                    (refusal, None) => Err(refusal),
                    (refusal, Some(previous)) => {
                        tracing::warn!(%refusal, "the team board serves its last read");
                        Ok(previous)
                    }
                }
            }
        }
    }

    /// The stored read, now also this process's.
    async fn load(&self, member_id: &MemberId) -> Result<Option<Arc<Directory>>, Refusal> {
        let Some(stored) = self.store.team_read(member_id).await? else {
            return Ok(None);
        };
        let Ok(mut directory) = serde_json::from_str::<Directory>(&stored.body) else {
            tracing::warn!("the stored team read does not parse; it is read again");
            return Ok(None);
        };
        directory.read_at = stored.read_at;
        let directory = Arc::new(directory);
        self.team.put(member_id, directory.clone());
        Ok(Some(directory))
    }

    /// Waits a little for another instance's first read of the portal.
    async fn wait_for_read(&self, member_id: &MemberId) -> Result<Arc<Directory>, Refusal> {
        let deadline = tokio::time::Instant::now() + FIRST_READ_WAIT;
        while tokio::time::Instant::now() < deadline {
            if let Some(read) = self.load(member_id).await? {
                return Ok(read);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Refusal::Call(CallError::RefreshBusy))
    }

    /// Reads the whole directory: departments and employees page by page, and every employee's
    /// status, at most [`MAX_COMMANDS`] commands a request.
    async fn read_directory(
        &self,
        member_id: &MemberId,
        viewer: UserId,
        previous: Option<&Directory>,
    ) -> Result<Directory, Refusal> {
        let known: Vec<UserId> = previous
            .map(|d| d.members.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        let mut read = team::Read::default();
        let first = team::first_commands(&known);
        let answer = self.team_batch(member_id, viewer, &first).await?;
        read.add(&answer, &first);
        let mut rest = team::later_pages(&answer);
        let covered = (MAX_COMMANDS - 2) * team::PAGE;
        rest.extend(team::status_commands(
            known.get(covered..).unwrap_or_default(),
            'r',
        ));
        for chunk in rest.chunks(MAX_COMMANDS) {
            let answer = self.team_batch(member_id, viewer, chunk).await?;
            read.add(&answer, chunk);
        }
        let unread = read.unread();
        let new = team::status_commands(&unread, 'n');
        for chunk in new.chunks(MAX_COMMANDS) {
            let answer = self.team_batch(member_id, viewer, chunk).await?;
            read.add(&answer, chunk);
        }
        let (departments, members) = read.finish();
        let directory = Directory {
            departments,
            members,
            read_at: 0,
        };
        // A read is kept only when it serves its reader: an extranet user's token sees another,
        // smaller directory that no employee should be served.
        if !directory.serves(viewer) {
            return Err(Refusal::EmployeesOnly);
        }
        Ok(directory)
    }

    /// One `batch` request of directory commands; a command the portal refuses refuses all.
    async fn team_batch(
        &self,
        member_id: &MemberId,
        viewer: UserId,
        commands: &[(String, String)],
    ) -> Result<BatchAnswer, Refusal> {
        let answer: BatchAnswer = self
            .tokens
            .call(
                member_id,
                viewer,
                batch::METHOD,
                batch::params(commands.iter().map(|(k, c)| (k.as_str(), c.clone()))),
                Repeat::Safe,
            )
            .await?;
        match team::first_failure(&answer) {
            None => Ok(answer),
            Some((method, ErrorCode::MethodNotFound)) => Err(Refusal::MethodMissing(method)),
            Some((method, ErrorCode::InsufficientScope)) => {
                Err(Refusal::ScopeMissing(team::scope_of(method)))
            }
            Some((_, code)) => Err(Refusal::Call(CallError::refused(code))),
        }
    }
}
