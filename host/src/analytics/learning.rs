//! The learning read model: the pure computations behind
//! `GET /api/learning/performance`, `/improvements` and `/recommendations`.
//!
//! The daemon reads trades, decisions and versions from the store, passes
//! them in and caches the `serde_json::Value` that comes out (keys sorted,
//! `null` where undefined). Nothing here does I/O or reads the clock: `now`
//! is data. Metrics are the analytics [`Report`]'s (DESIGN section 11), and
//! trades are walked in exit order, so the same inputs give the same bytes.
//!
//! Weeks start on Monday 00:00 UTC; a trade counts in the week it exited.
//! Weekly series run from the first to the last week with a trade, empty
//! weeks included (`trades: 0`, rates `null`) so a chart's time axis is even.
//!
//! Recommendations speak only with evidence: at least [`MIN_EVIDENCE`] trades
//! in each group compared and a 95% interval that excludes "no effect".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};
use siglearn_plugin_api::{MILLIS_PER_DAY, Timestamp};

use super::moments::{mean, sample_std};
use super::{HeadStats, MISSING_KEY, Report, Summary, build_report, sort_in_exit_order, summarize};
use crate::store::DecisionsBySignal;
use crate::timestamp::{format_timestamp, format_utc_day};
use crate::trade::Trade;
use crate::versions::VersionRecord;

/// The fewest trades a recommendation rests on, in each group compared.
pub const MIN_EVIDENCE: usize = 30;

/// The two-sided 95% quantile of the standard normal distribution.
const Z_95: f64 = 1.959963984540054;

/// Above this many distinct confidences the candidate thresholds are a grid
/// of quantiles, so the search cannot fit a threshold to single trades.
const MAX_THRESHOLD_CANDIDATES: usize = 50;

/// Quantile steps of that grid: 0, 5%, ..., 95%.
const THRESHOLD_GRID_STEPS: usize = 20;

/// The window of closed trades a performance view covers (`period=7d|30d|all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Trades that exited within this many days before `now`.
    Days(u32),
    /// Every closed trade.
    All,
}

/// A `period` that is neither a number of days nor `all`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("period {0:?} is not one of 7d, 30d, all (any whole number of days, such as 90d, works too)")]
pub struct ParsePeriodError(pub String);

impl FromStr for Period {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(Period::All);
        }
        trimmed
            .strip_suffix('d')
            .and_then(|days| days.parse::<u32>().ok())
            .filter(|&days| days > 0)
            .map(Period::Days)
            .ok_or_else(|| ParsePeriodError(text.to_owned()))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Days(days) => write!(f, "{days}d"),
            Period::All => f.write_str("all"),
        }
    }
}

impl Period {
    /// Whether a trade exiting at `exit` is in the period ending at `now`:
    /// `now - days <= exit <= now`.
    pub fn contains(self, exit: Timestamp, now: Timestamp) -> bool {
        match self {
            Period::Days(days) => {
                let start = now.saturating_add_millis(-i64::from(days).saturating_mul(MILLIS_PER_DAY));
                start <= exit && exit <= now
            }
            Period::All => true,
        }
    }
}

/// The body of `GET /api/learning/performance`: the closed trades that exited
/// in `period` before `now`.
///
/// `{period, overall, by_pattern, by_regime, by_indicator, by_head,
/// by_strategy, learning_progress}`: the first five as in the analytics
/// report; `by_strategy.<name>` is the summary of the trades the strategy took
/// plus `taken, skipped, no_decision, champion`, for every strategy with a
/// decision (counts cover the recorded decisions on the period's closed
/// signals); `learning_progress` is the weekly series (`week_start, trades,
/// win_rate, avg_pnl_pct, cumulative_pnl_pct`) of the champion's taken trades,
/// or of every trade without a champion.
pub fn performance(
    trades: &[Trade],
    decisions: &DecisionsBySignal,
    champion: Option<&str>,
    period: Period,
    now: Timestamp,
) -> Value {
    let mut ordered: Vec<&Trade> =
        trades.iter().filter(|trade| period.contains(trade.outcome.exit_ts, now)).collect();
    sort_in_exit_order(&mut ordered);
    let report = build_report(&ordered.iter().map(|&trade| trade.clone()).collect::<Vec<_>>(), 0);
    let ledgers = ledgers(&ordered, decisions);
    let progress = match champion {
        Some(name) => ledgers.get(name).map_or_else(Vec::new, |ledger| weekly(&ledger.taken)),
        None => weekly(&ordered),
    };
    let by_strategy: serde_json::Map<String, Value> = ledgers
        .iter()
        .map(|(&name, ledger)| {
            let mut entry = json!(summarize(&ledger.taken));
            entry["taken"] = json!(ledger.taken.len());
            entry["skipped"] = json!(ledger.skipped);
            entry["no_decision"] = json!(ledger.no_decision);
            entry["champion"] = json!(champion == Some(name));
            (name.to_owned(), entry)
        })
        .collect();
    let Report { overall, by_pattern, by_regime, by_indicator, by_head, .. } = report;
    json!({
        "period": period.to_string(),
        "overall": overall,
        "by_pattern": by_pattern,
        "by_regime": by_regime,
        "by_indicator": by_indicator,
        "by_head": by_head,
        "by_strategy": by_strategy,
        "learning_progress": progress,
    })
}

/// How one strategy decided on a set of closed signals.
#[derive(Default)]
struct Ledger<'a> {
    /// In the order of the trades given.
    taken: Vec<&'a Trade>,
    skipped: usize,
    /// Signals on which its `decide` failed.
    no_decision: usize,
}

/// The ledger of every strategy with a decision anywhere in `decisions`, over
/// the trades given in exit order.
fn ledgers<'a>(ordered: &[&'a Trade], decisions: &'a DecisionsBySignal) -> BTreeMap<&'a str, Ledger<'a>> {
    let mut ledgers: BTreeMap<&str, Ledger> =
        decisions.values().flatten().map(|(name, _)| (name.as_str(), Ledger::default())).collect();
    for &trade in ordered {
        for (name, verdict) in decisions.get(trade.signal.id.as_str()).into_iter().flatten() {
            let ledger = ledgers.entry(name.as_str()).or_default();
            match verdict {
                Some(verdict) if verdict.take => ledger.taken.push(trade),
                Some(_) => ledger.skipped += 1,
                None => ledger.no_decision += 1,
            }
        }
    }
    ledgers
}

/// The UTC day number of the Monday of `day`'s week (day 4, 1970-01-05, was one).
fn monday_of(day: i64) -> i64 {
    day - (day - 4).rem_euclid(7)
}

/// The weekly series of trades given in exit order, empty weeks included.
fn weekly(ordered: &[&Trade]) -> Vec<Value> {
    let mut weeks: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    // Only exits inside the accepted range: the series has an entry for
    // every week between the first and the last, so its length stays bounded.
    let accepted = crate::timestamp::accepted_days();
    for trade in ordered.iter().filter(|trade| accepted.contains(&trade.outcome.exit_ts.utc_day())) {
        weeks.entry(monday_of(trade.outcome.exit_ts.utc_day())).or_default().push(trade.outcome.pnl_pct);
    }
    let (Some(&first), Some(&last)) = (weeks.keys().next(), weeks.keys().next_back()) else {
        return Vec::new();
    };
    let mut cumulative = 0.0;
    (first..=last)
        .step_by(7)
        .map(|monday| {
            let returns = weeks.get(&monday).map_or(&[][..], Vec::as_slice);
            // One return at a time, in exit order, so the end of the series
            // equals the equity curve of the analytics summary.
            cumulative = returns.iter().fold(cumulative, |sum, r| sum + r);
            let wins = returns.iter().filter(|&&r| r > 0.0).count();
            json!({
                "week_start": format_utc_day(monday),
                "trades": returns.len(),
                "win_rate": (!returns.is_empty()).then(|| wins as f64 / returns.len() as f64),
                "avg_pnl_pct": mean(returns),
                "cumulative_pnl_pct": cumulative,
            })
        })
        .collect()
}

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

/// The body of `GET /api/learning/recommendations`, over every closed trade.
///
/// `{underperforming_indicators, strong_patterns, weak_patterns,
/// optimal_threshold, suggested_weight_changes}`. Indicators: `{indicator,
/// ic, ci_low, ci_high, n, reason}` whose IC interval lies below 0. Strong /
/// weak: `{patterns, regimes}`, lists of `{name, n, win_rate, ci_low,
/// ci_high, overall_win_rate, avg_pnl_pct, reason}` whose Wilson interval lies
/// above / below the overall win rate. Threshold: `{threshold, n,
/// avg_pnl_pct, ci_low, ci_high, take_everything: {n, avg_pnl_pct, ci_low,
/// ci_high}, reason}` over the trades with a confidence, `null` under
/// [`MIN_EVIDENCE`] of them. Weights: `{head, suggestion: raise | lower,
/// edge_pct, ci_low, ci_high, n_agree, n_disagree, reason}`. Lists are in
/// name order.
pub fn recommendations(trades: &[Trade]) -> Value {
    let report = build_report(trades, 0);
    let mut ordered: Vec<&Trade> = trades.iter().collect();
    sort_in_exit_order(&mut ordered);
    let mut strong = json!({ "patterns": [], "regimes": [] });
    let mut weak = strong.clone();
    if let Some(overall) = report.overall.win_rate {
        for (key, kind, groups) in
            [("patterns", "pattern", &report.by_pattern), ("regimes", "regime", &report.by_regime)]
        {
            let (above, below) = group_advice(kind, groups, overall);
            (strong[key], weak[key]) = (json!(above), json!(below));
        }
    }
    json!({
        "underperforming_indicators": indicator_advice(&report),
        "strong_patterns": strong,
        "weak_patterns": weak,
        "optimal_threshold": optimal_threshold(&ordered),
        "suggested_weight_changes": weight_advice(&ordered, &report.by_head),
    })
}

fn indicator_advice(report: &Report) -> Vec<Value> {
    let advice = |(name, stats): (&String, &super::IndicatorStats)| {
        let (ic, ci_low, ci_high, n) = (stats.ic?, stats.ci_low?, stats.ci_high?, stats.n);
        (n >= MIN_EVIDENCE && ci_high < 0.0).then(|| {
            let reason = format!(
                "Over {n} trades, a higher {name} in the signal's direction came with lower returns \
                 (IC {ic:.3}, 95% CI {ci_low:.3} to {ci_high:.3}): drop it or reverse its sign."
            );
            json!({ "indicator": name, "ic": ic, "ci_low": ci_low, "ci_high": ci_high, "n": n, "reason": reason })
        })
    };
    report.by_indicator.iter().filter_map(advice).collect()
}

/// The (strong, weak) groups of a breakdown against the overall win rate.
/// Signals without the property (`MISSING_KEY`) are no group one can act on.
fn group_advice(kind: &str, groups: &BTreeMap<String, Summary>, overall: f64) -> (Vec<Value>, Vec<Value>) {
    let (mut strong, mut weak) = (Vec::new(), Vec::new());
    for (name, summary) in groups {
        let n = summary.total_trades;
        if name == MISSING_KEY || n < MIN_EVIDENCE {
            continue;
        }
        let (low, high) = wilson_interval(summary.wins, n);
        let (list, verdict) = if low > overall {
            (&mut strong, "above; favour it")
        } else if high < overall {
            (&mut weak, "below; skip or down-weight it")
        } else {
            continue;
        };
        let win_rate = summary.wins as f64 / n as f64;
        let pct = |rate: f64| format!("{:.1}%", rate * 100.0);
        let reason = format!(
            "{kind} {name} won {} of {n} trades (95% CI {} to {}), clearly {verdict} (overall {}).",
            pct(win_rate),
            pct(low),
            pct(high),
            pct(overall)
        );
        list.push(json!({
            "name": name, "n": n, "win_rate": win_rate, "ci_low": low, "ci_high": high,
            "overall_win_rate": overall, "avg_pnl_pct": summary.avg_pnl_pct, "reason": reason,
        }));
    }
    (strong, weak)
}

/// The Wilson score 95% interval of `wins` out of `n > 0` trials.
fn wilson_interval(wins: usize, n: usize) -> (f64, f64) {
    let (n, p) = (n as f64, wins as f64 / n as f64);
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A mean return with its normal 95% interval.
struct Estimate {
    n: usize,
    avg: f64,
    low: f64,
    high: f64,
}

impl Estimate {
    /// `None` under two returns.
    fn of(returns: &[f64]) -> Option<Estimate> {
        if returns.len() < 2 {
            return None;
        }
        let avg = mean(returns)?;
        // Equal returns have no spread: the interval closes on the mean.
        let half = Z_95 * sample_std(returns).unwrap_or(0.0) / (returns.len() as f64).sqrt();
        Some(Estimate { n: returns.len(), avg, low: avg - half, high: avg + half })
    }

    fn to_json(&self) -> Value {
        json!({ "n": self.n, "avg_pnl_pct": self.avg, "ci_low": self.low, "ci_high": self.high })
    }
}

/// The confidence threshold with the best mean return among those keeping
/// at least [`MIN_EVIDENCE`] trades, against taking every signal with a
/// confidence. Ties keep the lower threshold, which keeps more trades.
fn optimal_threshold(ordered: &[&Trade]) -> Option<Value> {
    let rated: Vec<(f64, f64)> = ordered
        .iter()
        .filter_map(|trade| Some((trade.signal.confidence.filter(|c| c.is_finite())?, trade.outcome.pnl_pct)))
        .collect();
    let at_least = |threshold: f64| -> Vec<f64> {
        rated.iter().filter(|(confidence, _)| *confidence >= threshold).map(|&(_, r)| r).collect()
    };
    let mut best: Option<(f64, Estimate)> = None;
    for threshold in threshold_candidates(&rated) {
        let returns = at_least(threshold);
        if returns.len() < MIN_EVIDENCE {
            break; // Candidates ascend: the later ones keep even fewer trades.
        }
        let Some(candidate) = Estimate::of(&returns) else { continue };
        if best.as_ref().is_none_or(|(_, best)| candidate.avg > best.avg) {
            best = Some((threshold, candidate));
        }
    }
    let (threshold, chosen) = best?;
    let all = Estimate::of(&at_least(f64::NEG_INFINITY))?;
    let reason = if chosen.n == all.n {
        format!("No confidence threshold beat taking all {} signals with a confidence.", all.n)
    } else {
        format!(
            "Signals with confidence >= {threshold:.3} ({} trades) averaged {:.3}% (95% CI {:.3} to {:.3}) \
             against {:.3}% (95% CI {:.3} to {:.3}) for all {}; the threshold was picked on these same \
             trades, so expect less out of sample.",
            chosen.n, chosen.avg, chosen.low, chosen.high, all.avg, all.low, all.high, all.n
        )
    };
    let mut advice = chosen.to_json();
    advice["threshold"] = json!(threshold);
    advice["take_everything"] = all.to_json();
    advice["reason"] = json!(reason);
    Some(advice)
}

/// Candidate thresholds in ascending order: every distinct confidence, or
/// quantiles of the confidences when there are many.
fn threshold_candidates(rated: &[(f64, f64)]) -> Vec<f64> {
    let mut confidences: Vec<f64> = rated.iter().map(|&(confidence, _)| confidence).collect();
    confidences.sort_by(f64::total_cmp);
    let mut distinct = confidences.clone();
    distinct.dedup();
    if distinct.len() <= MAX_THRESHOLD_CANDIDATES {
        return distinct;
    }
    let quantile = |step: usize| confidences[step * confidences.len() / THRESHOLD_GRID_STEPS];
    let mut grid: Vec<f64> = (0..THRESHOLD_GRID_STEPS).map(quantile).collect();
    grid.dedup();
    grid
}

/// Heads whose agree-minus-disagree mean return (the analytics `edge_pct`)
/// has a Welch 95% interval excluding 0, with enough trades on both sides.
fn weight_advice(ordered: &[&Trade], heads: &BTreeMap<String, HeadStats>) -> Vec<Value> {
    let variances = head_variances(ordered);
    let advice = |(head, stats): (&String, &HeadStats)| {
        let (n_agree, n_disagree) = (stats.agree.count, stats.disagree.count);
        if n_agree < MIN_EVIDENCE || n_disagree < MIN_EVIDENCE {
            return None;
        }
        let (edge, &(agree, disagree)) = (stats.edge_pct?, variances.get(head.as_str())?);
        let (low, high) = welch_interval(edge, (agree, n_agree), (disagree, n_disagree));
        let (suggestion, advice) = if low > 0.0 {
            ("raise", "following it pays; give it more weight")
        } else if high < 0.0 {
            ("lower", "it points the wrong way; give it less weight")
        } else {
            return None;
        };
        let reason = format!(
            "When {head} agreed with the side, trades returned {edge:.3} points more than when it \
             disagreed (95% CI {low:.3} to {high:.3}; {n_agree} vs {n_disagree} trades): {advice}."
        );
        Some(json!({
            "head": head, "suggestion": suggestion, "edge_pct": edge, "ci_low": low, "ci_high": high,
            "n_agree": n_agree, "n_disagree": n_disagree, "reason": reason,
        }))
    };
    heads.iter().filter_map(advice).collect()
}

/// Each head's sample variance of returns when it agreed and when it
/// disagreed. The analytics split keeps only means, so its rule
/// (`vote * side.sign()` above / below 0) is applied again for the spread.
fn head_variances<'a>(ordered: &[&'a Trade]) -> BTreeMap<&'a str, (f64, f64)> {
    let mut split: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for &trade in ordered {
        for (head, vote) in &trade.signal.heads {
            let (agree, disagree) = split.entry(head).or_default();
            let aligned = vote * trade.signal.side.sign();
            if aligned > 0.0 {
                agree.push(trade.outcome.pnl_pct);
            } else if aligned < 0.0 {
                disagree.push(trade.outcome.pnl_pct);
            }
        }
    }
    let variance = |values: &[f64]| sample_std(values).map_or(0.0, |std| std * std);
    split
        .into_iter()
        .map(|(head, (agree, disagree))| (head, (variance(&agree), variance(&disagree))))
        .collect()
}

/// Welch's 95% interval of a difference of means from each group's (sample
/// variance, size), with the Welch–Satterthwaite degrees of freedom.
fn welch_interval(difference: f64, (var_a, n_a): (f64, usize), (var_b, n_b): (f64, usize)) -> (f64, f64) {
    let (share_a, share_b) = (var_a / n_a as f64, var_b / n_b as f64);
    let se2 = share_a + share_b;
    if se2 == 0.0 {
        return (difference, difference);
    }
    let dof = se2 * se2 / (share_a * share_a / (n_a - 1) as f64 + share_b * share_b / (n_b - 1) as f64);
    let half = t_quantile_975(dof) * se2.sqrt();
    (difference - half, difference + half)
}

/// The 97.5% quantile of Student's t by the Cornish–Fisher expansion
/// (Abramowitz & Stegun 26.7.5): within 1e-5 from 10 degrees of freedom on;
/// the groups compared here give at least 29.
fn t_quantile_975(dof: f64) -> f64 {
    let z = Z_95;
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / dof + g2 / dof.powi(2) + g3 / dof.powi(3) + g4 / dof.powi(4)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use siglearn_plugin_api::{Side, Signal, StrategyId, VersionId};

    use super::*;
    use crate::analytics::fixtures::{trade, with_signal};
    use crate::strategy::Verdict;
    use crate::versions::VersionReason;

    const DAY: i64 = MILLIS_PER_DAY;
    /// 2024-01-01, a Monday, as a UTC day number.
    const JAN_1_2024: i64 = 19_723;

    /// A one-minute long trade, id `t000`..., exiting `i + 1` minutes into
    /// 2024-01-01 with return `r`, its signal changed by `edit`.
    fn nth(i: usize, r: f64, edit: impl FnOnce(&mut Signal)) -> Trade {
        let exit = JAN_1_2024 * DAY + (i as i64 + 1) * 60_000;
        with_signal(trade(&format!("t{i:03}"), Side::Long, exit - 60_000, exit, r), edit)
    }

    fn exiting_at(id: &str, exit_ms: i64, r: f64) -> Trade {
        trade(id, Side::Long, exit_ms - 1_000, exit_ms, r)
    }

    /// Deterministic noise in [-0.5, 0.5), a different draw for every `i`.
    fn noise(i: usize) -> f64 {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
        (x % 10_000) as f64 / 10_000.0 - 0.5
    }

    fn names(list: &Value, key: &str) -> Vec<String> {
        list.as_array().unwrap().iter().map(|item| item[key].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn period_parses_days_and_all_and_names_the_accepted_forms() {
        assert_eq!("7d".parse(), Ok(Period::Days(7)));
        assert_eq!(" 30d ".parse(), Ok(Period::Days(30)));
        assert_eq!("ALL".parse(), Ok(Period::All));
        for bad in ["week", "7", "0d", "-3d", ""] {
            let err = bad.parse::<Period>().unwrap_err().to_string();
            assert!(err.contains("7d, 30d, all"), "{err}");
        }
        assert_eq!((Period::Days(7).to_string(), Period::All.to_string()), ("7d".into(), "all".into()));
    }

    #[test]
    fn performance_keeps_the_trades_that_exited_in_the_period() {
        let now = Timestamp(100 * DAY);
        let trades = [
            trade("entered-long-ago", Side::Long, 10 * DAY, 95 * DAY, 1.0),
            exiting_at("a-week-and-a-half-ago", 89 * DAY + DAY / 2, 2.0),
            exiting_at("two-months-ago", 40 * DAY, 3.0),
            exiting_at("after-now", 101 * DAY, 4.0),
        ];
        let decisions = DecisionsBySignal::new();
        let count =
            |period| performance(&trades, &decisions, None, period, now)["overall"]["total_trades"].clone();
        assert_eq!(count(Period::Days(7)), 1);
        assert_eq!(count(Period::Days(30)), 2);
        assert_eq!(count(Period::All), 4);
        assert_eq!(performance(&trades, &decisions, None, Period::Days(7), now)["period"], "7d");
    }

    #[test]
    fn by_strategy_counts_decisions_and_flags_the_champion() {
        let trades = [nth(1, 1.0, |_| {}), nth(2, -1.0, |_| {}), nth(3, 2.0, |_| {})];
        let verdict = |take| Some(Verdict { take, score: 0.0, size: 1.0 });
        let decisions: DecisionsBySignal = HashMap::from([
            ("t001".to_owned(), vec![("a".to_owned(), verdict(true)), ("b".to_owned(), verdict(false))]),
            ("t002".to_owned(), vec![("a".to_owned(), verdict(true)), ("b".to_owned(), None)]),
            ("t003".to_owned(), vec![("a".to_owned(), verdict(false)), ("b".to_owned(), verdict(true))]),
            ("still-open".to_owned(), vec![("c".to_owned(), verdict(true))]),
        ]);
        let json = performance(&trades, &decisions, Some("a"), Period::All, Timestamp(i64::MAX));
        let row = |name: &str| {
            let row = &json["by_strategy"][name];
            let count = |key: &str| row[key].as_u64().unwrap();
            (
                count("taken"),
                count("skipped"),
                count("no_decision"),
                count("total_trades"),
                row["champion"].clone(),
            )
        };
        assert_eq!(row("a"), (2, 1, 0, 2, json!(true)));
        assert_eq!(row("b"), (1, 1, 1, 1, json!(false)));
        assert_eq!(row("c"), (0, 0, 0, 0, json!(false)));
        assert_eq!(json["by_strategy"]["a"]["avg_pnl_pct"], 0.0);
        // Progress follows the champion's taken trades, or every trade without one.
        assert_eq!(json["learning_progress"][0]["trades"], 2);
        let all = performance(&trades, &decisions, None, Period::All, Timestamp(i64::MAX));
        assert_eq!(all["learning_progress"][0]["trades"], 3);
        assert_eq!(all["by_strategy"]["a"]["champion"], false);
    }

    #[test]
    fn weeks_start_on_monday_utc_and_empty_weeks_are_kept() {
        for offset in 0..7 {
            assert_eq!(format_utc_day(monday_of(JAN_1_2024 + offset)), "2024-01-01");
        }
        assert_eq!(format_utc_day(monday_of(JAN_1_2024 + 7)), "2024-01-08");
        assert_eq!(format_utc_day(monday_of(-1)), "1969-12-29");
        let sunday_night = (JAN_1_2024 + 7) * DAY - 1;
        let trades = [
            exiting_at("sunday", sunday_night, 1.0),
            exiting_at("monday", sunday_night + 1, -1.0),
            exiting_at("three-weeks-on", (JAN_1_2024 + 22) * DAY, 2.0),
        ];
        let json = performance(&trades, &HashMap::new(), None, Period::All, Timestamp(0));
        let weeks = json["learning_progress"].as_array().unwrap();
        let column = |key: &str| weeks.iter().map(|week| week[key].clone()).collect::<Vec<_>>();
        assert_eq!(
            column("week_start"),
            [json!("2024-01-01"), json!("2024-01-08"), json!("2024-01-15"), json!("2024-01-22")]
        );
        assert_eq!(column("trades"), [json!(1), json!(1), json!(0), json!(1)]);
        assert_eq!(column("win_rate"), [json!(1.0), json!(0.0), Value::Null, json!(1.0)]);
        assert_eq!(column("cumulative_pnl_pct"), [json!(1.0), json!(0.0), json!(0.0), json!(2.0)]);
    }

    #[test]
    fn weeks_outside_1970_to_2100_stay_out_of_the_weekly_series() {
        // An exit an older version read from nanoseconds: ~20 billion days on.
        let trades = [
            exiting_at("in-range", JAN_1_2024 * DAY, 1.0),
            exiting_at("nanoseconds", 1_714_557_600_000_000_000, 2.0),
        ];
        let json = performance(&trades, &HashMap::new(), None, Period::All, Timestamp(i64::MAX));
        let weeks = json["learning_progress"].as_array().unwrap();
        assert_eq!(weeks.len(), 1, "{weeks:?}");
        assert_eq!(weeks[0]["week_start"], "2024-01-01");
    }

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

    #[test]
    fn a_planted_underperforming_indicator_is_recommended_and_noise_is_not() {
        let trades: Vec<Trade> = (0..200)
            .map(|i| {
                let r = noise(i);
                nth(i, r, |signal| {
                    signal.indicators.insert("planted", -r + 0.3 * noise(i + 1_000));
                    signal.indicators.insert("helpful", r + 0.3 * noise(i + 2_000));
                    signal.indicators.insert("noise", noise(i + 3_000));
                })
            })
            .collect();
        let found = &recommendations(&trades)["underperforming_indicators"];
        assert_eq!(names(found, "indicator"), ["planted"]);
        let planted = &found[0];
        assert_eq!(planted["n"], 200);
        assert!(planted["ci_high"].as_f64().unwrap() < 0.0);
        assert!(planted["reason"].as_str().unwrap().contains("planted"));
    }

    #[test]
    fn strong_and_weak_patterns_are_found_against_the_overall_win_rate() {
        // 100 trades per pattern winning 80%, 50% and 20%: overall 50%.
        let trades: Vec<Trade> = (0..300)
            .map(|i| {
                let (pattern, wins) = [("breakout", 8), ("range", 5), ("fade", 2)][i % 3];
                nth(i, if i % 10 < wins { 1.0 } else { -1.0 }, |signal| {
                    signal.pattern = Some(pattern.into());
                    signal.regime = Some("trend".into());
                })
            })
            .collect();
        let json = recommendations(&trades);
        assert_eq!(names(&json["strong_patterns"]["patterns"], "name"), ["breakout"]);
        assert_eq!(names(&json["weak_patterns"]["patterns"], "name"), ["fade"]);
        assert_eq!(json["strong_patterns"]["regimes"], json!([]));
        let breakout = &json["strong_patterns"]["patterns"][0];
        assert_eq!((breakout["n"].clone(), breakout["win_rate"].clone()), (json!(100), json!(0.8)));
        assert!(breakout["ci_low"].as_f64().unwrap() > 0.5);
    }

    #[test]
    fn optimal_threshold_keeps_the_high_confidence_signals_when_they_win() {
        // Confidence 0.0..0.9; from 0.7 on every level averages +1, below it -0.5.
        let trades: Vec<Trade> = (0..300)
            .map(|i| {
                let confidence = (i % 10) as f64 / 10.0;
                let spread = if (i / 10) % 2 == 0 { 0.5 } else { -0.5 };
                let r = if confidence >= 0.7 { 1.0 + spread } else { -0.5 + spread / 2.0 };
                nth(i, r, |signal| signal.confidence = Some(confidence))
            })
            .collect();
        let best = &recommendations(&trades)["optimal_threshold"];
        assert_eq!((best["threshold"].clone(), best["n"].clone()), (json!(0.7), json!(90)));
        assert_eq!(best["avg_pnl_pct"], 1.0);
        let everything = &best["take_everything"];
        assert_eq!(everything["n"], 300);
        assert!((everything["avg_pnl_pct"].as_f64().unwrap() + 0.05).abs() < 1e-12);
        assert!(best["ci_low"].as_f64().unwrap() > everything["ci_high"].as_f64().unwrap());
        let unrated: Vec<Trade> = (0..50).map(|i| nth(i, 1.0, |_| {})).collect();
        assert_eq!(recommendations(&unrated)["optimal_threshold"], Value::Null);
    }

    #[test]
    fn many_distinct_confidences_are_searched_on_a_quantile_grid() {
        let rated: Vec<(f64, f64)> = (0..300).map(|i| (f64::from(i) / 300.0, 0.0)).collect();
        let grid = threshold_candidates(&rated);
        assert_eq!(grid.len(), THRESHOLD_GRID_STEPS);
        assert_eq!((grid[0], grid[1]), (0.0, 15.0 / 300.0));
        assert!(grid.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn weight_suggestions_raise_a_helpful_head_and_lower_a_harmful_one() {
        let trades: Vec<Trade> = (0..200)
            .map(|i| {
                let r = if i % 2 == 0 { 1.0 } else { -1.0 } + noise(i);
                // Right four times in five.
                let right = if (r > 0.0) == (i % 5 != 0) { 0.6 } else { -0.6 };
                nth(i, r, |signal| {
                    signal.heads.insert("helpful", right);
                    signal.heads.insert("harmful", -right);
                    signal.heads.insert("coin", if noise(i + 4_000) > 0.0 { 0.4 } else { -0.4 });
                })
            })
            .collect();
        let json = recommendations(&trades);
        let found = &json["suggested_weight_changes"];
        assert_eq!(names(found, "head"), ["harmful", "helpful"]);
        assert_eq!(names(found, "suggestion"), ["lower", "raise"]);
        let helpful = &found[1];
        assert!(helpful["ci_low"].as_f64().unwrap() > 0.0);
        assert_eq!(helpful["n_agree"].as_u64().unwrap() + helpful["n_disagree"].as_u64().unwrap(), 200);
    }

    #[test]
    fn t_quantile_matches_the_table() {
        for (dof, table) in [(10.0, 2.228_138_852), (29.0, 2.045_229_642), (1e6, 1.959_966_3)] {
            assert!((t_quantile_975(dof) - table).abs() < 1e-5, "{dof}");
        }
    }

    #[test]
    fn empty_inputs_give_nulls_and_empty_lists() {
        let now = Timestamp(0);
        let json = performance(&[], &HashMap::new(), Some("a"), Period::Days(7), now);
        assert_eq!(
            (json["overall"]["total_trades"].clone(), json["overall"]["win_rate"].clone()),
            (json!(0), Value::Null)
        );
        assert_eq!((json["by_strategy"].clone(), json["learning_progress"].clone()), (json!({}), json!([])));
        let json = improvements(&[], &[], now);
        assert_eq!(json["win_rate_trend"], json!({"weekly": [], "slope_per_week": null, "n": 0}));
        assert_eq!(
            (json["threshold_history"].clone(), json["weight_history"].clone()),
            (json!({}), json!({}))
        );
        assert_eq!(json["version_history"], json!([]));
        let empty_groups = json!({"patterns": [], "regimes": []});
        assert_eq!(
            recommendations(&[]),
            json!({
                "underperforming_indicators": [], "strong_patterns": empty_groups, "weak_patterns": empty_groups,
                "optimal_threshold": null, "suggested_weight_changes": [],
            })
        );
    }
}
