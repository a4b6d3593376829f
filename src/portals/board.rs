//! The team board: colleagues with their status, the end of a timed status set through this
//! app, and a vacation mark — the viewer's own department first, a department picker, a name
//! search and pages of [`PER_PAGE`], all cut from the portal's shared directory read
//! (`team.rs`), so a viewer's search or page costs Bitrix24 nothing. Only the employees that
//! read lists see it: an extranet user or a guest gets a sentence saying why.

use std::collections::HashMap;
use std::sync::Arc;

use super::team::Directory;
use super::{Portals, Refusal};
use bitrix24::domain::{MemberId, PortalDomain, Status, UserId};
use bitrix24::team::{self, Colleague, Department};

/// Colleagues on one page.
pub const PER_PAGE: usize = 50;
/// The longest search text taken.
pub const MAX_SEARCH: usize = 100;

/// Which department's members the board shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepartmentChoice {
    /// The viewer's own (their first), or everyone when they belong to none.
    Own,
    /// Everyone on the portal.
    All,
    /// The department of this id.
    Id(u64),
}

/// What a viewer asks the board for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamQuery {
    pub department: DepartmentChoice,
    /// Text a name or position contains, lower-cased; empty for all.
    pub search: String,
    /// Counted from 1.
    pub page: usize,
}

impl TeamQuery {
    /// Reads `department` (an id or `all`), `q` and `page` as the API and the form send them.
    pub fn parse(department: &str, q: &str, page: &str) -> Result<Self, &'static str> {
        let department = match department.trim() {
            "" => DepartmentChoice::Own,
            "all" => DepartmentChoice::All,
            id => DepartmentChoice::Id(id.parse().map_err(|_| "department")?),
        };
        let search = q.trim();
        if search.chars().count() > MAX_SEARCH || search.chars().any(char::is_control) {
            return Err("q");
        }
        let page = match page.trim() {
            "" => 1,
            n => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=team::MAX_MEMBERS).contains(n))
                .ok_or("page")?,
        };
        Ok(Self {
            department,
            search: search.to_lowercase(),
            page,
        })
    }
}

/// A colleague as the board shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardMember {
    /// Their id.
    pub id: UserId,
    /// "First Last".
    pub name: String,
    pub position: String,
    /// Their messenger status.
    pub status: Status,
    /// When a timed status set through this app ends (unix seconds).
    pub until: Option<i64>,
    /// Away from work by the portal's absence chart (vacation, sick leave).
    pub absent: bool,
}

/// One page of the board.
#[derive(Debug)]
pub struct Board {
    /// The colleagues on this page.
    pub members: Vec<BoardMember>,
    /// Every department, the viewer's own first.
    pub departments: Vec<Department>,
    /// The department shown (`None`: everyone).
    pub department: Option<u64>,
    /// The search, as given.
    pub search: String,
    /// This page, from 1.
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
    /// Unix seconds when Bitrix24 was read.
    pub read_at: i64,
    /// The portal's domain (it frames the page).
    pub domain: PortalDomain,
}

impl Portals {
    /// The domain of an installed portal (it frames the page).
    pub async fn portal_domain(&self, member_id: &MemberId) -> Result<PortalDomain, Refusal> {
        Ok(self.installed(member_id).await?.record.domain)
    }

    /// The board for `viewer` of an installed portal.
    pub async fn board(
        &self,
        member_id: &MemberId,
        viewer: UserId,
        query: &TeamQuery,
    ) -> Result<Board, Refusal> {
        let (domain, directory) = self.readable_directory(member_id, viewer).await?;
        let own: Vec<u64> = directory
            .members
            .iter()
            .find(|m| m.id == viewer)
            .map(|m| m.departments.clone())
            .unwrap_or_default();
        let department = match query.department {
            DepartmentChoice::Own => own.first().copied(),
            DepartmentChoice::All => None,
            DepartmentChoice::Id(id) => Some(id),
        };
        let mut chosen: Vec<_> = directory
            .members
            .iter()
            .filter(|m| department.is_none_or(|d| m.departments.contains(&d)))
            .filter(|m| {
                query.search.is_empty()
                    || m.name.to_lowercase().contains(&query.search)
                    || m.position.to_lowercase().contains(&query.search)
            })
            .collect();
        chosen.sort_by_cached_key(|m| (m.name.to_lowercase(), m.id));
        let pages = chosen.len().div_ceil(PER_PAGE).max(1);
        let ends = self.timer_ends_of(member_id).await?;
        let members = chosen
            .into_iter()
            .skip((query.page - 1) * PER_PAGE)
            .take(PER_PAGE)
            .map(|m| shown(m, &ends))
            .collect();
        let mut departments = directory.departments.clone();
        departments.sort_by_key(|d| (!own.contains(&d.id), d.sort, d.name.to_lowercase()));
        Ok(Board {
            members,
            departments,
            department,
            search: query.search.clone(),
            page: query.page,
            pages,
            read_at: directory.read_at,
            domain,
        })
    }

    /// The portal's directory, for `viewer`: only where the portal granted the board's scopes
    /// (checked before anything is sent) and only to one of the employees it lists. Answers the
    /// portal's domain with it.
    pub(super) async fn readable_directory(
        &self,
        member_id: &MemberId,
        viewer: UserId,
    ) -> Result<(PortalDomain, Arc<Directory>), Refusal> {
        let portal = match self.installed(member_id).await {
            Ok(portal) => portal,
            Err(refusal) => {
                self.team.forget(member_id);
                return Err(refusal);
            }
        };
        if let Some(scope) = team::missing_scope(&portal.record.scope) {
            return Err(Refusal::ScopeMissing(scope));
        }
        let directory = self.directory(member_id, viewer).await?;
        if !directory.serves(viewer) {
            tracing::info!("a viewer who is not an employee asked for the team's statuses");
            return Err(Refusal::EmployeesOnly);
        }
        Ok((portal.record.domain, directory))
    }

    /// When each timed status set through this app ends, by user.
    pub(super) async fn timer_ends_of(
        &self,
        member_id: &MemberId,
    ) -> Result<HashMap<UserId, i64>, Refusal> {
        Ok(self
            .store
            .timer_ends(member_id)
            .await?
            .into_iter()
            .collect())
    }
}

/// A colleague as the board shows them, with the end of their timed status.
pub(super) fn shown(colleague: &Colleague, ends: &HashMap<UserId, i64>) -> BoardMember {
    BoardMember {
        id: colleague.id,
        name: colleague.name.clone(),
        position: colleague.position.clone(),
        status: colleague.status.unwrap_or(Status::Online),
        until: ends.get(&colleague.id).copied(),
        absent: colleague.absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_read_or_refused_naming_the_field() {
        let query = TeamQuery::parse("3", " Anna ", "2").expect("valid");
        assert_eq!(query.department, DepartmentChoice::Id(3));
        assert_eq!(query.search, "anna");
        assert_eq!(query.page, 2);
        let own = TeamQuery::parse("", "", "").expect("valid");
        assert_eq!((own.department, own.page), (DepartmentChoice::Own, 1));
        assert_eq!(
            TeamQuery::parse("all", "", "1").map(|q| q.department),
            Ok(DepartmentChoice::All)
        );
        assert_eq!(TeamQuery::parse("x", "", ""), Err("department"));
        assert_eq!(TeamQuery::parse("", "", "0"), Err("page"));
        assert_eq!(TeamQuery::parse("", "", "-1"), Err("page"));
        assert_eq!(TeamQuery::parse("", &"a".repeat(101), ""), Err("q"));
        assert_eq!(TeamQuery::parse("", "a\u{0}b", ""), Err("q"));
    }
}
