//! Trades for the learning read-model tests.

use serde_json::Value;
use siglearn_plugin_api::{MILLIS_PER_DAY, Side, Signal};

use crate::analytics::fixtures::{trade, with_signal};
use crate::trade::Trade;

pub(super) const DAY: i64 = MILLIS_PER_DAY;
/// 2024-01-01, a Monday, as a UTC day number.
pub(super) const JAN_1_2024: i64 = 19_723;

/// A one-minute long trade, id `t000`..., exiting `i + 1` minutes into
/// 2024-01-01 with return `r`, its signal changed by `edit`.
pub(super) fn nth(i: usize, r: f64, edit: impl FnOnce(&mut Signal)) -> Trade {
    let exit = JAN_1_2024 * DAY + (i as i64 + 1) * 60_000;
    with_signal(trade(&format!("t{i:03}"), Side::Long, exit - 60_000, exit, r), edit)
}

pub(super) fn exiting_at(id: &str, exit_ms: i64, r: f64) -> Trade {
    trade(id, Side::Long, exit_ms - 1_000, exit_ms, r)
}

/// Deterministic noise in [-0.5, 0.5), a different draw for every `i`.
pub(super) fn noise(i: usize) -> f64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    (x % 10_000) as f64 / 10_000.0 - 0.5
}

pub(super) fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|item| item[key].as_str().unwrap().to_owned()).collect()
}
