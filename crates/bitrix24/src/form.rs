//! PHP-style bracketed form fields (`auth[access_token]=…`, `LANG_ALL[en][TITLE]=…`), the way
//! Bitrix24 encodes events and the way it reads REST parameters (`docs/bitrix24.md`, "Events",
//! "Calling REST methods"), turned into a JSON value. Later duplicates of a key win, as in PHP.

use serde_json::{Map, Value};

/// Nesting deeper than this is refused; Bitrix24 never sends more than three levels.
const MAX_DEPTH: usize = 5;
/// More fields than this is refused.
const MAX_FIELDS: usize = 500;

/// Why a form was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Too many fields.
    #[error("too many form fields")]
    TooManyFields,
    /// Brackets nested too deep or not closed.
    #[error("malformed field name {0:?}")]
    BadKey(String),
}

/// Parses decoded `(key, value)` pairs into an object.
pub fn to_json<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Value, FormError> {
    let mut root = Value::Object(Map::new());
    for (count, (key, value)) in pairs.into_iter().enumerate() {
        if count >= MAX_FIELDS {
            return Err(FormError::TooManyFields);
        }
        let path =
            split_key(key).ok_or_else(|| FormError::BadKey(key.chars().take(64).collect()))?;
        insert(&mut root, &path, Value::String(value.to_owned()));
    }
    Ok(root)
}

/// `a[b][]` → `["a", "b", ""]`; `None` for unbalanced or too deep names.
fn split_key(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        path.push(&inner[..end]);
        rest = &inner[end + 1..];
        if path.len() > MAX_DEPTH {
            return None;
        }
    }
    Some(path)
}

fn insert(node: &mut Value, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    if first.is_empty() {
        if !node.is_array() {
            *node = Value::Array(Vec::new());
        }
        if let Value::Array(items) = node {
            let mut child = Value::Null;
            insert(&mut child, rest, value);
            items.push(child);
        }
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        let child = map.entry((*first).to_owned()).or_insert(Value::Null);
        insert(child, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_become_nested_objects() {
        let pairs = [
            ("event", "ONAPPINSTALL"),
            ("auth[access_token]", "a"),
            ("auth[member_id]", "m"),
            ("LANG_ALL[en][TITLE]", "Status"),
            ("ids[]", "1"),
            ("ids[]", "2"),
        ];
        let value = to_json(pairs).expect("parses");
        assert_eq!(
            value,
            json!({"event":"ONAPPINSTALL","auth":{"access_token":"a","member_id":"m"},
                   "LANG_ALL":{"en":{"TITLE":"Status"}},"ids":["1","2"]})
        );
    }

    #[test]
    fn later_duplicates_win_and_shapes_may_change() {
        let value = to_json([("a", "1"), ("a[b]", "2"), ("a", "3")]).expect("parses");
        assert_eq!(value, json!({"a":"3"}));
    }

    #[test]
    fn malformed_names_are_refused() {
        for key in ["[x]", "a[b", "a[1][2][3][4][5]"] {
            assert!(to_json([(key, "v")]).is_err(), "{key} accepted");
        }
        let many: Vec<(String, String)> = (0..=MAX_FIELDS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(
            to_json(many.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            Err(FormError::TooManyFields)
        );
    }
}
