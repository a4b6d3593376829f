//! Form fields as the portal's PHP reads them (`parse_str`): `auth[access_token]=…` nests,
//! `ids[]=…` appends, a later field overwrites an earlier one, a name whose first `[` is never
//! closed keeps it as `_`, and `.` or a space in the base name becomes `_`. Written for the
//! emulator alone: a client and its fake sharing one parser would agree on its mistakes.

use serde_json::{Map, Value};

/// PHP's `max_input_nesting_level`.
const MAX_NESTING: usize = 64;

/// The fields of a URL-encoded form (or query string) as one object.
pub fn parse(encoded: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (name, value) in url::form_urlencoded::parse(encoded) {
        let Some((base, keys)) = name_path(&name) else {
            continue;
        };
        let mut node = match &mut root {
            Value::Object(map) => map.entry(base).or_insert(Value::Null),
            _ => continue,
        };
        for key in keys {
            node = child(node, key);
        }
        *node = Value::String(value.into_owned());
    }
    root
}

/// The base name and the bracketed keys after it (`None` for an append), PHP's way.
fn name_path(name: &str) -> Option<(String, Vec<Option<String>>)> {
    let open = name.find('[');
    let closed = open.is_some_and(|at| name[at..].contains(']'));
    let (base, mut rest) = match open {
        Some(at) if closed => (&name[..at], &name[at..]),
        _ => (name, ""),
    };
    let base: String = base
        .chars()
        .map(|c| {
            if c == '.' || c == ' ' || c == '[' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if base.is_empty() {
        return None;
    }
    let mut keys = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        let key = &inner[..end];
        keys.push((!key.is_empty()).then(|| key.to_owned()));
        rest = &inner[end + 1..];
        if keys.len() >= MAX_NESTING {
            return None;
        }
    }
    Some((base, keys))
}

/// The child of `node` at `key` (`None`: a new element at the end), made a container first.
fn child(node: &mut Value, key: Option<String>) -> &mut Value {
    if !matches!(node, Value::Object(_) | Value::Array(_)) {
        *node = Value::Array(Vec::new());
    }
    if let (Value::Array(items), Some(name)) = (&*node, &key) {
        // A named key turns PHP's list into a map, numbered entries kept.
        if name.parse::<usize>().ok() != Some(items.len()) {
            let map = items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect();
            *node = Value::Object(map);
        }
    }
    match (node, key) {
        (Value::Array(items), _) => {
            items.push(Value::Null);
            let last = items.len() - 1;
            &mut items[last]
        }
        (Value::Object(map), Some(name)) => map.entry(name).or_insert(Value::Null),
        (Value::Object(map), None) => {
            let next = map
                .keys()
                .filter_map(|k| k.parse::<usize>().ok())
                .max()
                .map_or(0, |n| n + 1);
            map.entry(next.to_string()).or_insert(Value::Null)
        }
        (other, _) => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Value {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        parse(encoded.as_bytes())
    }

    #[test]
    fn brackets_nest_and_empty_ones_append() {
        assert_eq!(
            form(&[
                ("auth[access_token]", "a"),
                ("LANG_ALL[en][TITLE]", "Status"),
                ("ids[]", "1"),
                ("ids[]", "2"),
                ("cmd[a]", "profile"),
            ]),
            json!({"auth": {"access_token": "a"}, "LANG_ALL": {"en": {"TITLE": "Status"}},
                   "ids": ["1", "2"], "cmd": {"a": "profile"}})
        );
    }

    #[test]
    fn php_quirks() {
        assert_eq!(form(&[("a", "1"), ("a", "2")]), json!({"a": "2"}));
        assert_eq!(form(&[("a.b c", "1")]), json!({"a_b_c": "1"}));
        assert_eq!(form(&[("a[b", "1")]), json!({"a_b": "1"}));
        assert_eq!(form(&[("[x]", "1")]), json!({}));
        assert_eq!(
            form(&[("l[]", "x"), ("l[k]", "y"), ("l[]", "z")]),
            json!({"l": {"0": "x", "k": "y", "1": "z"}})
        );
    }
}
