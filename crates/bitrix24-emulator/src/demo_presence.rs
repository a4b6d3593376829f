//! The demo portal's controls for statuses that set themselves: a meeting added to the current
//! user's calendar (with the calendar event delivered to the app, as Bitrix24 sends it), and
//! their working day opened, paused or closed as in time tracking. The meeting starts within the
//! minute and "Skip 1 hour" ends it, so the app is seen following both ways.

use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::context::{PortalCtx, lock};
use super::portal_ui::{Control, back, deliver, local};
use super::world::{Meeting, User, WorkDay};

/// When a demo meeting starts, after the portal's clock's now, and how long it lasts: it starts
/// within the minute, and "Skip 1 hour" ends it.
const MEETING: (i64, i64) = (60, 3600);

/// `/demo/meeting` and `/demo/working-day`.
pub(super) fn router() -> Router<PortalCtx> {
    Router::new()
        .route("/demo/meeting", post(meeting))
        .route("/demo/working-day", post(working_day))
}

/// Adds a busy meeting to the current user's calendar, from a minute ahead for an hour.
async fn meeting(State(ctx): State<PortalCtx>, Form(control): Form<Control>) -> Redirect {
    let events = {
        let mut world = lock(&ctx.shared);
        let start = world.now() + MEETING.0;
        let meeting = Meeting {
            id: 0,
            name: "Demo meeting".to_owned(),
            from: start,
            to: start + MEETING.1,
            accessibility: "busy".to_owned(),
            all_day: false,
        };
        let added = world.add_calendar_entry(&ctx.member_id, &control.app, control.user, meeting);
        added.1
    };
    for (handler, event) in events {
        deliver(&event, vec![handler]).await;
    }
    back(&control)
}

#[derive(Deserialize)]
struct DayChange {
    #[serde(flatten)]
    control: Control,
    /// `open`, `pause` or `close`.
    action: String,
}

/// Opens, pauses or closes the current user's working day.
async fn working_day(State(ctx): State<PortalCtx>, Form(change): Form<DayChange>) -> Redirect {
    let method = format!("timeman.{}", change.action);
    {
        let mut world = lock(&ctx.shared);
        let now = world.now();
        if let Some(user) = world
            .portals
            .get_mut(&ctx.member_id)
            .and_then(|p| p.users.get_mut(&change.control.user))
            && let Some(day) = super::presence::next_day(user.day, &method, now)
        {
            user.day = day;
        }
    }
    back(&change.control)
}

/// A user's working day and their next meeting, in a few words, for the portal's panel.
pub(super) fn presence(user: &User, now: i64) -> String {
    let day = match user.day {
        WorkDay::Closed => "day closed",
        WorkDay::Opened(_) => "day open",
        WorkDay::Paused(_) => "day paused",
    };
    let next = user
        .meetings
        .iter()
        .filter(|m| m.to > now)
        .min_by_key(|m| m.from)
        .map(|m| {
            format!(
                " · meeting {}–{}",
                local(m.from, "%H:%M"),
                local(m.to, "%H:%M")
            )
        })
        .unwrap_or_default();
    format!("{day}{next}")
}
