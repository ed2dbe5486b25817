//! Per-head breakdown: how trades fared when a model head voted with the
//! signal's side, against it, or abstained.
//!
//! A vote agrees when `vote * side.sign() > 0` (a negative vote on a short
//! agrees), disagrees below 0 and is neutral at exactly 0. Trades whose signal
//! has no vote from a head are not counted for that head.

use std::collections::BTreeMap;

use serde::Serialize;

use super::moments::mean;
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

/// Returns of the trades on which one head agreed, disagreed, was neutral.
#[derive(Default)]
struct Votes {
    agree: Vec<f64>,
    disagree: Vec<f64>,
    neutral: Vec<f64>,
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
            } else if aligned < 0.0 {
                entry.disagree.push(r);
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
            (head.to_owned(), HeadStats { agree, disagree, neutral: VoteGroup::of(&votes.neutral), edge_pct })
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
    fn edge_is_null_when_a_head_never_disagrees() {
        let trades = [voted("a", Side::Long, Some(1.0), 2.0)];
        let trend = &by_head(&refs(&trades))["trend"];
        assert_eq!(trend.disagree, VoteGroup { count: 0, win_rate: None, avg_pnl_pct: None });
        assert_eq!(trend.edge_pct, None);
    }
}
