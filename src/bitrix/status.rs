//! The messenger status methods (protocol doc §4): `im.user.status.set` with `STATUS`, and
//! `im.user.status.get`, which answers a string or `false` when the user never set one.

use serde_json::{Value, json};

use super::types::Status;

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
}
