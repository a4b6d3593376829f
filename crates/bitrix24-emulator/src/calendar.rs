//! The emulator's scripted side for calendars and working days: meetings added as a user would
//! add them in the calendar (with the calendar events Bitrix24 sends bound handlers), and a
//! working day opened, paused or closed as the user would in time tracking.

use super::Emulator;
use super::model::FormPost;
use super::world::{Meeting, WorkDay, World};
use bitrix24::domain::MemberId;

impl Emulator {
    /// Adds a busy entry from `from` to `to` (unix seconds) to the user's calendar; returns its
    /// id and the `ONCALENDARENTRYADD` event for each handler `client_id` bound to it.
    pub fn add_meeting(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        (from, to): (i64, i64),
    ) -> (u64, Vec<(String, FormPost)>) {
        let meeting = Meeting {
            id: 0,
            name: "Meeting".to_owned(),
            from,
            to,
            accessibility: "busy".to_owned(),
            all_day: false,
        };
        self.add_calendar_entry(member_id, client_id, user_id, meeting)
    }

    /// Adds `entry` (its id is given here) to the user's calendar; returns its id and the
    /// `ONCALENDARENTRYADD` event for each handler `client_id` bound to it.
    pub fn add_calendar_entry(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        entry: Meeting,
    ) -> (u64, Vec<(String, FormPost)>) {
        self.world()
            .add_calendar_entry(member_id, client_id, user_id, entry)
    }

    /// Deletes entry `id` from every calendar; returns the `ONCALENDARENTRYDELETE` events.
    pub fn remove_meeting(
        &self,
        member_id: &MemberId,
        client_id: &str,
        id: u64,
    ) -> Vec<(String, FormPost)> {
        let mut world = self.world();
        let mut owner = None;
        if let Some(portal) = world.portals.get_mut(member_id) {
            for (user_id, user) in &mut portal.users {
                let before = user.meetings.len();
                user.meetings.retain(|m| m.id != id);
                if user.meetings.len() != before {
                    owner = Some(*user_id);
                }
            }
        }
        owner.map_or_else(Vec::new, |user_id| {
            world.calendar_event(member_id, client_id, "ONCALENDARENTRYDELETE", id, user_id)
        })
    }

    /// Opens, pauses or closes the user's working day as they would in time tracking
    /// (`method`: `timeman.open`, `timeman.pause`, `timeman.close`); false if the day cannot
    /// go that way now.
    pub fn change_working_day(&self, member_id: &MemberId, user_id: u64, method: &str) -> bool {
        let mut world = self.world();
        let now = world.now();
        let Some(user) = world
            .portals
            .get_mut(member_id)
            .and_then(|p| p.users.get_mut(&user_id))
        else {
            return false;
        };
        match super::presence::next_day(user.day, method, now) {
            Some(day) => {
                user.day = day;
                true
            }
            None => false,
        }
    }

    /// The usual end of the user's day in time tracking's settings (`HH:MM:SS`).
    pub fn set_work_end(&self, member_id: &MemberId, user_id: u64, end: &str) {
        let mut world = self.world();
        if let Some(user) = world
            .portals
            .get_mut(member_id)
            .and_then(|p| p.users.get_mut(&user_id))
        {
            user.work_end = Some(end.to_owned());
        }
    }

    /// The user's working day.
    pub fn working_day(&self, member_id: &MemberId, user_id: u64) -> Option<WorkDay> {
        let world = self.world();
        let user = world.portals.get(member_id)?.users.get(&user_id)?;
        Some(user.day)
    }
}

impl World {
    /// Adds `entry` to the user's calendar with the next free id; returns the id and the
    /// `ONCALENDARENTRYADD` event for each handler `client_id` bound to it.
    pub fn add_calendar_entry(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        mut entry: Meeting,
    ) -> (u64, Vec<(String, FormPost)>) {
        let Some(portal) = self.portals.get_mut(member_id) else {
            return (0, Vec::new());
        };
        let id = 1 + portal
            .users
            .values()
            .flat_map(|u| u.meetings.iter().map(|m| m.id))
            .max()
            .unwrap_or(0);
        entry.id = id;
        let Some(user) = portal.users.get_mut(&user_id) else {
            return (0, Vec::new());
        };
        user.meetings.push(entry);
        let events = self.calendar_event(member_id, client_id, "ONCALENDARENTRYADD", id, user_id);
        (id, events)
    }

    /// A calendar event for entry `id`, as the portal sends it to each handler `client_id`
    /// bound to `event`: `data[id]` only, with the token of the user whose action fired it
    /// (`docs/bitrix24.md`, "Calendars and working time").
    pub fn calendar_event(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        event: &str,
        id: u64,
        user_id: u64,
    ) -> Vec<(String, FormPost)> {
        let handlers: Vec<String> = self
            .portals
            .get(member_id)
            .and_then(|p| p.installs.get(client_id))
            .map(|i| {
                i.events
                    .iter()
                    .filter(|b| b.event == event && !b.offline)
                    .map(|b| b.handler.clone())
                    .collect()
            })
            .unwrap_or_default();
        if handlers.is_empty() {
            return Vec::new();
        }
        let mut post = self.event(member_id, client_id, event, user_id);
        post.form.retain(|(key, _)| !key.starts_with("data["));
        post.form.push(("data[id]".into(), id.to_string()));
        handlers.into_iter().map(|h| (h, post.clone())).collect()
    }
}
