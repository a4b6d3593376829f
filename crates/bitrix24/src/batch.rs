//! `batch` (`docs/bitrix24.md`, "Calling REST methods"): up to 50 commands in one request, answered
//! together. The batch itself succeeds even when commands fail; each command's result or error is
//! looked up by its key.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ErrorCode;

/// Most commands Bitrix24 takes in one batch.
pub const MAX_COMMANDS: usize = 50;

/// The method's name.
pub const METHOD: &str = "batch";

/// Parameters running `commands` (key → `method?query`) in order, going on past failures.
pub fn params<K: Into<String>>(commands: impl IntoIterator<Item = (K, String)>) -> Value {
    let cmd: Map<String, Value> = commands
        .into_iter()
        .map(|(key, command)| (key.into(), Value::String(command)))
        .collect();
    serde_json::json!({ "halt": 0, "cmd": cmd })
}

/// The answer of a `batch` call.
#[derive(Debug, Default)]
pub struct BatchAnswer {
    results: Map<String, Value>,
    errors: Map<String, Value>,
    totals: Map<String, Value>,
}

impl<'de> Deserialize<'de> for BatchAnswer {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            result: Value,
            #[serde(default)]
            result_error: Value,
            #[serde(default)]
            result_total: Value,
        }
        // PHP encodes an empty map as `[]`, so either shape may arrive.
        fn map(value: Value) -> Map<String, Value> {
            match value {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        }
        let raw = Raw::deserialize(de)?;
        Ok(Self {
            results: map(raw.result),
            errors: map(raw.result_error),
            totals: map(raw.result_total),
        })
    }
}

impl BatchAnswer {
    /// The result of command `key`, if it succeeded.
    pub fn result(&self, key: &str) -> Option<&Value> {
        self.results.get(key)
    }

    /// How many items list command `key` found in all (`result_total`).
    pub fn total(&self, key: &str) -> Option<usize> {
        let total = self.totals.get(key)?;
        total
            .as_u64()
            .or_else(|| total.as_str()?.parse().ok())
            .and_then(|n| usize::try_from(n).ok())
    }

    /// The error code of command `key`, if it failed.
    pub fn error(&self, key: &str) -> Option<ErrorCode> {
        let error = self.errors.get(key)?;
        Some(ErrorCode::parse(
            error
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN"),
        ))
    }

    /// Every failed command's key and error code.
    pub fn errors(&self) -> impl Iterator<Item = (&str, ErrorCode)> + '_ {
        self.errors
            .keys()
            .filter_map(|key| Some((key.as_str(), self.error(key)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_maps_may_arrive_as_php_arrays() {
        let answer: BatchAnswer =
            serde_json::from_str(r#"{"result":{"a":true},"result_error":[]}"#).expect("parses");
        assert_eq!(answer.result("a"), Some(&Value::Bool(true)));
        assert_eq!(answer.errors().count(), 0);
        let failed: BatchAnswer = serde_json::from_str(
            r#"{"result":[],"result_error":{"b":{"error":"STATUS_ERROR","error_description":"x"}}}"#,
        )
        .expect("parses");
        assert_eq!(failed.error("b"), Some(ErrorCode::StatusError));
        assert!(failed.result("b").is_none());
    }
}
