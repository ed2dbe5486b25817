//! Conversions at the script boundary: state to and from JSON, and a
//! `decide` result into a [`Verdict`].

use rhai::{Dynamic, Map};

use crate::strategy::Verdict;

/// How deep maps and arrays may nest in a state (`this` itself is level 1).
/// The store's JSON reader stops at 128 levels; a state this check lets
/// through always reads back, so `siglearn check` and a restart agree.
pub(crate) const MAX_STATE_DEPTH: usize = 64;

/// The state as JSON; refuses what JSON cannot hold exactly (non-finite
/// numbers, functions, signals or timestamps kept in the state) and states
/// nested deeper than [`MAX_STATE_DEPTH`].
pub(crate) fn state_to_json(state: &Dynamic) -> Result<serde_json::Value, String> {
    let mut path = vec!["this".to_owned()];
    check_json_safe(state, &mut path, 1)?;
    rhai::serde::from_dynamic::<serde_json::Value>(state).map_err(|e| format!("the state is not JSON: {e}"))
}

/// Whether the state is one [`state_to_json`] takes, without building the
/// JSON (the check after every `decide` and `learn`).
pub(crate) fn check_state(state: &Dynamic) -> Result<(), String> {
    check_json_safe(state, &mut vec!["this".to_owned()], 1)
}

/// A JSON state as a Rhai value.
pub(crate) fn json_to_state(state: &serde_json::Value) -> Result<Dynamic, String> {
    let value = rhai::serde::to_dynamic(state).map_err(|e| format!("cannot load the state: {e}"))?;
    if value.is_map() { Ok(value) } else { Err(format!("the state must be a JSON object, not {state}")) }
}

/// Walks the state; `path` holds the keys down to `value` and is only
/// formatted when something is wrong (the check runs on every snapshot).
fn check_json_safe(value: &Dynamic, path: &mut Vec<String>, depth: usize) -> Result<(), String> {
    let here = |path: &[String]| path.join(".");
    if depth > MAX_STATE_DEPTH && (value.is_map() || value.is_array()) {
        return Err(format!(
            "{} is nested {depth} levels deep; a state may nest maps and arrays at most {MAX_STATE_DEPTH} levels",
            abbreviated(&here(path))
        ));
    }
    if let Ok(number) = value.as_float() {
        if !number.is_finite() {
            return Err(format!(
                "{} is {number}; a state must hold finite numbers (JSON has no NaN)",
                here(path)
            ));
        }
        return Ok(());
    }
    if value.is_map() {
        if let Some(map) = value.read_lock::<Map>() {
            for (key, item) in map.iter() {
                if item.is_map()
                    || item.is_array()
                    || item.as_float().is_ok_and(|f| !f.is_finite())
                    || !simple(item)
                {
                    path.push(key.to_string());
                    check_json_safe(item, path, depth + 1)?;
                    path.pop();
                }
            }
        }
        return Ok(());
    }
    if value.is_array() {
        if let Some(array) = value.read_lock::<rhai::Array>() {
            for (i, item) in array.iter().enumerate() {
                if item.is_map()
                    || item.is_array()
                    || item.as_float().is_ok_and(|f| !f.is_finite())
                    || !simple(item)
                {
                    if let Some(last) = path.last_mut() {
                        last.push_str(&format!("[{i}]"));
                    }
                    check_json_safe(item, path, depth + 1)?;
                    if let Some(last) = path.last_mut() {
                        last.truncate(last.rfind('[').unwrap_or(last.len()));
                    }
                }
            }
        }
        return Ok(());
    }
    if simple(value) {
        return Ok(());
    }
    Err(format!(
        "{} holds a {}; a state may hold only numbers, strings, booleans, arrays and maps",
        here(path),
        value.type_name()
    ))
}

/// A key path cut to its start and end when it is long (a deep state's).
fn abbreviated(path: &str) -> String {
    if path.len() <= 80 {
        return path.to_owned();
    }
    let start: String = path.chars().take(40).collect();
    let end: String = path.chars().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{start}...{end}")
}

/// A value JSON holds as it is: unit, bool, int, finite float, string, char.
fn simple(value: &Dynamic) -> bool {
    value.is_unit()
        || value.is_bool()
        || value.is_int()
        || value.is_string()
        || value.is_char()
        || value.as_float().is_ok_and(f64::is_finite)
}

/// Reads `decide`'s result: `#{ take, score, size }` (score and size
/// optional) or a bare boolean.
pub(crate) fn verdict(result: &Dynamic) -> Result<Verdict, String> {
    if let Ok(take) = result.as_bool() {
        return Ok(Verdict { take, score: if take { 1.0 } else { 0.0 }, size: 1.0 });
    }
    let Some(map) = result.read_lock::<Map>() else {
        return Err(format!(
            "decide must return #{{ take, score, size }} or a bool, not a {}",
            result.type_name()
        ));
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "take" | "score" | "size") {
            return Err(format!("decide returned an unknown key {key:?}; the keys are take, score, size"));
        }
    }
    let take = match map.get("take") {
        Some(value) => value.as_bool().map_err(|t| format!("decide's take must be a bool, not a {t}"))?,
        None => return Err("decide's result has no take".to_owned()),
    };
    let number = |key: &str, default: f64| -> Result<f64, String> {
        let Some(value) = map.get(key) else { return Ok(default) };
        let number = value
            .as_float()
            .or_else(|_| value.as_int().map(|i| i as f64))
            .map_err(|t| format!("decide's {key} must be a number, not a {t}"))?;
        if number.is_finite() { Ok(number) } else { Err(format!("decide's {key} is {number}")) }
    };
    let score = number("score", if take { 1.0 } else { 0.0 })?;
    let size = number("size", 1.0)?;
    if size < 0.0 {
        return Err(format!("decide's size is {size}; it must not be negative"));
    }
    Ok(Verdict { take, score, size })
}
