//! `GET /api/learning/recommendations`: indicators to drop, strong and weak
//! patterns and regimes, a confidence threshold and head weight changes, each
//! only with evidence.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analytics::fdr::benjamini_hochberg;
use crate::analytics::moments::{mean, sample_std};
use crate::analytics::normal::Z_95;
use crate::analytics::{
    HeadStats, IndicatorStats, MISSING_KEY, Report, Summary, build_report, sort_in_exit_order,
};
use crate::trade::Trade;

/// The fewest trades a recommendation rests on, in each group compared.
pub const MIN_EVIDENCE: usize = 30;

/// The Benjamini–Hochberg level of the indicator and head recommendations:
/// among the indicators (heads) flagged, at most this share is expected to
/// have no real effect.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;

/// Above this many distinct confidences the candidate thresholds are a grid
/// of quantiles, so the search cannot fit a threshold to single trades.
const MAX_THRESHOLD_CANDIDATES: usize = 50;

/// Quantile steps of that grid: 0, 5%, ..., 95%.
const THRESHOLD_GRID_STEPS: usize = 20;

/// The body of `GET /api/learning/recommendations`, over every closed trade.
///
/// `{underperforming_indicators, strong_patterns, weak_patterns,
/// optimal_threshold, suggested_weight_changes}`. Indicators: `{indicator,
/// ic, ci_low, ci_high, n, p_value, q_value, reason}` whose IC is below 0
/// with a Benjamini–Hochberg q-value at most [`FALSE_DISCOVERY_RATE`] among
/// the indicators with [`MIN_EVIDENCE`] trades (intervals and p-values allow
/// for clustering in time, see the analytics report). Strong /
/// weak: `{patterns, regimes}`, lists of `{name, n, win_rate, ci_low,
/// ci_high, overall_win_rate, avg_pnl_pct, reason}` whose Wilson interval lies
/// above / below the overall win rate. Threshold: `{threshold, n,
/// avg_pnl_pct, ci_low, ci_high, take_everything: {n, avg_pnl_pct, ci_low,
/// ci_high}, reason}` over the trades with a confidence, `null` under
/// [`MIN_EVIDENCE`] of them. Weights: `{head, suggestion: raise | lower,
/// edge_pct, ci_low, ci_high, n_agree, n_disagree, p_value, q_value,
/// reason}` likewise across the heads with [`MIN_EVIDENCE`] trades on both
/// sides. Lists are in name order.
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
        "suggested_weight_changes": weight_advice(&report.by_head),
    })
}

/// Indicators whose IC is below 0 and survives Benjamini–Hochberg at
/// [`FALSE_DISCOVERY_RATE`] across every indicator with enough trades.
fn indicator_advice(report: &Report) -> Vec<Value> {
    let tested: Vec<(&String, &IndicatorStats, f64)> = report
        .by_indicator
        .iter()
        .filter(|(_, stats)| stats.n >= MIN_EVIDENCE)
        .filter_map(|(name, stats)| Some((name, stats, stats.p_value?)))
        .collect();
    let q_values = benjamini_hochberg(&tested.iter().map(|(_, _, p)| *p).collect::<Vec<_>>());
    let family = tested.len();
    let advice = |((name, stats, p), q): ((&String, &IndicatorStats, f64), f64)| {
        let (ic, ci_low, ci_high, n) = (stats.ic?, stats.ci_low?, stats.ci_high?, stats.n);
        (q <= FALSE_DISCOVERY_RATE && ic < 0.0).then(|| {
            let reason = format!(
                "Over {n} trades, a higher {name} in the signal's direction came with lower returns \
                 (IC {ic:.3}, 95% CI {ci_low:.3} to {ci_high:.3} allowing for clustering in time; q = {q:.3} \
                 across {family} indicators): drop it or reverse its sign."
            );
            json!({
                "indicator": name, "ic": ic, "ci_low": ci_low, "ci_high": ci_high, "n": n,
                "p_value": p, "q_value": q, "reason": reason,
            })
        })
    };
    tested.into_iter().zip(q_values).filter_map(advice).collect()
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

/// Heads whose edge (the analytics `edge_pct`, agree minus disagree mean
/// return) survives Benjamini–Hochberg at [`FALSE_DISCOVERY_RATE`] across
/// every head with enough trades on both sides.
fn weight_advice(heads: &BTreeMap<String, HeadStats>) -> Vec<Value> {
    let tested: Vec<(&String, &HeadStats, f64)> = heads
        .iter()
        .filter(|(_, stats)| stats.agree.count >= MIN_EVIDENCE && stats.disagree.count >= MIN_EVIDENCE)
        .filter_map(|(head, stats)| Some((head, stats, stats.p_value?)))
        .collect();
    let q_values = benjamini_hochberg(&tested.iter().map(|(_, _, p)| *p).collect::<Vec<_>>());
    let family = tested.len();
    let advice = |((head, stats, p), q): ((&String, &HeadStats, f64), f64)| {
        let (n_agree, n_disagree) = (stats.agree.count, stats.disagree.count);
        let (edge, low, high) = (stats.edge_pct?, stats.edge_ci_low?, stats.edge_ci_high?);
        if q > FALSE_DISCOVERY_RATE {
            return None;
        }
        let (suggestion, advice) = if edge > 0.0 {
            ("raise", "following it pays; give it more weight")
        } else {
            ("lower", "it points the wrong way; give it less weight")
        };
        let reason = format!(
            "When {head} agreed with the side, trades returned {edge:.3} points more than when it \
             disagreed (95% CI {low:.3} to {high:.3} allowing for clustering in time; {n_agree} vs \
             {n_disagree} trades; q = {q:.3} across {family} heads): {advice}."
        );
        Some(json!({
            "head": head, "suggestion": suggestion, "edge_pct": edge, "ci_low": low, "ci_high": high,
            "n_agree": n_agree, "n_disagree": n_disagree, "p_value": p, "q_value": q, "reason": reason,
        }))
    };
    tested.into_iter().zip(q_values).filter_map(advice).collect()
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::super::fixtures::{DAY, JAN_1_2024, names, noise, nth};
    use super::*;
    use crate::analytics::fixtures::{trade, with_signal};

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
        assert!(planted["q_value"].as_f64().unwrap() <= FALSE_DISCOVERY_RATE);
        assert!(planted["q_value"].as_f64().unwrap() >= planted["p_value"].as_f64().unwrap());
    }

    /// Twenty days of ten trades; within a day the trades share the day's
    /// return and indicator values (up to 1% noise), as signals decided by
    /// one market move do. Across days everything is independent noise.
    fn clustered_noise() -> Vec<Trade> {
        let hour = DAY / 24;
        (0..200)
            .map(|i| {
                let (day, k) = (i / 10, i % 10);
                let at = (JAN_1_2024 + day as i64) * DAY + k as i64 * hour;
                let wiggle = |salt: usize| 0.01 * noise(salt * 10_000 + i);
                with_signal(
                    trade(&format!("t{i:03}"), Side::Long, at, at + 60_000, noise(day) + wiggle(1)),
                    |signal| {
                        for j in 0..20 {
                            signal.indicators.insert(
                                format!("x{j:02}").as_str(),
                                noise(100 * (j + 1) + day) + wiggle(j + 2),
                            );
                        }
                        for j in 0..10 {
                            let vote = if noise(5_000 + 100 * j + day) > 0.0 { 0.5 } else { -0.5 };
                            signal.heads.insert(format!("h{j}").as_str(), vote);
                        }
                    },
                )
            })
            .collect()
    }

    #[test]
    fn clustered_noise_is_not_recommended() {
        let trades = clustered_noise();
        let json = recommendations(&trades);
        // Each day counts about once: the intervals widen by about √10.
        let report = build_report(&trades, 0);
        assert!(report.by_indicator.values().all(|stats| stats.design_effect.unwrap() > 4.0), "{report:#?}");
        assert_eq!(json["underperforming_indicators"], json!([]), "{json:#}");
        assert_eq!(json["suggested_weight_changes"], json!([]), "{json:#}");
    }

    #[test]
    fn many_noise_indicators_are_held_to_the_false_discovery_rate() {
        // 60 indicators of pure noise on 200 independent trades: at 95% each,
        // about one and a half would look harmful by chance.
        let trades: Vec<Trade> = (0..200)
            .map(|i| {
                nth(i, noise(i), |signal| {
                    for j in 0..60 {
                        signal.indicators.insert(format!("x{j:02}").as_str(), noise(1_000 * (j + 1) + i));
                    }
                })
            })
            .collect();
        let report = build_report(&trades, 0);
        let nominal = report.by_indicator.values().filter(|s| s.ci_high.unwrap() < 0.0).count();
        assert!(nominal > 0, "the example needs a chance finding to hold back");
        assert_eq!(recommendations(&trades)["underperforming_indicators"], json!([]));
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
}
