//! `GET /api/learning/recommendations`: indicators to drop, strong and weak
//! patterns and regimes, a confidence threshold and head weight changes, each
//! only with evidence.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analytics::moments::{mean, sample_std};
use crate::analytics::normal::Z_95;
use crate::analytics::{
    HeadStats, IndicatorStats, MISSING_KEY, Report, Summary, build_report, sort_in_exit_order,
};
use crate::trade::Trade;

/// The fewest trades a recommendation rests on, in each group compared.
pub const MIN_EVIDENCE: usize = 30;

/// Above this many distinct confidences the candidate thresholds are a grid
/// of quantiles, so the search cannot fit a threshold to single trades.
const MAX_THRESHOLD_CANDIDATES: usize = 50;

/// Quantile steps of that grid: 0, 5%, ..., 95%.
const THRESHOLD_GRID_STEPS: usize = 20;

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
    let advice = |(name, stats): (&String, &IndicatorStats)| {
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
    use super::super::fixtures::{names, noise, nth};
    use super::*;

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
}
