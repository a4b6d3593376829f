//! The app's paid period on a portal as `app.info` gives it (`docs/bitrix24.md`, "Paid apps"):
//! the licence letter, whether the period expired, and the days left (negative in the grace
//! period after it ran out; none for a free or local app).

use serde_json::Value;

use crate::domain::Licence;

/// `app.info`, called on the portal with one of the app's tokens.
pub const APP_INFO: &str = "app.info";

/// What `app.info` says of the paid period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidPeriod {
    /// `STATUS`: F, D, T, P, L or S.
    pub licence: Option<Licence>,
    /// `PAYMENT_EXPIRED` is `Y`.
    pub expired: bool,
    /// `DAYS`: left until the period ends, negative past it.
    pub days: Option<i64>,
}

impl PaidPeriod {
    /// Reads `app.info`'s `result`, tolerating numbers sent as strings and flags as booleans;
    /// a field missing or unreadable counts as not said.
    pub fn from_app_info(result: &Value) -> Self {
        let expired = match &result["PAYMENT_EXPIRED"] {
            Value::String(flag) => flag.eq_ignore_ascii_case("Y"),
            Value::Bool(flag) => *flag,
            _ => false,
        };
        let days = match &result["DAYS"] {
            Value::Number(days) => days.as_i64(),
            Value::String(days) => days.trim().parse().ok(),
            _ => None,
        };
        Self {
            licence: result["STATUS"]
                .as_str()
                .and_then(|s| Licence::parse(s).ok()),
            expired,
            days,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_documented_answer_and_its_variants() {
        let free = PaidPeriod::from_app_info(&json!({
            "STATUS": "F", "PAYMENT_EXPIRED": "N", "DAYS": null, "INSTALLED": true
        }));
        assert_eq!(free.licence.expect("letter").as_str(), "F");
        assert!(!free.expired);
        assert_eq!(free.days, None);

        let grace = PaidPeriod::from_app_info(&json!({
            "STATUS": "S", "PAYMENT_EXPIRED": "Y", "DAYS": "-3"
        }));
        assert!(grace.expired);
        assert_eq!(grace.days, Some(-3));

        let odd = PaidPeriod::from_app_info(&json!({"STATUS": 7, "PAYMENT_EXPIRED": true}));
        assert_eq!(odd.licence, None);
        assert!(odd.expired);
    }
}
