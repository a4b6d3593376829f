//! The messenger status methods (`docs/bitrix24.md`, "Status methods"): `im.user.status.set` with
//! `STATUS`, and `im.user.status.get`, which answers a string or `false` when the user never set
//! one.

use serde_json::{Value, json};

use super::batch::{self, BatchAnswer};
use super::error::ErrorCode;
use super::presence;
use super::verify::{PROFILE, Profile};
use crate::domain::Status;

/// Sets the calling user's status.
pub const SET: &str = "im.user.status.set";
/// Reads the calling user's status.
pub const GET: &str = "im.user.status.get";

/// Parameters of [`SET`].
pub fn set_params(status: Status) -> Value {
    json!({ "STATUS": status.as_str() })
}

/// The answer of [`GET`]: `false` (no status row yet) and anything unknown read as online,
/// which is what the messenger shows then.
pub fn read(result: &Value) -> Status {
    result
        .as_str()
        .and_then(|s| Status::parse(s).ok())
        .unwrap_or(Status::Online)
}

/// A `batch` command line (`method?query`) for [`SET`].
pub fn set_command(status: Status) -> String {
    format!("{SET}?STATUS={}", status.as_str())
}

/// What the status page shows about the token's user — who they are and their status — read in
/// one `batch` round trip, after setting a status first when one is given.
#[derive(Debug)]
pub struct PageRead {
    /// The user, if the portal confirmed the token.
    pub profile: Option<Profile>,
    /// The status, if it could be read.
    pub status: Option<Status>,
    /// The status before the change, when one was set.
    pub before: Option<Status>,
    /// Why setting the status failed, if it did.
    pub set_refused: Option<ErrorCode>,
    /// Why reading the user failed, if it did.
    pub profile_refused: Option<ErrorCode>,
    /// The usual end of the user's working day, minutes after midnight, when time tracking or
    /// the calendar says ([`crate::presence::work_end`]).
    pub work_end: Option<u16>,
}

/// The `batch` parameters behind [`PageRead`]: a change reads the status it replaces first;
/// with `hours` (the portal granted `timeman` or `calendar`), the working hours are read too.
pub fn page_batch(set: Option<Status>, hours: bool) -> Value {
    let set = set
        .into_iter()
        .flat_map(|status| [("before", GET.to_owned()), ("set", set_command(status))]);
    let hours = [
        ("hours", presence::TIMEMAN_SETTINGS.to_owned()),
        ("company_hours", presence::CALENDAR_SETTINGS.to_owned()),
    ]
    .into_iter()
    .filter(|_| hours);
    let read = [("profile", PROFILE.to_owned()), ("status", GET.to_owned())];
    batch::params(set.chain(read).chain(hours))
}

/// The `batch` parameters that read the status (`before`) and then set `status` (`set`): a
/// scheduled change that must remember what it replaced, in one request.
pub fn swap_batch(status: Status) -> Value {
    batch::params([("before", GET.to_owned()), ("set", set_command(status))])
}

/// What a [`swap_batch`] found before the change, or why the change was refused.
pub fn swapped(answer: &BatchAnswer) -> Result<Status, ErrorCode> {
    match answer.error("set") {
        Some(code) => Err(code),
        None => Ok(answer.result("before").map_or(Status::Online, read)),
    }
}

impl PageRead {
    /// Reads the answer to [`page_batch`].
    pub fn from_answer(answer: &BatchAnswer) -> Self {
        Self {
            profile: answer
                .result("profile")
                .and_then(|p| serde_json::from_value::<Profile>(p.clone()).ok()),
            status: answer.result("status").map(read),
            before: answer.result("before").map(read),
            set_refused: answer.error("set"),
            profile_refused: answer.error("profile"),
            work_end: presence::work_end(answer.result("hours"), answer.result("company_hours")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_and_unknown_values_read_as_online() {
        assert_eq!(read(&json!("dnd")), Status::Dnd);
        assert_eq!(read(&json!(false)), Status::Online);
        assert_eq!(read(&json!("idle")), Status::Online);
        assert_eq!(set_params(Status::Break), json!({"STATUS": "break"}));
        assert_eq!(set_command(Status::Away), "im.user.status.set?STATUS=away");
    }

    #[test]
    fn the_page_batch_sets_first_then_reads() {
        let commands = page_batch(Some(Status::Dnd), false);
        let keys: Vec<&String> = commands["cmd"].as_object().expect("cmd").keys().collect();
        assert_eq!(keys, ["before", "set", "profile", "status"]);
        assert_eq!(
            page_batch(None, false)["cmd"]
                .as_object()
                .expect("cmd")
                .len(),
            2
        );
        assert_eq!(
            page_batch(None, true)["cmd"]
                .as_object()
                .expect("cmd")
                .len(),
            4
        );
        let answer: BatchAnswer = serde_json::from_value(json!({
            "result": {"profile": {"ID": "7", "NAME": "Anna"}, "status": "away"},
            "result_error": {"set": {"error": "STATUS_ERROR"}}
        }))
        .expect("answer");
        let page = PageRead::from_answer(&answer);
        assert_eq!(
            page.profile.and_then(|p| p.user_id()),
            crate::domain::UserId::new(7).ok()
        );
        assert_eq!(page.status, Some(Status::Away));
        assert_eq!(page.set_refused, Some(ErrorCode::StatusError));
    }
}
