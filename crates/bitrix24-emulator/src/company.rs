//! The emulator's scripted side for the company a portal holds: departments, positions,
//! vacations, statuses set in the messenger itself, what the portal granted and which methods
//! its REST knows.

use super::Emulator;
use super::world::{self, Department, Portal, User};
use bitrix24::domain::{MemberId, Status};

/// A user to create on a portal.
#[derive(Clone, Debug)]
pub struct UserSpec {
    /// First name.
    pub name: String,
    /// Last name.
    pub last_name: String,
    /// Portal administrator.
    pub admin: bool,
    /// The departments they belong to (the portal's root department, 1, by default).
    pub departments: Vec<u64>,
    /// Their position.
    pub position: String,
}

impl UserSpec {
    /// A user with these names, in the root department.
    pub fn new(name: &str, last_name: &str, admin: bool) -> Self {
        Self {
            name: name.to_owned(),
            last_name: last_name.to_owned(),
            admin,
            departments: vec![1],
            position: String::new(),
        }
    }

    /// The same user in department `id`, as `position`.
    pub fn in_department(mut self, id: u64, position: &str) -> Self {
        self.departments = vec![id];
        self.position = position.to_owned();
        self
    }

    pub(super) fn into_user(self) -> User {
        User {
            name: self.name,
            last_name: self.last_name,
            admin: self.admin,
            time_zone: world::USER_TIME_ZONE.to_owned(),
            departments: self.departments,
            position: self.position,
            ..User::default()
        }
    }
}

impl Emulator {
    fn with_portal(&self, member_id: &MemberId, change: impl FnOnce(&mut Portal)) {
        if let Some(portal) = self.world().portals.get_mut(member_id) {
            change(portal);
        }
    }

    fn with_user(&self, member_id: &MemberId, user_id: u64, change: impl FnOnce(&mut User)) {
        self.with_portal(member_id, |portal| {
            if let Some(user) = portal.users.get_mut(&user_id) {
                change(user);
            }
        });
    }

    /// Adds a department under the root (1) and returns its id.
    pub fn add_department(&self, member_id: &MemberId, name: &str) -> u64 {
        let mut id = 0;
        self.with_portal(member_id, |portal| {
            id = portal.departments.iter().map(|d| d.id).max().unwrap_or(0) + 1;
            portal.departments.push(Department {
                id,
                name: name.to_owned(),
                parent: Some(1),
                sort: 500 + i64::try_from(id).unwrap_or(0),
            });
        });
        id
    }

    /// A vacation until `until` (an ISO date), or none.
    pub fn set_absent(&self, member_id: &MemberId, user_id: u64, until: Option<&str>) {
        self.with_user(member_id, user_id, |user| {
            user.absent_until = until.map(str::to_owned);
        });
    }

    /// The status a user set in the messenger itself, not through the app.
    pub fn set_user_status(&self, member_id: &MemberId, user_id: u64, status: Status) {
        self.with_user(member_id, user_id, |user| user.status = Some(status));
    }

    /// A user's profile time zone.
    pub fn set_time_zone(&self, member_id: &MemberId, user_id: u64, zone: &str) {
        self.with_user(member_id, user_id, |user| user.time_zone = zone.to_owned());
    }

    /// The scopes the portal granted the app, as an administrator may change them.
    pub fn set_scope(&self, member_id: &MemberId, client_id: &str, scope: &str) {
        self.with_portal(member_id, |portal| {
            if let Some(install) = portal.installs.get_mut(client_id) {
                install.scope = scope.to_owned();
            }
        });
    }

    /// Makes the portal's REST lack `method`, as an older on-premise portal's does.
    pub fn remove_method(&self, member_id: &MemberId, method: &str) {
        self.with_portal(member_id, |portal| {
            portal.missing_methods.push(method.to_ascii_lowercase());
        });
    }
}
