//! The exact outcome rules of DESIGN section 4, for one signal and one price.
//!
//! Both the indexed [`Monitor`](super::Monitor) and its naive twin call
//! [`evaluate`] and [`close`]; they differ only in *which* signals they look
//! at for a price. A tick is treated as a bar whose open, high and low are the
//! tick price, which gives exactly the tick rules (exit at the tick price).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use siglearn_plugin_api::{Outcome, OutcomeKind, Price, Side, Signal, Timestamp};

/// Which exit a bar that reaches both take-profit and stop-loss gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguityPolicy {
    /// The stop-loss is assumed hit first (conservative; the default).
    #[default]
    StopFirst,
    /// The take-profit is assumed hit first (optimistic).
    TakeFirst,
    /// The level nearer the bar's open is assumed hit first; an exact tie
    /// counts as the stop-loss.
    NearestFirst,
}

impl AmbiguityPolicy {
    /// The policy's name as written in configs and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            AmbiguityPolicy::StopFirst => "stop_first",
            AmbiguityPolicy::TakeFirst => "take_first",
            AmbiguityPolicy::NearestFirst => "nearest_first",
        }
    }
}

impl fmt::Display for AmbiguityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AmbiguityPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "stop_first" => Ok(AmbiguityPolicy::StopFirst),
            "take_first" => Ok(AmbiguityPolicy::TakeFirst),
            "nearest_first" => Ok(AmbiguityPolicy::NearestFirst),
            _ => {
                Err(format!("ambiguity policy {text:?} is not one of stop_first, take_first, nearest_first"))
            }
        }
    }
}

/// The exit levels of a signal, copied out of it so the hot path reads one
/// small value instead of the whole signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Levels {
    pub(crate) side: Side,
    pub(crate) entry_ts: Timestamp,
    pub(crate) entry_price: f64,
    pub(crate) take_profit: Option<f64>,
    pub(crate) stop_loss: Option<f64>,
    pub(crate) deadline: Option<Timestamp>,
}

impl Levels {
    pub(crate) fn of(signal: &Signal) -> Self {
        Levels {
            side: signal.side,
            entry_ts: signal.entry_ts,
            entry_price: signal.entry_price,
            take_profit: signal.take_profit,
            stop_loss: signal.stop_loss,
            deadline: signal.deadline(),
        }
    }
}

/// How and where a price closes a signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exit {
    pub(crate) kind: OutcomeKind,
    pub(crate) price: f64,
    pub(crate) ambiguous: bool,
}

impl Exit {
    const fn at(kind: OutcomeKind, price: f64) -> Self {
        Exit { kind, price, ambiguous: false }
    }
}

/// Decides whether `price` closes a signal that is being watched (the price's
/// ts is at or after the signal's entry_ts). `None`: the signal stays open.
pub(crate) fn evaluate(levels: &Levels, price: &Price, policy: AmbiguityPolicy) -> Option<Exit> {
    let open = price.open();
    if levels.deadline.is_some_and(|deadline| price.ts() >= deadline) {
        return Some(Exit::at(OutcomeKind::TimeExit, open));
    }
    // A long's stop is reached from below by the low, its target from above
    // by the high; a short mirrors both.
    let (stop_reached_by, take_reached_by) = match levels.side {
        Side::Long => (price.low(), price.high()),
        Side::Short => (price.high(), price.low()),
    };
    let past_stop = |p: f64, sl: f64| match levels.side {
        Side::Long => p <= sl,
        Side::Short => p >= sl,
    };
    let past_take = |p: f64, tp: f64| match levels.side {
        Side::Long => p >= tp,
        Side::Short => p <= tp,
    };
    // 1. A gap through a level fills at the open.
    if levels.stop_loss.is_some_and(|sl| past_stop(open, sl)) {
        return Some(Exit::at(OutcomeKind::SlHit, open));
    }
    if levels.take_profit.is_some_and(|tp| past_take(open, tp)) {
        return Some(Exit::at(OutcomeKind::TpHit, open));
    }
    let stop = levels.stop_loss.filter(|&sl| past_stop(stop_reached_by, sl));
    let take = levels.take_profit.filter(|&tp| past_take(take_reached_by, tp));
    match (stop, take) {
        // 2. Both levels inside one bar: the policy decides, and says so.
        (Some(sl), Some(tp)) => {
            let stop_wins = match policy {
                AmbiguityPolicy::StopFirst => true,
                AmbiguityPolicy::TakeFirst => false,
                AmbiguityPolicy::NearestFirst => (open - sl).abs() <= (tp - open).abs(),
            };
            let (kind, level) = if stop_wins { (OutcomeKind::SlHit, sl) } else { (OutcomeKind::TpHit, tp) };
            Some(Exit { kind, price: level, ambiguous: true })
        }
        // 3. One level inside the bar fills at the level.
        (Some(sl), None) => Some(Exit::at(OutcomeKind::SlHit, sl)),
        (None, Some(tp)) => Some(Exit::at(OutcomeKind::TpHit, tp)),
        (None, None) => None,
    }
}

/// The highest and lowest prices a position saw while open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Excursion {
    pub(crate) high: f64,
    pub(crate) low: f64,
}

impl Excursion {
    /// No price seen yet: the entry price bounds both sides, so excursions
    /// start at zero.
    pub(crate) const fn at(price: f64) -> Self {
        Excursion { high: price, low: price }
    }

    pub(crate) fn include(&mut self, high: f64, low: f64) {
        self.high = self.high.max(high);
        self.low = self.low.min(low);
    }
}

/// Builds the outcome of a closed signal.
///
/// `seen` covers every full price the signal was watched through before the
/// closing one. Of the closing price only its open and the exit price count:
/// the rest of that bar may have happened after the exit.
pub(crate) fn close(
    signal: &Signal,
    levels: &Levels,
    exit: Exit,
    closing: &Price,
    mut seen: Excursion,
    fee_pct: f64,
) -> Outcome {
    seen.include(closing.open().max(exit.price), closing.open().min(exit.price));
    let entry = levels.entry_price;
    let (gross, favourable, adverse) = match levels.side {
        Side::Long => (
            (exit.price / entry - 1.0) * 100.0,
            (seen.high / entry - 1.0) * 100.0,
            (1.0 - seen.low / entry) * 100.0,
        ),
        Side::Short => (
            (entry - exit.price) / entry * 100.0,
            (1.0 - seen.low / entry) * 100.0,
            (seen.high / entry - 1.0) * 100.0,
        ),
    };
    Outcome {
        signal_id: signal.id.clone(),
        kind: exit.kind,
        exit_ts: closing.ts(),
        exit_price: exit.price,
        pnl_pct: gross - 2.0 * fee_pct,
        holding_ms: closing.ts() - levels.entry_ts,
        ambiguous: exit.ambiguous,
        mfe_pct: favourable.max(0.0),
        mae_pct: adverse.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::fixtures::{bar, long, short, tick};

    const STOP: AmbiguityPolicy = AmbiguityPolicy::StopFirst;

    fn exit(kind: OutcomeKind, price: f64) -> Option<Exit> {
        Some(Exit::at(kind, price))
    }

    fn ambiguous(kind: OutcomeKind, price: f64) -> Option<Exit> {
        Some(Exit { kind, price, ambiguous: true })
    }

    // Long: entry 100, TP 110, SL 95. Short: entry 100, TP 90, SL 105.

    #[test]
    fn long_quiet_bar_stays_open() {
        assert_eq!(evaluate(&long(), &bar(0, 100.0, 109.0, 96.0), STOP), None);
    }

    #[test]
    fn long_touching_tp_fills_at_tp() {
        assert_eq!(evaluate(&long(), &bar(0, 100.0, 110.0, 96.0), STOP), exit(OutcomeKind::TpHit, 110.0));
    }

    #[test]
    fn long_touching_sl_fills_at_sl() {
        assert_eq!(evaluate(&long(), &bar(0, 100.0, 104.0, 95.0), STOP), exit(OutcomeKind::SlHit, 95.0));
    }

    #[test]
    fn long_gap_below_sl_fills_at_the_open() {
        assert_eq!(evaluate(&long(), &bar(0, 90.0, 120.0, 80.0), STOP), exit(OutcomeKind::SlHit, 90.0));
        assert_eq!(evaluate(&long(), &bar(0, 95.0, 120.0, 95.0), STOP), exit(OutcomeKind::SlHit, 95.0));
    }

    #[test]
    fn long_gap_above_tp_fills_at_the_open() {
        assert_eq!(evaluate(&long(), &bar(0, 115.0, 116.0, 90.0), STOP), exit(OutcomeKind::TpHit, 115.0));
    }

    #[test]
    fn long_ambiguous_bar_follows_each_policy() {
        let both = bar(0, 100.0, 111.0, 94.0);
        assert_eq!(evaluate(&long(), &both, STOP), ambiguous(OutcomeKind::SlHit, 95.0));
        assert_eq!(
            evaluate(&long(), &both, AmbiguityPolicy::TakeFirst),
            ambiguous(OutcomeKind::TpHit, 110.0)
        );
        // Open 100: SL is 5 away, TP 10 away: the stop is nearer.
        assert_eq!(
            evaluate(&long(), &both, AmbiguityPolicy::NearestFirst),
            ambiguous(OutcomeKind::SlHit, 95.0)
        );
        // Open 108: TP is 2 away, SL 13 away.
        let near_tp = bar(0, 108.0, 111.0, 94.0);
        assert_eq!(
            evaluate(&long(), &near_tp, AmbiguityPolicy::NearestFirst),
            ambiguous(OutcomeKind::TpHit, 110.0)
        );
        // Open 102.5: both 7.5 away; a tie counts as the stop.
        let tie = bar(0, 102.5, 111.0, 94.0);
        assert_eq!(
            evaluate(&long(), &tie, AmbiguityPolicy::NearestFirst),
            ambiguous(OutcomeKind::SlHit, 95.0)
        );
    }

    #[test]
    fn short_rules_are_mirrored() {
        let s = short();
        assert_eq!(evaluate(&s, &bar(0, 100.0, 104.0, 91.0), STOP), None);
        assert_eq!(evaluate(&s, &bar(0, 100.0, 104.0, 90.0), STOP), exit(OutcomeKind::TpHit, 90.0));
        assert_eq!(evaluate(&s, &bar(0, 100.0, 105.0, 91.0), STOP), exit(OutcomeKind::SlHit, 105.0));
        assert_eq!(evaluate(&s, &bar(0, 108.0, 109.0, 80.0), STOP), exit(OutcomeKind::SlHit, 108.0));
        assert_eq!(evaluate(&s, &bar(0, 85.0, 120.0, 84.0), STOP), exit(OutcomeKind::TpHit, 85.0));
        let both = bar(0, 100.0, 106.0, 89.0);
        assert_eq!(evaluate(&s, &both, STOP), ambiguous(OutcomeKind::SlHit, 105.0));
        assert_eq!(evaluate(&s, &both, AmbiguityPolicy::TakeFirst), ambiguous(OutcomeKind::TpHit, 90.0));
        let near_tp = bar(0, 92.0, 106.0, 89.0);
        assert_eq!(
            evaluate(&s, &near_tp, AmbiguityPolicy::NearestFirst),
            ambiguous(OutcomeKind::TpHit, 90.0)
        );
    }

    #[test]
    fn ticks_fill_at_the_tick_price() {
        assert_eq!(evaluate(&long(), &tick(0, 94.0), STOP), exit(OutcomeKind::SlHit, 94.0));
        assert_eq!(evaluate(&long(), &tick(0, 110.5), STOP), exit(OutcomeKind::TpHit, 110.5));
        assert_eq!(evaluate(&long(), &tick(0, 100.0), STOP), None);
        assert_eq!(evaluate(&short(), &tick(0, 105.0), STOP), exit(OutcomeKind::SlHit, 105.0));
        assert_eq!(evaluate(&short(), &tick(0, 89.0), STOP), exit(OutcomeKind::TpHit, 89.0));
    }

    #[test]
    fn the_deadline_closes_at_the_open_and_beats_the_levels() {
        let held = Levels { deadline: Some(Timestamp(600_000)), ..long() };
        // Before the deadline the bar is checked normally, even if it spans it.
        assert_eq!(evaluate(&held, &bar(599_999, 100.0, 101.0, 99.0), STOP), None);
        assert_eq!(
            evaluate(&held, &bar(600_000, 101.0, 130.0, 80.0), STOP),
            exit(OutcomeKind::TimeExit, 101.0)
        );
        assert_eq!(evaluate(&held, &tick(700_000, 99.0), STOP), exit(OutcomeKind::TimeExit, 99.0));
    }

    #[test]
    fn missing_levels_are_never_hit() {
        let no_tp = Levels { take_profit: None, ..long() };
        assert_eq!(evaluate(&no_tp, &bar(0, 100.0, 1000.0, 96.0), STOP), None);
        let no_sl = Levels { stop_loss: None, ..long() };
        assert_eq!(evaluate(&no_sl, &bar(0, 100.0, 101.0, 1.0), STOP), None);
        assert_eq!(evaluate(&no_sl, &bar(0, 100.0, 111.0, 1.0), STOP), exit(OutcomeKind::TpHit, 110.0));
    }

    #[test]
    fn pnl_follows_side_and_fee() {
        let signal = crate::monitor::fixtures::signal("s", siglearn_plugin_api::Side::Long);
        let closing = bar(60_000, 100.0, 110.0, 99.0);
        let won =
            close(&signal, &long(), Exit::at(OutcomeKind::TpHit, 110.0), &closing, Excursion::at(100.0), 0.0);
        assert_eq!(won.pnl_pct, (110.0 / 100.0 - 1.0) * 100.0);
        assert_eq!(won.holding_ms, 60_000);
        let with_fee =
            close(&signal, &long(), Exit::at(OutcomeKind::TpHit, 110.0), &closing, Excursion::at(100.0), 0.1);
        assert_eq!(with_fee.pnl_pct, (110.0 / 100.0 - 1.0) * 100.0 - 0.2);
        let short_signal = crate::monitor::fixtures::signal("s", siglearn_plugin_api::Side::Short);
        let lost = close(
            &short_signal,
            &short(),
            Exit::at(OutcomeKind::SlHit, 105.0),
            &closing,
            Excursion::at(100.0),
            0.0,
        );
        assert_eq!(lost.pnl_pct, (100.0 - 105.0) / 100.0 * 100.0);
    }

    #[test]
    fn excursions_count_the_closing_bar_only_up_to_the_exit() {
        let signal = crate::monitor::fixtures::signal("s", siglearn_plugin_api::Side::Long);
        let mut seen = Excursion::at(100.0);
        seen.include(104.0, 97.0);
        // The closing bar's high (120) may come after the stop: it is ignored.
        let closing = bar(60_000, 99.0, 120.0, 94.0);
        let outcome = close(&signal, &long(), Exit::at(OutcomeKind::SlHit, 95.0), &closing, seen, 0.0);
        assert_eq!(outcome.mfe_pct, (104.0 / 100.0 - 1.0) * 100.0);
        assert_eq!(outcome.mae_pct, (1.0 - 95.0 / 100.0) * 100.0);
    }

    #[test]
    fn policies_parse_from_their_names() {
        for policy in [AmbiguityPolicy::StopFirst, AmbiguityPolicy::TakeFirst, AmbiguityPolicy::NearestFirst]
        {
            assert_eq!(policy.as_str().parse::<AmbiguityPolicy>(), Ok(policy));
        }
        assert!("worst".parse::<AmbiguityPolicy>().is_err());
    }
}
