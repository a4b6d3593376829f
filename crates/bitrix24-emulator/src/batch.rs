//! `batch` (`docs/bitrix24.md`, "Calling REST methods"): up to 50 commands
//! `key → "method?query"`, answered together, each command's paging in `result_total` and
//! `result_next`.

use serde_json::{Map, Value, json};

use super::methods::call_method;
use super::php_form;
use super::wire::{Failure, fail, param, param_str, time_block};
use super::world::{AccessRec, World};

/// Runs a `batch` call's commands in order.
pub(super) fn batch(world: &mut World, rec: &AccessRec, params: &Value) -> Result<Value, Failure> {
    let commands = param(params, "cmd")
        .and_then(Value::as_object)
        .ok_or_else(|| fail(400, "ERROR_ARGUMENT", "Argument 'cmd' is null or empty"))?
        .clone();
    if commands.len() > 50 {
        return Err(fail(
            400,
            "ERROR_BATCH_LENGTH_EXCEEDED",
            "Max batch length exceeded",
        ));
    }
    let halt = param_str(params, "halt").is_some_and(|h| h == "1" || h == "true");
    let mut results = Map::new();
    let mut errors = Map::new();
    let mut totals = Map::new();
    let mut nexts = Map::new();
    let mut times = Map::new();
    for (key, command) in commands {
        let command = command.as_str().unwrap_or_default();
        let (method, query) = command.split_once('?').unwrap_or((command, ""));
        let sub_params = php_form::parse(query.as_bytes());
        match call_method(world, rec, &method.to_ascii_lowercase(), &sub_params) {
            Ok(answered) => {
                if let Some(total) = answered.total {
                    totals.insert(key.clone(), json!(total));
                }
                if let Some(next) = answered.next {
                    nexts.insert(key.clone(), json!(next));
                }
                times.insert(key.clone(), time_block(world.clock.now_ms()));
                results.insert(key, answered.result);
            }
            Err((_, code, description)) => {
                errors.insert(
                    key,
                    json!({"error": code, "error_description": description}),
                );
                if halt {
                    break;
                }
            }
        }
    }
    // PHP encodes empty maps as `[]`; so does the emulator.
    let as_php = |map: Map<String, Value>| {
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    };
    Ok(json!({
        "result": as_php(results),
        "result_error": as_php(errors),
        "result_total": as_php(totals),
        "result_next": as_php(nexts),
        "result_time": as_php(times),
    }))
}
