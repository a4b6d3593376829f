//! Who is available, for the chat bot's `/status @colleague` and `/focus`: cut from the team
//! board's shared directory read (`team.rs`), so a command costs Bitrix24 nothing when the
//! board was read in the last half minute, and shows no more than the board does — a
//! colleague's status, the end of a timed status set through this app, a vacation mark — to
//! the same viewers (employees of a portal that granted the board's scopes).

use super::board::shown;
use super::{BoardMember, Portals, Refusal};
use crate::command::Who;
use bitrix24::domain::{MemberId, Status, UserId};
use bitrix24::team::Colleague;

/// The most colleagues `/focus` names; more are counted.
pub const FOCUS_NAMES: usize = 15;

/// Who in a department is not available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Focus {
    /// The viewer's department's name; `None` when they belong to none (everyone is looked at).
    pub department: Option<String>,
    /// Those in Do not disturb, away or on a break (at most `FOCUS_NAMES`), by name.
    pub members: Vec<BoardMember>,
    /// How many more there are.
    pub more: usize,
}

/// Why colleagues' statuses cannot be read for a user, as the team board says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The portal has not granted this scope.
    Scope(&'static str),
    /// The portal's REST lacks this method.
    Method(&'static str),
    /// The user is not one of the portal's employees.
    EmployeesOnly,
}

impl Unreadable {
    /// The board's refusal a user can be told about; any other is given back.
    pub fn of(refusal: Refusal) -> Result<Self, Refusal> {
        match refusal {
            Refusal::ScopeMissing(scope) => Ok(Self::Scope(scope)),
            Refusal::MethodMissing(method) => Ok(Self::Method(method)),
            Refusal::EmployeesOnly => Ok(Self::EmployeesOnly),
            other => Err(other),
        }
    }
}

/// Whom a `/status @colleague` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// One colleague.
    One(BoardMember),
    /// Nobody, or more than one colleague by that name.
    NotOne,
}

impl Portals {
    /// A colleague's status as the team board shows it, for `viewer`.
    pub(super) async fn colleague(
        &self,
        member_id: &MemberId,
        viewer: UserId,
        who: &Who,
    ) -> Result<Found, Refusal> {
        let (_, directory) = self.readable_directory(member_id, viewer).await?;
        let mut matching = directory.members.iter().filter(|m| match who {
            Who::Mentioned(id) => m.id == *id,
            Who::Named(name) => m.name.to_lowercase().contains(name.as_str()),
        });
        let (Some(one), None) = (matching.next(), matching.next()) else {
            return Ok(Found::NotOne);
        };
        let ends = self.timer_ends_of(member_id).await?;
        Ok(Found::One(shown(one, &ends)))
    }

    /// Who in `viewer`'s (first) department is in Do not disturb, away or on a break.
    pub(super) async fn focus(
        &self,
        member_id: &MemberId,
        viewer: UserId,
    ) -> Result<Focus, Refusal> {
        let (_, directory) = self.readable_directory(member_id, viewer).await?;
        let department = directory
            .members
            .iter()
            .find(|m| m.id == viewer)
            .and_then(|m| m.departments.first().copied());
        let mut away: Vec<&Colleague> = directory
            .members
            .iter()
            .filter(|m| department.is_none_or(|d| m.departments.contains(&d)))
            .filter(|m| m.status.is_some_and(|s| s != Status::Online))
            .collect();
        away.sort_by_cached_key(|m| (m.name.to_lowercase(), m.id));
        let ends = self.timer_ends_of(member_id).await?;
        Ok(Focus {
            department: department.and_then(|id| {
                directory
                    .departments
                    .iter()
                    .find(|d| d.id == id)
                    .map(|d| d.name.clone())
            }),
            more: away.len().saturating_sub(FOCUS_NAMES),
            members: away
                .into_iter()
                .take(FOCUS_NAMES)
                .map(|m| shown(m, &ends))
                .collect(),
        })
    }
}
