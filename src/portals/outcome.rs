//! What one scheduled change came to, shared by the scheduler's two kinds of work: timers
//! (`scheduler.rs`) and schedule rules (`schedules.rs`).

use crate::tokens::CallError;

/// How soon a change Bitrix24 could not take yet is tried again, in seconds.
pub const RETRY: i64 = 5;

/// What one change came to.
pub enum Outcome {
    /// Made.
    Applied,
    /// Not made: the user must open the app again, and is told on their next visit.
    Missed,
    /// Not made and never will be (the portal is gone, or Bitrix24 refuses it).
    Dropped,
    /// Not made yet: tried again after [`RETRY`] seconds.
    Deferred,
    /// Nothing was due after all (a rule's window passed while the app was down).
    Unchanged,
}

impl Outcome {
    /// The name metrics count it under.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Missed => "missed",
            Self::Dropped => "dropped",
            Self::Deferred => "deferred",
            Self::Unchanged => "unchanged",
        }
    }

    /// What a failed call means for the change.
    pub fn of(error: &CallError) -> Self {
        match error {
            CallError::NeedsReauth => Self::Missed,
            error if error.is_auth_refusal() => Self::Missed,
            CallError::Bitrix(error) if error.is_transient() => Self::Deferred,
            CallError::NotInstalled | CallError::Internal(_) | CallError::Bitrix(_) => {
                Self::Dropped
            }
            _ => Self::Deferred,
        }
    }
}
