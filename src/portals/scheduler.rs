//! The scheduler: applies what users planned — the restore at the end of a timed status, the
//! starts and ends of their schedules' rules (`schedules.rs`), automatic statuses
//! (`presence.rs`) — with
//! their own tokens, through the token manager like a click (refresh, rate limiter, retries).
//! Due work is claimed in the store, so a restart loses none and instances sharing the database
//! apply each change once; it runs on the app's clock, which tests and the demo move
//! forward instead of waiting.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::join_all;

use super::Jobs;
use super::outcome::Outcome;
pub use super::outcome::RETRY;
use crate::metrics::Metrics;
use crate::store::{CHECK_EVERY, Store, StoreError, Timer};
use bitrix24::domain::{MemberId, UserId};

/// How often due work is looked for: each change lands within this of its time, plus the call.
pub const TICK: Duration = Duration::from_secs(1);

/// Changes claimed at a time.
const BATCH: u32 = 64;

/// Portals' changes being made at once, at most (one call each, see [`ONE_BY_ONE`]).
const IN_FLIGHT: usize = 256;

/// How long a claim holds, from the moment its batch is claimed: longer than a call with its
/// rate-limit wait and a refresh, started within [`ONE_BY_ONE`] plus one such call. A claim
/// whose holder died runs out and the change is applied by whoever looks next.
const CLAIM: i64 = 60;

/// How long after its claim a batch's changes to one portal still go one after another; any
/// left then go side by side, each waiting for the portal's limit on its own, so that none
/// starts so late that its claim could run out while it is made.
const ONE_BY_ONE: Duration = Duration::from_secs(10);

/// What one look did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Changes applied.
    pub applied: usize,
    /// Changes not made and not retried: the user must open the app again (they are told on
    /// their next visit), or the portal is gone.
    pub dropped: usize,
    /// Changes left for the next look (Bitrix24 or the database did not answer).
    pub deferred: usize,
}

impl Jobs {
    /// Applies every change due at `now` (unix seconds on the app's clock): timers that ended,
    /// schedule rules that start or end, then automatic statuses (`presence.rs`). `owner` names
    /// this process in the claims.
    pub async fn apply_due(&self, owner: &str, now: i64) -> Report {
        let planned = self.apply_planned(owner, now).await;
        let automatic = self.look_at_presence(owner, now).await;
        Report {
            applied: planned.applied + automatic.applied,
            dropped: planned.dropped + automatic.dropped,
            deferred: planned.deferred + automatic.deferred,
        }
    }

    /// Applies the timers and schedule rules due at `now`.
    async fn apply_planned(&self, owner: &str, now: i64) -> Report {
        let store = &self.store;
        // A long wave claims its last batches well after `now`: each claim holds from its own
        // moment.
        let until = || now.max(self.clock.now()) + CLAIM;
        let timers = drain(
            (store, &self.metrics),
            || store.claim_due_timers(now, BATCH, owner, until()),
            |timer| (timer.member_id.clone(), timer.user_id),
            |timer| {
                let jobs = self.clone();
                async move { jobs.restore(timer).await }
            },
        )
        .await;
        let rules = drain(
            (store, &self.metrics),
            || store.claim_due_schedules(now, BATCH, owner, until()),
            |saved| (saved.member_id.clone(), saved.user_id),
            |saved| {
                let (jobs, owner) = (self.clone(), owner.to_owned());
                async move { jobs.apply_boundary(&owner, saved, now).await }
            },
        )
        .await;
        Report {
            applied: timers.applied + rules.applied,
            dropped: timers.dropped + rules.dropped,
            deferred: timers.deferred + rules.deferred,
        }
    }

    /// Looks for due changes every [`TICK`] until the process ends: timers and rules in one
    /// loop, automatic statuses in another beside it, so a long look at a large portal never
    /// holds up a timer.
    pub async fn run_scheduler(self) {
        let owner = crate::store::crypto::random_hex(8);
        let planned = async {
            loop {
                let done = self.apply_planned(&owner, self.clock.now()).await;
                if done != Report::default() {
                    tracing::debug!(?done, "scheduler");
                }
                tokio::time::sleep(TICK).await;
            }
        };
        let automatic = async {
            loop {
                let done = self.look_at_presence(&owner, self.clock.now()).await;
                if done != Report::default() {
                    tracing::debug!(?done, "automatic statuses");
                }
                tokio::time::sleep(TICK).await;
            }
        };
        tokio::join!(planned, automatic);
    }

    /// Restores the status of a timer that ended.
    async fn restore(&self, timer: Timer) -> Outcome {
        let (member_id, user_id) = (&timer.member_id, timer.user_id);
        let result = self.set_status(member_id, user_id, timer.then).await;
        let outcome = match &result {
            Ok(_) => Outcome::Applied,
            Err(error) => Outcome::of(error),
        };
        let store = &self.store;
        let kept = match (&outcome, result) {
            (Outcome::Deferred, Err(error)) => {
                tracing::warn!(%member_id, %user_id, %error, "a timed status could not be restored yet");
                store.retry_timer(&timer, self.clock.now() + RETRY).await
            }
            (Outcome::Missed, Err(error)) => {
                tracing::warn!(%member_id, %user_id, %error, "a timed status could not be restored; the user is told on their next visit");
                store.miss_timer(&timer).await
            }
            (_, Err(error)) => {
                tracing::warn!(%member_id, %user_id, %error, "a timed status could not be restored; dropped");
                store.finish_timer(&timer).await
            }
            (_, Ok(_)) => {
                tracing::info!(%member_id, %user_id, status = timer.then.as_str(), "timed status ended");
                match store
                    .resume_automation(member_id, user_id, timer.then)
                    .await
                {
                    Ok(()) => store.finish_timer(&timer).await,
                    Err(error) => Err(error),
                }
            }
        };
        if let Err(error) = kept {
            tracing::error!(%error, "the scheduler could not record what it did");
        }
        outcome
    }
}

/// Claims due work a batch at a time and applies it, claiming the next batch while earlier
/// ones are still being made (up to [`IN_FLIGHT`] calls at once), so one slow call does not
/// hold up the rest of a wave. A batch's accounts are checked against the store in one query
/// (`Store::check_cached_accounts`), and its changes to one portal are made one after another
/// (for [`ONE_BY_ONE`] at most): they reuse one connection to it instead of opening one each
/// (`docs/performance.md`, "The wave at scale"), and the portal's limit would space them anyway.
async fn drain<J, C, A, F>(
    (store, metrics): (&Store, &Metrics),
    claim: impl Fn() -> C,
    account: impl Fn(&J) -> (MemberId, UserId),
    apply: A,
) -> Report
where
    C: Future<Output = Result<Vec<J>, StoreError>>,
    A: Fn(J) -> F,
    F: Future<Output = Outcome> + Send + 'static,
{
    let mut report = Report::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut count = |done: Result<Vec<Outcome>, _>| match done {
        Ok(outcomes) => outcomes.into_iter().for_each(|o| report.count(o, metrics)),
        Err(_) => report.count(Outcome::Deferred, metrics),
    };
    loop {
        while tasks.len() + BATCH as usize > IN_FLIGHT {
            if let Some(done) = tasks.join_next().await {
                count(done);
            }
        }
        let due = match claim().await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "the scheduler could not claim due changes");
                break;
            }
        };
        let claimed = due.len();
        let accounts: Vec<_> = due.iter().map(&account).collect();
        if let Err(error) = store.check_cached_accounts(&accounts, CHECK_EVERY).await {
            tracing::warn!(%error, "could not check cached accounts against the database");
        }
        let mut chains: Vec<(MemberId, Vec<F>)> = Vec::new();
        for (job, (member_id, _)) in due.into_iter().zip(accounts) {
            let change = apply(job);
            match chains.iter_mut().find(|(m, _)| *m == member_id) {
                Some((_, chain)) => chain.push(change),
                None => chains.push((member_id, vec![change])),
            }
        }
        let claimed_at = Instant::now();
        for (_, chain) in chains {
            tasks.spawn(async move {
                // A change that panics is left for the next look, not its chain's others.
                let made = |change: F| async move {
                    AssertUnwindSafe(change)
                        .catch_unwind()
                        .await
                        .unwrap_or(Outcome::Deferred)
                };
                let mut outcomes = Vec::with_capacity(chain.len());
                let mut changes = chain.into_iter();
                for change in changes.by_ref() {
                    outcomes.push(made(change).await);
                    if claimed_at.elapsed() > ONE_BY_ONE {
                        break;
                    }
                }
                outcomes.extend(join_all(changes.map(made)).await);
                outcomes
            });
        }
        // A full batch may have left more behind; a short one was all there was.
        if claimed < BATCH as usize {
            break;
        }
    }
    while let Some(done) = tasks.join_next().await {
        count(done);
    }
    report
}

impl Report {
    pub(super) fn count(&mut self, outcome: Outcome, metrics: &Metrics) {
        metrics.scheduled(outcome.as_str());
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::Missed | Outcome::Dropped => self.dropped += 1,
            Outcome::Deferred => self.deferred += 1,
            Outcome::Unchanged => {}
        }
    }
}
