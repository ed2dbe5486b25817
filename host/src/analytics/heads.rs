//! Per-head breakdown: how trades fared when a model head voted with the
//! signal's side, against it, or abstained.
//!
//! A vote agrees when `vote * side.sign() > 0` (a negative vote on a short
//! agrees), disagrees below 0 and is neutral at exactly 0. Trades whose signal
//! has no vote from a head are not counted for that head.
//!
//! The edge (agree minus disagree mean return) gets Welch's 95% interval,
//! `edge ± t₀.₉₇₅(ν)·se·√deff` with `se² = s²_agree/n_agree +
//! s²_disagree/n_disagree`, Welch–Satterthwaite `ν`, and `deff` the design
//! effect of clustering in time ([`super::hac`]) of the edge's influence
//! values (`(r − mean_agree)/share_agree` on agreeing trades,
//! `−(r − mean_disagree)/share_disagree` on disagreeing ones). Its p-value
//! of "no edge" is `2(1 − Φ(|edge| / (se·√deff)))`.

use std::collections::BTreeMap;

use serde::Serialize;

use siglearn_plugin_api::Timestamp;

use super::hac::design_effect;
use super::moments::{mean, sample_std};
use super::normal::{Z_95, two_sided_p};
use crate::trade::Trade;

/// Trades split by how one head voted on them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeadStats {
    pub agree: VoteGroup,
    pub disagree: VoteGroup,
    pub neutral: VoteGroup,
    /// `agree.avg_pnl_pct - disagree.avg_pnl_pct`: above 0 when following the
    /// head pays; `None` when either side has no trades.
    pub edge_pct: Option<f64>,
    /// The edge's 95% interval, widened for clustering in time; `None` under
    /// two trades on either side.
    pub edge_ci_low: Option<f64>,
    pub edge_ci_high: Option<f64>,
    /// How much clustering in time widened the edge's variance (at least 1).
    pub design_effect: Option<f64>,
    /// Two-sided p-value of "no edge".
    pub p_value: Option<f64>,
}

/// The trades on which a head voted one way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoteGroup {
    pub count: usize,
    /// Share of the trades with a return above 0; `None` without trades.
    pub win_rate: Option<f64>,
    /// Mean return; `None` without trades.
    pub avg_pnl_pct: Option<f64>,
}

impl VoteGroup {
    fn of(returns: &[f64]) -> VoteGroup {
        let wins = returns.iter().filter(|&&r| r > 0.0).count();
        VoteGroup {
            count: returns.len(),
            win_rate: (!returns.is_empty()).then(|| wins as f64 / returns.len() as f64),
            avg_pnl_pct: mean(returns),
        }
    }
}

/// Returns of the trades on which one head agreed, disagreed, was neutral,
/// with the entry times of the agreeing and disagreeing signals.
#[derive(Default)]
struct Votes {
    agree: Vec<f64>,
    disagree: Vec<f64>,
    neutral: Vec<f64>,
    agree_at: Vec<Timestamp>,
    disagree_at: Vec<Timestamp>,
}

/// The edge's interval, design effect and p-value.
struct EdgeTest {
    low: f64,
    high: f64,
    deff: f64,
    p_value: f64,
}

impl EdgeTest {
    fn of(votes: &Votes, edge: f64) -> Option<EdgeTest> {
        let (agree, disagree) = (&votes.agree, &votes.disagree);
        let (n_a, n_d) = (agree.len(), disagree.len());
        if n_a < 2 || n_d < 2 {
            return None;
        }
        let variance = |values: &[f64]| sample_std(values).map_or(0.0, |std| std * std);
        let (share_a, share_d) = (variance(agree) / n_a as f64, variance(disagree) / n_d as f64);
        let se2 = share_a + share_d;
        if se2 == 0.0 {
            return Some(EdgeTest {
                low: edge,
                high: edge,
                deff: 1.0,
                p_value: if edge == 0.0 { 1.0 } else { 0.0 },
            });
        }
        let n = (n_a + n_d) as f64;
        let (mean_a, mean_d) = (mean(agree)?, mean(disagree)?);
        let (weight_a, weight_d) = (n / n_a as f64, n / n_d as f64);
        let influence = votes
            .agree_at
            .iter()
            .zip(agree)
            .map(|(&at, r)| (at, (r - mean_a) * weight_a))
            .chain(votes.disagree_at.iter().zip(disagree).map(|(&at, r)| (at, -(r - mean_d) * weight_d)));
        let deff = design_effect(influence.collect());
        let dof = se2 * se2 / (share_a * share_a / (n_a - 1) as f64 + share_d * share_d / (n_d - 1) as f64);
        let se = se2.sqrt() * deff.sqrt();
        let half = t_quantile_975(dof) * se;
        Some(EdgeTest { low: edge - half, high: edge + half, deff, p_value: two_sided_p(edge / se) })
    }
}

/// The 97.5% quantile of Student's t by the Cornish–Fisher expansion
/// (Abramowitz & Stegun 26.7.5): within 1e-5 from 10 degrees of freedom on,
/// and within 0.3% at 2.
fn t_quantile_975(dof: f64) -> f64 {
    let z = Z_95;
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / dof + g2 / dof.powi(2) + g3 / dof.powi(3) + g4 / dof.powi(4)
}

/// The stats of every head that voted on any of the trades, given in exit order.
pub(super) fn by_head(trades: &[&Trade]) -> BTreeMap<String, HeadStats> {
    let mut votes: BTreeMap<&str, Votes> = BTreeMap::new();
    for trade in trades {
        let r = trade.outcome.pnl_pct;
        for (head, vote) in &trade.signal.heads {
            let entry = votes.entry(head).or_default();
            let aligned = vote * trade.signal.side.sign();
            if aligned > 0.0 {
                entry.agree.push(r);
                entry.agree_at.push(trade.signal.entry_ts);
            } else if aligned < 0.0 {
                entry.disagree.push(r);
                entry.disagree_at.push(trade.signal.entry_ts);
            } else if aligned == 0.0 {
                entry.neutral.push(r);
            }
        }
    }
    votes
        .into_iter()
        .map(|(head, votes)| {
            let (agree, disagree) = (VoteGroup::of(&votes.agree), VoteGroup::of(&votes.disagree));
            let edge_pct =
                agree.avg_pnl_pct.zip(disagree.avg_pnl_pct).map(|(agree, disagree)| agree - disagree);
            let test = edge_pct.and_then(|edge| EdgeTest::of(&votes, edge));
            let stats = HeadStats {
                agree,
                disagree,
                neutral: VoteGroup::of(&votes.neutral),
                edge_pct,
                edge_ci_low: test.as_ref().map(|test| test.low),
                edge_ci_high: test.as_ref().map(|test| test.high),
                design_effect: test.as_ref().map(|test| test.deff),
                p_value: test.as_ref().map(|test| test.p_value),
            };
            (head.to_owned(), stats)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::*;
    use crate::analytics::fixtures::{refs, trade, with_signal};

    fn voted(id: &str, side: Side, vote: Option<f64>, r: f64) -> Trade {
        with_signal(trade(id, side, 0, 1_000, r), |signal| {
            signal.heads.insert("momentum", 0.2);
            if let Some(vote) = vote {
                signal.heads.insert("trend", vote);
            }
        })
    }

    #[test]
    fn a_negative_vote_on_a_short_agrees() {
        let trades = [
            voted("a", Side::Short, Some(-0.5), 2.0),
            voted("b", Side::Long, Some(0.3), -1.0),
            voted("c", Side::Long, Some(-0.5), -3.0),
            voted("d", Side::Short, Some(0.0), 1.0),
            voted("e", Side::Long, None, 10.0),
        ];
        let heads = by_head(&refs(&trades));
        let trend = &heads["trend"];
        assert_eq!(trend.agree, VoteGroup { count: 2, win_rate: Some(0.5), avg_pnl_pct: Some(0.5) });
        assert_eq!(trend.disagree, VoteGroup { count: 1, win_rate: Some(0.0), avg_pnl_pct: Some(-3.0) });
        assert_eq!(trend.neutral, VoteGroup { count: 1, win_rate: Some(1.0), avg_pnl_pct: Some(1.0) });
        assert_eq!(trend.edge_pct, Some(3.5));
        // momentum votes +0.2 everywhere: agrees on the longs, disagrees on the shorts.
        assert_eq!((heads["momentum"].agree.count, heads["momentum"].disagree.count), (3, 2));
    }

    #[test]
    fn t_quantile_matches_the_table() {
        for (dof, table) in [(10.0, 2.228_138_852), (29.0, 2.045_229_642), (1e6, 1.959_966_3)] {
            assert!((t_quantile_975(dof) - table).abs() < 1e-5, "{dof}");
        }
    }

    #[test]
    fn edge_interval_is_welchs_for_independent_trades() {
        // One trade a day, so nothing clusters. Agree: 1, 3 (mean 2, s² 2);
        // disagree: -1, 0, 1 (mean 0, s² 1). se² = 2/2 + 1/3 = 4/3; Welch's
        // ν = (4/3)² / (1/1 + (1/9)/2) = 1.6842.
        let day = siglearn_plugin_api::MILLIS_PER_DAY;
        let trades: Vec<Trade> = [(1.0, 1.0), (1.0, 3.0), (-1.0, -1.0), (-1.0, 0.0), (-1.0, 1.0)]
            .iter()
            .enumerate()
            .map(|(i, &(vote, r))| {
                with_signal(trade(&format!("t{i}"), Side::Long, i as i64 * day, i as i64 * day + 1, r), |s| {
                    s.heads.insert("h", vote);
                })
            })
            .collect();
        let h = &by_head(&refs(&trades))["h"];
        assert_eq!(h.edge_pct, Some(2.0));
        let se = (4.0f64 / 3.0).sqrt();
        let dof = (16.0 / 9.0) / (1.0 + 1.0 / 18.0);
        let half = t_quantile_975(dof) * se * h.design_effect.unwrap().sqrt();
        assert!((h.edge_ci_high.unwrap() - (2.0 + half)).abs() < 1e-12);
        assert!(
            (h.p_value.unwrap() - two_sided_p(2.0 / (se * h.design_effect.unwrap().sqrt()))).abs() < 1e-15
        );
        assert!(h.design_effect.unwrap() >= 1.0);
    }

    #[test]
    fn edge_is_null_when_a_head_never_disagrees() {
        let trades = [voted("a", Side::Long, Some(1.0), 2.0)];
        let trend = &by_head(&refs(&trades))["trend"];
        assert_eq!(trend.disagree, VoteGroup { count: 0, win_rate: None, avg_pnl_pct: None });
        assert_eq!((trend.edge_pct, trend.edge_ci_low, trend.p_value), (None, None, None));
    }
}
