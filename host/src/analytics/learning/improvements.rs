//! `GET /api/learning/improvements`: the win-rate trend and each strategy's
//! threshold, weight and version history.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use siglearn_plugin_api::Timestamp;

use super::weekly::weekly;
use crate::analytics::moments::mean;
use crate::analytics::sort_in_exit_order;
use crate::timestamp::format_timestamp;
use crate::trade::Trade;
use crate::versions::VersionRecord;

/// The body of `GET /api/learning/improvements`; `versions` holds each
/// strategy's name and versions.
///
/// `{win_rate_trend, threshold_history, weight_history, version_history}`:
/// `win_rate_trend` is `{weekly, slope_per_week, n}`, the weekly series of
/// every trade that exited by `now` and the least-squares slope of its weekly
/// win rate over the `n` weeks with trades; the two histories map each
/// strategy whose states have a numeric `threshold` (every such version) or a
/// `weights` object of numbers (the versions where it changed) to
/// `[{version, at, reason, threshold | weights}]`; `version_history` lists
/// every version as `{strategy, version, parent, reason, at, code_hash}` by
/// time, then strategy.
pub fn improvements(trades: &[Trade], versions: &[(String, Vec<VersionRecord>)], now: Timestamp) -> Value {
    let mut ordered: Vec<&Trade> = trades.iter().filter(|trade| trade.outcome.exit_ts <= now).collect();
    sort_in_exit_order(&mut ordered);
    let weekly = weekly(&ordered);
    // x is the week's index, so the slope is per week even across empty weeks.
    let points: Vec<(f64, f64)> = (0..weekly.len())
        .filter_map(|index| Some((index as f64, weekly[index]["win_rate"].as_f64()?)))
        .collect();
    let mut histories: BTreeMap<&str, Vec<&VersionRecord>> = BTreeMap::new();
    for (name, records) in versions {
        histories.entry(name.as_str()).or_default().extend(records);
    }
    for records in histories.values_mut() {
        records.sort_by_key(|record| record.version);
    }
    json!({
        "win_rate_trend": { "weekly": weekly, "slope_per_week": least_squares_slope(&points), "n": points.len() },
        "threshold_history": per_strategy(&histories, threshold_points),
        "weight_history": per_strategy(&histories, weight_points),
        "version_history": version_history(&histories),
    })
}

/// The least-squares slope of y on x; `None` under two points or when every
/// x is equal.
fn least_squares_slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let mean_x = mean(&points.iter().map(|&(x, _)| x).collect::<Vec<_>>())?;
    let mean_y = mean(&points.iter().map(|&(_, y)| y).collect::<Vec<_>>())?;
    let sxy: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Each strategy's non-empty history as `points` makes it.
fn per_strategy(
    histories: &BTreeMap<&str, Vec<&VersionRecord>>,
    points: impl Fn(&[&VersionRecord]) -> Vec<Value>,
) -> BTreeMap<String, Vec<Value>> {
    histories
        .iter()
        .map(|(name, records)| ((*name).to_owned(), points(records)))
        .filter(|(_, points)| !points.is_empty())
        .collect()
}

/// `{version, at, reason}` of a version, plus `key: value`.
fn version_point(record: &VersionRecord, key: &str, value: Value) -> Value {
    let mut point = json!({
        "version": record.version.0,
        "at": format_timestamp(record.created_at),
        "reason": record.reason.as_str(),
    });
    point[key] = value;
    point
}

fn threshold_points(records: &[&VersionRecord]) -> Vec<Value> {
    let point = |record: &&VersionRecord| {
        let threshold = record.state.get("threshold")?.as_f64()?;
        Some(version_point(record, "threshold", json!(threshold)))
    };
    records.iter().filter_map(point).collect()
}

/// The versions whose weights differ from the last weights seen.
fn weight_points(records: &[&VersionRecord]) -> Vec<Value> {
    let mut points = Vec::new();
    let mut last: Option<&serde_json::Map<String, Value>> = None;
    for record in records {
        let Some(weights) = numeric_weights(&record.state) else { continue };
        if last != Some(weights) {
            points.push(version_point(record, "weights", Value::Object(weights.clone())));
            last = Some(weights);
        }
    }
    points
}

/// The state's `weights` when it is an object of numbers.
fn numeric_weights(state: &Value) -> Option<&serde_json::Map<String, Value>> {
    state.get("weights")?.as_object().filter(|weights| weights.values().all(Value::is_number))
}

fn version_history(histories: &BTreeMap<&str, Vec<&VersionRecord>>) -> Vec<Value> {
    let mut all: Vec<(&str, &VersionRecord)> =
        histories.iter().flat_map(|(name, records)| records.iter().map(|record| (*name, *record))).collect();
    all.sort_by_key(|(name, record)| (record.created_at, *name, record.version));
    let entry = |(name, record): (&str, &VersionRecord)| {
        json!({
            "strategy": name,
            "version": record.version.0,
            "parent": record.parent.map(|parent| parent.0),
            "reason": record.reason.as_str(),
            "at": format_timestamp(record.created_at),
            "code_hash": record.code_hash.chars().take(12).collect::<String>(),
        })
    };
    all.into_iter().map(entry).collect()
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{StrategyId, VersionId};

    use super::super::fixtures::{DAY, JAN_1_2024, exiting_at, names};
    use super::*;
    use crate::versions::VersionReason;

    #[test]
    fn win_rate_trend_is_a_least_squares_slope_per_week_over_weeks_with_trades() {
        let week = |n: i64| (JAN_1_2024 + 7 * n) * DAY + 1;
        let trades = [
            exiting_at("a", week(0), -1.0),
            exiting_at("b", week(1), 1.0),
            exiting_at("c", week(1) + 1, -1.0),
            exiting_at("d", week(3), 1.0),
            exiting_at("after-now", week(5), 1.0),
        ];
        let trend = &improvements(&trades, &[], Timestamp(week(4)))["win_rate_trend"];
        // Points (0, 0), (1, 0.5), (3, 1): slope 1.5 / (14 / 3).
        assert!((trend["slope_per_week"].as_f64().unwrap() - 9.0 / 28.0).abs() < 1e-12, "{trend}");
        assert_eq!((trend["n"].clone(), trend["weekly"].as_array().unwrap().len()), (json!(3), 4));
    }

    fn version(strategy: &str, n: u32, at: i64, reason: VersionReason, state: Value) -> VersionRecord {
        VersionRecord {
            strategy: StrategyId::new(strategy),
            version: VersionId(n),
            parent: (n > 1).then(|| VersionId(n - 1)),
            code_hash: format!("{n}123456789abcdef"),
            code: None,
            params: json!({}),
            state,
            reason,
            metrics: Value::Null,
            created_at: Timestamp(at),
        }
    }

    #[test]
    fn histories_follow_thresholds_and_only_changed_weights() {
        let a = vec![
            version(
                "a",
                3,
                2 * DAY,
                VersionReason::Retrain,
                json!({"threshold": 0.6, "weights": {"x": 2, "y": 0.5}}),
            ),
            version("a", 1, 0, VersionReason::Load, json!({"threshold": 0.5, "weights": {"x": 1.0}})),
            version("a", 2, DAY, VersionReason::Daily, json!({"threshold": 0.6, "weights": {"x": 1.0}})),
        ];
        let b = vec![version(
            "b",
            1,
            DAY,
            VersionReason::Load,
            json!({"threshold": "high", "weights": {"x": "heavy"}}),
        )];
        let json = improvements(&[], &[("a".to_owned(), a), ("b".to_owned(), b)], Timestamp(0));
        let thresholds = &json["threshold_history"];
        assert_eq!(thresholds.as_object().unwrap().len(), 1, "{thresholds}");
        assert_eq!(
            thresholds["a"][0],
            json!({"version": 1, "at": "1970-01-01T00:00:00Z", "reason": "load", "threshold": 0.5})
        );
        let values: Vec<f64> =
            thresholds["a"].as_array().unwrap().iter().map(|p| p["threshold"].as_f64().unwrap()).collect();
        assert_eq!(values, [0.5, 0.6, 0.6]);
        let weights = &json["weight_history"];
        assert_eq!(weights.as_object().unwrap().len(), 1, "{weights}");
        let versions: Vec<&Value> = weights["a"].as_array().unwrap().iter().map(|p| &p["version"]).collect();
        assert_eq!(versions, [&json!(1), &json!(3)]);
        assert_eq!(weights["a"][1]["weights"], json!({"x": 2, "y": 0.5}));
        let history = &json["version_history"];
        assert_eq!(names(history, "strategy"), ["a", "a", "b", "a"]);
        assert_eq!(
            history[3],
            json!({"strategy": "a", "version": 3, "parent": 2, "reason": "retrain",
            "at": "1970-01-03T00:00:00Z", "code_hash": "3123456789ab"})
        );
        assert_eq!(history[2]["parent"], Value::Null);
    }
}
